import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The whole state machine against StableDiffusionPipeline's denoising loop imitated in Python
/// with the same fake UNet (fixture: pipeline.json): seeded latents, CFG, cut-off and late pass.
final class PipelineParityTests: XCTestCase {
    struct Case: Decodable {
        let request: GenerationRequest
        let guided_steps: Int
        let timesteps: [Float]
        let evaluations: Int
        let trajectory: [[Float]]
    }
    struct Fixture: Decodable { let cases: [Case] }

    static let model = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15)

    func testEveryStepMatchesTheDiffusersLoop() throws {
        let cases = try SamplingFixtures.load("pipeline.json", as: Fixture.self).cases
        XCTAssertGreaterThanOrEqual(cases.count, 7)
        for c in cases {
            let r = c.request
            let label = "\(r.scheduler?.rawValue ?? "default") steps \(r.steps) w \(r.guidanceScale.map { "\($0)" } ?? "default") c \(r.guidanceCutoff) late \(r.latePass.rawValue)"
            var state = try Sampler.prepare(r, model: Self.model)
            XCTAssertEqual(state.plan.guidedStepLimit, c.guided_steps, label)
            XCTAssertEqual(state.plan.maximumEvaluations, c.evaluations, label)
            assertClose(state.latents.values, c.trajectory[0], relative: 1e-6, "initial latents, \(label)")
            let unet = FakeUNet()
            var step = 0
            while !state.isFinished {
                let pending = try Sampler.pendingEvaluations(state)
                XCTAssertEqual(pending.first?.timestep, c.timesteps[step], label)
                var predictions: [TextSlot: Tensor] = [:]
                for (e, p) in zip(pending, unet(pending)) { predictions[e.slot] = p }
                state = try Sampler.advance(state, predictions: predictions)
                step += 1
                assertClose(state.latents.values, c.trajectory[step], relative: 1e-5, "step \(step - 1), \(label)")
            }
            XCTAssertEqual(step, c.timesteps.count, label)
            XCTAssertEqual(state.evaluationsUsed, c.evaluations, label)
            XCTAssertEqual(unet.evaluations, c.evaluations, label)
        }
    }
}
