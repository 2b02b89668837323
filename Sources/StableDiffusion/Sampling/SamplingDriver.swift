import Compute

/// Runs UNet evaluations: the seam where the real network plugs in. The local pipeline wraps its
/// engine in one; tests use a fake.
public protocol UNetEvaluator {
    /// One prediction (NCHW, shaped like the latent input) per evaluation, in the given order.
    /// Each evaluation comes with the text embedding of its slot.
    func evaluate(_ batch: [(evaluation: Evaluation, textEmbedding: Tensor)]) throws -> [Tensor]
}

/// Where a run stands after each step, for progress bars.
public struct SamplingProgress: Sendable {
    public let completedSteps: Int
    public let stepCount: Int
    public let evaluationsUsed: Int
    /// What the plan allows at most (adaptive guidance may use fewer).
    public let evaluationBudget: Int
}

extension Sampler {
    /// Runs `state` to the end, asking `evaluate` for each step's predictions (one per pending
    /// evaluation, same order). `progress` is called after every step; returning false cancels
    /// with `SamplingError.cancelled`.
    public static func run(_ state: ImageState,
                           progress: ((SamplingProgress) -> Bool)? = nil,
                           evaluate: ([Evaluation]) throws -> [Tensor]) throws -> ImageState {
        var current = state
        while !current.isFinished {
            let pending = try pendingEvaluations(current)
            let outputs = try evaluate(pending)
            guard outputs.count == pending.count else {
                throw SamplingError.evaluatorReturned(expected: pending.count, got: outputs.count)
            }
            var predictions: [TextSlot: Tensor] = [:]
            for (evaluation, output) in zip(pending, outputs) { predictions[evaluation.slot] = output }
            current = try advance(current, predictions: predictions)
            let report = SamplingProgress(completedSteps: current.stepIndex, stepCount: current.stepCount,
                                          evaluationsUsed: current.evaluationsUsed,
                                          evaluationBudget: current.plan.maximumEvaluations)
            if let progress, !progress(report) { throw SamplingError.cancelled(afterStep: current.stepIndex) }
        }
        return current
    }

    /// Runs `state` to the end on `evaluator`, with the text embeddings of each slot
    /// (`uncond` may be omitted when the plan never needs it).
    public static func run(_ state: ImageState, textEmbeddings: [TextSlot: Tensor], evaluator: UNetEvaluator,
                           progress: ((SamplingProgress) -> Bool)? = nil) throws -> ImageState {
        try run(state, progress: progress) { pending in
            let batch = try pending.map { evaluation -> (evaluation: Evaluation, textEmbedding: Tensor) in
                guard let embedding = textEmbeddings[evaluation.slot] else {
                    throw SamplingError.missingTextEmbedding(evaluation.slot)
                }
                return (evaluation, embedding)
            }
            return try evaluator.evaluate(batch)
        }
    }
}
