import Compute

/// diffusers' `Attention` as used in transformer blocks and the VAE: q/k/v projections, multi-head
/// scaled dot-product attention, output projection with the residual fused in.
/// Self-attention projects q, k and v in one matmul; cross-attention projects k and v together.
final class MultiHeadAttention {
    let heads: Int
    let channels: Int
    let contextChannels: Int?
    private let qkv: Linear?          // self-attention: [3C, C]
    private let q: Linear?            // cross-attention
    private let kv: Linear?           // cross-attention: [2C, contextChannels]
    private let out: Linear

    /// `contextChannels` nil means self-attention. `projectionBias`: the VAE's projections have
    /// biases, the UNet's and CLIP's are given per model.
    init(_ w: WeightScope, channels: Int, heads: Int, contextChannels: Int?, projectionBias: Bool,
         names: (q: String, k: String, v: String, out: String) = ("to_q", "to_k", "to_v", "to_out.0")) throws {
        self.heads = heads
        self.channels = channels
        self.contextChannels = contextChannels
        if let contextChannels {
            qkv = nil
            q = try .load(w(names.q), in: channels, out: channels, bias: projectionBias)
            kv = try .loadStacked([w(names.k), w(names.v)], in: contextChannels, out: channels, bias: projectionBias)
        } else {
            qkv = try .loadStacked([w(names.q), w(names.k), w(names.v)], in: channels, out: channels, bias: projectionBias)
            q = nil
            kv = nil
        }
        out = try .load(w(names.out), in: channels, out: channels)
    }

    /// `x`: one sample's tokens `[T, C]`; `context`: `[S, contextChannels]` for cross-attention.
    /// Returns `residual + attention(x)` (`residual` has x's shape). Throws `ShapeError` for
    /// inputs that are not token matrices of the layer's widths, `DNNLError` from oneDNN.
    func callAsFunction(_ x: Tensor, context: Tensor? = nil, causal: Bool = false, residual: Tensor) throws -> Tensor {
        guard x.shape.count == 2, x.shape[1] == channels else {
            throw ShapeError("attention over \(channels) channels", expected: "tokens [T, \(channels)]", got: x.shape)
        }
        let t = x.shape[0], c = channels, d = channels / heads
        let mixed = Tensor(uninitialized: [t, c])
        if let qkv {
            let p = try qkv(x)
            try Attention.compute(q: .init(p.pointer, rowStride: 3 * c), k: .init(p.pointer + c, rowStride: 3 * c),
                              v: .init(p.pointer + 2 * c, rowStride: 3 * c), queryCount: t, keyCount: t,
                              heads: heads, headDim: d, causal: causal, precision: out.precision, out: mixed.pointer, outStride: c)
        } else {
            guard let context, let q, let kv, context.shape.count == 2, context.shape[1] == contextChannels else {
                throw ShapeError("cross-attention over \(contextChannels ?? 0) context channels",
                                 expected: "a context [S, \(contextChannels ?? 0)]", got: context?.shape ?? [])
            }
            let s = context.shape[0]
            let qp = try q(x), kvp = try kv(context)
            try Attention.compute(q: .init(qp.pointer, rowStride: c), k: .init(kvp.pointer, rowStride: 2 * c),
                              v: .init(kvp.pointer + c, rowStride: 2 * c), queryCount: t, keyCount: s,
                              heads: heads, headDim: d, causal: causal, precision: out.precision, out: mixed.pointer, outStride: c)
        }
        return try out(mixed, residual: residual)
    }
}
