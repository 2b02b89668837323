import Compute

/// What a probe sees of one step: the passes run, the combined prediction and the x0 it implies.
public struct ProbeStep {
    public let stepIndex: Int
    public let timestep: Float
    public let sigma: Float
    public let passes: StepPasses
    /// The prediction the scheduler steps with (CFG-combined on a guided step).
    public let prediction: Tensor
    /// `PredictedOriginal.fromEpsilon` of the model input and `prediction`.
    public let predictedOriginal: Tensor
}

/// The sampling loop for probes: `Sampler.run` with the conditional text chosen per step by a
/// `ConditioningSchedule`, each step shown to an observer, and the UNet evaluations counted as
/// they run. Nothing else differs, so a constant schedule gives `generate`'s bits.
public enum ProbeSampler {
    /// The finished state and the UNet evaluations the evaluator actually ran.
    public struct Outcome {
        public let state: ImageState
        public let evaluationsRun: Int
    }

    /// Runs `state` to the end. `uncond` may be nil when the plan never needs it.
    /// Throws `SamplingError` and whatever the evaluator or the observer throws.
    public static func run(_ state: ImageState, conditioning: ConditioningSchedule, uncond: Tensor?,
                           evaluator: UNetEvaluator, observe: ((ProbeStep) throws -> Void)? = nil) throws -> Outcome {
        let scheduler = try Sampler.makeScheduler(state.request, state.model)
        var evaluationsRun = 0
        let final = try Sampler.run(state) { pending in
            let batch = try pending.map { evaluation -> (evaluation: Evaluation, textEmbedding: Tensor) in
                switch evaluation.slot {
                case .cond: return (evaluation, conditioning.embedding(atStep: evaluation.stepIndex))
                case .uncond:
                    guard let uncond else { throw SamplingError.missingTextEmbedding(.uncond) }
                    return (evaluation, uncond)
                }
            }
            let outputs = try evaluator.evaluate(batch)
            evaluationsRun += outputs.count
            if let observe, let first = pending.first, outputs.count == pending.count {
                try observe(step(first, pending: pending, outputs: outputs, scale: state.plan.guidanceScale,
                                 sigma: scheduler.sigma(atStep: first.stepIndex)))
            }
            return outputs
        }
        return Outcome(state: final, evaluationsRun: evaluationsRun)
    }

    private static func step(_ first: Evaluation, pending: [Evaluation], outputs: [Tensor], scale: Float,
                             sigma: Float) throws -> ProbeStep {
        var bySlot: [TextSlot: Tensor] = [:]
        for (evaluation, output) in zip(pending, outputs) { bySlot[evaluation.slot] = output }
        let passes: StepPasses
        let prediction: Tensor
        if let cond = bySlot[.cond], let uncond = bySlot[.uncond] {
            passes = .guided
            prediction = try Sampler.classifierFreeGuidance(cond: cond, uncond: uncond, scale: scale)
        } else {
            passes = bySlot[.cond] != nil ? .cond : .uncond
            prediction = outputs[0]
        }
        return ProbeStep(stepIndex: first.stepIndex, timestep: first.timestep, sigma: sigma, passes: passes,
                         prediction: prediction,
                         predictedOriginal: PredictedOriginal.fromEpsilon(modelInput: first.latentInput, epsilon: prediction, sigma: sigma))
    }
}

extension StableDiffusionPipeline {
    /// One image whose conditional pass follows `conditioning` step by step (the unconditional
    /// pass keeps the request's negative prompt). With a constant schedule of `embed(prompt)`
    /// it is `generate(request)`, bit for bit.
    public func generate(_ request: GenerationRequest, conditioning: ConditioningSchedule,
                         observe: ((ProbeStep) throws -> Void)? = nil) throws -> (image: GeneratedImage, evaluationsRun: Int) {
        let state = try Sampler.prepare(request, model: modelInfo)
        let needsUncond = state.plan.steps.contains { $0.slots.contains(.uncond) }
        let uncond = needsUncond ? try embed(request.negativePrompt).embedding : nil
        let outcome = try ProbeSampler.run(state, conditioning: conditioning, uncond: uncond,
                                           evaluator: LocalUNetEvaluator(unet: unet), observe: observe)
        guard let latents = outcome.state.finalLatents else { throw PipelineError.unfinished }
        let image = GeneratedImage(request: state.request, width: state.imageShape[3], height: state.imageShape[2],
                                   rgb: try decode(latents), unetEvaluations: outcome.state.evaluationsUsed,
                                   plainGuidanceEvaluations: state.plan.plainGuidanceEvaluations, truncatedTokens: 0,
                                   engine: fingerprint)
        return (image, outcome.evaluationsRun)
    }
}
