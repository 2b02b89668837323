import Compute

/// diffusers' `UNet2DConditionModel` for SD v1-style configs, on the engine's operations.
///
/// Every sample of a batch runs through the network on its own, so its result is bit-identical
/// whatever else is in the batch; each sample also has its own timestep.
public final class UNet2DConditionModel {
    let layout: UNetLayout
    let convIn: Conv2D
    let time: TimestepEmbedding
    let down: [UNetBlock]
    let mid: UNetMidBlock?
    let up: [UNetBlock]
    let normOut: GroupNorm
    let convOut: Conv2D

    public var inChannels: Int { layout.inChannels }
    public var crossAttentionDim: Int { layout.crossAttentionDim }

    init(_ w: WeightScope, layout: UNetLayout) throws {
        self.layout = layout
        let c0 = layout.down[0].outChannels
        convIn = try .load(w("conv_in"), in: layout.inChannels, out: c0, kernel: 3)
        time = try TimestepEmbedding(w("time_embedding"), channels: c0, embeddingChannels: layout.timeEmbeddingChannels,
                                     flipSinToCos: layout.flipSinToCos, freqShift: layout.freqShift)
        var skipChannels = [c0]
        var channels = c0
        var down: [UNetBlock] = []
        for (i, block) in layout.down.enumerated() {
            down.append(try UNetBlock(w("down_blocks.\(i)"), direction: .down, block: block, inChannels: channels,
                                      addResampler: i < layout.down.count - 1, layout: layout, skipChannels: &skipChannels))
            channels = block.outChannels
        }
        self.down = down
        mid = layout.hasMidBlock ? try UNetMidBlock(w("mid_block"), channels: channels, layout: layout) : nil
        var up: [UNetBlock] = []
        for (i, block) in layout.up.enumerated() {
            up.append(try UNetBlock(w("up_blocks.\(i)"), direction: .up, block: block, inChannels: channels,
                                    addResampler: i < layout.up.count - 1, layout: layout, skipChannels: &skipChannels))
            channels = block.outChannels
        }
        self.up = up
        normOut = try .load(w("conv_norm_out"), channels: channels, groups: layout.groups, epsilon: layout.epsilon)
        convOut = try .load(w("conv_out"), in: channels, out: layout.outChannels, kernel: 3)
    }

    /// Predicts noise. `sample`: `[N, C, H, W]` (PyTorch layout), `timesteps`: one per sample,
    /// `context`: text embeddings `[N, S, D]`. Returns `[N, outChannels, H, W]`.
    public func callAsFunction(sample: Tensor, timesteps: [Float], context: Tensor) -> Tensor {
        let n = sample.shape[0]
        precondition(timesteps.count == n && context.shape[0] == n, "UNet: batch of \(n) needs \(n) timesteps and contexts")
        precondition(sample.shape[1] == layout.inChannels && context.shape[2] == layout.crossAttentionDim,
                     "UNet expects [N, \(layout.inChannels), H, W] and context [N, S, \(layout.crossAttentionDim)]")
        let outputs = (0..<n).map { i in
            predict(sample.sample(i).nchwToNHWC(), timestep: timesteps[i],
                    context: context.sample(i).reshaped([context.shape[1], context.shape[2]]))
        }
        return Tensor.concatenateBatch(outputs).nhwcToNCHW()
    }

    /// One sample, channels-last `[1, H, W, C]`.
    func predict(_ x: Tensor, timestep: Float, context: Tensor) -> Tensor {
        let t = time.activated(timestep)
        var h = convIn(x)
        var skips = [h]
        for block in down { h = block(h, time: t, context: context, skips: &skips) }
        if let mid { h = mid(h, time: t, context: context) }
        for block in up { h = block(h, time: t, context: context, skips: &skips) }
        return convOut(normOut(h, silu: true))
    }
}
