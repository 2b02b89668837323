/// The one place a `GenerationRequest` is checked and completed. Prompt files (per line), the
/// command line, SUBMIT decoding, the coordinator (with the model's info) and `Sampler.prepare`
/// all call `validated(for:)` or `problems(in:model:count:)`, so one request gets one verdict
/// everywhere (docs/sampling.md, "Validation").
public enum RequestValidation {
    /// The largest `count` (images of one prompt-file line) a request may be expanded by.
    public static let maximumCount = 10_000
    /// Bytes of UTF-8 a prompt or negative prompt may have at most (`RequestLimits.standard`).
    public static let maximumTextBytes = RequestLimits.standard.maxTextBytes
    /// The size factor when the model is not known yet: SD v1's VAE factor, as diffusers'
    /// `check_inputs` asks. With a model, its own `vaeScaleFactor`.
    public static let standardSizeFactor = 8
    /// The largest clip skip a request may ask for: SD v1's CLIP has 12 layers (A1111's slider
    /// ends there too). A text encoder with fewer layers refuses more than it has when encoding.
    public static let maximumClipSkip = 12

    /// What is wrong with `request` (empty when nothing is), field by field in JSONL order.
    /// - Parameters:
    ///   - model: the model it will run on, when known: sizes must be multiples of its VAE factor
    ///     (of 8 otherwise). Defaults are not filled in here: an unset field is not checked.
    ///   - count: images the request stands for (seeds seed, seed + 1, ...).
    ///   - limits: the bounds on steps, size and prompt length (a coordinator's may be tighter).
    public static func problems(in request: GenerationRequest, model: SamplingModelInfo?, count: Int = 1,
                                limits: RequestLimits = .standard) -> [InvalidRequest.Problem] {
        var problems: [InvalidRequest.Problem] = []
        func problem(_ field: String, _ message: String) { problems.append(.init(field: field, message: message)) }
        for (field, text) in [("prompt", request.prompt), ("negative_prompt", request.negativePrompt)] where text.utf8.count > limits.maxTextBytes {
            problem(field, "\(field) must be at most \(limits.maxTextBytes) bytes of UTF-8 (longer prompts are read in 75-token chunks), not \(text.utf8.count)")
        }
        if !(1...max(1, limits.maxSteps)).contains(request.steps) {
            problem("steps", "steps must be 1...\(limits.maxSteps), not \(request.steps)")
        }
        problems += guidanceProblems(in: request)
        let factor = max(1, model?.vaeScaleFactor ?? standardSizeFactor)
        for (field, value) in [("width", request.width), ("height", request.height)] {
            guard let value, value < factor || value % factor != 0 else { continue }
            problem(field, "\(field) must be a positive multiple of \(factor), not \(value)")
        }
        if let width = request.width, let height = request.height, width > 0, height > 0 {
            let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
            if overflow || pixels > limits.maxPixels {
                problem(width >= height ? "width" : "height",
                        "\(width)x\(height) is more than the \(limits.maxPixels) pixels allowed (\(Self.squareSide(limits.maxPixels))x\(Self.squareSide(limits.maxPixels)) at most for a square image)")
            }
        }
        if let clipSkip = request.clipSkip, !(1...maximumClipSkip).contains(clipSkip) {
            problem("clip_skip", "clip_skip must be 1...\(maximumClipSkip) (1 = the last layer, 2 = the penultimate: A1111's \"Clip skip\"), not \(clipSkip)")
        }
        if count < 1 || count > maximumCount { problem("count", "count must be 1...\(maximumCount), not \(count)") }
        if count >= 1, request.seed > UInt64.max - UInt64(count - 1) {
            problem("seed", "seed \(request.seed) + count \(count) runs past the largest seed \(UInt64.max)")
        }
        return problems
    }

    /// The problems of the guidance fields alone (scale, cut-off, interval, adaptive threshold, rescale):
    /// what `GuidancePlan.make` checks, part of `problems(in:model:count:)`.
    public static func guidanceProblems(in request: GenerationRequest) -> [InvalidRequest.Problem] {
        var problems: [InvalidRequest.Problem] = []
        func problem(_ field: String, _ message: String) { problems.append(.init(field: field, message: message)) }
        if let w = request.guidanceScale, !w.isFinite || w < 0 {
            problem("guidance_scale", "guidance_scale must be a number >= 0, not \(w)")
        }
        if !(0...1).contains(request.guidanceCutoff) {
            problem("guidance_cutoff", "guidance_cutoff must be within [0, 1], not \(request.guidanceCutoff)")
        }
        if let interval = request.guidanceInterval, !(interval.sigmaLow.isFinite && interval.sigmaHigh.isFinite
                                                        && interval.sigmaLow >= 0 && interval.sigmaLow < interval.sigmaHigh) {
            problem("guidance_interval", "guidance_interval must have 0 <= sigma_low < sigma_high, not (\(interval.sigmaLow), \(interval.sigmaHigh)]")
        }
        if let t = request.adaptiveGuidanceThreshold, !(t.isFinite && t > 0 && t <= 1) {
            problem("adaptive_guidance_threshold", "adaptive_guidance_threshold must be within (0, 1] (typical: 0.99 to 0.9999), not \(t)")
        }
        if let phi = request.guidanceRescale, !(phi.isFinite && (0...1).contains(phi)) {
            problem("guidance_rescale", "guidance_rescale must be within [0, 1] (typical: 0.7), not \(phi)")
        }
        return problems
    }
}

extension GenerationRequest {
    /// The request checked field by field and, when the model is known, completed with its
    /// defaults: an unset guidance scale becomes `model.defaultGuidanceScale`, an unset scheduler
    /// `model.defaultScheduler`, an unset size the model's native one. Without a model unset fields stay unset and sizes are checked against 8.
    /// Calling it again on its result changes nothing.
    /// - Throws: `InvalidRequest` listing every problem.
    public func validated(for model: SamplingModelInfo?, count: Int = 1, limits: RequestLimits = .standard) throws -> GenerationRequest {
        var out = self
        if let model {
            if out.guidanceScale == nil { out.guidanceScale = model.defaultGuidanceScale }
            if out.scheduler == nil { out.scheduler = model.defaultScheduler }
            if out.width == nil { out.width = model.defaultWidth }
            if out.height == nil { out.height = model.defaultHeight }
        }
        let problems = RequestValidation.problems(in: out, model: model, count: count, limits: limits)
        guard problems.isEmpty else { throw InvalidRequest(problems: problems) }
        return out
    }
}

extension RequestValidation {
    /// The side of the largest square within `pixels` (for messages).
    static func squareSide(_ pixels: Int) -> Int { Int(Double(pixels).squareRoot()) }
}
