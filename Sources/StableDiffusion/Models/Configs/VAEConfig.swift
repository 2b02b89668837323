import Foundation

/// `vae/config.json` of a diffusers `AutoencoderKL`. Absent keys take diffusers' defaults
/// (`AutoencoderKL.__init__`); unknown keys are ignored.
public struct VAEConfig: ModelConfig, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var actFn: String
    public var latentChannels: Int
    public var normNumGroups: Int
    public var sampleSize: OneOrMany<Int>
    /// Latents are multiplied by this after encoding and divided by it before decoding.
    public var scalingFactor: Double
    public var shiftFactor: Double?
    public var forceUpcast: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    public var midBlockAddAttention: Bool

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", actFn = "act_fn"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups", sampleSize = "sample_size"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor", forceUpcast = "force_upcast"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.value(.inChannels, default: 3)
        outChannels = try c.value(.outChannels, default: 3)
        downBlockTypes = try c.value(.downBlockTypes, default: ["DownEncoderBlock2D"])
        upBlockTypes = try c.value(.upBlockTypes, default: ["UpDecoderBlock2D"])
        blockOutChannels = try c.value(.blockOutChannels, default: [64])
        layersPerBlock = try c.value(.layersPerBlock, default: 1)
        actFn = try c.value(.actFn, default: "silu")
        latentChannels = try c.value(.latentChannels, default: 4)
        normNumGroups = try c.value(.normNumGroups, default: 32)
        sampleSize = try c.value(.sampleSize, default: .one(32))
        scalingFactor = try c.value(.scalingFactor, default: 0.18215)
        shiftFactor = try c.decodeIfPresent(Double.self, forKey: .shiftFactor)
        forceUpcast = try c.value(.forceUpcast, default: true)
        useQuantConv = try c.value(.useQuantConv, default: true)
        usePostQuantConv = try c.value(.usePostQuantConv, default: true)
        midBlockAddAttention = try c.value(.midBlockAddAttention, default: true)
    }
}

extension VAEConfig {
    /// diffusers' defaults for every key: the config of `AutoencoderKL()`.
    public static let diffusersDefaults: VAEConfig = try! JSONDecoder().decode(VAEConfig.self, from: Data("{}".utf8))

    /// `vae/config.json` of Stable Diffusion v1.5: four levels of 128/256/512/512 channels, two
    /// ResNets per level, images 8x the latent size.
    public static let stableDiffusion15: VAEConfig = {
        var config = diffusersDefaults
        config.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: 4)
        config.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: 4)
        config.blockOutChannels = [128, 256, 512, 512]
        config.layersPerBlock = 2
        config.sampleSize = .one(512)
        return config
    }()

    /// Number of resolution levels.
    public var blockCount: Int { blockOutChannels.count }

    /// Image pixels per latent pixel along each side: 2^(levels - 1).
    public var downscaleFactor: Int { 1 << (blockCount - 1) }

    /// Checks list lengths and group divisibility. `file` names the source in errors.
    public func validate(file: String) throws {
        func check(_ ok: Bool, _ key: String, _ detail: String) throws {
            if !ok { throw WeightError.badConfig(file: file, key: key, detail: detail) }
        }
        try check(!blockOutChannels.isEmpty, "block_out_channels", "is empty")
        try check(downBlockTypes.count == blockCount, "down_block_types",
                  "has \(downBlockTypes.count) entries for \(blockCount) block_out_channels")
        try check(upBlockTypes.count == blockCount, "up_block_types",
                  "has \(upBlockTypes.count) entries for \(blockCount) block_out_channels")
        for channels in blockOutChannels {
            try check(normNumGroups > 0 && channels % normNumGroups == 0, "norm_num_groups",
                      "(\(normNumGroups)) does not divide \(channels) channels")
        }
    }
}
