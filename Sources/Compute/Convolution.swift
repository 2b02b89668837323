import CDNNL

/// 2-D convolution on channels-last activations (`[N, H, W, C]`), weights pre-packed by oneDNN.
///
/// Each sample runs through a batch-1 primitive, so a sample's result never depends on what
/// else is in the batch (bit-exact batch invariance by construction). Primitives and packed
/// weights are cached per input size and fused post-op set.
public final class Conv2D: @unchecked Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    /// Padding as (top, left, bottom, right).
    public let padding: (Int, Int, Int, Int)
    public var precision: Precision { weights.precision }

    private let bias: Tensor?
    private let weights: PackedWeights
    private var primitives: [Key: (Primitive, AlignedBuffer)] = [:]

    private struct Key: Hashable { let h: Int, w: Int, post: PostOps }

    /// `weight` is PyTorch's `[O, I, kh, kw]`; `bias` is `[O]` or nil.
    public convenience init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int, precision: Precision = .fp32) {
        self.init(weight: weight, bias: bias, stride: stride, padding: (padding, padding, padding, padding), precision: precision)
    }

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: (Int, Int, Int, Int), precision: Precision = .fp32) {
        precondition(weight.shape.count == 4 && weight.shape[2] == weight.shape[3], "conv weight must be [O, I, k, k], got \(weight.shape)")
        outChannels = weight.shape[0]
        inChannels = weight.shape[1]
        kernel = weight.shape[2]
        self.stride = stride
        self.padding = padding
        self.bias = bias
        weights = PackedWeights(weight, dims: weight.shape, tag: dnnl_oihw, precision: precision)
    }

    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        ((height + padding.0 + padding.2 - kernel) / stride + 1, (width + padding.1 + padding.3 - kernel) / stride + 1)
    }

    /// Convolves `x` (`[N, H, W, inChannels]`). With `residual`, returns conv(x) + residual
    /// (fused); with `silu`, applies SiLU to the result (before any residual is added).
    /// `biasOverride` (`[outChannels]`) replaces the layer's bias for this call: a ResNet block
    /// folds its per-sample time embedding into the first convolution's bias this way.
    public func callAsFunction(_ x: Tensor, residual: Tensor? = nil, silu: Bool = false, biasOverride: Tensor? = nil) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[3] == inChannels, "conv expects [N, H, W, \(inChannels)], got \(x.shape)")
        precondition(biasOverride == nil || (bias != nil && biasOverride!.count == outChannels), "bias override needs a layer with bias")
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oh, ow) = outputSize(height: h, width: w)
        var post = PostOps()
        if silu { post.ops.append(.eltwise(dnnl_eltwise_swish, 1)) }
        if residual != nil { post.ops.append(.sum) }
        let (prim, weights) = primitive(h: h, w: w, post: post)
        let out: Tensor
        if let residual {
            precondition(residual.shape == [n, oh, ow, outChannels], "residual \(residual.shape) does not match conv output")
            out = residual.copy()
        } else {
            out = Tensor(uninitialized: [n, oh, ow, outChannels])
        }
        let srcMD = MemoryDesc.tagged([1, inChannels, h, w], dnnl_nhwc, precision.dataType)
        let dstMD = MemoryDesc.tagged([1, outChannels, oh, ow], dnnl_nhwc)
        let wMD = prim.queryMD(dnnl_query_weights_md)
        let biasMD = MemoryDesc.tagged([outChannels], dnnl_a)
        for b in 0..<n {
            OpStatistics.shared.measure("conv\(kernel)x\(kernel) \(inChannels)->\(outChannels) @\(h)x\(w)",
                                        flops: 2.0 * Double(oh * ow * outChannels * inChannels * kernel * kernel)) {
                withInput(x.pointer + b * h * w * inChannels, count: h * w * inChannels, precision: precision) { src in
                    var args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)] = [
                        (DNNLArg.src, srcMD, src),
                        (DNNLArg.weights, wMD, weights.raw),
                        (DNNLArg.dst, dstMD, UnsafeMutableRawPointer(out.pointer + b * oh * ow * outChannels)),
                    ]
                    if let b = biasOverride ?? bias {
                        args.append((DNNLArg.bias, biasMD, UnsafeMutableRawPointer(b.pointer)))
                    }
                    prim.execute(args)
                }
            }
        }
        return out
    }

    private func primitive(h: Int, w: Int, post: PostOps) -> (Primitive, AlignedBuffer) {
        let key = Key(h: h, w: w, post: post)
        if let cached = primitives[key] { return cached }
        let (oh, ow) = outputSize(height: h, width: w)
        let src = MemoryDesc.tagged([1, inChannels, h, w], dnnl_nhwc, precision.dataType)
        let dst = MemoryDesc.tagged([1, outChannels, oh, ow], dnnl_nhwc)
        let wts = MemoryDesc.tagged([outChannels, inChannels, kernel, kernel], dnnl_format_tag_any, precision.dataType)
        let b = bias == nil ? nil : MemoryDesc.tagged([outChannels], dnnl_a)
        let prim = Primitive.make(postOps: post, name: "conv \(inChannels)->\(outChannels) k\(kernel) @\(h)x\(w)") { pd, engine, attr in
            dnnl_convolution_forward_primitive_desc_create(pd, engine, dnnl_forward_inference, dnnl_convolution_direct,
                                                           src.handle, wts.handle, b?.handle, dst.handle,
                                                           MemoryDesc.dims([stride, stride]), MemoryDesc.dims([0, 0]),
                                                           MemoryDesc.dims([padding.0, padding.1]),
                                                           MemoryDesc.dims([padding.2, padding.3]), attr)
        }
        prim.serial = 2 * oh * ow * outChannels * inChannels * kernel * kernel < 2 * Threads.minimumFlopsPerThread
        let packed = weights.buffer(for: prim.queryMD(dnnl_query_weights_md))
        primitives[key] = (prim, packed)
        return (prim, packed)
    }

}
