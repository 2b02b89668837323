import Foundation

/// One tensor's entry in a safetensors header: where its bytes lie relative to the data section.
public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    /// The dtype string as written; `dtype` is nil when it is not one this reader knows.
    public let dtypeName: String
    public let dtype: SafeTensorsDType?
    public let shape: [Int]
    public let begin: Int
    public let end: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// The parsed JSON header of a safetensors file.
///
/// Format: 8 bytes little-endian header length N, N bytes of UTF-8 JSON
/// (`{"name": {"dtype": "F16", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data section; offsets are relative to the start of the data section.
struct SafeTensorsHeader {
    /// Headers above this size are not plausible for any SD checkpoint (SD 1.5 needs ~150 KB) and
    /// would suggest a corrupt length field; refusing them avoids reading gigabytes as JSON.
    static let maximumLength = 100 << 20

    let entries: [String: SafeTensorsEntry]
    let metadata: [String: String]
    /// Byte offset of the data section within the file.
    let dataStart: Int

    /// Parses and validates the header against the file size. `bytes` points at the file start.
    init(bytes: UnsafeRawPointer, fileSize: Int, path: String) throws {
        guard fileSize >= 8 else {
            throw WeightError.truncated(file: path, detail: "\(fileSize) bytes, less than the 8-byte header length")
        }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(Self.maximumLength) else {
            throw WeightError.badHeader(file: path, detail: "header length \(length) is implausibly large")
        }
        guard Int(length) <= fileSize - 8 else {
            throw WeightError.truncated(file: path, detail: "header claims \(length) bytes but only \(fileSize - 8) follow")
        }
        let headerData = Data(bytes: bytes + 8, count: Int(length))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw WeightError.badHeader(file: path, detail: "header is not JSON")
        }
        guard let object = json as? [String: Any] else {
            throw WeightError.badHeader(file: path, detail: "header is JSON but not an object")
        }
        dataStart = 8 + Int(length)
        let dataSize = fileSize - dataStart
        var entries: [String: SafeTensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = (value as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
                continue
            }
            let entry = try Self.entry(name: name, value: value, path: path)
            try Self.validate(entry, dataSize: dataSize, path: path)
            entries[name] = entry
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func entry(name: String, value: Any, path: String) throws -> SafeTensorsEntry {
        guard let fields = value as? [String: Any],
              let dtypeName = fields["dtype"] as? String,
              let shapeValues = fields["shape"] as? [Any],
              let offsetValues = fields["data_offsets"] as? [Any] else {
            throw WeightError.badHeader(file: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
        }
        guard let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw WeightError.badHeader(file: path, detail: "entry '\(name)' has a shape that is not a list of non-negative integers")
        }
        guard let offsets = integers(offsetValues), offsets.count == 2 else {
            throw WeightError.badOffsets(file: path, key: name, detail: "data_offsets must be two integers")
        }
        return SafeTensorsEntry(name: name, dtypeName: dtypeName, dtype: SafeTensorsDType(rawValue: dtypeName),
                                shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func validate(_ entry: SafeTensorsEntry, dataSize: Int, path: String) throws {
        guard entry.begin >= 0, entry.begin <= entry.end else {
            throw WeightError.badOffsets(file: path, key: entry.name, detail: "begin \(entry.begin) > end \(entry.end)")
        }
        guard entry.end <= dataSize else {
            throw WeightError.badOffsets(file: path, key: entry.name,
                                         detail: "end \(entry.end) is past the data section of \(dataSize) bytes")
        }
        // Unknown dtypes have no known element size; they are refused when (if ever) requested.
        if let dtype = entry.dtype, entry.end - entry.begin != entry.elementCount * dtype.size {
            throw WeightError.badOffsets(file: path, key: entry.name,
                                         detail: "\(entry.end - entry.begin) bytes for shape \(entry.shape) of \(dtype.rawValue)")
        }
    }

    /// JSON numbers arrive as NSNumber; accept only integral ones.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 0x1p62 else { return nil }
            out.append(number.intValue)
        }
        return out
    }
}
