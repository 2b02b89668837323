import Compute

/// Element types a tensor frame can carry. Always little-endian.
enum WireDType: String, Codable, Sendable, CaseIterable {
    /// IEEE float32: exact, the default (the cluster's bit-for-bit guarantee needs it).
    case f32
    /// bfloat16 (the top half of a float32, rounded to nearest even): half the bytes, lossy.
    case bf16

    var byteWidth: Int { self == .f32 ? 4 : 2 }
}

/// What the header says about one tensor frame.
struct TensorSpec: Codable, Sendable, Equatable {
    var dtype: WireDType
    var shape: [Int]

    /// Element count and byte count, or an error when the shape is unacceptable.
    func byteCount(field: String, limits: ProtocolLimits) throws -> (elements: Int, bytes: Int) {
        guard (1...limits.maxTensorRank).contains(shape.count) else {
            throw ProtocolError.invalidTensorShape(field: field, shape: shape,
                                                   reason: "rank must be 1...\(limits.maxTensorRank)")
        }
        var elements = 1
        for d in shape {
            guard d >= 1 else {
                throw ProtocolError.invalidTensorShape(field: field, shape: shape, reason: "dimensions must be positive")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow, product <= limits.maxTensorBytes else {
                throw ProtocolError.tensorTooLarge(field: field, bytes: Int.max, limit: limits.maxTensorBytes)
            }
            elements = product
        }
        let bytes = elements * dtype.byteWidth
        guard bytes <= limits.maxTensorBytes else {
            throw ProtocolError.tensorTooLarge(field: field, bytes: bytes, limit: limits.maxTensorBytes)
        }
        return (elements, bytes)
    }
}

/// A tensor as it travels: float32 values in memory, with the element type to use on the wire.
/// Equality compares shape, dtype and the exact bits of every value.
struct WireTensor: Sendable, Equatable {
    var tensor: Tensor
    var dtype: WireDType

    init(_ tensor: Tensor, dtype: WireDType = .f32) {
        self.tensor = tensor
        self.dtype = dtype
    }

    var spec: TensorSpec { TensorSpec(dtype: dtype, shape: tensor.shape) }

    static func == (a: WireTensor, b: WireTensor) -> Bool {
        guard a.dtype == b.dtype, a.tensor.shape == b.tensor.shape else { return false }
        for i in 0..<a.tensor.count where a.tensor.pointer[i].bitPattern != b.tensor.pointer[i].bitPattern {
            return false
        }
        return true
    }

    /// The frame's bytes, little-endian.
    func encodedFrame() -> [UInt8] {
        let n = tensor.count, src = tensor.pointer
        switch dtype {
        case .f32:
            return [UInt8](unsafeUninitializedCapacity: n * 4) { buffer, count in
                let out = UnsafeMutableRawPointer(buffer.baseAddress!)
                #if _endian(little)
                out.copyMemory(from: src, byteCount: n * 4)
                #else
                for i in 0..<n { out.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
                #endif
                count = n * 4
            }
        case .bf16:
            return [UInt8](unsafeUninitializedCapacity: n * 2) { buffer, count in
                let out = UnsafeMutableRawPointer(buffer.baseAddress!)
                for i in 0..<n { out.storeBytes(of: BFloat16.bits(src[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
                count = n * 2
            }
        }
    }

    /// Decodes a frame against its spec: checks shape, byte count and finiteness while copying
    /// into a fresh aligned tensor (one pass, one copy).
    static func decode(_ frame: [UInt8], spec: TensorSpec, field: String,
                              limits: ProtocolLimits = .standard) throws -> WireTensor {
        let (elements, bytes) = try spec.byteCount(field: field, limits: limits)
        guard frame.count == bytes else {
            throw ProtocolError.tensorSizeMismatch(field: field, expectedBytes: bytes, foundBytes: frame.count)
        }
        let tensor = Tensor(uninitialized: spec.shape)
        let dst = tensor.pointer
        frame.withUnsafeBytes { raw in
            switch spec.dtype {
            case .f32:
                #if _endian(little)
                UnsafeMutableRawPointer(dst).copyMemory(from: raw.baseAddress!, byteCount: bytes)
                #else
                for i in 0..<elements {
                    dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
                #endif
            case .bf16:
                for i in 0..<elements {
                    dst[i] = BFloat16.float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            }
        }
        if let bad = firstNonFinite(dst, count: elements) {
            throw ProtocolError.nonFiniteTensor(field: field, elementIndex: bad)
        }
        return WireTensor(tensor, dtype: spec.dtype)
    }

    /// Index of the first NaN or infinity. Scans in blocks with a branch-free test (exponent
    /// bits all ones) that the compiler vectorises, and looks closer only at a bad block.
    static func firstNonFinite(_ values: UnsafePointer<Float>, count: Int) -> Int? {
        let bits = UnsafeRawPointer(values).assumingMemoryBound(to: UInt32.self)
        let block = 1024
        var start = 0
        while start < count {
            let end = min(start + block, count)
            var any: UInt32 = 0
            for i in start..<end { any |= (bits[i] & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
            if any != 0 {
                for i in start..<end where !values[i].isFinite { return i }
            }
            start = end
        }
        return nil
    }

}
