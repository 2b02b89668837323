import Compute
import StableDiffusion

/// The real engine: one Stable Diffusion model loaded with the local pipeline's code, so a
/// worker's embeddings, predictions and pixels are the ones `generate` computes.
public final class PipelineEngine: WorkerEngine {
    public let pipeline: StableDiffusionPipeline
    public let models: [HostedModel]
    public var fingerprint: String? { pipeline.fingerprint.description }

    public init(pipeline: StableDiffusionPipeline) {
        self.pipeline = pipeline
        models = [HostedModel(name: pipeline.location.name, contentHash: Self.contentHash(of: pipeline), info: pipeline.modelInfo)]
    }

    /// The model's content hash, joined with the textual-inversion library's digest when the
    /// worker has one (`--embedding-dir`): embedding ids are keyed by it, and the coordinator
    /// uses a worker only for the copy (model and embeddings) the cluster uses, so workers whose
    /// embedding folders differ never share an image or an embedding id.
    static func contentHash(of pipeline: StableDiffusionPipeline) -> String {
        guard let library = pipeline.promptEncoder.embeddings, !library.isEmpty else { return pipeline.location.contentHash }
        return "\(pipeline.location.contentHash)+ti-\(library.digest.prefix(16))"
    }

    public func encode(text: String, model: String?, encoding: TextEncoding) throws -> Tensor {
        try requireModel(model)
        return try pipeline.embed(text, encoding: encoding).embedding
    }

    public func unet(latents: [Tensor], timesteps: [Float], contexts: [Tensor], model: String?) throws -> [Tensor] {
        try requireModel(model)
        let channels = pipeline.modelInfo.latentChannels
        for latent in latents where latent.shape.count != 4 || latent.shape[0] != 1 || latent.shape[1] != channels {
            throw WorkerEngineError.shapeMismatch("latent \(latent.shape), the UNet takes [1, \(channels), h, w]")
        }
        guard Set(latents.map(\.shape)).count == 1 else {
            throw WorkerEngineError.shapeMismatch("latents of different sizes in one batch: \(latents.map(\.shape))")
        }
        let width = pipeline.textEncoder.shape.hiddenSize
        for context in contexts where context.shape.count != 3 || context.shape[0] != 1 || context.shape[2] != width {
            throw WorkerEngineError.shapeMismatch("text embedding \(context.shape), the UNet takes [1, tokens, \(width)]")
        }
        // The UNet checks the rest (token counts, timesteps) and throws what it cannot take, as
        // do its layers when oneDNN fails: TaskRunner answers ERROR task-failed with the message.
        // Embeddings of different token counts (long prompts) run as separate UNet calls.
        return try pipeline.unet.predictions(latents: latents, timesteps: timesteps, contexts: contexts)
    }

    public func decode(latents: Tensor, model: String?) throws -> RGBPixels {
        try requireModel(model)
        guard latents.shape.count == 4, latents.shape[0] == 1, latents.shape[1] == pipeline.modelInfo.latentChannels else {
            throw WorkerEngineError.shapeMismatch("latent \(latents.shape) for the VAE")
        }
        return try pipeline.decodeToPixels(latents)
    }
}
