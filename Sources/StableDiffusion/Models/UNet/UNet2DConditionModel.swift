import Compute

/// diffusers' `UNet2DConditionModel` for SD 1.x, 2.x and SDXL-style configs, on the engine's operations.
///
/// Every sample of a batch runs through the network on its own, so its result is bit-identical
/// whatever else is in the batch; each sample also has its own timestep. The samples of a batch
/// run side by side, the threads shared out among them (`Threads.forEachSample`), bit-identical
/// to one by one.
public final class UNet2DConditionModel {
    let layout: UNetLayout
    let convIn: Conv2D
    let time: TimestepEmbedding
    /// SDXL's `add_embedding` (`addition_embed_type: "text_time"`); nil for SD 1.x/2.x.
    let textTime: TextTimeEmbedding?
    let down: [UNetBlock]
    let mid: UNetMidBlock?
    let up: [UNetBlock]
    let normOut: GroupNorm
    let convOut: Conv2D

    public var inChannels: Int { layout.inChannels }
    public var crossAttentionDim: Int { layout.crossAttentionDim }
    /// Whether the UNet needs `AddedConditioning` with every sample (SDXL).
    public var needsAddedConditioning: Bool { textTime != nil }
    /// The pooled text width SDXL's additional conditioning must have (nil without it).
    public var pooledTextChannels: Int? { layout.textTime?.pooledTextChannels }

    init(_ w: WeightScope, layout: UNetLayout) throws {
        self.layout = layout
        let c0 = layout.down[0].outChannels
        convIn = try .load(w("conv_in"), in: layout.inChannels, out: c0, kernel: 3)
        time = try TimestepEmbedding(w("time_embedding"), channels: c0, embeddingChannels: layout.timeEmbeddingChannels,
                                     flipSinToCos: layout.flipSinToCos, freqShift: layout.freqShift)
        textTime = try layout.textTime.map {
            try TextTimeEmbedding(w("add_embedding"), shape: $0, embeddingChannels: layout.timeEmbeddingChannels,
                                  flipSinToCos: layout.flipSinToCos, freqShift: layout.freqShift)
        }
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

    /// `2 ^ (number of upsamplers)`: latent sides that are multiples of it halve exactly on the
    /// way down; other sides (any size >= 1 works) are rounded up by each down-sampler and the
    /// upsamplers resize to the skip connections' sizes (diffusers' `upsample_size`).
    public var overallUpFactor: Int { 1 << max(0, up.count - 1) }

    /// Checks that the UNet can take these inputs; throws `UNetInputError` saying what is wrong.
    public func checkInputs(sampleShape: [Int], timestepCount: Int, contextShape: [Int]) throws {
        let c = layout.inChannels, d = layout.crossAttentionDim
        guard sampleShape.count == 4, sampleShape[1] == c else {
            throw UNetInputError("the latent sample has shape \(sampleShape); the UNet takes [N, \(c), height, width] (NCHW)")
        }
        let n = sampleShape[0]
        guard n >= 1 else { throw UNetInputError("the batch is empty (sample shape \(sampleShape))") }
        guard sampleShape[2] >= 1, sampleShape[3] >= 1 else {
            throw UNetInputError("the latent is \(sampleShape[2])x\(sampleShape[3]); height and width must be at least 1")
        }
        guard timestepCount == n else { throw UNetInputError("a batch of \(n) needs \(n) timesteps, got \(timestepCount)") }
        guard contextShape.count == 3, contextShape[0] == n, contextShape[1] >= 1, contextShape[2] == d else {
            throw UNetInputError("the text embeddings have shape \(contextShape); the UNet takes [\(n), tokens, \(d)]")
        }
    }

    /// Predicts noise. `sample`: `[N, C, H, W]` (PyTorch layout), any H, W >= 1; `timesteps`:
    /// one per sample; `context`: text embeddings `[N, S, D]`; `added`: one `AddedConditioning` per
    /// sample for SDXL's UNet (nil for the others). Returns `[N, outChannels, H, W]`.
    ///
    /// Throws `UNetInputError` for inputs the UNet cannot take (checked first, see
    /// `checkInputs`), and passes on what its layers throw: `DNNLError` when oneDNN fails,
    /// `AllocationError` when memory runs out. Nothing is left half-done: the model can be
    /// called again.
    public func callAsFunction(sample: Tensor, timesteps: [Float], context: Tensor, added: [AddedConditioning]? = nil) throws -> Tensor {
        try checkInputs(sampleShape: sample.shape, timestepCount: timesteps.count, contextShape: context.shape)
        let n = sample.shape[0]
        if let textTime {
            guard let added, added.count == n else {
                throw UNetInputError("a batch of \(n) needs \(n) SDXL conditionings (pooled text and time ids), got \(added?.count ?? 0)")
            }
            for each in added { try textTime.check(each) }
        } else if added != nil {
            throw UNetInputError("this UNet takes no pooled text embedding or time ids (it has no addition_embed_type)")
        }
        // Samples side by side on lanes that share the threads out, where there are threads to spare.
        let outputs = try Threads.forEachSample(n) { i in
            try predict(sample.sample(i).nchwToNHWC(), timestep: timesteps[i],
                        context: context.sample(i).reshaped([context.shape[1], context.shape[2]]), added: added?[i])
        }
        return try Tensor.concatenateBatch(outputs).nhwcToNCHW()
    }

    /// One sample, channels-last `[1, H, W, C]`.
    func predict(_ x: Tensor, timestep: Float, context: Tensor, added: AddedConditioning? = nil) throws -> Tensor {
        let t: Tensor
        if let textTime, let added {
            // diffusers: emb = time_embedding(t) + add_embedding(...), then each ResNet's SiLU.
            t = Elementwise.silu(try Elementwise.add(time.embedding(timestep), textTime(added)))
        } else {
            t = try time.activated(timestep)
        }
        var h = try convIn(x)
        var skips = [h]
        for block in down { h = try block(h, time: t, context: context, skips: &skips) }
        if let mid { h = try mid(h, time: t, context: context) }
        for block in up { h = try block(h, time: t, context: context, skips: &skips) }
        return try convOut(normOut(h, silu: true))
    }
}

/// An input the UNet cannot take (wrong rank, channels, batch, text-embedding width, or an empty latent).
public struct UNetInputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
