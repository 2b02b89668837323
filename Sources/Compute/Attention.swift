import CDNNL
import CKernels
import Foundation

/// Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(d)) V.
///
/// Q, K and V come as row-major token matrices whose heads sit side by side in the channel
/// dimension (`[tokens, heads * headDim]`, possibly with a larger row stride when they are
/// slices of one fused projection); the output has the same layout.
///
/// By default it runs on the fused kernel (`CKernels/flash_attention.c`): per item of one head
/// and 48 queries, scores, an online softmax and the value sum block by block of 64 keys, with
/// no score matrix held at all (about 1.6-2x the oneDNN path at SD 1.5's 4096 tokens x 40
/// channels, docs/performance.md). Items are shared out among the threads, each computed by one
/// thread in a fixed order, so the bits do not depend on the thread count.
///
/// The oneDNN path (`useFusedKernel = false`) is kept to compare against: Q, K, V packed head by
/// head into dense `[heads, tokens, headDim]` blocks (Q with the 1/sqrt(d) scale folded in), cut
/// into items of one head and a tile of query rows whose scores fit `maxTileFloats`, each running
/// oneDNN's score matmul, our softmax (CKernels) and the value matmul on one thread. At `.bf16`
/// both paths round the operands and the probabilities to bfloat16 and accumulate in fp32.
public enum Attention {
    /// Largest score tile of one item, in floats (query rows x keys), on the oneDNN path.
    public static var maxTileFloats = 256 * 1024

    /// Whether attention runs on the fused kernel (the default) or on oneDNN's matmuls with our
    /// softmax between them (kept for comparison: `sdcluster bench attention --onednn`, tests).
    public static var useFusedKernel = true

    /// Whether bf16 attention may take the fused kernel's AMX path where oneDNN's ISA has AMX
    /// (a test hook: off, it takes the AVX-512 path with the same rounding points).
    public static var allowAMX = true

    /// Where the fused kernel beat the oneDNN path here (`bench attention`, docs/performance.md):
    /// heads of up to 80 channels with AVX-512 (SD 1.5's 40 and 80; at 160 channels over 256
    /// tokens oneDNN's matmuls won, 1.3-1.9x), up to 40 with AVX2 or plain C.
    static func fusedKernelWins(headDim: Int) -> Bool {
        headDim <= (sdc_kernels_level() >= 2 ? 80 : 40)
    }

    /// True where bf16 attention runs on AMX tiles: the CPU has them, the process was granted
    /// them, and neither oneDNN's ISA cap nor the C kernels' level is below AMX.
    static var usesAMX: Bool {
        allowAMX && EngineISA.includes(dnnl_cpu_isa_avx512_core_amx) && sdc_kernels_level() >= 2
            && sdc_flash_attention_amx_available() != 0
    }

    public struct Operand {
        public let pointer: UnsafePointer<Float>
        public let rowStride: Int
        public init(_ pointer: UnsafePointer<Float>, rowStride: Int) {
            self.pointer = pointer
            self.rowStride = rowStride
        }
    }

    /// Computes attention for one sample. `causal` masks keys after each query (CLIP's text
    /// encoder). `out` receives `[queryCount, heads * headDim]` with row stride `outStride`.
    ///
    /// The caller vouches for the buffers' sizes; throws `ShapeError` when the counts cannot
    /// describe an attention (a count below 1, a row stride narrower than `heads * headDim`),
    /// `DNNLError` when oneDNN fails.
    public static func compute(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                               heads: Int, headDim: Int, causal: Bool = false, precision: Precision = .fp32,
                               out: UnsafeMutablePointer<Float>, outStride: Int) throws {
        let width = heads * headDim
        guard queryCount >= 1, keyCount >= 1, heads >= 1, headDim >= 1 else {
            throw ShapeError("attention", expected: "at least one query, key, head and channel ([queries, keys, heads, headDim])",
                             got: [queryCount, keyCount, heads, headDim])
        }
        guard q.rowStride >= width, k.rowStride >= width, v.rowStride >= width, outStride >= width else {
            throw ShapeError("attention over \(heads) heads of \(headDim)", expected: "row strides (q, k, v, out) of at least \(width)",
                             got: [q.rowStride, k.rowStride, v.rowStride, outStride])
        }
        try OpStatistics.shared.measure("attention \(queryCount)x\(keyCount) h\(heads)x\(headDim)",
                                        flops: 4.0 * Double(queryCount * keyCount * heads * headDim)) {
            if useFusedKernel && fusedKernelWins(headDim: headDim) {
                try computeFused(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: headDim,
                                 causal: causal, precision: precision, out: out, outStride: outStride)
            } else {
                try computeTiles(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: headDim,
                                 causal: causal, precision: precision, out: out, outStride: outStride)
            }
        }
    }

