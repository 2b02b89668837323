import Foundation

/// `unet/config.json` of a diffusers `UNet2DConditionModel`. Absent keys take diffusers' defaults
/// (`UNet2DConditionModel.__init__`); unknown keys are ignored.
public struct UNetConfig: ModelConfig, Equatable {
    public var sampleSize: OneOrMany<Int>?
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var downBlockTypes: [String]
    @ExplicitNull public var midBlockType: String?
    public var upBlockTypes: [String]
    public var onlyCrossAttention: OneOrMany<Bool>
    public var blockOutChannels: [Int]
    public var layersPerBlock: OneOrMany<Int>
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Double
    public var actFn: String
    @ExplicitNull public var normNumGroups: Int?
    public var normEps: Double
    public var crossAttentionDim: OneOrMany<Int>
    public var transformerLayersPerBlock: OneOrMany<Int>
    /// For SD v1 this is the number of heads, not their width (a historical diffusers misnomer):
    /// when `numAttentionHeads` is absent diffusers uses it as the head count.
    public var attentionHeadDim: OneOrMany<Int>
    public var numAttentionHeads: OneOrMany<Int>?
    public var dualCrossAttention: Bool
    public var useLinearProjection: Bool
    public var classEmbedType: String?
    public var additionEmbedType: String?
    public var numClassEmbeds: Int?
    public var upcastAttention: Bool
    public var resnetTimeScaleShift: String
    public var resnetSkipTimeAct: Bool
    public var resnetOutScaleFactor: Double
    public var timeEmbeddingType: String
    public var timeEmbeddingDim: Int?
    public var timeEmbeddingActFn: String?
    public var timestepPostAct: String?
    public var timeCondProjDim: Int?
    public var convInKernel: Int
    public var convOutKernel: Int
    public var attentionType: String
    public var midBlockOnlyCrossAttention: Bool?
    public var crossAttentionNorm: String?
    public var encoderHidDim: Int?
    /// SDXL (`addition_embed_type: "text_time"`): width of the sinusoidal features of each time id.
    public var additionTimeEmbedDim: Int?
    /// SDXL: input width of `add_embedding`, the pooled text width + 6 x `addition_time_embed_dim`.
    public var projectionClassEmbeddingsInputDim: Int?

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", dualCrossAttention = "dual_cross_attention"
        case useLinearProjection = "use_linear_projection", classEmbedType = "class_embed_type"
        case additionEmbedType = "addition_embed_type", numClassEmbeds = "num_class_embeds"
        case upcastAttention = "upcast_attention", resnetTimeScaleShift = "resnet_time_scale_shift"
        case resnetSkipTimeAct = "resnet_skip_time_act", resnetOutScaleFactor = "resnet_out_scale_factor"
        case timeEmbeddingType = "time_embedding_type", timeEmbeddingDim = "time_embedding_dim"
        case timeEmbeddingActFn = "time_embedding_act_fn", timestepPostAct = "timestep_post_act"
        case timeCondProjDim = "time_cond_proj_dim", convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case attentionType = "attention_type", midBlockOnlyCrossAttention = "mid_block_only_cross_attention"
        case crossAttentionNorm = "cross_attention_norm", encoderHidDim = "encoder_hid_dim"
        case additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleSize = try c.decodeIfPresent(OneOrMany<Int>.self, forKey: .sampleSize)
        inChannels = try c.value(.inChannels, default: 4)
        outChannels = try c.value(.outChannels, default: 4)
        centerInputSample = try c.value(.centerInputSample, default: false)
        flipSinToCos = try c.value(.flipSinToCos, default: true)
        freqShift = try c.value(.freqShift, default: 0)
        downBlockTypes = try c.value(.downBlockTypes, default: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                                 "CrossAttnDownBlock2D", "DownBlock2D"])
        // An explicit null means "no mid block" in diffusers, unlike an absent key.
        midBlockType = c.contains(.midBlockType) ? try c.decodeIfPresent(String.self, forKey: .midBlockType)
                                                 : "UNetMidBlock2DCrossAttn"
        upBlockTypes = try c.value(.upBlockTypes, default: ["UpBlock2D", "CrossAttnUpBlock2D",
                                                             "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        onlyCrossAttention = try c.value(.onlyCrossAttention, default: .one(false))
        blockOutChannels = try c.value(.blockOutChannels, default: [320, 640, 1280, 1280])
        layersPerBlock = try c.value(.layersPerBlock, default: .one(2))
        downsamplePadding = try c.value(.downsamplePadding, default: 1)
        midBlockScaleFactor = try c.value(.midBlockScaleFactor, default: 1)
        actFn = try c.value(.actFn, default: "silu")
        normNumGroups = c.contains(.normNumGroups) ? try c.decodeIfPresent(Int.self, forKey: .normNumGroups) : 32
        normEps = try c.value(.normEps, default: 1e-5)
        crossAttentionDim = try c.value(.crossAttentionDim, default: .one(1280))
        transformerLayersPerBlock = try c.value(.transformerLayersPerBlock, default: .one(1))
        attentionHeadDim = try c.value(.attentionHeadDim, default: .one(8))
        numAttentionHeads = try c.decodeIfPresent(OneOrMany<Int>.self, forKey: .numAttentionHeads)
        dualCrossAttention = try c.value(.dualCrossAttention, default: false)
        useLinearProjection = try c.value(.useLinearProjection, default: false)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        upcastAttention = try c.value(.upcastAttention, default: false)
        resnetTimeScaleShift = try c.value(.resnetTimeScaleShift, default: "default")
        resnetSkipTimeAct = try c.value(.resnetSkipTimeAct, default: false)
        resnetOutScaleFactor = try c.value(.resnetOutScaleFactor, default: 1)
        timeEmbeddingType = try c.value(.timeEmbeddingType, default: "positional")
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        timeEmbeddingActFn = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingActFn)
        timestepPostAct = try c.decodeIfPresent(String.self, forKey: .timestepPostAct)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
        convInKernel = try c.value(.convInKernel, default: 3)
        convOutKernel = try c.value(.convOutKernel, default: 3)
        attentionType = try c.value(.attentionType, default: "default")
        midBlockOnlyCrossAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockOnlyCrossAttention)
        crossAttentionNorm = try c.decodeIfPresent(String.self, forKey: .crossAttentionNorm)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(Int.self, forKey: .projectionClassEmbeddingsInputDim)
    }
}

