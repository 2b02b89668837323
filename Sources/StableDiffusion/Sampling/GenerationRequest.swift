/// Which single pass runs after the guidance cut-off (see docs/sampling.md).
public enum LatePass: String, Codable, Sendable, CaseIterable {
    /// The paper's rule: drop the text, keep the unconditional (negative-prompt) pass.
    case uncond
    /// diffusers' `SDCFGCutoffCallback` rule: keep the conditional pass.
    case cond
}

/// One image to make: everything that determines its pixels, given the model.
/// Field names in JSON are the snake_case names users write in JSONL prompt files.
public struct GenerationRequest: Codable, Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var steps: Int
    /// Classifier-free guidance scale; nil: the model's default (`SamplingModelInfo.defaultGuidanceScale`:
    /// 7.5 unless the model folder's `sdcluster.json` recommends another). `validated(for:)` fills it in.
    public var guidanceScale: Float?
    /// Share of steps (from the start) that run full classifier-free guidance; 1 = plain CFG.
    public var guidanceCutoff: Float
    public var latePass: LatePass
    /// nil: the model's own (`SamplingModelInfo.defaultScheduler`, from its scheduler config's
    /// class, as diffusers' pipelines use it). `validated(for:)` fills it in.
    public var scheduler: SchedulerKind?
    /// Image size in pixels; nil: the model's native size (`SamplingModelInfo.defaultWidth`,
    /// 512 for SD v1). `validated(for:)` fills them in.
    public var width: Int?
    public var height: Int?
    /// Optional model name for routing in a cluster; nil = the default model.
    public var model: String?
    /// Optional guidance interval (Kynkaanniemi et al.): CFG only while sigma lies in
    /// (low, high], the conditional pass alone outside it. nil = no interval.
    public var guidanceInterval: GuidanceInterval?
    /// Optional adaptive guidance (Castillo et al.): once the cosine similarity of the conditional
    /// and unconditional predictions exceeds this threshold, the rest runs conditional only.
    public var adaptiveGuidanceThreshold: Float?
    /// Optional guidance rescale phi (Lin et al. 2024, diffusers' `guidance_rescale`): on guided
    /// steps the combined prediction is blended with itself rescaled to the conditional
    /// prediction's standard deviation; against over-exposure with zero-terminal-SNR and v models.
    /// nil or 0: off.
    public var guidanceRescale: Float?
    /// How the prompt and negative prompt are read; nil = `.a1111` (AUTOMATIC1111's emphasis,
    /// BREAK and long-prompt chunks; see docs/tokenizer.md).
    public var promptSyntax: PromptSyntax?
    /// A1111's "Clip skip": 1 (nil) = the text encoder's last layer, 2 = the penultimate layer
    /// followed by the final layer norm, ... (diffusers' `clip_skip` is this minus 1).
    public var clipSkip: Int?

    public init(prompt: String, negativePrompt: String = "", seed: UInt64 = 0, steps: Int = 25,
                guidanceScale: Float? = nil, guidanceCutoff: Float = 1, latePass: LatePass = .uncond,
                scheduler: SchedulerKind? = nil, width: Int? = nil, height: Int? = nil, model: String? = nil,
                guidanceInterval: GuidanceInterval? = nil, adaptiveGuidanceThreshold: Float? = nil,
                guidanceRescale: Float? = nil,
                promptSyntax: PromptSyntax? = nil, clipSkip: Int? = nil) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceCutoff = guidanceCutoff
        self.latePass = latePass
        self.scheduler = scheduler
        self.width = width
        self.height = height
        self.model = model
        self.guidanceInterval = guidanceInterval
        self.adaptiveGuidanceThreshold = adaptiveGuidanceThreshold
        self.guidanceRescale = guidanceRescale
        self.promptSyntax = promptSyntax
        self.clipSkip = clipSkip
    }

    enum CodingKeys: String, CodingKey {
        case prompt, seed, steps, scheduler, width, height, model
        case negativePrompt = "negative_prompt"
        case guidanceScale = "guidance_scale"
        case guidanceCutoff = "guidance_cutoff"
        case latePass = "late_pass"
        case guidanceInterval = "guidance_interval"
        case adaptiveGuidanceThreshold = "adaptive_guidance_threshold"
        case guidanceRescale = "guidance_rescale"
        case promptSyntax = "prompt_syntax"
        case clipSkip = "clip_skip"
    }
}

extension GenerationRequest {
    /// How this request's texts are encoded (its `promptSyntax` and `clipSkip`, defaults filled in).
    public var textEncoding: TextEncoding {
        TextEncoding(syntax: promptSyntax ?? .a1111, clipSkip: clipSkip ?? 1)
    }

    /// A seed for "random" (`--seed -1`, `"seed": -1`): drawn from the system's generator, in
    /// 0..<2^32 as AUTOMATIC1111 draws them, so the recorded seed is as short as theirs.
    public static func randomSeed() -> UInt64 { UInt64.random(in: 0..<(1 << 32)) }
}
