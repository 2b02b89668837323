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
    /// The image size the model was trained at: the UNet's `sample_size` x the VAE factor, as
    /// diffusers' pipelines default to (SD v1: 64 x 8 = 512); nil when the config gives none.
    public var nativeWidth: Int?
    public var nativeHeight: Int?

    /// diffusers' pipelines default to 7.5; models whose folders say otherwise override it.
    public static let standardGuidanceScale: Float = 7.5
    /// SD v1's size, for a model that states none.
    public static let standardImageSide = 512

    public init(latentChannels: Int, vaeScaleFactor: Int, schedulerConfig: SchedulerConfig,
                recommendedGuidanceScale: Float? = nil, nativeWidth: Int? = nil, nativeHeight: Int? = nil) {
        self.latentChannels = latentChannels
        self.vaeScaleFactor = vaeScaleFactor
        self.schedulerConfig = schedulerConfig
        self.recommendedGuidanceScale = recommendedGuidanceScale
        self.nativeWidth = nativeWidth
        self.nativeHeight = nativeHeight
    }

    /// The scheduler for requests that name none: the one the model's scheduler config names
    /// (`_class_name`, what diffusers' pipelines load: SDXL's Euler, SD 1.x's PNDM), PNDM when it
    /// names none sdcluster runs.
    public var defaultScheduler: SchedulerKind {
        switch schedulerConfig.className {
        case "DDIMScheduler": return .ddim
        case "EulerDiscreteScheduler": return .euler
        case "EulerAncestralDiscreteScheduler": return .eulerAncestral
        case "DPMSolverMultistepScheduler": return schedulerConfig.useKarrasSigmas == true ? .dpmpp2mKarras : .dpmpp2m
        default: return .pndm
        }
    }

    /// The scale for requests that give none.
    public var defaultGuidanceScale: Float { recommendedGuidanceScale ?? Self.standardGuidanceScale }

    /// The size for requests that give none.
    public var defaultWidth: Int { nativeWidth ?? Self.standardImageSide }
    public var defaultHeight: Int { nativeHeight ?? Self.standardImageSide }

    enum CodingKeys: String, CodingKey {
        case latentChannels = "latent_channels"
        case vaeScaleFactor = "vae_scale_factor"
        case schedulerConfig = "scheduler_config"
        case recommendedGuidanceScale = "recommended_guidance_scale"
        case nativeWidth = "native_width", nativeHeight = "native_height"
    }
}
