import CDNNL
import CKernels
import Foundation

/// Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(d)) V, computed in tiles of
/// query rows so that no full `tokens x tokens` score matrix per head is ever held (for
/// 4096-token self-attention a tile is one head's `64 x 4096` scores).
///
/// Q, K and V come as row-major token matrices whose heads sit side by side in the channel
/// dimension (`[tokens, heads * headDim]`, possibly with a larger row stride when they are
/// slices of one fused projection); the output has the same layout. Each is first packed head
/// by head into dense `[heads, tokens, headDim]` blocks (Q with the 1/sqrt(d) scale folded in),
/// because oneDNN's fast batched matmul wants dense operands; the packing is a few percent of
/// the matmuls' cost. The softmax is our own (CKernels: oneDNN 2.6's was as slow as a matmul). At `.bf16` the packed operands and
/// the softmax's probabilities are bfloat16 and the matmuls accumulate in fp32.
public enum Attention {
    /// Largest score tile, in floats (heads x rows x keys).
    /// (1 MiB of fp32 scores: they stay in a core's L2 cache through softmax and matmul).
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
    public static func compute(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                               heads: Int, headDim: Int, causal: Bool = false, precision: Precision = .fp32,
                               out: UnsafeMutablePointer<Float>, outStride: Int) {
        OpStatistics.shared.measure("attention \(queryCount)x\(keyCount) h\(heads)x\(headDim)",
                                    flops: 4.0 * Double(queryCount * keyCount * heads * headDim)) {
            computeTiles(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: headDim,
                         causal: causal, precision: precision, out: out, outStride: outStride)
        }
    }

    private static func computeTiles(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                                     heads: Int, headDim d: Int, causal: Bool, precision: Precision,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) {
        // All heads at once when their scores fit one tile (cross-attention on 77 tokens);
        // otherwise one head at a time, so that a tile's scores stay in the core's cache
        // between the matmul that writes them, the softmax and the matmul that reads them
        // (through memory, the softmax alone took as long as both matmuls).
        let headsPerTile = heads * queryCount * keyCount <= maxTileFloats ? heads : 1
        let tile = max(1, min(queryCount, maxTileFloats / max(1, headsPerTile * keyCount)))
        let keysPacked = pack(k, rows: keyCount, from: 0, heads: heads, headDim: d, scale: 1, precision: precision)
        let valuesPacked = pack(v, rows: keyCount, from: 0, heads: heads, headDim: d, scale: 1, precision: precision)
        let scores = Tensor(uninitialized: [headsPerTile, tile, keyCount])
        // The softmax writes its probabilities in the matmuls' precision (in place at fp32).
        let size = precision.bytesPerElement
        let probabilities = precision == .fp32 ? nil : AlignedBuffer(bytes: headsPerTile * tile * keyCount * size)
        let probabilitiesRaw = probabilities?.raw ?? UnsafeMutableRawPointer(scores.pointer)
        let mixed = Tensor(uninitialized: [heads, tile, d])
        let scale = 1 / Float(d).squareRoot()
        var start = 0
        while start < queryCount {
            let rows = min(tile, queryCount - start)
            let kernels = AttentionKernels.shared.kernels(rows: rows, keys: keyCount, heads: headsPerTile, headDim: d, precision: precision)
            let queries = pack(q, rows: rows, from: start, heads: heads, headDim: d, scale: scale, precision: precision)
            for h in stride(from: 0, to: heads, by: headsPerTile) {
                kernels.scores.execute([
                    (DNNLArg.src, kernels.qMD, queries.raw + h * rows * d * size),
                    (DNNLArg.weights, kernels.kMD, keysPacked.raw + h * keyCount * d * size),
                    (DNNLArg.dst, kernels.sMD, UnsafeMutableRawPointer(scores.pointer)),
                ])
                if causal { maskFuture(scores.pointer, heads: headsPerTile, rows: rows, keys: keyCount, firstQuery: start) }
                softmax(scores.pointer, rows: headsPerTile * rows, length: keyCount, into: probabilities?.raw)
                kernels.values.execute([
                    (DNNLArg.src, kernels.pMD, probabilitiesRaw),
                    (DNNLArg.weights, kernels.vMD, valuesPacked.raw + h * keyCount * d * size),
                    (DNNLArg.dst, kernels.oMD, UnsafeMutableRawPointer(mixed.pointer + h * rows * d)),
                ])
            }
            unpack(mixed, rows: rows, heads: heads, headDim: d, into: out + start * outStride, rowStride: outStride)
            start += rows
        }
    }

