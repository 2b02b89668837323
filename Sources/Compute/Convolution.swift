import CDNNL
import Foundation

/// 2-D convolution on channels-last activations (`[N, H, W, C]`), weights pre-packed by oneDNN.
///
/// Each sample runs through a batch-1 primitive, so a sample's result never depends on what
/// else is in the batch (bit-exact batch invariance by construction). Primitives and packed
/// weights are cached per input size, fused post-op set and thread count (a sample lane's one
/// thread or the engine's threads); several lanes may run the layer at once.
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
    private var compiledKernels: [Key: Compiled] = [:]
    private let lock = NSLock()

    private struct Key: Hashable { let h: Int, w: Int, post: PostOps, threads: Int32 }
    /// A primitive for one input size and post-op set, with its descriptors and packed weights
    /// (made once: the hot path only re-points memory at each call's buffers).
    private struct Compiled {
        let primitive: Primitive
        let src, dst, weights: MemoryDesc
        let bias: MemoryDesc?
        let packed: AlignedBuffer
    }

    /// `weight` is PyTorch's `[O, I, kh, kw]`; `bias` is `[O]` or nil.
    public convenience init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int, precision: Precision = .fp32) throws {
        try self.init(weight: weight, bias: bias, stride: stride, padding: (padding, padding, padding, padding), precision: precision)
    }

    /// Throws `ShapeError` for a weight that is not `[O, I, k, k]` or a bias that is not `[O]`,
    /// `DNNLError` when oneDNN cannot describe the weights.
    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: (Int, Int, Int, Int), precision: Precision = .fp32) throws {
        guard weight.shape.count == 4, weight.shape[2] == weight.shape[3], weight.shape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("conv weight", expected: "[O, I, k, k]", got: weight.shape)
        }
        if let bias, bias.count != weight.shape[0] {
            throw ShapeError("conv bias", expected: "[\(weight.shape[0])]", got: bias.shape)
        }
        guard stride >= 1, padding.0 >= 0, padding.1 >= 0, padding.2 >= 0, padding.3 >= 0 else {
            throw ShapeError("conv \(weight.shape)", expected: "stride >= 1 and padding >= 0", got: [stride, padding.0, padding.1, padding.2, padding.3])
        }
        outChannels = weight.shape[0]
        inChannels = weight.shape[1]
        kernel = weight.shape[2]
        self.stride = stride
        self.padding = padding
        self.bias = bias
        weights = try PackedWeights(weight, dims: weight.shape, tag: dnnl_oihw, precision: precision)
    }

    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        ((height + padding.0 + padding.2 - kernel) / stride + 1, (width + padding.1 + padding.3 - kernel) / stride + 1)
    }

    /// Convolves `x` (`[N, H, W, inChannels]`). With `residual`, returns conv(x) + residual
    /// (fused; summed into the residual's own storage when the caller passes it with `consume`
    /// and nothing else holds it, else into a copy); with `silu`, applies SiLU to the result
    /// (before any residual is added).
    /// `biasOverride` (`[outChannels]`) replaces the layer's bias for this call: a ResNet block
    /// folds its per-sample time embedding into the first convolution's bias this way.
    ///
    /// Throws `ShapeError` when `x`, `residual` or `biasOverride` do not fit the layer (or the
    /// input is smaller than the kernel), `DNNLError` when oneDNN fails.
    public func callAsFunction(_ x: Tensor, residual: consuming Tensor? = nil, silu: Bool = false, biasOverride: Tensor? = nil) throws -> Tensor {
        guard x.shape.count == 4, x.shape[3] == inChannels, x.shape[0] >= 1, x.shape[1] >= 1, x.shape[2] >= 1 else {
            throw ShapeError(name, expected: "[N, H, W, \(inChannels)] (NHWC)", got: x.shape)
        }
        if let biasOverride {
            guard bias != nil, biasOverride.count == outChannels else {
                throw ShapeError("\(name) bias override", expected: bias == nil ? "a layer with bias" : "[\(outChannels)]", got: biasOverride.shape)
            }
        }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oh, ow) = outputSize(height: h, width: w)
        guard h + padding.0 + padding.2 >= kernel, w + padding.1 + padding.3 >= kernel else {
            throw ShapeError(name, expected: "an input of at least \(kernel)x\(kernel) with the padding", got: x.shape)
        }
        if let residual, residual.shape != [n, oh, ow, outChannels] {
            throw ShapeError("\(name) residual", expected: "the output's shape \([n, oh, ow, outChannels])", got: residual.shape)
        }
        var post = PostOps()
        if silu { post.ops.append(.eltwise(dnnl_eltwise_swish, 1)) }
        if residual != nil { post.ops.append(.sum) }
        let compiled = try self.compiled(h: h, w: w, post: post)
        let out: Tensor
        switch consume residual {
        case .some(let r): out = (consume r).writable()
        case .none: out = Tensor(uninitialized: [n, oh, ow, outChannels])
        }
        for b in 0..<n {
            try OpStatistics.shared.measure("conv\(kernel)x\(kernel) \(inChannels)->\(outChannels) @\(h)x\(w)",
                                        flops: 2.0 * Double(oh * ow * outChannels * inChannels * kernel * kernel)) {
                try withInput(x.pointer + b * h * w * inChannels, count: h * w * inChannels, precision: precision) { src in
                    var args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)] = [
                        (DNNLArg.src, compiled.src, src),
                        (DNNLArg.weights, compiled.weights, compiled.packed.raw),
                        (DNNLArg.dst, compiled.dst, UnsafeMutableRawPointer(out.pointer + b * oh * ow * outChannels)),
                    ]
                    if let b = biasOverride ?? bias, let biasMD = compiled.bias {
                        args.append((DNNLArg.bias, biasMD, UnsafeMutableRawPointer(b.pointer)))
                    }
                    try compiled.primitive.execute(args)
                }
            }
        }
        return out
    }

    /// What the layer is, for errors.
    private var name: String { "conv \(inChannels)->\(outChannels) k\(kernel)" }

    private func compiled(h: Int, w: Int, post: PostOps) throws -> Compiled {
        let key = Key(h: h, w: w, post: post, threads: omp_get_max_threads())
        lock.lock()
        defer { lock.unlock() }
        if let cached = compiledKernels[key] { return cached }
        let (oh, ow) = outputSize(height: h, width: w)
        let src = try MemoryDesc.tagged([1, inChannels, h, w], dnnl_nhwc, precision.dataType)
        let dst = try MemoryDesc.tagged([1, outChannels, oh, ow], dnnl_nhwc)
        let wts = try MemoryDesc.tagged([outChannels, inChannels, kernel, kernel], dnnl_format_tag_any, precision.dataType)
        let b = bias == nil ? nil : try MemoryDesc.tagged([outChannels], dnnl_a)
        let prim = try Primitive.make(postOps: post, name: "conv \(inChannels)->\(outChannels) k\(kernel) @\(h)x\(w)") { pd, engine, attr in
            dnnl_convolution_forward_primitive_desc_create(pd, engine, dnnl_forward_inference, dnnl_convolution_direct,
                                                           src.handle, wts.handle, b?.handle, dst.handle,
                                                           MemoryDesc.dims([stride, stride]), MemoryDesc.dims([0, 0]),
                                                           MemoryDesc.dims([padding.0, padding.1]),
                                                           MemoryDesc.dims([padding.2, padding.3]), attr)
        }
        prim.serial = 2 * oh * ow * outChannels * inChannels * kernel * kernel < 2 * Threads.minimumFlopsPerThread
        let packedMD = try prim.queryMD(dnnl_query_weights_md)
        let made = Compiled(primitive: prim, src: src, dst: dst, weights: packedMD, bias: b,
                            packed: try weights.buffer(for: packedMD))
        compiledKernels[key] = made
        return made
    }

}
