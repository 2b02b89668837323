import CDNNL
import Foundation

/// Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(d)) V, computed in tiles of
/// query rows so that no full `tokens x tokens` score matrix per head is ever held (for
/// 4096-token self-attention a tile is `heads x 256 x 4096`).
///
/// Q, K and V come as row-major token matrices whose heads sit side by side in the channel
/// dimension (`[tokens, heads * headDim]`, possibly with a larger row stride when they are
/// slices of one fused projection); the output has the same layout. Each is first packed head
/// by head into dense `[heads, tokens, headDim]` blocks (Q with the 1/sqrt(d) scale folded in),
/// because oneDNN's fast batched matmul wants dense operands; the packing is a few percent of
/// the matmuls' cost. The softmax is oneDNN's vectorised one. At `.bf16` the packed operands and
/// the softmax's probabilities are bfloat16 and the matmuls accumulate in fp32.
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
        let tile = max(1, min(queryCount, maxTileFloats / max(1, heads * keyCount)))
        let keysPacked = pack(k, rows: keyCount, from: 0, heads: heads, headDim: d, scale: 1, precision: precision)
        let valuesPacked = pack(v, rows: keyCount, from: 0, heads: heads, headDim: d, scale: 1, precision: precision)
        let scores = Tensor(uninitialized: [heads, tile, keyCount])
        // The softmax writes its probabilities in the matmuls' precision (in place at fp32).
        let probabilities = precision == .fp32 ? nil : AlignedBuffer(bytes: heads * tile * keyCount * precision.bytesPerElement)
        let probabilitiesRaw = probabilities?.raw ?? UnsafeMutableRawPointer(scores.pointer)
        let mixed = Tensor(uninitialized: [heads, tile, d])
        let scale = 1 / Float(d).squareRoot()
        var start = 0
        while start < queryCount {
            let rows = min(tile, queryCount - start)
            let kernels = AttentionKernels.shared.kernels(rows: rows, keys: keyCount, heads: heads, headDim: d, precision: precision)
            let queries = pack(q, rows: rows, from: start, heads: heads, headDim: d, scale: scale, precision: precision)
            kernels.scores.execute([
                (DNNLArg.src, kernels.qMD, queries.raw),
                (DNNLArg.weights, kernels.kMD, keysPacked.raw),
                (DNNLArg.dst, kernels.sMD, UnsafeMutableRawPointer(scores.pointer)),
            ])
            if causal { maskFuture(scores.pointer, heads: heads, rows: rows, keys: keyCount, firstQuery: start) }
            kernels.softmax.execute([
                (DNNLArg.src, kernels.rowsMD, UnsafeMutableRawPointer(scores.pointer)),
                (DNNLArg.dst, kernels.probabilitiesRowsMD, probabilitiesRaw),
            ])
            kernels.values.execute([
                (DNNLArg.src, kernels.pMD, probabilitiesRaw),
                (DNNLArg.weights, kernels.vMD, valuesPacked.raw),
                (DNNLArg.dst, kernels.oMD, UnsafeMutableRawPointer(mixed.pointer)),
            ])
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
        let scores: Primitive, softmax: Primitive, values: Primitive
        let qMD, kMD, sMD, rowsMD, probabilitiesRowsMD, pMD, vMD, oMD: dnnl_memory_desc_t
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
        var rowsMD = MemoryDesc.tagged([heads * rows, keys], dnnl_ab)
        var probabilitiesRowsMD = MemoryDesc.tagged([heads * rows, keys], dnnl_ab, type)
        var pMD = MemoryDesc.tagged([heads, rows, keys], dnnl_abc, type)
        var vMD = MemoryDesc.tagged([heads, keys, d], dnnl_abc, type)
        var oMD = MemoryDesc.tagged([heads, rows, d], dnnl_abc)
        var scoresDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&scoresDesc, &qMD, &kMD, nil, &sMD), "matmul_desc_init (scores)")
        var softmaxDesc = dnnl_softmax_v2_desc_t()
        dnnlCheck(dnnl_softmax_v2_forward_desc_init(&softmaxDesc, dnnl_forward_inference, dnnl_softmax_accurate, &rowsMD, &probabilitiesRowsMD, 1),
                  "softmax_v2_forward_desc_init")
        var valuesDesc = dnnl_matmul_desc_t()
        dnnlCheck(dnnl_matmul_desc_init(&valuesDesc, &pMD, &vMD, nil, &oMD), "matmul_desc_init (values)")
        let set = Set(
            scores: withUnsafePointer(to: &scoresDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention scores") },
            softmax: withUnsafePointer(to: &softmaxDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention softmax") },
            values: withUnsafePointer(to: &valuesDesc) { Primitive.make(UnsafeRawPointer($0), name: "attention values") },
            qMD: qMD, kMD: kMD, sMD: sMD, rowsMD: rowsMD, probabilitiesRowsMD: probabilitiesRowsMD, pMD: pMD, vMD: vMD, oMD: oMD)
        let serial = 2 * heads * rows * keys * d < 2 * Threads.minimumFlopsPerThread
        set.scores.serial = serial
        set.values.serial = serial
        set.softmax.serial = heads * rows * keys < 2 * Threads.minimumWorkPerThread
        cache[key] = set
        return set
    }
}