extension UNetConfig {
    /// The image size the UNet was trained at, as diffusers' pipelines default to it:
    /// `sample_size` (one side, or `[height, width]`) x the VAE factor; nil without a sample_size.
    public func nativeImageSize(vaeScaleFactor: Int) -> (width: Int, height: Int)? {
        guard let sampleSize else { return nil }
        let height = sampleSize.value(at: 0), width = sampleSize.listCount == nil ? height : sampleSize.value(at: 1)
        return (width * vaeScaleFactor, height * vaeScaleFactor)
    }

    /// diffusers' defaults for every key: the config of `UNet2DConditionModel()`.
    public static let diffusersDefaults: UNetConfig = try! JSONDecoder().decode(UNetConfig.self, from: Data("{}".utf8))

    /// `unet/config.json` of Stable Diffusion v1.4/v1.5 (diffusers defaults with CLIP ViT-L's
    /// 768-wide text and 64x64 latents).
    public static let stableDiffusion15: UNetConfig = {
        var config = diffusersDefaults
        config.crossAttentionDim = .one(768)
        config.sampleSize = .one(64)
        return config
    }()

    /// Number of resolution levels (down blocks).
    public var blockCount: Int { downBlockTypes.count }

    /// Attention heads of down block `block` (the mid block uses the last block's count; up block
    /// `i` uses block `blockCount - 1 - i`). diffusers falls back to `attention_head_dim` when
    /// `num_attention_heads` is absent, which makes `attention_head_dim: 8` mean eight heads.
    public func headCount(forBlock block: Int) -> Int {
        (numAttentionHeads ?? attentionHeadDim).value(at: block)
    }

    /// Width of each attention head in down block `block`: channels / heads.
    public func headDim(forBlock block: Int) -> Int {
        blockOutChannels[block] / headCount(forBlock: block)
    }

    /// ResNet layers in down block `block`; up block `i` has one more, taken from
    /// block `blockCount - 1 - i`.
    public func layers(forBlock block: Int) -> Int { layersPerBlock.value(at: block) }

    /// Width of the text embeddings that down block `block` attends to.
    public func crossAttentionDim(forBlock block: Int) -> Int { crossAttentionDim.value(at: block) }

    /// Transformer blocks inside each attention of down block `block`.
    public func transformerLayers(forBlock block: Int) -> Int { transformerLayersPerBlock.value(at: block) }

    /// Whether down block `block` has attention without self-attention (`only_cross_attention`).
    public func onlyCrossAttention(forBlock block: Int) -> Bool { onlyCrossAttention.value(at: block) }

    /// Width of the time embedding MLP (`time_embedding_dim` or 4 x the first block's channels).
    public var timeEmbeddingWidth: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }

    /// Checks that per-block lists have one entry per down block and that heads and groups divide
    /// the channels, so modules can index without bounds surprises. `file` names the source.
    public func validate(file: String) throws {
        let n = blockCount
        func check(_ ok: Bool, _ key: String, _ detail: String) throws {
            if !ok { throw WeightError.badConfig(file: file, key: key, detail: detail) }
        }
        try check(n > 0, "down_block_types", "is empty")
        try check(upBlockTypes.count == n, "up_block_types", "has \(upBlockTypes.count) entries for \(n) down blocks")
        try check(blockOutChannels.count == n, "block_out_channels", "has \(blockOutChannels.count) entries for \(n) down blocks")
        let lists: [(String, Int?)] = [
            ("layers_per_block", layersPerBlock.listCount), ("attention_head_dim", attentionHeadDim.listCount),
            ("num_attention_heads", numAttentionHeads?.listCount), ("cross_attention_dim", crossAttentionDim.listCount),
            ("transformer_layers_per_block", transformerLayersPerBlock.listCount),
            ("only_cross_attention", onlyCrossAttention.listCount),
        ]
        for (key, count) in lists {
            if let count { try check(count == n, key, "has \(count) entries for \(n) down blocks") }
        }
        for block in 0..<n {
            let channels = blockOutChannels[block], heads = headCount(forBlock: block)
            try check(heads > 0 && channels % heads == 0, "attention_head_dim",
                      "gives \(heads) heads, which do not divide \(channels) channels of block \(block)")
            if let groups = normNumGroups {
                try check(groups > 0 && channels % groups == 0, "norm_num_groups",
                          "(\(groups)) does not divide \(channels) channels of block \(block)")
            }
        }
    }
}
