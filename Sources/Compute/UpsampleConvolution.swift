import CDNNL
import Foundation

/// Nearest 2x upsampling followed by a 3x3 convolution with padding 1 (every `Upsample2D` of
/// SD's UNet and VAE decoder), computed as the one linear map it is: a stride-2 transposed
/// convolution with a 4x4 kernel on the low-resolution input.
///
/// Each output pixel of parity (py, px) sees only a 2x2 window of the input, whose taps are sums
/// of the 3x3 taps that land on the same input pixel after the upsampling: 4 taps per output
/// pixel instead of 9 (2.25x fewer FLOPs), and the upsampled activation (4x the input) is never
/// made. The folded weights are computed once, here, in double precision and rounded once.
///
/// Like `Conv2D`, each sample runs through a batch-1 primitive (bit-exact batch invariance), and
/// several sample lanes may run the layer at once.
public final class UpsampleConvolution: @unchecked Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public var precision: Precision { weights.precision }

    private let bias: Tensor?
    private let weights: PackedWeights
    private var compiledKernels: [Key: Compiled] = [:]
    private var unfolded: Conv2D?
    private let lock = NSLock()

    private struct Key: Hashable { let h: Int, w: Int, threads: Int32 }
    private struct Compiled {
        let primitive: Primitive
        let src, dst, weights: MemoryDesc
        let packed: AlignedBuffer
    }

    /// `weight` is the 3x3 convolution's PyTorch `[O, I, 3, 3]`; `bias` is `[O]` or nil.
    /// Throws `ShapeError` for other shapes, `DNNLError`/`AllocationError` when the weights
    /// cannot be described or copied.
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32) throws {
        guard weight.shape.count == 4, weight.shape[2] == 3, weight.shape[3] == 3, weight.shape[0] > 0, weight.shape[1] > 0 else {
            throw ShapeError("upsample-convolution weight", expected: "[O, I, 3, 3]", got: weight.shape)
        }
        if let bias, bias.count != weight.shape[0] {
            throw ShapeError("upsample-convolution bias", expected: "[\(weight.shape[0])]", got: bias.shape)
        }
        outChannels = weight.shape[0]
        inChannels = weight.shape[1]
        self.bias = bias
        let folded = Self.foldedWeights(weight)
        weights = try PackedWeights(folded, dims: folded.shape, tag: dnnl_oihw, precision: precision)
    }

    /// The 3x3 taps along one axis that fall on transposed-kernel tap `t` (0...3). Output row
    /// `2i` reads upsampled rows `2i-1, 2i, 2i+1`, i.e. input rows `i-1, i, i`; row `2i+1` reads
    /// input rows `i, i, i+1`. With the transposed convolution's rule `t = y - 2i + 1` (padding 1)
    /// that gives t0 = w2, t1 = w1 + w2, t2 = w0 + w1, t3 = w0.
    static let tapsOfFoldedTap: [[Int]] = [[2], [1, 2], [0, 1], [0]]

    /// `[O, I, 3, 3]` to the transposed convolution's `[O, I, 4, 4]` (oneDNN's deconvolution
    /// weights are output channels first).
    static func foldedWeights(_ w: Tensor) -> Tensor {
        let (o, i) = (w.shape[0], w.shape[1])
        let out = Tensor(uninitialized: [o, i, 4, 4])
        let src = w.pointer, dst = out.pointer
        for oc in 0..<o {
            for ic in 0..<i {
                let k3 = src + (oc * i + ic) * 9, k4 = dst + (oc * i + ic) * 16
                for ty in 0..<4 {
                    for tx in 0..<4 {
                        var sum = 0.0
                        for ky in tapsOfFoldedTap[ty] {
                            for kx in tapsOfFoldedTap[tx] { sum += Double(k3[ky * 3 + kx]) }
                        }
                        k4[ty * 4 + tx] = Float(sum)
                    }
                }
            }
        }
        return out
    }

    /// The 3x3 taps recovered from folded 4x4 ones: along each axis w2 = t0, w1 = t1 - t0,
    /// w0 = t3 (the inverse of `tapsOfFoldedTap`), as (tap, sign) pairs.
    static let foldedTapsOfTap: [[(Int, Double)]] = [[(3, 1)], [(1, 1), (0, -1)], [(0, 1)]]

    /// `[O, I, 4, 4]` folded weights back to `[O, I, 3, 3]` (exact up to the rounding of the sums).
    static func unfoldedWeights(_ k: Tensor) -> Tensor {
        let (o, i) = (k.shape[0], k.shape[1])
        let out = Tensor(uninitialized: [o, i, 3, 3])
        let src = k.pointer, dst = out.pointer
        for oc in 0..<o {
            for ic in 0..<i {
                let k4 = src + (oc * i + ic) * 16, k3 = dst + (oc * i + ic) * 9
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        var sum = 0.0
                        for (ty, sy) in foldedTapsOfTap[ky] {
                            for (tx, sx) in foldedTapsOfTap[kx] { sum += sy * sx * Double(k4[ty * 4 + tx]) }
                        }
                        k3[ky * 3 + kx] = Float(sum)
                    }
                }
            }
        }
        return out
    }

    /// The plain 3x3 convolution this layer folds, for inputs that are not upsampled exactly 2x
    /// (the UNet's `upsample_size` at latent sides that are not a multiple of its up factor).
    /// Made once, on first use, from the folded weights (the 3x3 ones are not kept: at the sizes
    /// that matter they would only cost memory), so it agrees with the original convolution up to
    /// the rounding of the folded sums (in bf16: of the bf16 sums).
    public func unfoldedConvolution() throws -> Conv2D {
        let any = try compiled(h: 1, w: 1)
        lock.lock()
        defer { lock.unlock() }
        if let unfolded { return unfolded }
        let dims = [outChannels, inChannels, 4, 4], count = dims.reduce(1, *)
        let plain = try reorder(any.packed.raw, from: any.weights, to: MemoryDesc.tagged(dims, dnnl_oihw, precision.dataType))
        let folded = Tensor(uninitialized: dims)
        switch precision {
        case .fp32: folded.pointer.update(from: plain.raw.assumingMemoryBound(to: Float.self), count: count)
        case .bf16:
            let bits = plain.raw.assumingMemoryBound(to: UInt16.self)
            for j in 0..<count { folded.pointer[j] = BFloat16.float(bits[j]) }
        }
        let conv = try Conv2D(weight: Self.unfoldedWeights(folded), bias: bias, padding: 1, precision: precision)
        unfolded = conv
        return conv
    }

    /// `x` (`[N, H, W, inChannels]`) upsampled 2x (nearest) and convolved: `[N, 2H, 2W, outChannels]`.
    /// Throws `ShapeError` for another shape, `DNNLError` when oneDNN fails.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4, x.shape[3] == inChannels, x.shape[0] >= 1, x.shape[1] >= 1, x.shape[2] >= 1 else {
            throw ShapeError(name, expected: "[N, H, W, \(inChannels)] (NHWC)", got: x.shape)
        }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let compiled = try self.compiled(h: h, w: w)
        let out = Tensor(uninitialized: [n, 2 * h, 2 * w, outChannels])
        let perIn = h * w * inChannels, perOut = 4 * h * w * outChannels
        for b in 0..<n {
            // The work done: 4 taps per output pixel (the 3x3 convolution it replaces counts 9).
            try OpStatistics.shared.measure("upsample2x+conv3x3 \(inChannels)->\(outChannels) @\(h)x\(w)",
                                            flops: 2.0 * Double(perOut * inChannels * 4)) {
                try withInput(x.pointer + b * perIn, count: perIn, precision: precision) { src in
                    try compiled.primitive.execute([
                        (DNNLArg.src, compiled.src, src),
                        (DNNLArg.weights, compiled.weights, compiled.packed.raw),
                        (DNNLArg.dst, compiled.dst, UnsafeMutableRawPointer(out.pointer + b * perOut)),
                    ])
                }
            }
        }
        if let bias { addBias(bias, to: out) }
        return out
    }

    /// Adds the bias to every output pixel, in place. Not left to the deconvolution: oneDNN
    /// 3.2's `brgconv_strided` deconvolution adds wrong biases from 1024 output channels on
    /// (up to 3 x the bias off, seen on AVX-512 at 1024 and 1280 channels: every SD UNet's first
    /// two upsamplers), while its output without a bias is right; below that this gives the
    /// same bits as its own bias (one fp32 addition to the finished sum either way).
    private func addBias(_ bias: Tensor, to out: Tensor) {
        let c = outChannels, pixels = out.count / c
        let dst = out.pointer, add = bias.pointer
        Threads.parallelFor(pixels, itemCost: c) { p0, p1 in
            for p in p0..<p1 {
                let row = dst + p * c
                for i in 0..<c { row[i] += add[i] }
            }
        }
    }

    /// oneDNN's implementation for an `h` x `w` input (e.g. `brg_conv_bwd_strided:avx512_core`),
    /// for tests and benchmarks to check it is not a reference one.
    public func implementation(height h: Int, width w: Int) throws -> String {
        try compiled(h: h, w: w).primitive.implementation
    }

    private var name: String { "upsample2x+conv3x3 \(inChannels)->\(outChannels)" }

    private func compiled(h: Int, w: Int) throws -> Compiled {
        let key = Key(h: h, w: w, threads: omp_get_max_threads())
        lock.lock()
        defer { lock.unlock() }
        if let cached = compiledKernels[key] { return cached }
        let src = try MemoryDesc.tagged([1, inChannels, h, w], dnnl_nhwc, precision.dataType)
        let dst = try MemoryDesc.tagged([1, outChannels, 2 * h, 2 * w], dnnl_nhwc)
        let wts = try MemoryDesc.tagged([outChannels, inChannels, 4, 4], dnnl_format_tag_any, precision.dataType)
        // Output size (h - 1) * 2 - 1 - 1 + 4 = 2h.
        let prim = try Primitive.make(name: "\(name) @\(h)x\(w)") { pd, engine, attr in
            dnnl_deconvolution_forward_primitive_desc_create(pd, engine, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                             src.handle, wts.handle, nil, dst.handle,
                                                             MemoryDesc.dims([2, 2]), MemoryDesc.dims([0, 0]),
                                                             MemoryDesc.dims([1, 1]), MemoryDesc.dims([1, 1]), attr)
        }
        prim.serial = 2 * 4 * h * w * outChannels * inChannels * 4 < 2 * Threads.minimumFlopsPerThread
        let packedMD = try prim.queryMD(dnnl_query_weights_md)
        let made = Compiled(primitive: prim, src: src, dst: dst, weights: packedMD, packed: try weights.buffer(for: packedMD))
        compiledKernels[key] = made
        return made
    }
}
