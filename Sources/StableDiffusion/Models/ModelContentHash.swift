import Foundation

/// A cheap, stable fingerprint of a model's weights and configs, so that cluster nodes can tell
/// whether they hold the same model without hashing gigabytes.
///
/// Covers each weight file's size, its header (names, dtypes, shapes, offsets) and 16 samples of
/// 4 KiB spread over its data section (two fine-tunes of one architecture share headers but not
/// data), plus the decoded configs. FNV-1a, 64 bit: not cryptographic, only an identity check.
struct ModelContentHash {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325

    static let sampleCount = 16
    static let sampleBytes = 4096

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            state ^= UInt64(byte)
            state = state &* 0x0000_0100_0000_01B3
        }
    }

    mutating func add(_ data: Data) { data.withUnsafeBytes { add($0) } }

    mutating func add(_ string: String) { add(Data(string.utf8)) }

    mutating func add(file: SafeTensorsFile) {
        add("\(file.size)|")
        add(file.headerBytes)
        let dataStart = file.headerBytes.count
        let dataSize = file.size - dataStart
        guard dataSize > 0 else { return }
        for i in 0..<Self.sampleCount {
            let offset = dataStart + (dataSize - min(dataSize, Self.sampleBytes)) * i / max(Self.sampleCount - 1, 1)
            add(file.rawBytes(offset: offset, count: min(Self.sampleBytes, file.size - offset)))
        }
    }

    mutating func add<C: Encodable>(config: C) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        add((try? encoder.encode(config)) ?? Data())
    }

    /// 16 hexadecimal digits.
    var hex: String {
        let digits = String(state, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
