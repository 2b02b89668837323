import Foundation

/// Element types of the safetensors format and how the float ones widen to float32.
///
/// Only F32, F16 and BF16 become tensors; the other known types are still understood well enough
/// to validate their byte ranges, because real checkpoints carry a few integer buffers
/// (CLIP's `position_ids` is I64) that must not make the whole file unreadable.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// Whether `SafeTensorsFile.tensor(_:)` converts this type to float32.
    public var isConvertible: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// Widening conversions from the stored little-endian bytes to float32. Every F16 and BF16 value
/// (subnormals, infinities, NaN payloads) has an exact float32 counterpart, so these are lossless.
enum FloatWidening {
    /// Converts `count` elements at `source` (any alignment) into `destination`.
    static func widen(_ dtype: SafeTensorsDType, from source: UnsafeRawPointer,
                      into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f32:
            // memcpy copes with any source alignment; safetensors does not promise 4-byte alignment.
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                destination[i] = float(fromHalfBits: UInt16(littleEndian: bits))
            }
        case .bf16:
            // bfloat16 is the top half of a float32.
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                destination[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
            }
        default:
            preconditionFailure("\(dtype) is not widened to float32")
        }
    }

    /// IEEE 754 binary16 to binary32 by bit manipulation, so the result does not depend on
    /// whether the platform has hardware half-precision conversion.
    @inline(__always)
    static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F {
            // Infinity or NaN: keep the payload in the top mantissa bits, as hardware does.
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent != 0 {
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal half: value = mantissa * 2^-24, exact in float32 (normalised there).
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
}