    /// The fused kernel (CKernels/flash_attention.c): items of one head and `SDC_FLASH_ROWS`
    /// queries, head by head so that a thread's consecutive items share the head's K and V in its
    /// L2. K and V are packed into dense `[heads, keys, d]` first: read in place from a fused
    /// projection (row stride 3 x 320 floats), one head's rows fall into a few L2 sets and thrash
    /// it (1.6x slower at 4096 tokens); Q is read in place, once per tile. At `.bf16` the
    /// operands and probabilities are rounded to bfloat16 where the oneDNN path rounded them;
    /// the products run on AMX tiles where there are some (`computeAMX`), else as fp32 FMAs:
    /// AVX512-BF16's `vdpbf16ps` does twice an FMA's multiply-adds per instruction but ran at a
    /// quarter of its rate here (1.1 G against 4.2 G instructions/s on one core).
    private static func computeFused(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                                     heads: Int, headDim d: Int, causal: Bool, precision: Precision,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) throws {
        let tile = Int(SDC_FLASH_ROWS)
        let tiles = (queryCount + tile - 1) / tile
        let scratchBytes = Int(sdc_flash_attention_scratch_floats(Int64(d))) * MemoryLayout<Float>.size
        let scale = 1 / Float(d).squareRoot()
        let bf16 = precision == .bf16
        if bf16 && usesAMX {
            return try computeAMX(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: d,
                                  causal: causal, out: out, outStride: outStride)
        }
        let keys = try packFloats(k, rows: keyCount, heads: heads, headDim: d, roundingToBFloat16: bf16)
        let values = try packFloats(v, rows: keyCount, heads: heads, headDim: d, roundingToBFloat16: bf16)
        let kp = UnsafePointer(keys.raw.assumingMemoryBound(to: Float.self))
        let vp = UnsafePointer(values.raw.assumingMemoryBound(to: Float.self))
        let failure = FirstError()
        Threads.parallelFor(tiles * heads, itemCost: 4 * tile * keyCount * d) { first, end in
            failure.capture {
                let scratch = try AlignedBuffer(bytes: scratchBytes)
                let work = scratch.raw.assumingMemoryBound(to: Float.self)
                for item in first..<end {
                    let h = item / tiles, start = (item % tiles) * tile
                    sdc_flash_attention_f32(q.pointer + start * q.rowStride + h * d, Int64(q.rowStride),
                                            kp + h * keyCount * d, Int64(d), vp + h * keyCount * d, Int64(d),
                                            Int64(min(tile, queryCount - start)), Int64(keyCount), Int64(d), scale,
                                            causal ? Int64(start) : -1, bf16 ? 1 : 0,
                                            out + start * outStride + h * d, Int64(outStride), work)
                }
            }
        }
        try failure.rethrow()
    }

