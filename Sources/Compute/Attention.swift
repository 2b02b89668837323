import CDNNL
import CKernels
import Foundation

/// Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(d)) V.
///
/// Q, K and V come as row-major token matrices whose heads sit side by side in the channel
/// dimension (`[tokens, heads * headDim]`, possibly with a larger row stride when they are
/// slices of one fused projection); the output has the same layout. Each is first packed head
/// by head into dense `[heads, tokens, headDim]` blocks (Q with the 1/sqrt(d) scale folded in),
/// because oneDNN's fast matmul wants dense operands; the packing is a few percent of the work.
///
/// The work is cut into items of one head and a tile of query rows whose scores fit
/// `maxTileFloats` (1 MiB: for 4096-token self-attention, one head's 64 x 4096 scores), so no
/// full `tokens x tokens` score matrix is ever held and each tile stays in the core's L2 cache
/// from the score matmul through the softmax to the value matmul. Items are shared out among
/// the threads, each running the matmuls on its own (one parallel region per attention instead
/// of three per tile: per-op thread hand-offs cost more than the small matmuls themselves).
/// The softmax is our own (CKernels; oneDNN 2.6's was as slow as a matmul). At `.bf16` the
/// packed operands and the probabilities are bfloat16 and the matmuls accumulate in fp32.
public enum Attention {
    /// Largest score tile of one item, in floats (query rows x keys).
    public static var maxTileFloats = 256 * 1024

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
            try computeTiles(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: headDim,
                         causal: causal, precision: precision, out: out, outStride: outStride)
        }
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
            scores: try Primitive.make(userScratchpad: true, name: "attention scores \(rows)x\(keys) d\(d)") { pd, engine, attr in
                dnnl_matmul_primitive_desc_create(pd, engine, qMD.handle, kMD.handle, nil, sMD.handle, attr)
            },
            values: try Primitive.make(userScratchpad: true, name: "attention values \(rows)x\(keys) d\(d)") { pd, engine, attr in
                dnnl_matmul_primitive_desc_create(pd, engine, pMD.handle, vMD.handle, nil, oMD.handle, attr)
            },
            qMD: qMD, kMD: kMD, sMD: sMD, pMD: pMD, vMD: vMD, oMD: oMD)
        cache[key] = set
        return set
    }
}
