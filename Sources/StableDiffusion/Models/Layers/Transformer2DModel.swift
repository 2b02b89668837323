import Compute

/// diffusers' `BasicTransformerBlock` (SD v1): self-attention, cross-attention on the text,
/// GEGLU feed-forward, each behind a layer norm and with a residual.
final class BasicTransformerBlock {
    let norm1, norm2, norm3: LayerNorm
    let attn1, attn2: MultiHeadAttention
    /// GEGLU's projection split in two: the value half, and the gate half with GELU fused.
    let geluValue, geluGate: Linear
    let ffOut: Linear

    init(_ w: WeightScope, channels c: Int, heads: Int, contextChannels: Int, onlyCrossAttention: Bool) throws {
        norm1 = try .load(w("norm1"), channels: c, epsilon: 1e-5)
        norm2 = try .load(w("norm2"), channels: c, epsilon: 1e-5)
        norm3 = try .load(w("norm3"), channels: c, epsilon: 1e-5)
        attn1 = try MultiHeadAttention(w("attn1"), channels: c, heads: heads,
                                       contextChannels: onlyCrossAttention ? contextChannels : nil, projectionBias: false)
        attn2 = try MultiHeadAttention(w("attn2"), channels: c, heads: heads, contextChannels: contextChannels, projectionBias: false)
        let inner = 4 * c
        let proj = w("ff.net.0.proj")
        let weight = try proj.tensor("weight", [2 * inner, c]), bias = try proj.tensor("bias", [2 * inner])
        geluValue = try Linear(weight: Tensor(shape: [inner, c], storage: weight.storage).copy(),
                           bias: Tensor(shape: [inner], storage: bias.storage).copy(), precision: w.precision)
        geluGate = try Linear(weight: slice(weight, from: inner, rows: inner, width: c), bias: slice(bias, from: inner, rows: inner, width: 1),
                          precision: w.precision)
        ffOut = try .load(w("ff.net.2"), in: inner, out: c)
    }

    /// `x`: `[T, C]` tokens of one sample; `context`: `[S, D]`.
    func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        var h = try attn1(norm1(x), context: attn1.contextChannels == nil ? nil : context, residual: x)
        h = try attn2(norm2(h), context: context, residual: h)
        let n = try norm3(h)
        let gated = try Elementwise.multiply(geluValue(n), geluGate(n, activation: .geluErf))
        return try ffOut(gated, residual: h)
    }
}

private func slice(_ t: Tensor, from row: Int, rows: Int, width: Int) -> Tensor {
    let out = Tensor(uninitialized: width == 1 ? [rows] : [rows, width])
    out.pointer.update(from: t.pointer + row * width, count: rows * width)
    return out
}

/// diffusers' `Transformer2DModel` with 1x1-convolution projections (SD v1) or linear ones
/// (`use_linear_projection`): group norm, project in, transformer blocks, project out, residual.
/// On channels-last activations the 1x1 convolutions are plain matmuls over the pixels.
final class Transformer2DModel {
    let norm: GroupNorm
    let projIn: Linear
    let blocks: [BasicTransformerBlock]
    let projOut: Linear

    init(_ w: WeightScope, channels c: Int, heads: Int, layers: Int, contextChannels: Int, groups: Int,
         onlyCrossAttention: Bool, linearProjection: Bool) throws {
        norm = try .load(w("norm"), channels: c, groups: groups, epsilon: 1e-6)
        projIn = try Transformer2DModel.projection(w("proj_in"), channels: c, linear: linearProjection)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(w("transformer_blocks.\($0)"), channels: c, heads: heads,
                                      contextChannels: contextChannels, onlyCrossAttention: onlyCrossAttention)
        }
        projOut = try Transformer2DModel.projection(w("proj_out"), channels: c, linear: linearProjection)
    }

    /// A 1x1 convolution `[C, C, 1, 1]` (SD v1) or a linear `[C, C]` weight (`use_linear_projection`).
    private static func projection(_ w: WeightScope, channels c: Int, linear: Bool) throws -> Linear {
        let weight = try w.tensor("weight", linear ? [c, c] : [c, c, 1, 1])
        return try Linear(weight: weight.reshaped([c, c]), bias: try w.tensor("bias", [c]), precision: w.precision)
    }

    /// `x`: one sample `[1, H, W, C]`; `context`: `[S, D]`.
    func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        guard x.shape.count == 4, x.shape[0] == 1 else { throw ShapeError("transformer", expected: "one sample [1, H, W, C]", got: x.shape) }
        let (h, wd, c) = (x.shape[1], x.shape[2], x.shape[3])
        var tokens = try projIn(norm(x).reshaped([h * wd, c]))
        for block in blocks { tokens = try block(tokens, context: context) }
        return try projOut(tokens, residual: x.reshaped([h * wd, c])).reshaped(x.shape)
    }
}