    private static func computeTiles(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                                     heads: Int, headDim d: Int, causal: Bool, precision: Precision,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) throws {
        let tile = max(1, min(queryCount, maxTileFloats / max(1, keyCount)))
        let tiles = (queryCount + tile - 1) / tile
        let size = precision.bytesPerElement
        // Kernels first: creating them can fail, and the threads below cannot throw.
        let full = try AttentionKernels.shared.kernels(rows: tile, keys: keyCount, headDim: d, precision: precision)
        let last = queryCount % tile == 0 ? full
            : try AttentionKernels.shared.kernels(rows: queryCount % tile, keys: keyCount, headDim: d, precision: precision)
        let queries = try pack(q, rows: queryCount, heads: heads, headDim: d, scale: 1 / Float(d).squareRoot(), precision: precision)
        let keys = try pack(k, rows: keyCount, heads: heads, headDim: d, scale: 1, precision: precision)
        let values = try pack(v, rows: keyCount, heads: heads, headDim: d, scale: 1, precision: precision)
        let mixed = Tensor(uninitialized: [heads, queryCount, d])
        let scratchBytes = max(full.scratchpadBytes, last.scratchpadBytes)
        let failure = FirstError()
        Threads.parallelFor(tiles * heads, itemCost: 2 * tile * keyCount * d) { first, end in
            failure.capture {
                // This thread's own scores, probabilities and oneDNN scratchpad.
                let scores = Tensor(uninitialized: [tile, keyCount])
                let probabilities = precision == .fp32 ? nil : try AlignedBuffer(bytes: tile * keyCount * size)
                let probabilitiesRaw = probabilities?.raw ?? UnsafeMutableRawPointer(scores.pointer)
                let scratchpad = try AlignedBuffer(bytes: max(64, scratchBytes))
                for item in first..<end where !failure.isSet {
                    let h = item % heads, start = (item / heads) * tile
                    let rows = min(tile, queryCount - start)
                    let kernels = rows == tile ? full : last
                    try kernels.scores.executeConcurrently([
                        (DNNLArg.src, kernels.qMD, queries.raw + (h * queryCount + start) * d * size),
                        (DNNLArg.weights, kernels.kMD, keys.raw + h * keyCount * d * size),
                        (DNNLArg.dst, kernels.sMD, UnsafeMutableRawPointer(scores.pointer)),
                    ], scratchpad: scratchpad.raw)
                    if causal { maskFuture(scores.pointer, rows: rows, keys: keyCount, firstQuery: start) }
                    sdc_softmax_rows(scores.pointer, Int64(rows), Int64(keyCount), nil,
                                     probabilities?.raw.assumingMemoryBound(to: UInt16.self))
                    try kernels.values.executeConcurrently([
                        (DNNLArg.src, kernels.pMD, probabilitiesRaw),
                        (DNNLArg.weights, kernels.vMD, values.raw + h * keyCount * d * size),
                        (DNNLArg.dst, kernels.oMD, UnsafeMutableRawPointer(mixed.pointer + (h * queryCount + start) * d)),
                    ], scratchpad: scratchpad.raw)
                }
            }
        }
        try failure.rethrow()
        unpack(mixed, rows: queryCount, heads: heads, headDim: d, into: out, rowStride: outStride)
    }

    /// bf16 on AMX (CKernels/flash_attention_amx.c): each head's K and V packed once into the
    /// kernel's bf16 layouts, then items of one head and `SDC_FLASH_AMX_ROWS` queries as above.
    private static func computeAMX(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                                   heads: Int, headDim d: Int, causal: Bool,
                                   out: UnsafeMutablePointer<Float>, outStride: Int) throws {
        let tile = Int(SDC_FLASH_AMX_ROWS)
        let tiles = (queryCount + tile - 1) / tile
        let perHead = Int(sdc_flash_attention_amx_head_elements(Int64(keyCount), Int64(d)))
        let packedK = try AlignedBuffer(bytes: heads * perHead * 2), packedV = try AlignedBuffer(bytes: heads * perHead * 2)
        let kp = packedK.raw.assumingMemoryBound(to: UInt16.self), vt = packedV.raw.assumingMemoryBound(to: UInt16.self)
        Threads.parallelFor(heads, itemCost: 2 * keyCount * d) { h0, h1 in
            for h in h0..<h1 {
                sdc_flash_attention_amx_pack_head(k.pointer + h * d, Int64(k.rowStride), v.pointer + h * d, Int64(v.rowStride),
                                                  Int64(keyCount), Int64(d), kp + h * perHead, vt + h * perHead)
            }
        }
        let scratchBytes = Int(sdc_flash_attention_amx_scratch_bytes(Int64(d)))
        let scale = 1 / Float(d).squareRoot()
        let failure = FirstError()
        Threads.parallelFor(tiles * heads, itemCost: 4 * tile * keyCount * d) { first, end in
            failure.capture {
                let scratch = try AlignedBuffer(bytes: scratchBytes)
                for item in first..<end {
                    let h = item / tiles, start = (item % tiles) * tile
                    sdc_flash_attention_bf16_amx(q.pointer + start * q.rowStride + h * d, Int64(q.rowStride),
                                                 kp + h * perHead, vt + h * perHead, Int64(min(tile, queryCount - start)),
                                                 Int64(keyCount), Int64(d), scale, causal ? Int64(start) : -1,
                                                 out + start * outStride + h * d, Int64(outStride), scratch.raw)
                }
            }
        }
        try failure.rethrow()
    }

    /// The first `rows` rows of a `[tokens, heads*d]` operand as dense `[heads, rows, d]` floats,
    /// optionally rounded to bfloat16 values.
    private static func packFloats(_ x: Operand, rows: Int, heads: Int, headDim d: Int, roundingToBFloat16: Bool) throws -> AlignedBuffer {
        let out = try AlignedBuffer(bytes: heads * rows * d * MemoryLayout<Float>.size)
        let dst = out.raw.assumingMemoryBound(to: Float.self)
        if roundingToBFloat16 {
            packRows(x, rows: rows, heads: heads, headDim: d, into: dst) { BFloat16.float(BFloat16.bits($0)) }
        } else {
            packRows(x, rows: rows, heads: heads, headDim: d, into: dst) { $0 }
        }
        return out
    }

