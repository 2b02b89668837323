import CDNNL

/// A fully connected layer `y = x W^T + b` over the last dimension, on oneDNN's matmul with
/// weights pre-packed once. Rows are processed per sample (leading dimension), so results are
/// independent of batch size.
public final class Linear: @unchecked Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var precision: Precision { weights.precision }
    private let bias: Tensor?
    private let weights: PackedWeights
    private var primitives: [Key: (Primitive, AlignedBuffer)] = [:]

    private struct Key: Hashable { let rows: Int, post: PostOps }

    public enum Activation: Hashable {
        case none, silu, geluErf, quickGELU
        var postOp: PostOps.Op? {
            switch self {
            case .none: return nil
            case .silu: return .eltwise(dnnl_eltwise_swish, 1)
            case .geluErf: return .eltwise(dnnl_eltwise_gelu_erf, 0)
            case .quickGELU: return .eltwise(dnnl_eltwise_swish, 1.702)
            }
        }
    }

    /// `weight` is PyTorch's `[out, in]` (a 1x1 convolution's `[out, in, 1, 1]` is accepted too).
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32) {
        precondition(weight.shape.count == 2 || (weight.shape.count == 4 && weight.shape[2] == 1 && weight.shape[3] == 1),
                     "linear weight must be [out, in], got \(weight.shape)")
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.bias = bias
        // PyTorch's [out, in] row-major is the [in, out] matrix in column-major ("ba").
        weights = PackedWeights(weight, dims: [weight.shape[1], weight.shape[0]], tag: dnnl_ba, precision: precision)
    }

    /// Applies the layer to `x` of shape `[..., inFeatures]`. The leading dimension is the batch:
    /// each sample's rows go through their own matmul call.
    public func callAsFunction(_ x: Tensor, activation: Activation = .none, residual: Tensor? = nil) -> Tensor {
        precondition(x.shape.last == inFeatures, "linear expects last dimension \(inFeatures), got \(x.shape)")
        let batch = x.shape.count >= 3 ? x.shape[0] : 1
        let rows = x.count / inFeatures / batch
        var outShape = x.shape
        outShape[outShape.count - 1] = outFeatures
        let out: Tensor
        if let residual {
            precondition(residual.shape == outShape, "residual \(residual.shape) does not match linear output \(outShape)")
            out = residual.copy()
        } else {
            out = Tensor(uninitialized: outShape)
        }
        apply(x.pointer, rows: rows, batch: batch, into: out.pointer, activation: activation, accumulate: residual != nil)
        return out
    }

    /// Raw form: `batch` blocks of `rows` rows, input and output densely packed. With
    /// `accumulate`, the result is added to what `output` already holds.
    public func apply(_ input: UnsafePointer<Float>, rows: Int, batch: Int = 1, into output: UnsafeMutablePointer<Float>,
                      activation: Activation = .none, accumulate: Bool = false) {
        var post = PostOps()
        if let op = activation.postOp { post.ops.append(op) }
        if accumulate { post.ops.append(.sum) }
        let (prim, weights) = primitive(rows: rows, post: post)
        let srcMD = MemoryDesc.tagged([rows, inFeatures], dnnl_ab, precision.dataType)
        let dstMD = MemoryDesc.tagged([rows, outFeatures], dnnl_ab)
        let wMD = prim.queryMD(dnnl_query_weights_md)
        let biasMD = MemoryDesc.tagged([1, outFeatures], dnnl_ab)
        let elementSize = precision.bytesPerElement
        withInput(input, count: batch * rows * inFeatures, precision: precision) { src in
            for b in 0..<batch {
                var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
                    (DNNLArg.src, srcMD, src + b * rows * inFeatures * elementSize),
                    (DNNLArg.weights, wMD, weights.raw),
                    (DNNLArg.dst, dstMD, UnsafeMutableRawPointer(output + b * rows * outFeatures)),
                ]
                if let bias { args.append((DNNLArg.bias, biasMD, UnsafeMutableRawPointer(bias.pointer))) }
                OpStatistics.shared.measure("linear \(inFeatures)->\(outFeatures) x\(rows)", flops: 2.0 * Double(rows * inFeatures * outFeatures)) {
                    prim.execute(args)
                }
            }
        }
    }

    private func primitive(rows: Int, post: PostOps) -> (Primitive, AlignedBuffer) {
        let key = Key(rows: rows, post: post)
        if let cached = primitives[key] { return cached }
        var src = MemoryDesc.tagged([rows, inFeatures], dnnl_ab, precision.dataType)
        var wts = MemoryDesc.tagged([inFeatures, outFeatures], dnnl_format_tag_any, precision.dataType)
        var dst = MemoryDesc.tagged([rows, outFeatures], dnnl_ab)
        var b = MemoryDesc.tagged([1, outFeatures], dnnl_ab)
        var desc = dnnl_matmul_desc_t()
        let hasBias = bias != nil
        dnnlCheck(withUnsafePointer(to: &b) { bp in
            dnnl_matmul_desc_init(&desc, &src, &wts, hasBias ? bp : nil, &dst)
        }, "matmul_desc_init")
        let prim = withUnsafePointer(to: &desc) { Primitive.make(UnsafeRawPointer($0), postOps: post, name: "linear \(inFeatures)->\(outFeatures) x\(rows)") }
        prim.serial = 2 * rows * inFeatures * outFeatures < 2 * Threads.minimumFlopsPerThread
        let packed = weights.buffer(for: prim.queryMD(dnnl_query_weights_md))
        primitives[key] = (prim, packed)
        return (prim, packed)
    }

}
