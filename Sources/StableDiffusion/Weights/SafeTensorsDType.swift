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
            widenHalves(from: source, into: destination, count: count) { float(fromHalfBits: $0) }
        case .bf16:
            // bfloat16 is the top half of a float32.
            widenHalves(from: source, into: destination, count: count) { Float(bitPattern: UInt32($0) << 16) }
        default:
            preconditionFailure("\(dtype) is not widened to float32")
        }
    }

    /// Applies `convert` to each little-endian 16-bit word; the aligned path lets the compiler
    /// vectorise (tensors in real files are aligned; the unaligned path is for odd offsets).
    @inline(__always)
    private static func widenHalves(from source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>,
                                    count: Int, _ convert: (UInt16) -> Float) {
        if Int(bitPattern: source) % 2 == 0 {
            let halves = source.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { destination[i] = convert(UInt16(littleEndian: halves[i])) }
        } else {
            for i in 0..<count {
                destination[i] = convert(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        }
    }

    /// IEEE 754 binary16 to binary32 with integer operations and selects (no branches, so loops
    /// vectorise), independent of hardware half-precision support and of the FPU's
    /// flush-to-zero mode: subnormal halves are computed as normal float32 products.
    @inline(__always)
    static func float(fromHalfBits bits: UInt16) -> Float {
        let h = UInt32(bits)
        let sign = (h & 0x8000) << 16
        let magnitude = h & 0x7FFF
        // Normal numbers: shift exponent and mantissa into place, rebias the exponent by 127 - 15.
        var out = (magnitude << 13) &+ 0x3800_0000
        // Infinity and NaN: rebias once more so the exponent field is all ones; the payload stays.
        out = magnitude >= 0x7C00 ? out &+ 0x3800_0000 : out
        // Zero and subnormals: mantissa x 2^-24, exact, and a normal float32.
        out = magnitude < 0x0400 ? (Float(magnitude) * 0x1p-24).bitPattern : out
        return Float(bitPattern: sign | out)
    }
}