    /// The first `rows` rows of a `[tokens, heads*d]` operand as dense `[heads, rows, d]`,
    /// scaled, in `precision`.
    private static func pack(_ x: Operand, rows: Int, heads: Int, headDim d: Int, scale: Float,
                             precision: Precision) throws -> AlignedBuffer {
        let out = try AlignedBuffer(bytes: heads * rows * d * precision.bytesPerElement)
        switch precision {
        case .fp32: packRows(x, rows: rows, heads: heads, headDim: d, into: out.raw.assumingMemoryBound(to: Float.self)) { $0 * scale }
        case .bf16: packRows(x, rows: rows, heads: heads, headDim: d, into: out.raw.assumingMemoryBound(to: UInt16.self)) { BFloat16.bits($0 * scale) }
        }
        return out
    }

    private static func packRows<T>(_ x: Operand, rows: Int, heads: Int, headDim d: Int, into dst: UnsafeMutablePointer<T>,
                                    _ convert: (Float) -> T) {
        let src = x.pointer, ld = x.rowStride
        Threads.parallelFor(rows, itemCost: heads * d) { r0, r1 in
            for r in r0..<r1 {
                for h in 0..<heads {
                    let o = dst + (h * rows + r) * d, s = src + r * ld + h * d
                    for e in 0..<d { o[e] = convert(s[e]) }
                }
            }
        }
    }

    private static func unpack(_ x: Tensor, rows: Int, heads: Int, headDim d: Int,
                               into dst: UnsafeMutablePointer<Float>, rowStride: Int) {
        let src = x.pointer
        Threads.parallelFor(rows, itemCost: heads * d) { r0, r1 in
            for r in r0..<r1 {
                for h in 0..<heads { (dst + r * rowStride + h * d).update(from: src + (h * rows + r) * d, count: d) }
            }
        }
    }

    private static func maskFuture(_ s: UnsafeMutablePointer<Float>, rows: Int, keys: Int, firstQuery: Int) {
        for r in 0..<rows {
            let row = s + r * keys
            let q = firstQuery + r
            if q + 1 < keys { for j in (q + 1)..<keys { row[j] = -.infinity } }
        }
    }
}

/// The two matmuls of one attention item shape (one head, a tile of query rows), created once
/// and run by several threads at once (user-managed scratchpad).
final class AttentionKernels: @unchecked Sendable {
    static let shared = AttentionKernels()

    struct Key: Hashable { let rows, keys, headDim: Int, precision: Precision }
    struct Set {
        let scores: Primitive, values: Primitive
        let qMD, kMD, sMD, pMD, vMD, oMD: MemoryDesc
        var scratchpadBytes: Int { max(scores.scratchpadBytes, values.scratchpadBytes) }
    }

    private var cache: [Key: Set] = [:]
    private let lock = NSLock()

    func kernels(rows: Int, keys: Int, headDim d: Int, precision: Precision) throws -> Set {
        let key = Key(rows: rows, keys: keys, headDim: d, precision: precision)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        let type = precision.dataType
        let qMD = try MemoryDesc.tagged([rows, d], dnnl_ab, type)
        let kMD = try MemoryDesc.tagged([d, keys], dnnl_ba, type)  // K^T: the dense [keys, d] block read transposed
        let sMD = try MemoryDesc.tagged([rows, keys], dnnl_ab)
        let pMD = try MemoryDesc.tagged([rows, keys], dnnl_ab, type)
        let vMD = try MemoryDesc.tagged([keys, d], dnnl_ab, type)
        let oMD = try MemoryDesc.tagged([rows, d], dnnl_ab)
        let set = Set(
            scores: try Primitive.make(forOneThread: true, name: "attention scores \(rows)x\(keys) d\(d)") { pd, engine, attr in
                dnnl_matmul_primitive_desc_create(pd, engine, qMD.handle, kMD.handle, nil, sMD.handle, attr)
            },
            values: try Primitive.make(forOneThread: true, name: "attention values \(rows)x\(keys) d\(d)") { pd, engine, attr in
                dnnl_matmul_primitive_desc_create(pd, engine, pMD.handle, vMD.handle, nil, oMD.handle, attr)
            },
            qMD: qMD, kMD: kMD, sMD: sMD, pMD: pMD, vMD: vMD, oMD: oMD)
        cache[key] = set
        return set
    }
}
