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
    /// Tokens cut from the prompt and the negative prompt (only literal prompts are cut, at 75).
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
    /// Prompt text to text embeddings: A1111's syntax, long prompts, clip skip, embeddings.
    public let promptEncoder: PromptEncoder
    /// SDXL's two text encoders (nil for SD 1.x/2.x): `generate` conditions through them.
    public let sdxlText: SDXLPromptEncoder?
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let modelInfo: SamplingModelInfo
    public let precision: Precision
    /// Prompt embeddings by `EmbeddingKey` (this model, the text), the most recent few.
    var embeddingCache: EmbeddingCache<Tensor>

    /// Prompt embeddings a pipeline keeps unless told otherwise (about 15 MiB at SD 1.5's width).
    public static let standardEmbeddingCacheCapacity = 64

    /// Loads every component of the model at `location`; `tokenizerDirectory` is used when the
    /// model brings no tokenizer of its own (single-file checkpoints). `precision` is what the
    /// three networks' convolutions, linear layers and attention compute in; `embeddingCacheCapacity`
    /// how many prompts' embeddings `embed` keeps (least recently used go first).
    /// `textualInversions`, when given, makes the embeddings prompts may name from the
    /// pipeline's tokenizer and text width (`TextualInversionLibrary(directory:tokenizer:hiddenSize:)`, say).
    public init(location: ModelLocation, fallbackTokenizerDirectory: String? = nil, precision: Precision = .fp32,
                embeddingCacheCapacity: Int = standardEmbeddingCacheCapacity,
                textualInversions: ((CLIPTokenizer, _ hiddenSize: Int) throws -> TextualInversionLibrary)? = nil) throws {
        try precision.checkSupported()  // before loading: a bf16 model on a CPU without bf16 is refused at once
        embeddingCache = EmbeddingCache<Tensor>(capacity: embeddingCacheCapacity)
        self.location = location
        self.precision = precision
        guard let tokenizerDirectory = location.tokenizerDirectory ?? fallbackTokenizerDirectory else {
            throw PipelineError.noTokenizer(model: location.name)
        }
        tokenizer = try CLIPTokenizer(directory: tokenizerDirectory, padToken: location.tokenizerPadToken)
        textEncoder = try CLIPTextModel(config: location.textEncoder.config, weights: location.textEncoder.weights, precision: precision)
        promptEncoder = PromptEncoder(tokenizer: tokenizer, textEncoder: textEncoder,
                                      embeddings: try textualInversions?(tokenizer, textEncoder.shape.hiddenSize))
        unet = try UNet2DConditionModel(config: location.unet.config, weights: location.unet.weights, precision: precision)
        vae = try AutoencoderKL(config: location.vae.config, weights: location.vae.weights, precision: precision)
        sdxlText = try Self.sdxlPromptEncoder(location: location, firstTokenizer: tokenizer, firstTokenizerDirectory: tokenizerDirectory,
                                              firstEncoder: textEncoder,
                                              unet: unet, precision: precision, textualInversions: textualInversions != nil)
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

    /// The text embedding `[1, 77 k, D]` of a prompt read with `encoding` (k = 1 unless A1111's
    /// syntax makes several chunks), cached by content (model, text, encoding and the
    /// textual-inversion files used; the empty prompt recurs in every image), the last
    /// `embeddingCacheCapacity` prompts. The default encoding is diffusers' (literal text, last
    /// layer), what the probes measure; `generate` uses the request's `textEncoding`. Throws
    /// `TextualInversionError` for a prompt naming an embedding that cannot be used, and what the
    /// text encoder throws (`DNNLError`, `TextEncoderInputError`).
    public func embed(_ prompt: String, encoding: TextEncoding = .literal) throws -> (embedding: Tensor, truncatedTokens: Int) {
        let prepared = try promptEncoder.prepare(prompt, syntax: encoding.syntax)
        let key = embeddingKey(prompt, encoding: encoding, prepared: prepared).id
        if let cached = embeddingCache.lookup(key) { return (cached, prepared.truncatedTokenCount) }
        let embedding = try promptEncoder.encode(prepared, clipSkip: encoding.clipSkip)
        embeddingCache.insert(embedding, id: key)
        return (embedding, prepared.truncatedTokenCount)
    }

    /// The cache key of `prompt`'s embedding: this model, the text, and what else changes it.
    public func embeddingKey(_ prompt: String, encoding: TextEncoding, prepared: PreparedPrompt) -> EmbeddingKey {
        let variant = [encoding.keyVariant, prepared.keyVariant].filter { !$0.isEmpty }.joined(separator: ";")
        return EmbeddingKey(modelHash: location.contentHash, text: prompt, variant: variant)
    }

    /// Checks that `request`'s texts can be read (every embedding they name can be used, the
    /// clip skip fits the text encoder) without encoding them: what `generate` would refuse,
    /// found before any image of a batch is made.
    public func checkTexts(of request: GenerationRequest) throws {
        for text in [request.prompt, request.negativePrompt] { _ = try promptEncoder.prepare(text, syntax: request.textEncoding.syntax) }
        let layers = textEncoder.shape.layers, clipSkip = request.textEncoding.clipSkip
        if sdxlText != nil, clipSkip != 1 {
            throw TextEncoderInputError("clip skip \(clipSkip) is not supported for SDXL, which always conditions on the text encoders' penultimate layers; use clip skip 1")
        }
        guard clipSkip == 1 || clipSkip <= layers else {
            throw TextEncoderInputError("clip skip \(clipSkip) needs a text encoder of at least \(clipSkip) layers; this one has \(layers) (use 1...\(layers))")
        }
    }

    /// Makes one image. `progress` is called after each step; returning false cancels.
    /// Throws `SamplingError` for a request the model cannot sample, and whatever the networks
    /// throw (`DNNLError`, `UNetInputError`, `ShapeError`, `AllocationError`).
    public func generate(_ request: GenerationRequest, progress: ((SamplingProgress) -> Bool)? = nil) throws -> GeneratedImage {
        let state = try Sampler.prepare(request, model: modelInfo)
        try checkLoRAs(of: request)
        // The prompt's <lora:...> tags are not text (workers strip them the same way).
        let cond = try conditioning(LoRATags.removed(from: request.prompt), slot: .cond, encoding: request.textEncoding)
        var conditions: [TextSlot: TextConditioning] = [.cond: cond.conditioning]
        var truncated = cond.truncatedTokens
        if state.plan.steps.contains(where: { $0.slots.contains(.uncond) }) {
            let uncond = try conditioning(request.negativePrompt, slot: .uncond, encoding: request.textEncoding)
            conditions[.uncond] = uncond.conditioning
            truncated += uncond.truncatedTokens
        }
        // SDXL's time ids: diffusers' defaults (original = target = the image size, crop 0, 0).
        let timeIds = sdxlText == nil ? nil : AddedConditioning.defaultTimeIds(width: state.imageShape[3], height: state.imageShape[2])
        let final = try Sampler.run(state, progress: progress) { pending in
            let slots = try pending.map { evaluation -> TextConditioning in
                guard let slot = conditions[evaluation.slot] else { throw SamplingError.missingTextEmbedding(evaluation.slot) }
                return slot
            }
            return try self.predictions(latents: pending.map(\.latentInput), timesteps: pending.map(\.timestep),
                                        conditionings: slots, timeIds: timeIds.map { ids in slots.map { _ in ids } })
        }
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
        try unet.predictions(latents: batch.map(\.evaluation.latentInput), timesteps: batch.map(\.evaluation.timestep),
                             contexts: batch.map(\.textEmbedding))
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
