import Compute

/// The sampling state machine (docs/sampling.md). It never runs a network:
///
///     prepare(request, model)        -> ImageState     seeded noise, scheduler, guidance plan
///     pendingEvaluations(state)      -> [Evaluation]   1 or 2 per step
///     advance(state, predictions)    -> ImageState     CFG combine or single pass, scheduler step
///     state.isFinished / state.finalLatents
///
/// The local pipeline and the cluster coordinator drive the same functions, so one request gives
/// the same latents wherever its evaluations ran.
public enum Sampler {
    /// A new image: `torch.randn([1, C, h, w], generator=manual_seed(seed)) * init_noise_sigma`,
    /// as diffusers' `prepare_latents`, and the guidance plan.
    /// The request is checked and completed by `validated(for: model)` first (a request without
    /// a guidance scale or size gets the model's defaults), so the state (and the PNG metadata
    /// written from it) always holds the values that were used.
    /// - Throws: `InvalidRequest` for a request's problems, `SamplingError` for the model's.
    public static func prepare(_ request: GenerationRequest, model: SamplingModelInfo) throws -> ImageState {
        let factor = model.vaeScaleFactor
        guard model.latentChannels >= 1 else { throw SamplingError.invalidModelInfo("latent_channels must be at least 1, not \(model.latentChannels)") }
        guard factor >= 1 else { throw SamplingError.invalidModelInfo("vae_scale_factor must be at least 1, not \(factor)") }
        let request = try request.validated(for: model)
        let width = request.width ?? model.defaultWidth, height = request.height ?? model.defaultHeight
        let scheduler = try makeScheduler(request, model)
        let plan = try GuidancePlan.make(for: request, sigmas: (0..<scheduler.stepCount).map { scheduler.sigma(atStep: $0) })
        let shape = [1, model.latentChannels, height / factor, width / factor]
        var generator = TorchGenerator(seed: request.seed)
        let sigma = scheduler.initNoiseSigma
        let latents = generator.randn(count: shape.reduce(1, *)).map { $0 * sigma }
        return ImageState(request: request, model: model, plan: plan, latentShape: shape, stepIndex: 0,
                          latents: PackedFloats(latents), scheduler: SchedulerState(), generator: generator,
                          adaptiveStop: nil, evaluationsUsed: 0)
    }

    /// The evaluations the next step needs (empty when finished), unconditional first.
    public static func pendingEvaluations(_ state: ImageState) throws -> [Evaluation] {
        guard let passes = state.nextPasses else { return [] }
        let scheduler = try makeScheduler(state.request, state.model)
        let input = scheduler.scaleModelInput(state.currentLatents, stepIndex: state.stepIndex)
        let timestep = scheduler.timesteps[state.stepIndex]
        return passes.slots.map { Evaluation(slot: $0, latentInput: input, timestep: timestep, stepIndex: state.stepIndex) }
    }

    /// The state after the current step, given exactly the predictions `pendingEvaluations` asked for.
    public static func advance(_ state: ImageState, predictions: [TextSlot: Tensor]) throws -> ImageState {
        guard let passes = state.nextPasses else { throw SamplingError.alreadyFinished(steps: state.stepCount) }
        let step = state.stepIndex
        for slot in predictions.keys where !passes.slots.contains(slot) {
            throw SamplingError.unexpectedPrediction(slot, step: step)
        }
        for slot in passes.slots {
            guard let p = predictions[slot] else { throw SamplingError.missingPrediction(slot, step: step) }
            guard p.shape == state.latentShape else {
                throw SamplingError.predictionShape(slot, expected: state.latentShape, got: p.shape)
            }
            guard p.allFinite else { throw SamplingError.nonFinitePrediction(slot, step: step) }
        }
        var next = state
        let guided: Tensor
        if passes == .guided, let cond = predictions[.cond], let uncond = predictions[.uncond] {
            let combined = try classifierFreeGuidance(cond: cond, uncond: uncond, scale: state.plan.guidanceScale)
            guided = try GuidanceRescale.apply(state.request.guidanceRescale ?? 0, guided: combined, cond: cond)
            if let threshold = state.plan.adaptiveThreshold, next.adaptiveStop == nil,
               AdaptiveGuidance.cosineSimilarity(cond, uncond) > Double(threshold) {
                next.adaptiveStop = step + 1
            }
        } else {
            guided = predictions[passes.slots[0]]!
        }
        let scheduler = try makeScheduler(state.request, state.model)
        do {
            let sample = try scheduler.step(guided, stepIndex: step, sample: state.currentLatents,
                                            state: &next.scheduler, generator: &next.generator)
            next.latents = PackedFloats(sample.values)
        } catch let error as SchedulerError {
            throw SamplingError.scheduler(error)
        }
        next.stepIndex = step + 1
        next.evaluationsUsed += passes.evaluations
        return next
    }

    /// `uncond + w * (cond - uncond)`, in the order diffusers computes it.
    public static func classifierFreeGuidance(cond: Tensor, uncond: Tensor, scale: Float) throws -> Tensor {
        try SchedulerMath.map(uncond, cond) { u, c in u + scale * (c - u) }
    }

    /// The image's scheduler, rebuilt from its request and model (cheap: no model involved).
    public static func makeScheduler(_ request: GenerationRequest, _ model: SamplingModelInfo) throws -> any Scheduler {
        do {
            return try Schedulers.make(request.scheduler ?? model.defaultScheduler, config: model.schedulerConfig, steps: request.steps)
        } catch let error as SchedulerError {
            throw SamplingError.scheduler(error)
        }
    }
}
