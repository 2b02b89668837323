import Compute

/// One resolution level of the UNet, used for both paths: `layers` ResNet blocks, each followed
/// by a transformer when the block has attention, then an optional resampler (a stride-2
/// convolution going down; going up, nearest 2x upsampling + convolution, folded into one
/// `UpsampleConvolution`).
/// Down blocks push every intermediate output onto the skip stack; up blocks pop one per
/// ResNet and concatenate it to their input.
final class UNetBlock {
    enum Direction { case down, up }
    let direction: Direction
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let downsampler: Conv2D?
    let upsampler: UpsampleConvolution?

    /// `skipChannels` is the channel stack the down path left behind (up blocks pop from it;
    /// down blocks push to it).
    init(_ w: WeightScope, direction: Direction, block: UNetLayout.Block, inChannels: Int, addResampler: Bool,
         layout: UNetLayout, skipChannels: inout [Int]) throws {
        self.direction = direction
        var resnets: [ResnetBlock2D] = []
        var attentions: [Transformer2DModel] = []
        var channels = inChannels
        for i in 0..<block.layers {
            let resnetIn = direction == .up ? channels + skipChannels.removeLast() : channels
            resnets.append(try ResnetBlock2D(w("resnets.\(i)"), in: resnetIn, out: block.outChannels,
                                             timeEmbeddingChannels: layout.timeEmbeddingChannels,
                                             groups: layout.groups, epsilon: layout.epsilon))
            channels = block.outChannels
            if block.hasAttention {
                attentions.append(try Transformer2DModel(w("attentions.\(i)"), channels: channels, heads: block.heads,
                                                         layers: block.transformerLayers, contextChannels: layout.crossAttentionDim,
                                                         groups: layout.groups, onlyCrossAttention: block.onlyCrossAttention,
                                                         linearProjection: layout.linearProjection))
            }
            if direction == .down { skipChannels.append(channels) }
        }
        let p = layout.downsamplePadding
        downsampler = addResampler && direction == .down
            ? try .load(w("downsamplers.0.conv"), in: channels, out: channels, kernel: 3, stride: 2, padding: (p, p, p, p)) : nil
        upsampler = addResampler && direction == .up ? try .load(w("upsamplers.0.conv"), in: channels, out: channels) : nil
        if downsampler != nil { skipChannels.append(channels) }
        self.resnets = resnets
        self.attentions = attentions
    }

    /// Going up, the upsampler resizes to the spatial size of the next skip connection, which is
    /// what diffusers' `upsample_size` does: a down-sampler maps a side `s` to `ceil(s / 2)`, so
    /// when a latent side is not a multiple of the overall up factor, plain 2x would overshoot
    /// (3 -> 6 where the skip is 5). Where every side divides evenly, the skip is exactly twice the
    /// size and this is the plain 2x repeat diffusers uses then.
    ///
    /// Throws `UNetInputError` when the skip connections do not fit (which `checkInputs`
    /// rules out for the model's own stack), `ShapeError`/`DNNLError` from the layers.
    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor, skips: inout [Tensor]) throws -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            if direction == .up {
                guard let skip = skips.popLast() else { throw UNetInputError("UNet up block: no skip connection left for a ResNet") }
                // Thrown, not a precondition: release builds are -Ounchecked, and a mismatch here
                // would otherwise copy past a buffer.
                if skip.shape.count != 4 || h.shape.count != 4 || skip.shape[0...2] != h.shape[0...2] {
                    throw UNetInputError("UNet up block: skip connection \(skip.shape) does not match the upsampled activation \(h.shape) (NHWC)")
                }
                h = try Elementwise.concatChannels(h, skip)
            }
            h = try resnet(consume h, timeEmbedding: time)
            if !attentions.isEmpty { h = try attentions[i](h, context: context) }
            if direction == .down { skips.append(h) }
        }
        if let downsampler {
            h = try downsampler(h)
            skips.append(h)
        }
        if let upsampler {
            guard let next = skips.last, next.shape.count == 4 else {
                throw UNetInputError("UNet up block: no skip connection left to size the upsampling")
            }
            let (height, width) = (next.shape[1], next.shape[2])
            if height == 2 * h.shape[1] && width == 2 * h.shape[2] {
                h = try upsampler(h)
            } else {
                // Not exactly 2x (a side that does not halve evenly): PyTorch's nearest resize,
                // then the plain 3x3 convolution.
                h = try upsampler.unfoldedConvolution()(NearestResize.resize(h, height: height, width: width))
            }
        }
        return h
    }
}

/// `UNetMidBlock2DCrossAttn`: ResNet, then (transformer, ResNet) pairs.
final class UNetMidBlock {
    let first: ResnetBlock2D
    let pairs: [(Transformer2DModel, ResnetBlock2D)]

    init(_ w: WeightScope, channels c: Int, layout: UNetLayout) throws {
        first = try ResnetBlock2D(w("resnets.0"), in: c, out: c, timeEmbeddingChannels: layout.timeEmbeddingChannels,
                                  groups: layout.groups, epsilon: layout.epsilon)
        pairs = [(
            try Transformer2DModel(w("attentions.0"), channels: c, heads: layout.midHeads, layers: layout.midTransformerLayers,
                                   contextChannels: layout.crossAttentionDim, groups: layout.groups,
                                   onlyCrossAttention: false, linearProjection: layout.linearProjection),
            try ResnetBlock2D(w("resnets.1"), in: c, out: c, timeEmbeddingChannels: layout.timeEmbeddingChannels,
                              groups: layout.groups, epsilon: layout.epsilon)
        )]
    }

    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor) throws -> Tensor {
        var h = try first(x, timeEmbedding: time)
        for (attention, resnet) in pairs { h = try resnet(attention(h, context: context), timeEmbedding: time) }
        return h
    }
}
