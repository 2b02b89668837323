import Compute
import StableDiffusion

/// The real engine: one Stable Diffusion model loaded with the local pipeline's code, so a
/// worker's embeddings, predictions and pixels are the ones `generate` computes.
public final class PipelineEngine: WorkerEngine {
    public let pipeline: StableDiffusionPipeline
    public let models: [HostedModel]
    public let loras: [HostedLoRA]
    public var fingerprint: String? { pipeline.fingerprint.description }
    private let library: LoRALibrary?
    private let build: (ModelLocation) throws -> StableDiffusionPipeline
    /// The pipeline of the LoRA set last asked for, under its variant name (one at a time: an
    /// SD 1.5 pipeline holds about 4 GB; the coordinator sends a set's tasks together).
    private var variant: (name: String, pipeline: StableDiffusionPipeline)?

    /// `loraLibrary`: the `--lora-dir` whose LoRAs this worker offers (each with its file's
    /// content hash); `build` makes the pipeline of the model with a LoRA set merged (by default
    /// as the plain one was: same precision).
    public init(pipeline: StableDiffusionPipeline, loraLibrary: LoRALibrary? = nil,
                build: ((ModelLocation) throws -> StableDiffusionPipeline)? = nil) throws {
        self.pipeline = pipeline
        models = [HostedModel(name: pipeline.location.name, contentHash: Self.contentHash(of: pipeline),
                              info: pipeline.modelInfo,
                              vae: pipeline.location.externalVAE.map { HostedVAE(name: $0.name, shortHash: $0.shortHash()) })]
        library = loraLibrary
        // Each file is read once here for its AUTOMATIC1111 hash (about 0.5 s per 40 MB, docs/weights.md).
        loras = try (loraLibrary?.availableNames() ?? []).map { name in
            let file = try loraLibrary!.file(named: name)
            return HostedLoRA(name: name, contentHash: file.contentHash, shortHash: file.shortHash())
        }
        let precision = pipeline.precision
        self.build = build ?? { try StableDiffusionPipeline(location: $0, precision: precision) }
    }

    /// The model's content hash, joined with the textual-inversion library's digest when the
    /// worker has one (`--embedding-dir`): embedding ids are keyed by it, and the coordinator
    /// uses a worker only for the copy (model and embeddings) the cluster uses, so workers whose
    /// embedding folders differ never share an image or an embedding id.
    static func contentHash(of pipeline: StableDiffusionPipeline) -> String {
        guard let library = pipeline.promptEncoder.embeddings, !library.isEmpty else { return pipeline.location.contentHash }
        return "\(pipeline.location.contentHash)+ti-\(library.digest.prefix(16))"
    }

    /// The pipeline for a task's model: the plain one, or the one with the LoRA set its name
    /// carries (`LoRAVariant`), built on first need and kept until another set is asked for.
    private func pipeline(for model: String?) throws -> StableDiffusionPipeline {
        guard let model else { return pipeline }
        let (base, references) = try LoRAVariant.parse(model)
        try requireModel(base)
        guard !references.isEmpty else { return pipeline }
        if let variant, variant.name == model { return variant.pipeline }
        variant = nil  // released before the next is built
        guard let library else {
            throw WorkerEngineError.shapeMismatch("the task names LoRAs (\(model)) but this worker was started without --lora-dir")
        }
        let set = try LoRASet.resolve(references, library: library, model: pipeline.location)
        let built = try build(pipeline.location.applyingLoRAs(set))
        variant = (model, built)
        return built
    }

    public func encode(text: String, slot: TextSlot, model: String?, encoding: TextEncoding) throws -> TextConditioning {
        try pipeline(for: model).conditioning(text, slot: slot, encoding: encoding).conditioning
    }

    public func unet(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning], timeIds: [[Float]]?,
                     model: String?) throws -> [Tensor] {
        let pipeline = try pipeline(for: model)
        let channels = pipeline.modelInfo.latentChannels
        for latent in latents where latent.shape.count != 4 || latent.shape[0] != 1 || latent.shape[1] != channels {
            throw WorkerEngineError.shapeMismatch("latent \(latent.shape), the UNet takes [1, \(channels), h, w]")
        }
        guard Set(latents.map(\.shape)).count == 1 else {
            throw WorkerEngineError.shapeMismatch("latents of different sizes in one batch: \(latents.map(\.shape))")
        }
        let width = pipeline.unet.crossAttentionDim
        for context in conditionings.map(\.context) where context.shape.count != 3 || context.shape[0] != 1 || context.shape[2] != width {
            throw WorkerEngineError.shapeMismatch("text embedding \(context.shape), the UNet takes [1, tokens, \(width)]")
        }
        // The UNet checks the rest (token counts, timesteps, SDXL's pooled embeddings and time
        // ids) and throws what it cannot take, as do its layers when oneDNN fails: TaskRunner
        // answers ERROR task-failed with the message. Embeddings of different token counts
        // (long prompts) run as separate UNet calls.
        return try pipeline.predictions(latents: latents, timesteps: timesteps, conditionings: conditionings, timeIds: timeIds)
    }

    public func decode(latents: Tensor, model: String?) throws -> RGBPixels {
        let pipeline = try pipeline(for: model)
        guard latents.shape.count == 4, latents.shape[0] == 1, latents.shape[1] == pipeline.modelInfo.latentChannels else {
            throw WorkerEngineError.shapeMismatch("latent \(latents.shape) for the VAE")
        }
        return try pipeline.decodeToPixels(latents)
    }
}
