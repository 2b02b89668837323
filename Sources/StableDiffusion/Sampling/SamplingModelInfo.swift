/// What the state machine needs to know about a model: no weights, only shapes and the scheduler
/// configuration.
public struct SamplingModelInfo: Codable, Sendable, Equatable {
    /// UNet input channels (4 for Stable Diffusion v1).
    public var latentChannels: Int
    /// Pixels per latent cell along each side (8 for Stable Diffusion's VAE).
    public var vaeScaleFactor: Int
    /// The model's `scheduler/scheduler_config.json`.
    public var schedulerConfig: SchedulerConfig

    public init(latentChannels: Int, vaeScaleFactor: Int, schedulerConfig: SchedulerConfig) {
        self.latentChannels = latentChannels
        self.vaeScaleFactor = vaeScaleFactor
        self.schedulerConfig = schedulerConfig
    }

    enum CodingKeys: String, CodingKey {
        case latentChannels = "latent_channels"
        case vaeScaleFactor = "vae_scale_factor"
        case schedulerConfig = "scheduler_config"
    }
}
