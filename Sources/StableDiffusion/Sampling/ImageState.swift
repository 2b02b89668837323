import Compute

/// Everything about one image in flight. A value: copy it, store it (JSON), resume it anywhere;
/// nothing in it depends on other images, so batching never changes an image.
public struct ImageState: Codable, Sendable, Equatable {
    public let request: GenerationRequest
    public let model: SamplingModelInfo
    public let plan: GuidancePlan
    /// NCHW `[1, C, height / f, width / f]`.
    public let latentShape: [Int]
    /// The next step to run; equal to the step count when finished.
    public internal(set) var stepIndex: Int
    public internal(set) var latents: PackedFloats
    public internal(set) var scheduler: SchedulerState
    /// The image's own random stream (ancestral schedulers keep drawing from it).
    public internal(set) var generator: TorchGenerator
    /// The first step that adaptive guidance turned into a conditional-only pass, if it stopped.
    public internal(set) var adaptiveStop: Int?
    /// UNet evaluations consumed so far.
    public internal(set) var evaluationsUsed: Int

    public var stepCount: Int { plan.steps.count }
    /// The decoded image's shape, `[1, 3, height, width]`.
    public var imageShape: [Int] { [1, 3] + latentShape.suffix(2).map { $0 * model.vaeScaleFactor } }
    public var isFinished: Bool { stepIndex >= stepCount }

    /// The current latents as NCHW `[1, C, h, w]`.
    public var currentLatents: Tensor { Tensor(shape: latentShape, values: latents.values) }

    /// The denoised latents once finished (NOT divided by the VAE's scaling factor: the pipeline
    /// does that before decoding); nil while steps remain.
    public var finalLatents: Tensor? { isFinished ? currentLatents : nil }

    /// The passes the next step runs (nil when finished).
    public var nextPasses: StepPasses? {
        isFinished ? nil : plan.passes(atStep: stepIndex, adaptiveStop: adaptiveStop)
    }

    enum CodingKeys: String, CodingKey {
        case request, model, plan, latents, scheduler, generator
        case latentShape = "latent_shape"
        case stepIndex = "step_index"
        case adaptiveStop = "adaptive_stop"
        case evaluationsUsed = "evaluations_used"
    }
}
