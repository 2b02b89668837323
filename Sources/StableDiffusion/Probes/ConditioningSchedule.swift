import Compute

/// Which text embedding the conditional pass sees at each step: one prompt throughout (what
/// `generate` does), or the prompt-switch probe's A until step k and B from step k on.
public struct ConditioningSchedule {
    private let embeddingAt: (Int) -> Tensor

    public init(_ embeddingAt: @escaping (Int) -> Tensor) {
        self.embeddingAt = embeddingAt
    }

    /// The conditional embedding of step `stepIndex`.
    public func embedding(atStep stepIndex: Int) -> Tensor { embeddingAt(stepIndex) }

    /// The same embedding at every step.
    public static func constant(_ embedding: Tensor) -> ConditioningSchedule {
        ConditioningSchedule { _ in embedding }
    }

    /// `a` for steps `0 ..< k`, `b` for steps `k...`: k = 0 is B throughout, k = step count A throughout.
    public static func switching(from a: Tensor, to b: Tensor, atStep k: Int) -> ConditioningSchedule {
        ConditioningSchedule { $0 < k ? a : b }
    }
}
