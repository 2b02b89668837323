import Foundation

/// A float array that serialises as base64 of its little-endian bytes: exact to the bit and a
/// third the size of decimal JSON, so image states survive a round trip through disk or the wire
/// without changing the result.
public struct PackedFloats: Codable, Sendable, Equatable {
    public var values: [Float]

    public init(_ values: [Float]) { self.values = values }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let data = Data(base64Encoded: text), data.count % 4 == 0 else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected base64 of little-endian float32 values")
        }
        values = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var data = Data(capacity: values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        var container = encoder.singleValueContainer()
        try container.encode(data.base64EncodedString())
    }
}
