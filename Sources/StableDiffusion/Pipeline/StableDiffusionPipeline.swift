import Compute
import Foundation

/// One finished image: 8-bit RGB pixels plus what it took to make them.
public struct GeneratedImage: Sendable {
    public let request: GenerationRequest
    public let width: Int
    public let height: Int
    /// Interleaved RGB, row-major, `width * height * 3` bytes.
    public let rgb: [UInt8]
    public let unetEvaluations: Int
    /// What plain classifier-free guidance would have used for the same steps.
    public let plainGuidanceEvaluations: Int
    /// Tokens cut from the prompt and the negative prompt (CLIP reads at most 75).
    public let truncatedTokens: Int
    /// The engine that computed it (oneDNN version, ISA, kernels, precision).
    public let engine: EngineFingerprint
}

/// The local text-to-image pipeline: tokenizer, CLIP text encoder, the sampling state machine
/// driving the UNet in-process, and the VAE decoder. The cluster runs the same state machine with
/// the UNet on workers, so both give the same pixels for the same request.
public final class StableDiffusionPipeline {
    public let location: ModelLocation
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let modelInfo: SamplingModelInfo
    public let precision: Precision
    /// Prompt embeddings by `EmbeddingKey` (this model, the text), the most recent few.
    private var embeddingCache: EmbeddingCache

    /// Prompt embeddings a pipeline keeps unless told otherwise (about 15 MiB at SD 1.5's width).
    public static let standardEmbeddingCacheCapacity = 64

    /// Loads every component of the model at `location`; `tokenizerDirectory` is used when the
    /// model brings no tokenizer of its own (single-file checkpoints). `precision` is what the
    /// three networks' convolutions, linear layers and attention compute in; `embeddingCacheCapacity`
    /// how many prompts' embeddings `embed` keeps (least recently used go first).
    public init(location: ModelLocation, fallbackTokenizerDirectory: String? = nil, precision: Precision = .fp32,
                embeddingCacheCapacity: Int = standardEmbeddingCacheCapacity) throws {
        try precision.checkSupported()  // before loading: a bf16 model on a CPU without bf16 is refused at once
        embeddingCache = EmbeddingCache(capacity: embeddingCacheCapacity)
        self.location = location
        self.precision = precision
        guard let tokenizerDirectory = location.tokenizerDirectory ?? fallbackTokenizerDirectory else {
            throw PipelineError.noTokenizer(model: location.name)
        }
        tokenizer = try CLIPTokenizer(directory: tokenizerDirectory)
        textEncoder = try CLIPTextModel(config: location.textEncoder.config, weights: location.textEncoder.weights, precision: precision)
        unet = try UNet2DConditionModel(config: location.unet.config, weights: location.unet.weights, precision: precision)
        vae = try AutoencoderKL(config: location.vae.config, weights: location.vae.weights, precision: precision)
        for store in [location.unet.weights, location.textEncoder.weights, location.vae.weights] { try store.checkAllUsed() }
        let schedulerConfig = try location.schedulerConfigData.map { try JSONDecoder().decode(SchedulerConfig.self, from: $0) }
            ?? SchedulerConfig.stableDiffusion15
        let factor = vae.shape.downscaleFactor
        let native = location.unet.config.nativeImageSize(vaeScaleFactor: factor)
        modelInfo = SamplingModelInfo(latentChannels: unet.inChannels, vaeScaleFactor: factor,
                                      schedulerConfig: schedulerConfig,
                                      recommendedGuidanceScale: location.recommendations?.guidanceScale,
                                      nativeWidth: native?.width, nativeHeight: native?.height)
    }

    /// What decides this pipeline's exact bits besides the request.
    public var fingerprint: EngineFingerprint { .current(precision: precision) }

