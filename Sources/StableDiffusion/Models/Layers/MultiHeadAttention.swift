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
    /// Returns `residual + attention(x)` (`residual` has x's shape).
    func callAsFunction(_ x: Tensor, context: Tensor? = nil, causal: Bool = false, residual: Tensor) -> Tensor {
        let t = x.shape[0], c = channels, d = channels / heads
        let mixed = Tensor(uninitialized: [t, c])
        if let qkv {
            let p = qkv(x)
            Attention.compute(q: .init(p.pointer, rowStride: 3 * c), k: .init(p.pointer + c, rowStride: 3 * c),
                              v: .init(p.pointer + 2 * c, rowStride: 3 * c), queryCount: t, keyCount: t,
                              heads: heads, headDim: d, causal: causal, precision: out.precision, out: mixed.pointer, outStride: c)
        } else {
            let context = context!
            let s = context.shape[0]
            let qp = q!(x), kvp = kv!(context)
            Attention.compute(q: .init(qp.pointer, rowStride: c), k: .init(kvp.pointer, rowStride: 2 * c),
                              v: .init(kvp.pointer + c, rowStride: 2 * c), queryCount: t, keyCount: s,
                              heads: heads, headDim: d, causal: causal, precision: out.precision, out: mixed.pointer, outStride: c)
        }
        return out(mixed, residual: residual)
    }
}
