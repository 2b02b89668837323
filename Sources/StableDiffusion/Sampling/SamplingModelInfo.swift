/// What the state machine needs to know about a model: no weights, only shapes and the scheduler
/// configuration.
public struct SamplingModelInfo: Codable, Sendable, Equatable {
    /// UNet input channels (4 for Stable Diffusion v1).
    public var latentChannels: Int
    /// Pixels per latent cell along each side (8 for Stable Diffusion's VAE).
    public var vaeScaleFactor: Int
    /// The model's `scheduler/scheduler_config.json`.
    public var schedulerConfig: SchedulerConfig
    /// The guidance scale the model's folder recommends (`sdcluster.json`); nil: 7.5.
    public var recommendedGuidanceScale: Float?

    /// diffusers' pipelines default to 7.5; models whose folders say otherwise override it.
    public static let standardGuidanceScale: Float = 7.5

    public init(latentChannels: Int, vaeScaleFactor: Int, schedulerConfig: SchedulerConfig,
                recommendedGuidanceScale: Float? = nil) {
        self.latentChannels = latentChannels
        self.vaeScaleFactor = vaeScaleFactor
        self.schedulerConfig = schedulerConfig
        self.recommendedGuidanceScale = recommendedGuidanceScale
    }

    /// The scale for requests that give none.
    public var defaultGuidanceScale: Float { recommendedGuidanceScale ?? Self.standardGuidanceScale }

    enum CodingKeys: String, CodingKey {
        case latentChannels = "latent_channels"
        case vaeScaleFactor = "vae_scale_factor"
        case schedulerConfig = "scheduler_config"
        case recommendedGuidanceScale = "recommended_guidance_scale"
    }
}
