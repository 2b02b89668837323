import Compute
import StableDiffusion
import XCTest

/// The probes' sampling loop: the conditioning really changes at step k, the evaluation counts
/// of every sweep row are exact, and a constant schedule changes nothing.
final class ProbeSamplerTests: XCTestCase {
    private let model = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15)

    /// Records, per step, the value of the conditional embedding it was given; predicts as FakeUNet.
    private final class RecordingUNet: UNetEvaluator {
        var condTags: [Int: Float] = [:]
        var evaluations = 0
        func evaluate(_ batch: [(evaluation: Evaluation, textEmbedding: Tensor)]) throws -> [Tensor] {
            evaluations += batch.count
            for item in batch where item.evaluation.slot == .cond { condTags[item.evaluation.stepIndex] = item.textEmbedding.values[0] }
            return batch.map { FakeUNet.predict($0.evaluation.latentInput, timestep: $0.evaluation.timestep, slot: $0.evaluation.slot) }
        }
    }

    private func request(_ scale: Float = 2.5) -> GenerationRequest {
        GenerationRequest(prompt: "p", seed: 3, steps: 25, guidanceScale: scale, scheduler: .pndm, width: 64, height: 64)
    }

    func testPromptSwitchGivesAUntilStepKAndBFromStepK() throws {
        let a = Tensor(shape: [1], values: [10]), b = Tensor(shape: [1], values: [20])
        let state = try Sampler.prepare(request(), model: model)
        let steps = state.stepCount
        XCTAssertEqual(steps, 26)   // PNDM: 25 steps are 26 timesteps
        for k in [0, 1, 7, steps - 1, steps] {
            let unet = RecordingUNet()
            _ = try ProbeSampler.run(state, conditioning: .switching(from: a, to: b, atStep: k),
                                     uncond: FakeUNet.embeddings[.uncond], evaluator: unet)
            XCTAssertEqual(unet.condTags.count, steps)
            for step in 0..<steps { XCTAssertEqual(unet.condTags[step], step < k ? 10 : 20, "k = \(k), step \(step)") }
        }
    }

    func testSweepRowsRunExactlyThePlannedEvaluations() throws {
        let state = try Sampler.prepare(request(), model: model)
        let sigmas = (0..<state.stepCount).map { try! Sampler.makeScheduler(state.request, model).sigma(atStep: $0) }
        let interval = GuidanceInterval(sigmaLow: 0.28, sigmaHigh: 5.42)
        let inside = sigmas.filter { $0 > 0.28 && $0 <= 5.42 }.count
        XCTAssertTrue(inside > 0 && inside < sigmas.count)
        // 26 timesteps; cut-off c guides floor(26 c) of them (2 passes), the rest run one.
        let expected: [(GuidanceSetting.Rule, Int)] = [
            (.plain, 52), (.cutoff(0, .uncond), 26), (.cutoff(0, .cond), 26), (.cutoff(0.25, .uncond), 32),
            (.cutoff(0.5, .cond), 39), (.cutoff(0.75, .uncond), 45), (.interval(interval), 26 + inside),
        ]
        for (rule, count) in expected {
            let setting = GuidanceSetting(scale: 2.5, rule: rule)
            let prepared = try Sampler.prepare(setting.apply(to: request()), model: model)
            let unet = RecordingUNet()
            let outcome = try ProbeSampler.run(prepared, conditioning: .constant(FakeUNet.embeddings[.cond]!),
                                               uncond: FakeUNet.embeddings[.uncond], evaluator: unet)
            XCTAssertEqual(outcome.evaluationsRun, count, setting.ruleName)
            XCTAssertEqual(unet.evaluations, count, setting.ruleName)
            XCTAssertEqual(outcome.state.evaluationsUsed, count, setting.ruleName)
        }
    }

    func testAdaptiveRowStopsAfterTheFirstStepWhenPredictionsAgree() throws {
        /// Both passes predict the same: cosine similarity 1 beats any threshold after step 0.
        final class SameUNet: UNetEvaluator {
            var evaluations = 0
            func evaluate(_ batch: [(evaluation: Evaluation, textEmbedding: Tensor)]) throws -> [Tensor] {
                evaluations += batch.count
                return batch.map { FakeUNet.predict($0.evaluation.latentInput, timestep: $0.evaluation.timestep, slot: .cond) }
            }
        }
        let setting = GuidanceSetting(scale: 2.5, rule: .adaptive(threshold: 0.999))
        let unet = SameUNet()
        let outcome = try ProbeSampler.run(try Sampler.prepare(setting.apply(to: request()), model: model),
                                           conditioning: .constant(FakeUNet.embeddings[.cond]!),
                                           uncond: FakeUNet.embeddings[.uncond], evaluator: unet)
        XCTAssertEqual(outcome.evaluationsRun, 2 + 25)
        XCTAssertEqual(unet.evaluations, 27)
        XCTAssertEqual(outcome.state.adaptiveStop, 1)
    }

    func testObserverSeesEveryStepWithItsPasses() throws {
        let setting = GuidanceSetting(scale: 2.5, rule: .cutoff(0.5, .cond))
        var seen: [(Int, StepPasses)] = []
        _ = try ProbeSampler.run(try Sampler.prepare(setting.apply(to: request()), model: model),
                                 conditioning: .constant(FakeUNet.embeddings[.cond]!), uncond: FakeUNet.embeddings[.uncond],
                                 evaluator: RecordingUNet()) { seen.append(($0.stepIndex, $0.passes)) }
        XCTAssertEqual(seen.map(\.0), Array(0..<26))
        XCTAssertEqual(seen.map(\.1), Array(repeating: .guided, count: 13) + Array(repeating: .cond, count: 13))
    }

    /// On the shipped model: a constant schedule is `generate`, bit for bit; switching at the
    /// last step + 1 is prompt A's image, at 0 prompt B's.
    func testShippedModelSwitchEndsAreThePlainImages() throws {
        let pipeline = ProbeModel.pipeline
        let a = GenerationRequest(prompt: "a red circle on a blue background", seed: 5, steps: 6)
        var b = a
        b.prompt = "a large yellow square at the top on a black background"
        let plainA = try pipeline.generate(a), plainB = try pipeline.generate(b)
        let ea = try pipeline.embed(a.prompt).embedding, eb = try pipeline.embed(b.prompt).embedding
        let steps = plainA.plainGuidanceEvaluations / 2
        let constant = try pipeline.generate(a, conditioning: .constant(ea))
        XCTAssertEqual(constant.image.rgb, plainA.rgb)
        XCTAssertEqual(constant.evaluationsRun, plainA.unetEvaluations)
        XCTAssertEqual(try pipeline.generate(a, conditioning: .switching(from: ea, to: eb, atStep: steps)).image.rgb, plainA.rgb)
        XCTAssertEqual(try pipeline.generate(a, conditioning: .switching(from: ea, to: eb, atStep: 0)).image.rgb, plainB.rgb)
        let middle = try pipeline.generate(a, conditioning: .switching(from: ea, to: eb, atStep: steps / 2)).image.rgb
        XCTAssertNotEqual(middle, plainA.rgb)
        XCTAssertNotEqual(middle, plainB.rgb)
    }
}
