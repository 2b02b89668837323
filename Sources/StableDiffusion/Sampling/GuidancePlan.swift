/// Which text the UNet sees in one evaluation.
public enum TextSlot: String, Codable, Sendable, CaseIterable {
    /// The prompt.
    case cond
    /// The negative prompt (the empty prompt when none is given).
    case uncond
}

/// The UNet passes one step runs.
public enum StepPasses: String, Codable, Sendable, CaseIterable {
    /// Both texts, combined as `uncond + w * (cond - uncond)`.
    case guided
    /// The conditional pass alone.
    case cond
    /// The unconditional pass alone.
    case uncond

    /// The texts evaluated, in diffusers' batch order (unconditional first).
    public var slots: [TextSlot] {
        switch self {
        case .guided: return [.uncond, .cond]
        case .cond: return [.cond]
        case .uncond: return [.uncond]
        }
    }

    public var evaluations: Int { slots.count }
}

/// Which passes every step of one image needs, known before sampling starts (docs/sampling.md).
///
/// Rules, in order (paper.md, "Exact semantics"):
/// 1. `guidance_scale <= 1`: the conditional pass alone, every step (no unconditional pass ever).
/// 2. Cut-off c over the scheduler's T steps: steps `0 ..< k`, `k = floor(c * T)`, are guided; the
///    rest run the late pass alone (`uncond` by default, or `cond`). T counts the scheduler's
///    timesteps, so PNDM with N steps has T = N + 1, as diffusers' `SDCFGCutoffCallback` counts.
/// 3. Guidance interval: a guided step whose sigma lies outside (low, high] runs `cond` alone.
/// 4. Adaptive guidance: decided while sampling; a guided step after the stop runs `cond` alone,
///    so the plan's count is an upper bound and the image state reports what was used.
public struct GuidancePlan: Codable, Sendable, Equatable {
    /// The passes of each step before any adaptive stop.
    public let steps: [StepPasses]
    /// The classifier-free guidance weight w.
    public let guidanceScale: Float
    /// k: how many leading steps the cut-off leaves guided (before the interval rule).
    public let guidedStepLimit: Int
    /// The adaptive-guidance similarity threshold, if any.
    public let adaptiveThreshold: Float?

    public init(steps: [StepPasses], guidanceScale: Float, guidedStepLimit: Int, adaptiveThreshold: Float?) {
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidedStepLimit = guidedStepLimit
        self.adaptiveThreshold = adaptiveThreshold
    }

    /// The plan for `request` on a scheduler whose steps have noise levels `sigmas` (one per step).
    /// - Throws: `InvalidRequest` when the request's guidance fields are not possible.
    public static func make(for request: GenerationRequest, sigmas: [Float]) throws -> GuidancePlan {
        let problems = RequestValidation.guidanceProblems(in: request)
        guard problems.isEmpty else { throw InvalidRequest(problems: problems) }
        let count = sigmas.count
        // Unset only when called without Sampler.prepare, which fills in the model's default.
        let scale = request.guidanceScale ?? SamplingModelInfo.standardGuidanceScale
        guard scale > 1 else {
            return GuidancePlan(steps: Array(repeating: .cond, count: count), guidanceScale: scale,
                                guidedStepLimit: 0, adaptiveThreshold: nil)
        }
        let k = guidedStepCount(cutoff: request.guidanceCutoff, steps: count)
        let late: StepPasses = request.latePass == .cond ? .cond : .uncond
        let steps = sigmas.enumerated().map { i, sigma -> StepPasses in
            guard i < k else { return late }
            if let interval = request.guidanceInterval, !interval.contains(sigma) { return .cond }
            return .guided
        }
        return GuidancePlan(steps: steps, guidanceScale: scale, guidedStepLimit: k,
                            adaptiveThreshold: request.adaptiveGuidanceThreshold)
    }

    /// `floor(c * T)`, clamped to 0...T. A tolerance of 1e-6 absorbs binary rounding of decimal
    /// cut-offs (0.7 as a float is 0.69999999; 0.7 * 10 must still give 7).
    public static func guidedStepCount(cutoff: Float, steps: Int) -> Int {
        let k = Int((Double(cutoff) * Double(steps) + 1e-6).rounded(.down))
        return min(max(k, 0), steps)
    }

    /// Upper bound of UNet evaluations (exact unless adaptive guidance stops early).
    public var maximumEvaluations: Int { steps.reduce(0) { $0 + $1.evaluations } }

    /// What plain CFG (two passes per step when w > 1) would cost for the same steps.
    public var plainGuidanceEvaluations: Int { steps.count * (guidanceScale > 1 ? 2 : 1) }

    /// The passes step `index` runs, given the step where adaptive guidance stopped (if it did).
    public func passes(atStep index: Int, adaptiveStop: Int?) -> StepPasses {
        let planned = steps[index]
        if planned == .guided, let stop = adaptiveStop, index >= stop { return .cond }
        return planned
    }
}
