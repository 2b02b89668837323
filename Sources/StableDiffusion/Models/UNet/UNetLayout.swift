/// The UNet's structure resolved from its config: per-block channels, head counts, layer
/// counts and attention flags, computed once so the module code reads plainly.
struct UNetLayout: Equatable {
    struct Block: Equatable {
        var outChannels: Int
        var layers: Int
        var hasAttention: Bool
        var heads: Int
        var transformerLayers: Int
        var onlyCrossAttention: Bool
    }
    var inChannels: Int
    var outChannels: Int
    var down: [Block]
    /// Up blocks in execution order (deepest first), as diffusers lists `up_block_types`.
    var up: [Block]
    var midHeads: Int
    var midTransformerLayers: Int
    var hasMidBlock: Bool
    var crossAttentionDim: Int
    var groups: Int
    var epsilon: Float
    var flipSinToCos: Bool
    var freqShift: Float
    var linearProjection: Bool
    var downsamplePadding: Int
    /// SDXL's additional conditioning (`addition_embed_type: "text_time"`), nil for SD 1.x/2.x.
    var textTime: TextTimeShape? = nil

    var timeChannels: Int { down[0].outChannels }
    var timeEmbeddingChannels: Int { 4 * down[0].outChannels }
}

/// A model config asks for something this engine does not implement.
public struct UnsupportedModelError: Error, CustomStringConvertible {
    public let component: String
    public let detail: String
    public var description: String {
        "\(component): \(detail). sdcluster runs Stable Diffusion 1.x, 2.x and SDXL-style models (and smaller models of the same structure)."
    }
}

extension UNetLayout {
    /// Resolves diffusers' `UNet2DConditionModel` config the way its constructor does
    /// (head counts per block, reversed lists for the up path, the mid block's last entry).
    init(config c: UNetConfig) throws {
        func unsupported(_ detail: String) -> UnsupportedModelError { UnsupportedModelError(component: "unet/config.json", detail: detail) }
        let n = c.blockOutChannels.count
        guard c.downBlockTypes.count == n, c.upBlockTypes.count == n else {
            throw unsupported("down_block_types and up_block_types need one entry per block_out_channels entry (\(n))")
        }
        if c.classEmbedType != nil { throw unsupported("class_embed_type '\(c.classEmbedType!)' is not supported") }
        var textTime: TextTimeShape?
        switch c.additionEmbedType {
        case nil: break
        case "text_time":
            guard let timeDim = c.additionTimeEmbedDim, let inputDim = c.projectionClassEmbeddingsInputDim,
                  timeDim > 0, timeDim % 2 == 0, inputDim > TextTimeShape.timeIdCount * timeDim else {
                throw unsupported("addition_embed_type 'text_time' needs an even addition_time_embed_dim and a "
                    + "projection_class_embeddings_input_dim larger than 6 x it (SDXL: 256 and 2816)")
            }
            textTime = TextTimeShape(timeChannels: timeDim, inputChannels: inputDim)
        case let other?: throw unsupported("addition_embed_type '\(other)' is not supported (only SDXL's 'text_time')")
        }
        if c.timeCondProjDim != nil { throw unsupported("time_cond_proj_dim (LCM) is not supported") }
        if c.resnetTimeScaleShift != "default" { throw unsupported("resnet_time_scale_shift '\(c.resnetTimeScaleShift)' is not supported") }
        if c.timeEmbeddingType != "positional" { throw unsupported("time_embedding_type '\(c.timeEmbeddingType)' is not supported") }
        if c.convInKernel != 3 || c.convOutKernel != 3 { throw unsupported("conv_in/conv_out kernels other than 3") }
        if c.dualCrossAttention || c.centerInputSample { throw unsupported("dual cross-attention / center_input_sample") }
        if c.actFn != "silu" { throw unsupported("act_fn '\(c.actFn)'") }
        guard let groups = c.normNumGroups else { throw unsupported("norm_num_groups null (no group norm)") }
        guard case .one(let crossDim) = c.crossAttentionDim else { throw unsupported("per-block cross_attention_dim") }
        let heads = (c.numAttentionHeads ?? c.attentionHeadDim).expanded(to: n)
        let layers = c.layersPerBlock.expanded(to: n)
        let transformerLayers = c.transformerLayersPerBlock.expanded(to: n)
        let onlyCross = c.onlyCrossAttention.expanded(to: n)
        guard heads.count == n, layers.count == n, transformerLayers.count == n, onlyCross.count == n else {
            throw unsupported("per-block lists must have \(n) entries")
        }
        var down: [Block] = []
        for (i, type) in c.downBlockTypes.enumerated() {
            guard type == "CrossAttnDownBlock2D" || type == "DownBlock2D" else { throw unsupported("down block type '\(type)'") }
            down.append(Block(outChannels: c.blockOutChannels[i], layers: layers[i], hasAttention: type == "CrossAttnDownBlock2D",
                              heads: heads[i], transformerLayers: transformerLayers[i], onlyCrossAttention: onlyCross[i]))
        }
        var up: [Block] = []
        for (i, type) in c.upBlockTypes.enumerated() {
            guard type == "CrossAttnUpBlock2D" || type == "UpBlock2D" else { throw unsupported("up block type '\(type)'") }
            let r = n - 1 - i
            up.append(Block(outChannels: c.blockOutChannels[r], layers: layers[r] + 1, hasAttention: type == "CrossAttnUpBlock2D",
                            heads: heads[r], transformerLayers: transformerLayers[r], onlyCrossAttention: onlyCross[r]))
        }
        switch c.midBlockType {
        case "UNetMidBlock2DCrossAttn", nil: break
        case let other?: throw unsupported("mid block type '\(other)'")
        }
        self.init(inChannels: c.inChannels, outChannels: c.outChannels, down: down, up: up,
                  midHeads: heads[n - 1], midTransformerLayers: transformerLayers[n - 1], hasMidBlock: c.midBlockType != nil,
                  crossAttentionDim: crossDim, groups: groups, epsilon: Float(c.normEps), flipSinToCos: c.flipSinToCos,
                  freqShift: Float(c.freqShift), linearProjection: c.useLinearProjection, downsamplePadding: c.downsamplePadding,
                  textTime: textTime)
    }
}