    /// Rows `from ..< from+rows` of a `[tokens, heads*d]` operand as dense `[heads, rows, d]`,
    /// scaled, in `precision`.
    private static func pack(_ x: Operand, rows: Int, from: Int, heads: Int, headDim d: Int, scale: Float,
                             precision: Precision) -> AlignedBuffer {
        let out = AlignedBuffer(bytes: heads * rows * d * precision.bytesPerElement)
        let src = x.pointer, ld = x.rowStride
        switch precision {
        case .fp32:
            let dst = out.raw.assumingMemoryBound(to: Float.self)
            Threads.parallelFor(rows, itemCost: heads * d) { r0, r1 in
                for r in r0..<r1 {
                    let row = src + (from + r) * ld
                    for h in 0..<heads {
                        let o = dst + (h * rows + r) * d, s = row + h * d
                        if scale == 1 { o.update(from: s, count: d) } else { for e in 0..<d { o[e] = s[e] * scale } }
                    }
                }
            }
        case .bf16:
            let dst = out.raw.assumingMemoryBound(to: UInt16.self)
            Threads.parallelFor(rows, itemCost: heads * d) { r0, r1 in
                for r in r0..<r1 {
                    let row = src + (from + r) * ld
                    for h in 0..<heads {
                        let o = dst + (h * rows + r) * d, s = row + h * d
                        for e in 0..<d { o[e] = BFloat16.bits(s[e] * scale) }
                    }
                }
            }
        }
        return out
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

    /// Row-wise softmax in place, or into `bf16` (as bfloat16) when given; rows split over threads.
    private static func softmax(_ scores: UnsafeMutablePointer<Float>, rows: Int, length: Int, into bf16: UnsafeMutableRawPointer?) {
        let out = bf16?.assumingMemoryBound(to: UInt16.self)
        Threads.parallelFor(rows, itemCost: 4 * length) { r0, r1 in
            sdc_softmax_rows(scores + r0 * length, Int64(r1 - r0), Int64(length), nil, out.map { $0 + r0 * length })
        }
    }

    private static func maskFuture(_ s: UnsafeMutablePointer<Float>, heads: Int, rows: Int, keys: Int, firstQuery: Int) {
        for h in 0..<heads {
            for r in 0..<rows {
                let row = s + (h * rows + r) * keys
                let q = firstQuery + r
                if q + 1 < keys { for j in (q + 1)..<keys { row[j] = -.infinity } }
            }
        }
    }
}

/// The batched matmuls and softmax of one attention tile shape, created once and reused.
final class AttentionKernels: @unchecked Sendable {
    static let shared = AttentionKernels()

    struct Key: Hashable { let rows, keys, heads, headDim: Int, precision: Precision }
    struct Set {
        let scores: Primitive, values: Primitive
        let qMD, kMD, sMD, pMD, vMD, oMD: dnnl_memory_desc_t
    }

    private var cache: [Key: Set] = [:]
    private let lock = NSLock()

    func kernels(rows: Int, keys: Int, heads: Int, headDim d: Int, precision: Precision) -> Set {
        let key = Key(rows: rows, keys: keys, heads: heads, headDim: d, precision: precision)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        let type = precision.dataType
        var qMD = MemoryDesc.tagged([heads, rows, d], dnnl_abc, type)
        var kMD = MemoryDesc.tagged([heads, d, keys], dnnl_acb, type)  // K^T: the dense [heads, keys, d] block read transposed
        var sMD = MemoryDesc.tagged([heads, rows, keys], dnnl_abc)
        var pMD = MemoryDesc.tagged([heads, rows, keys], dnnl_abc, type)
        var vMD = MemoryDesc.tagged([heads, keys, d], dnnl_abc, type)
        var oMD = MemoryDesc.tagged([heads, rows, d], dnnl_abc)
        var scoresDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&scoresDesc, &qMD, &kMD, nil, &sMD), "matmul_desc_init (scores)")
        var valuesDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&valuesDesc, &pMD, &vMD, nil, &oMD), "matmul_desc_init (values)")
        let set = Set(
            scores: withUnsafePointer(to: &scoresDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention scores") },
            values: withUnsafePointer(to: &valuesDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention values") },
            qMD: qMD, kMD: kMD, sMD: sMD, pMD: pMD, vMD: vMD, oMD: oMD)
        let serial = 2 * heads * rows * keys * d < 2 * Threads.minimumFlopsPerThread
        set.scores.serial = serial
        set.values.serial = serial
        cache[key] = set
        return set
    }
}
