import Compute

/// The VAE's single-head self-attention over pixels (diffusers `Attention` with a group norm and
/// a residual connection), used in the mid blocks.
final class VAEAttention {
    let norm: GroupNorm
    let attention: MultiHeadAttention

    init(_ w: WeightScope, channels: Int, groups: Int) throws {
        norm = try .load(w("group_norm"), channels: channels, groups: groups, epsilon: 1e-6)
        attention = try MultiHeadAttention(w, channels: channels, heads: 1, contextChannels: nil, projectionBias: true)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4, x.shape[0] == 1 else { throw ShapeError("VAE attention", expected: "one sample [1, H, W, C]", got: x.shape) }
        let (h, wd, c) = (x.shape[1], x.shape[2], x.shape[3])
        return try attention(norm(x).reshaped([h * wd, c]), residual: x.reshaped([h * wd, c])).reshaped(x.shape)
    }
}

/// `UNetMidBlock2D` of the VAE: ResNet, attention, ResNet.
final class VAEMidBlock {
    let resnet1, resnet2: ResnetBlock2D
    let attention: VAEAttention?

    init(_ w: WeightScope, channels c: Int, groups: Int, attention: Bool) throws {
        resnet1 = try ResnetBlock2D(w("resnets.0"), in: c, out: c, timeEmbeddingChannels: nil, groups: groups, epsilon: 1e-6)
        self.attention = attention ? try VAEAttention(w("attentions.0"), channels: c, groups: groups) : nil
        resnet2 = try ResnetBlock2D(w("resnets.1"), in: c, out: c, timeEmbeddingChannels: nil, groups: groups, epsilon: 1e-6)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try resnet1(x)
        if let attention { h = try attention(h) }
        return try resnet2(consume h)
    }
}

/// Image `[1, H, W, 3]` to latent moments `[1, h, w, 2 * latentChannels]`.
final class VAEEncoder {
    let convIn: Conv2D
    let blocks: [(resnets: [ResnetBlock2D], downsampler: Conv2D?)]
    let mid: VAEMidBlock
    let normOut: GroupNorm
    let convOut: Conv2D

    init(_ w: WeightScope, shape s: AutoencoderKL.Shape) throws {
        let chans = s.blockOutChannels
        convIn = try .load(w("conv_in"), in: s.inChannels, out: chans[0], kernel: 3)
        var channels = chans[0]
        var blocks: [(resnets: [ResnetBlock2D], downsampler: Conv2D?)] = []
        for (i, out) in chans.enumerated() {
            let b = w("down_blocks.\(i)")
            var resnets: [ResnetBlock2D] = []
            for j in 0..<s.layersPerBlock {
                resnets.append(try ResnetBlock2D(b("resnets.\(j)"), in: j == 0 ? channels : out, out: out,
                                                 timeEmbeddingChannels: nil, groups: s.groups, epsilon: 1e-6))
            }
            channels = out
            // diffusers pads the encoder's downsampler on the bottom and right only.
            let down = i < chans.count - 1
                ? try Conv2D.load(b("downsamplers.0.conv"), in: out, out: out, kernel: 3, stride: 2, padding: (0, 0, 1, 1)) : nil
            blocks.append((resnets, down))
        }
        self.blocks = blocks
        mid = try VAEMidBlock(w("mid_block"), channels: channels, groups: s.groups, attention: s.midBlockAttention)
        normOut = try .load(w("conv_norm_out"), channels: channels, groups: s.groups, epsilon: 1e-6)
        convOut = try .load(w("conv_out"), in: channels, out: 2 * s.latentChannels, kernel: 3)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try convIn(x)
        for block in blocks {
            for resnet in block.resnets { h = try resnet(consume h) }
            if let down = block.downsampler { h = try down(h) }
        }
        return try convOut(normOut(mid(h), silu: true))
    }
}

/// Latent `[1, h, w, latentChannels]` to image `[1, H, W, outChannels]`.
final class VAEDecoder {
    let convIn: Conv2D
    let mid: VAEMidBlock
    /// Each up block's upsampler is nearest 2x + a 3x3 convolution, folded into one layer.
    let blocks: [(resnets: [ResnetBlock2D], upsampler: UpsampleConvolution?)]
    let normOut: GroupNorm
    let convOut: Conv2D

    init(_ w: WeightScope, shape s: AutoencoderKL.Shape) throws {
        let reversed = Array(s.blockOutChannels.reversed())
        var channels = reversed[0]
        convIn = try .load(w("conv_in"), in: s.latentChannels, out: channels, kernel: 3)
        mid = try VAEMidBlock(w("mid_block"), channels: channels, groups: s.groups, attention: s.midBlockAttention)
        var blocks: [(resnets: [ResnetBlock2D], upsampler: UpsampleConvolution?)] = []
        for (i, out) in reversed.enumerated() {
            let b = w("up_blocks.\(i)")
            var resnets: [ResnetBlock2D] = []
            for j in 0...s.layersPerBlock {
                resnets.append(try ResnetBlock2D(b("resnets.\(j)"), in: j == 0 ? channels : out, out: out,
                                                 timeEmbeddingChannels: nil, groups: s.groups, epsilon: 1e-6))
            }
            channels = out
            let up = i < reversed.count - 1 ? try UpsampleConvolution.load(b("upsamplers.0.conv"), in: out, out: out) : nil
            blocks.append((resnets, up))
        }
        self.blocks = blocks
        normOut = try .load(w("conv_norm_out"), channels: channels, groups: s.groups, epsilon: 1e-6)
        convOut = try .load(w("conv_out"), in: channels, out: s.outChannels, kernel: 3)
    }

    func callAsFunction(_ z: Tensor) throws -> Tensor {
        var h = try mid(convIn(z))
        for block in blocks {
            for resnet in block.resnets { h = try resnet(consume h) }
            if let up = block.upsampler { h = try up(consume h) }
        }
        return try convOut(normOut(consume h, silu: true))
    }
}
