import CDNNL
import Foundation

/// Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(d)) V, computed in tiles of
/// query rows so that no full `tokens x tokens` score matrix per head is ever held (for
/// 4096-token self-attention a tile is `heads x 256 x 4096`).
///
/// Q, K and V are row-major token matrices whose heads sit side by side in the channel
/// dimension (`[tokens, heads * headDim]`, possibly with a larger row stride when they are
/// slices of one fused projection); the output has the same layout. Matmuls run on oneDNN with
/// the heads as the batch dimension of strided memory descriptors, so nothing is transposed.
public enum Attention {
    /// Largest score tile, in floats (heads x rows x keys).
    public static var maxTileFloats = 8 * 256 * 4096

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
                               heads: Int, headDim: Int, causal: Bool = false,
                               out: UnsafeMutablePointer<Float>, outStride: Int) {
        OpStatistics.shared.measure("attention \(queryCount)x\(keyCount) h\(heads)x\(headDim)",
                                    flops: 4.0 * Double(queryCount * keyCount * heads * headDim)) {
            computeTiles(q: q, k: k, v: v, queryCount: queryCount, keyCount: keyCount, heads: heads, headDim: headDim,
                         causal: causal, out: out, outStride: outStride)
        }
    }

    private static func computeTiles(q: Operand, k: Operand, v: Operand, queryCount: Int, keyCount: Int,
                                     heads: Int, headDim: Int, causal: Bool,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) {
        let tile = max(1, min(queryCount, maxTileFloats / max(1, heads * keyCount)))
        let scores = Tensor(uninitialized: [heads, tile, keyCount])
        let scale = 1 / Float(headDim).squareRoot()
        var start = 0
        while start < queryCount {
            let rows = min(tile, queryCount - start)
            let kernels = AttentionKernels.shared.kernels(rows: rows, keys: keyCount, heads: heads, headDim: headDim,
                                                          ldq: q.rowStride, ldk: k.rowStride, ldv: v.rowStride, ldo: outStride)
            kernels.scores.execute([
                (DNNLArg.src, kernels.qMD, UnsafeMutableRawPointer(mutating: q.pointer + start * q.rowStride)),
                (DNNLArg.weights, kernels.kMD, UnsafeMutableRawPointer(mutating: k.pointer)),
                (DNNLArg.dst, kernels.sMD, UnsafeMutableRawPointer(scores.pointer)),
            ])
            if causal { maskFuture(scores.pointer, heads: heads, rows: rows, keys: keyCount, firstQuery: start) }
            Elementwise.softmaxRows(scores.pointer, rows: heads * rows, cols: keyCount, scale: scale)
            kernels.values.execute([
                (DNNLArg.src, kernels.sMD, UnsafeMutableRawPointer(scores.pointer)),
                (DNNLArg.weights, kernels.vMD, UnsafeMutableRawPointer(mutating: v.pointer)),
                (DNNLArg.dst, kernels.oMD, UnsafeMutableRawPointer(out + start * outStride)),
            ])
            start += rows
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

/// The two batched matmuls of one attention tile shape, created once and reused.
final class AttentionKernels: @unchecked Sendable {
    static let shared = AttentionKernels()

    struct Key: Hashable { let rows, keys, heads, headDim, ldq, ldk, ldv, ldo: Int }
    struct Pair {
        let scores: Primitive, values: Primitive
        let qMD, kMD, sMD, vMD, oMD: dnnl_memory_desc_t
    }

    private var cache: [Key: Pair] = [:]
    private let lock = NSLock()

    func kernels(rows: Int, keys: Int, heads: Int, headDim d: Int, ldq: Int, ldk: Int, ldv: Int, ldo: Int) -> Pair {
        let key = Key(rows: rows, keys: keys, heads: heads, headDim: d, ldq: ldq, ldk: ldk, ldv: ldv, ldo: ldo)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        // Heads are the batch dimension: head h of Q starts h*d floats into each row.
        var qMD = MemoryDesc.strided([heads, rows, d], strides: [d, ldq, 1])
        var kMD = MemoryDesc.strided([heads, d, keys], strides: [d, 1, ldk])  // K^T as a view
        var sMD = MemoryDesc.tagged([heads, rows, keys], dnnl_abc)
        var vMD = MemoryDesc.strided([heads, keys, d], strides: [d, ldv, 1])
        var oMD = MemoryDesc.strided([heads, rows, d], strides: [d, ldo, 1])
        var scoresDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&scoresDesc, &qMD, &kMD, nil, &sMD), "matmul_desc_init (scores)")
        var valuesDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&valuesDesc, &sMD, &vMD, nil, &oMD), "matmul_desc_init (values)")
        let scores = withUnsafePointer(to: &scoresDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention scores") }
        let values = withUnsafePointer(to: &valuesDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention values") }
        let pair = Pair(scores: scores, values: values, qMD: qMD, kMD: kMD, sMD: sMD, vMD: vMD, oMD: oMD)
        cache[key] = pair
        return pair
    }
}