    /// The text embedding `[1, 77, D]` of a prompt, cached by content (the empty prompt recurs in
    /// every image), the last `embeddingCacheCapacity` prompts. Throws what the text encoder
    /// throws (`DNNLError`, `TextEncoderInputError`).
    public func embed(_ prompt: String) throws -> (embedding: Tensor, truncatedTokens: Int) {
        let tokenized = tokenizer.tokenize(prompt, length: textEncoder.shape.maxPositions)
        let key = EmbeddingKey(modelHash: location.contentHash, text: prompt).id
        if let cached = embeddingCache.lookup(key) { return (cached, tokenized.truncatedTokenCount) }
        let out = try textEncoder.encode(tokenized.ids)
        let embedding = out.reshaped([1] + out.shape)
        embeddingCache.insert(embedding, id: key)
        return (embedding, tokenized.truncatedTokenCount)
    }

    /// Makes one image. `progress` is called after each step; returning false cancels.
    /// Throws `SamplingError` for a request the model cannot sample, and whatever the networks
    /// throw (`DNNLError`, `UNetInputError`, `ShapeError`, `AllocationError`).
    public func generate(_ request: GenerationRequest, progress: ((SamplingProgress) -> Bool)? = nil) throws -> GeneratedImage {
        let state = try Sampler.prepare(request, model: modelInfo)
        try checkLoRAs(of: request)
        let cond = try embed(LoRATags.removed(from: request.prompt))
        var embeddings: [TextSlot: Tensor] = [.cond: cond.embedding]
        var truncated = cond.truncatedTokens
        if state.plan.steps.contains(where: { $0.slots.contains(.uncond) }) {
            let uncond = try embed(request.negativePrompt)
            embeddings[.uncond] = uncond.embedding
            truncated += uncond.truncatedTokens
        }
        let final = try Sampler.run(state, textEmbeddings: embeddings, evaluator: LocalUNetEvaluator(unet: unet), progress: progress)
        guard let latents = final.finalLatents else { throw PipelineError.unfinished }
        let pixels = try decode(latents)
        return GeneratedImage(request: state.request, width: state.imageShape[3], height: state.imageShape[2], rgb: pixels,
                              unetEvaluations: final.evaluationsUsed,
                              plainGuidanceEvaluations: state.plan.plainGuidanceEvaluations, truncatedTokens: truncated,
                              engine: fingerprint)
    }

    /// VAE-decodes final latents (`[1, C, h, w]`, before scaling) to 8-bit RGB: what `generate`
    /// writes and what a worker sends back (RESULT-VAE), so both convert pixels in one place.
    /// Throws `ShapeError` for latents of another shape, `DNNLError` when oneDNN fails.
    public func decodeToPixels(_ latents: Tensor) throws -> RGBPixels {
        RGBPixels(decoded: try vae.decode(Elementwise.scale(latents, 1 / vae.shape.scalingFactor)))
    }

    /// `decodeToPixels`' bytes alone.
    public func decode(_ latents: Tensor) throws -> [UInt8] {
        try decodeToPixels(latents).rgb
    }
}

/// Runs a step's evaluations on the in-process UNet, all of them in one call.
struct LocalUNetEvaluator: UNetEvaluator {
    let unet: UNet2DConditionModel

    func evaluate(_ batch: [(evaluation: Evaluation, textEmbedding: Tensor)]) throws -> [Tensor] {
        let sample = try Tensor.concatenateBatch(batch.map(\.evaluation.latentInput))
        let context = try Tensor.concatenateBatch(batch.map(\.textEmbedding))
        let out = try unet(sample: sample, timesteps: batch.map(\.evaluation.timestep), context: context)
        return (0..<batch.count).map { out.sample($0) }
    }
}

public enum PipelineError: Error, CustomStringConvertible {
    case noTokenizer(model: String)
    case unfinished

    public var description: String {
        switch self {
        case .noTokenizer(let model):
            return "\(model): no tokenizer (vocab.json + merges.txt) found; pass --config with a diffusers folder that has one"
        case .unfinished:
            return "sampling ended before its last step"
        }
    }
}
