import Compute
import Foundation
@testable import StableDiffusion

/// The deterministic stand-in for the UNet that the fixture script also uses:
/// eps = 0.3 sin(x + b) + 0.01 t / 1000 + 0.05 b, with b = 0.5 for the prompt, -0.25 for the
/// negative prompt. Counts the evaluations it ran.
final class FakeUNet: UNetEvaluator, @unchecked Sendable {
    static let bias: [TextSlot: Float] = [.cond: 0.5, .uncond: -0.25]
    private(set) var evaluations = 0

    static func predict(_ input: Tensor, timestep: Float, slot: TextSlot) -> Tensor {
        let b = bias[slot]!
        let timeTerm = Float(0.01 * Double(timestep) / 1000)
        return SchedulerMath.map(input) { 0.3 * sin($0 + b) + timeTerm + 0.05 * b }
    }

    func callAsFunction(_ pending: [Evaluation]) -> [Tensor] {
        evaluations += pending.count
        return pending.map { Self.predict($0.latentInput, timestep: $0.timestep, slot: $0.slot) }
    }

    /// As a `UNetEvaluator`: the text embedding is a one-element tensor holding the slot's bias.
    func evaluate(_ batch: [(evaluation: Evaluation, textEmbedding: Tensor)]) throws -> [Tensor] {
        evaluations += batch.count
        return batch.map { item in
            let slot: TextSlot = item.textEmbedding.values[0] == Self.bias[.cond]! ? .cond : .uncond
            return Self.predict(item.evaluation.latentInput, timestep: item.evaluation.timestep, slot: slot)
        }
    }

    static let embeddings: [TextSlot: Tensor] = [
        .cond: Tensor(shape: [1], values: [bias[.cond]!]),
        .uncond: Tensor(shape: [1], values: [bias[.uncond]!]),
    ]
}
