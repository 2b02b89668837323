import Compute
import StableDiffusion
import XCTest

/// Images do not change with the company they keep: running several images' evaluations through
/// one UNet call (as a cluster worker does) gives the same final latents, bit for bit, as
/// running each image alone.
final class PipelineBatchingTests: XCTestCase {
    func testImagesSampledTogetherInOneUNetBatchEqualImagesSampledAlone() throws {
        let pipeline = EndToEndParityTests.pipeline
        let requests = [
            GenerationRequest(prompt: "a red circle", seed: 1, steps: 6, guidanceCutoff: 0.5, width: 32, height: 32),
            GenerationRequest(prompt: "a blue square at the top", negativePrompt: "green", seed: 2, steps: 6, width: 32, height: 32),
            GenerationRequest(prompt: "a star", seed: 3, steps: 6, guidanceScale: 1, scheduler: .eulerAncestral, width: 32, height: 32),
        ]
        func prediction(_ evaluations: [(Evaluation, String)]) throws -> [Tensor] {
            let out = try pipeline.unet(sample: try Tensor.concatenateBatch(evaluations.map(\.0.latentInput)),
                                        timesteps: evaluations.map(\.0.timestep),
                                        context: try Tensor.concatenateBatch(evaluations.map { try pipeline.embed($0.1).embedding }))
            return (0..<evaluations.count).map { out.sample($0) }
        }
        func text(_ r: GenerationRequest, _ e: Evaluation) -> String { e.slot == .cond ? r.prompt : r.negativePrompt }

        let alone = try requests.map { r in
            try Sampler.run(try Sampler.prepare(r, model: pipeline.modelInfo)) { pending in
                try prediction(pending.map { ($0, text(r, $0)) })
            }.finalLatents!.values
        }
        // All images advance in lock step; each step's evaluations of all images form one batch.
        var states = try requests.map { try Sampler.prepare($0, model: pipeline.modelInfo) }
        while states.contains(where: { !$0.isFinished }) {
            var batch: [(Evaluation, String)] = [], owners: [Int] = []
            for (i, s) in states.enumerated() where !s.isFinished {
                for e in try Sampler.pendingEvaluations(s) { batch.append((e, text(requests[i], e))); owners.append(i) }
            }
            let outputs = try prediction(batch)
            for i in Set(owners) {
                var predictions: [TextSlot: Tensor] = [:]
                for (k, owner) in owners.enumerated() where owner == i { predictions[batch[k].0.slot] = outputs[k] }
                states[i] = try Sampler.advance(states[i], predictions: predictions)
            }
        }
        for i in 0..<requests.count { XCTAssertEqual(states[i].finalLatents!.values, alone[i], "image \(i) changed in a batch") }
    }
}
