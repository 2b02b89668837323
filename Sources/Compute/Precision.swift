import CDNNL
import CKernels
import Foundation

/// The number format convolutions, linear layers and attention's matmuls compute in.
///
/// `.bf16` stores those layers' weights in bfloat16 (half the memory of fp32) and feeds oneDNN's
/// bf16 kernels (AVX512-BF16 dot products, accumulation in fp32); activations between layers, the
/// normalisations, softmax and element-wise work stay fp32, and every layer writes fp32 results.
/// Inputs are rounded to bf16 (nearest, ties to even) just before each such layer.
public enum Precision: String, CaseIterable, Sendable {
    case fp32, bf16

    var dataType: dnnl_data_type_t { self == .bf16 ? dnnl_bf16 : dnnl_f32 }
    var bytesPerElement: Int { self == .bf16 ? 2 : 4 }
}

/// Float to bfloat16 conversion (the engine's bf16 path and the wire format share it).
public enum BFloat16 {
    /// Rounds to the nearest bfloat16, ties to even (what oneDNN and PyTorch do); NaN stays NaN.
    @inline(__always)
    public static func bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
    }

    @inline(__always)
    public static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Converts `count` floats into bfloat16 (the bits of `bits(_:)`, in vectors: CKernels'
    /// `sdc_float_to_bf16`), on the engine's threads when it pays.
    public static func convert(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Threads.parallelFor((count + 1023) / 1024, itemCost: 1024) { c0, c1 in
            let start = c0 * 1024, end = min(count, c1 * 1024)
            sdc_float_to_bf16(src + start, dst + start, Int64(end - start))
        }
    }
}

/// Reusable raw buffers for short-lived conversions (a layer's input rounded to bf16): borrowed
/// for one call and given back, so the hot loop allocates nothing and memory stays at the few
/// largest sizes in use at once.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [AlignedBuffer] = []
    private let lock = NSLock()

    /// Runs `body` with a buffer of at least `bytes` bytes.
    func withBuffer<R>(bytes: Int, _ body: (UnsafeMutableRawPointer) throws -> R) throws -> R {
        let buffer = try borrow(bytes)
        defer { giveBack(buffer) }
        return try body(buffer.raw)
    }

    private func borrow(_ bytes: Int) throws -> AlignedBuffer {
        lock.lock()
        defer { lock.unlock() }
        // The smallest free buffer that fits; a larger request replaces the largest free one.
        if let i = free.indices.filter({ free[$0].bytes >= bytes }).min(by: { free[$0].bytes < free[$1].bytes }) {
            return free.remove(at: i)
        }
        if let largest = free.indices.max(by: { free[$0].bytes < free[$1].bytes }) { free.remove(at: largest) }
        return try AlignedBuffer(bytes: bytes)
    }

    private func giveBack(_ buffer: AlignedBuffer) {
        lock.lock()
        free.append(buffer)
        lock.unlock()
    }
}

/// A layer's input as its primitive wants it: the fp32 activations themselves, or a bf16 copy.
@inline(__always)
func withInput<R>(_ x: UnsafePointer<Float>, count: Int, precision: Precision,
                  _ body: (UnsafeMutableRawPointer) throws -> R) throws -> R {
    if precision == .fp32 { return try body(UnsafeMutableRawPointer(mutating: x)) }
    return try ScratchPool.shared.withBuffer(bytes: count * 2) { raw in
        BFloat16.convert(x, into: raw.assumingMemoryBound(to: UInt16.self), count: count)
        return try body(raw)
    }
}
