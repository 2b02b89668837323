import Compute
import Foundation

/// Writes `.safetensors` files: used by tests to build tiny files and by tools that save weights.
///
/// Tensors are laid out in the order added, each starting on an 8-byte boundary of the data
/// section so readers can map F32 data without realigning it.
public struct SafeTensorsWriter {
    private struct Item {
        let name: String
        let dtypeName: String
        let shape: [Int]
        let bytes: Data
    }

    private var items: [Item] = []
    /// Written as the header's `__metadata__` when not empty.
    public var metadata: [String: String] = [:]

    public init() {}

    /// Adds a float32 tensor, stored as `dtype` (F32, F16 round-to-nearest-even, or BF16 truncated
    /// to nearest-even).
    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: SafeTensorsDType = .f32) {
        add(name, shape: tensor.shape, values: tensor.values, as: dtype)
    }

    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: SafeTensorsDType = .f32) {
        precondition(1.littleEndian == 1, "safetensors is little-endian; big-endian hosts are not supported")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let data: Data
        switch dtype {
        case .f32:
            // Float bit patterns in host order are the file's bytes on little-endian hosts.
            data = values.withUnsafeBytes { Data($0) }
        case .f16:
            data = Self.littleEndianBytes(values.map { Float16($0).bitPattern })
        case .bf16:
            data = Self.littleEndianBytes(values.map(Self.bfloat16Bits))
        default:
            preconditionFailure("writer stores floats as F32, F16 or BF16, not \(dtype)")
        }
        items.append(Item(name: name, dtypeName: dtype.rawValue, shape: shape, bytes: data))
    }

    /// Adds raw bytes under any dtype name, for tests of integer buffers and unknown dtypes.
    public mutating func addRaw(_ name: String, dtypeName: String, shape: [Int], bytes: Data) {
        items.append(Item(name: name, dtypeName: dtypeName, shape: shape, bytes: bytes))
    }

    /// The complete file contents.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for item in items {
            while body.count % 8 != 0 { body.append(0) }
            header[item.name] = ["dtype": item.dtypeName, "shape": item.shape,
                                 "data_offsets": [body.count, body.count + item.bytes.count]] as [String: Any]
            body.append(item.bytes)
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        out.appendLittleEndian(UInt64(json.count))
        out.append(json)
        out.append(body)
        return out
    }

    public func write(to path: String) throws {
        try serialized().write(to: URL(fileURLWithPath: path))
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ words: [T]) -> Data {
        words.map(\.littleEndian).withUnsafeBytes { Data($0) }
    }

    /// Round to nearest even on the dropped 16 bits; NaN stays NaN (quiet).
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
