import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The state machine's contract: it equals a hand-rolled scheduler loop, counts what the plan
/// says, survives serialisation mid-run, keeps images independent and refuses bad input.
final class SamplerTests: XCTestCase {
    static let model = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15)

    func request(_ kind: SchedulerKind, steps: Int = 8, seed: UInt64 = 42, w: Float = 7.5, cutoff: Float = 0.5,
                 late: LatePass = .uncond, width: Int = 64, height: Int = 48) -> GenerationRequest {
        GenerationRequest(prompt: "p", seed: seed, steps: steps, guidanceScale: w, guidanceCutoff: cutoff,
                          latePass: late, scheduler: kind, width: width, height: height)
    }

    func runToEnd(_ r: GenerationRequest) throws -> ImageState {
        let unet = FakeUNet()
        return try Sampler.run(try Sampler.prepare(r, model: Self.model)) { unet($0) }
    }

    func testPrepareMakesSeededNoiseTimesInitSigmaInTheVAEGridShape() throws {
        let r = request(.euler, width: 64, height: 48)
        let state = try Sampler.prepare(r, model: Self.model)
        XCTAssertEqual(state.latentShape, [1, 4, 6, 8])
        let scheduler = try Sampler.makeScheduler(r, Self.model)
        var g = TorchGenerator(seed: 42)
        XCTAssertEqual(state.latents.values, g.randn(count: 4 * 6 * 8).map { $0 * scheduler.initNoiseSigma })
        XCTAssertNil(state.finalLatents)
        XCTAssertEqual(state.stepIndex, 0)
    }

    func testFullRunEqualsAHandRolledSchedulerLoopBitForBit() throws {
        for kind in SchedulerKind.allCases {
            let r = request(kind)
            let state = try runToEnd(r)
            // The same loop written directly against the scheduler and generator.
            let scheduler = try Schedulers.make(kind, config: .stableDiffusion15, steps: r.steps)
            var generator = TorchGenerator(seed: r.seed)
            var sample = SchedulerMath.map(generator.randn(shape: [1, 4, 6, 8])) { $0 * scheduler.initNoiseSigma }
            var schedulerState = SchedulerState()
            let k = GuidancePlan.guidedStepCount(cutoff: r.guidanceCutoff, steps: scheduler.stepCount)
            for i in 0..<scheduler.stepCount {
                let x = scheduler.scaleModelInput(sample, stepIndex: i)
                let t = scheduler.timesteps[i]
                let uncond = FakeUNet.predict(x, timestep: t, slot: .uncond)
                let eps = i < k
                    ? try Sampler.classifierFreeGuidance(cond: FakeUNet.predict(x, timestep: t, slot: .cond), uncond: uncond, scale: try XCTUnwrap(r.guidanceScale))
                    : uncond
                sample = try scheduler.step(eps, stepIndex: i, sample: sample, state: &schedulerState, generator: &generator)
            }
            XCTAssertEqual(state.finalLatents?.values, sample.values, kind.rawValue)
            XCTAssertEqual(state.finalLatents?.shape, [1, 4, 6, 8])
        }
    }

    func testEvaluationsFollowThePlan() throws {
        let euler = try runToEnd(request(.euler, steps: 20, cutoff: 0.5))
        XCTAssertEqual(euler.evaluationsUsed, 30)
        XCTAssertEqual(euler.plan.plainGuidanceEvaluations - euler.evaluationsUsed, 10)
        // PNDM runs N + 1 steps: 26 for 25, k = floor(0.5 * 26) = 13 guided.
        let pndm = try runToEnd(request(.pndm, steps: 25, cutoff: 0.5))
        XCTAssertEqual(pndm.stepCount, 26)
        XCTAssertEqual(pndm.evaluationsUsed, 39)
        XCTAssertEqual(try runToEnd(request(.ddim, steps: 10, w: 1, cutoff: 1)).evaluationsUsed, 10)
    }

    func testCutoffChangesTheImageOnlyAfterTheCut() throws {
        let unet = FakeUNet()
        var full = try Sampler.prepare(request(.ddim, steps: 10, cutoff: 1), model: Self.model)
        var cut = try Sampler.prepare(request(.ddim, steps: 10, cutoff: 0.5), model: Self.model)
        for _ in 0..<5 {
            full = try advance(full, unet)
            cut = try advance(cut, unet)
        }
        XCTAssertEqual(full.latents, cut.latents, "the first k steps are identical")
        XCTAssertEqual(try Sampler.pendingEvaluations(cut).map(\.slot), [.uncond])
        XCTAssertEqual(try Sampler.pendingEvaluations(full).map(\.slot), [.uncond, .cond])
    }

    func advance(_ state: ImageState, _ unet: FakeUNet) throws -> ImageState {
        let pending = try Sampler.pendingEvaluations(state)
        var predictions: [TextSlot: Tensor] = [:]
        for (e, p) in zip(pending, unet(pending)) { predictions[e.slot] = p }
        return try Sampler.advance(state, predictions: predictions)
    }

    func testSerialisingMidRunAndContinuingGivesIdenticalFinalLatents() throws {
        for kind in SchedulerKind.allCases {
            let r = request(kind, steps: 9, cutoff: 0.6)
            let uninterrupted = try runToEnd(r)
            let unet = FakeUNet()
            var state = try Sampler.prepare(r, model: Self.model)
            for _ in 0..<4 { state = try advance(state, unet) }
            let data = try JSONEncoder().encode(state)
            let restored = try JSONDecoder().decode(ImageState.self, from: data)
            XCTAssertEqual(restored, state, kind.rawValue)
            let finished = try Sampler.run(restored) { unet($0) }
            XCTAssertEqual(finished.finalLatents?.values, uninterrupted.finalLatents?.values, kind.rawValue)
            XCTAssertEqual(finished.evaluationsUsed, uninterrupted.evaluationsUsed, kind.rawValue)
        }
    }

    func testImagesAreIndependentOfWhatRunsBesideThem() throws {
        let a = request(.eulerAncestral, seed: 1), b = request(.dpmpp2mKarras, seed: 2, cutoff: 1)
        let unet = FakeUNet()
        var sa = try Sampler.prepare(a, model: Self.model), sb = try Sampler.prepare(b, model: Self.model)
        while !sa.isFinished || !sb.isFinished {
            if !sb.isFinished { sb = try advance(sb, unet) }
            if !sa.isFinished { sa = try advance(sa, unet) }
        }
        XCTAssertEqual(sa.finalLatents?.values, try runToEnd(a).finalLatents?.values)
        XCTAssertEqual(sb.finalLatents?.values, try runToEnd(b).finalLatents?.values)
    }

    func testSameSeedSameLatentsDifferentSeedDifferentLatents() throws {
        let x = try runToEnd(request(.eulerAncestral, seed: 5)).finalLatents!.values
        XCTAssertEqual(x, try runToEnd(request(.eulerAncestral, seed: 5)).finalLatents!.values)
        XCTAssertNotEqual(x, try runToEnd(request(.eulerAncestral, seed: 6)).finalLatents!.values)
    }

    func testEvaluatorDriverEqualsClosureDriverAndNeedsOnlyThePlannedTexts() throws {
        let r = request(.dpmpp2m, cutoff: 0.5, late: .cond)
        let viaEvaluator = try Sampler.run(try Sampler.prepare(r, model: Self.model),
                                           textEmbeddings: FakeUNet.embeddings, evaluator: FakeUNet())
        XCTAssertEqual(viaEvaluator.finalLatents?.values, try runToEnd(r).finalLatents?.values)
        let unguided = request(.dpmpp2m, w: 1)
        XCTAssertNoThrow(try Sampler.run(try Sampler.prepare(unguided, model: Self.model),
                                         textEmbeddings: [.cond: FakeUNet.embeddings[.cond]!], evaluator: FakeUNet()))
        XCTAssertThrowsError(try Sampler.run(try Sampler.prepare(r, model: Self.model),
                                             textEmbeddings: [.cond: FakeUNet.embeddings[.cond]!], evaluator: FakeUNet())) {
            XCTAssertEqual($0 as? SamplingError, .missingTextEmbedding(.uncond))
        }
    }

    func testAdaptiveGuidanceStopsOnceThePredictionsAgreeAndReportsWhatItUsed() throws {
        var r = request(.euler, steps: 10, cutoff: 1)
        let first = try Sampler.pendingEvaluations(try Sampler.prepare(r, model: Self.model))
        let similarity = AdaptiveGuidance.cosineSimilarity(
            FakeUNet.predict(first[0].latentInput, timestep: first[0].timestep, slot: .cond),
            FakeUNet.predict(first[0].latentInput, timestep: first[0].timestep, slot: .uncond))
        r.adaptiveGuidanceThreshold = Float(similarity) - 1e-3  // met at the first step
        let stopped = try runToEnd(r)
        XCTAssertEqual(stopped.adaptiveStop, 1)
        XCTAssertEqual(stopped.evaluationsUsed, 2 + 9)
        XCTAssertEqual(stopped.plan.maximumEvaluations, 20)
        r.adaptiveGuidanceThreshold = 1  // cosine similarity never exceeds 1
        let never = try runToEnd(r)
        XCTAssertNil(never.adaptiveStop)
        XCTAssertEqual(never.evaluationsUsed, 20)
    }

    func testProgressIsReportedEveryStepAndCanCancel() throws {
        let state = try Sampler.prepare(request(.ddim, steps: 6), model: Self.model)
        var seen: [Int] = []
        let unet = FakeUNet()
        XCTAssertThrowsError(try Sampler.run(state, progress: { seen.append($0.completedSteps); return $0.completedSteps < 3 }) { unet($0) }) {
            XCTAssertEqual($0 as? SamplingError, .cancelled(afterStep: 3))
        }
        XCTAssertEqual(seen, [1, 2, 3])
    }

    func testPrepareRefusesBadRequests() {
        XCTAssertThrowsError(try Sampler.prepare(request(.ddim, width: 60), model: Self.model)) {
            XCTAssertEqual(($0 as? InvalidRequest)?.problems, [.init(field: "width", message: "width must be a positive multiple of 8, not 60")])
        }
        XCTAssertThrowsError(try Sampler.prepare(request(.ddim, width: 0), model: Self.model))
        XCTAssertThrowsError(try Sampler.prepare(request(.ddim, steps: 0), model: Self.model)) {
            XCTAssertEqual(($0 as? InvalidRequest)?.problems.map(\.field), ["steps"])
        }
        XCTAssertThrowsError(try Sampler.prepare(request(.ddim, steps: 1001), model: Self.model)) {
            XCTAssertEqual(($0 as? InvalidRequest)?.problems.map(\.message), ["steps must be 1...1000, not 1001"])
        }
        XCTAssertThrowsError(try Sampler.prepare(request(.ddim, cutoff: 2), model: Self.model))
    }

    func testAdvanceRefusesPredictionsThatDoNotFitTheStep() throws {
        let state = try Sampler.prepare(request(.ddim, steps: 2, cutoff: 0.5), model: Self.model)
        let good = Tensor(zeros: [1, 4, 6, 8])
        XCTAssertThrowsError(try Sampler.advance(state, predictions: [.cond: good])) {
            XCTAssertEqual($0 as? SamplingError, .missingPrediction(.uncond, step: 0))
        }
        XCTAssertThrowsError(try Sampler.advance(state, predictions: [.cond: good, .uncond: Tensor(zeros: [1, 4, 8, 6])])) {
            XCTAssertEqual($0 as? SamplingError, .predictionShape(.uncond, expected: [1, 4, 6, 8], got: [1, 4, 8, 6]))
        }
        let nan = Tensor(shape: [1, 4, 6, 8], values: [Float.nan] + Array(repeating: 0, count: 191))
        XCTAssertThrowsError(try Sampler.advance(state, predictions: [.cond: good, .uncond: nan])) {
            XCTAssertEqual($0 as? SamplingError, .nonFinitePrediction(.uncond, step: 0))
        }
        let late = try Sampler.advance(state, predictions: [.cond: good, .uncond: good])
        XCTAssertThrowsError(try Sampler.advance(late, predictions: [.cond: good, .uncond: good])) {
            XCTAssertEqual($0 as? SamplingError, .unexpectedPrediction(.cond, step: 1))
        }
        let done = try Sampler.advance(late, predictions: [.uncond: good])
        XCTAssertTrue(done.isFinished)
        XCTAssertEqual(try Sampler.pendingEvaluations(done).count, 0)
        XCTAssertThrowsError(try Sampler.advance(done, predictions: [.uncond: good])) {
            XCTAssertEqual($0 as? SamplingError, .alreadyFinished(steps: 2))
        }
    }

    func testEvaluationsCarryTheScaledLatentAndTheSchedulerTimestep() throws {
        let r = request(.euler, steps: 5)
        let state = try Sampler.prepare(r, model: Self.model)
        let scheduler = try Sampler.makeScheduler(r, Self.model)
        let pending = try Sampler.pendingEvaluations(state)
        XCTAssertEqual(pending.map(\.slot), [.uncond, .cond])
        XCTAssertEqual(pending[0].timestep, scheduler.timesteps[0])
        XCTAssertEqual(pending[0].latentInput.values, scheduler.scaleModelInput(state.currentLatents, stepIndex: 0).values)
        XCTAssertNotEqual(pending[0].latentInput.values, state.latents.values, "Euler scales its input")
    }

    func testAnUnsetGuidanceScaleTakesTheModelsDefault() throws {
        var r = request(.euler)
        r.guidanceScale = nil
        XCTAssertEqual(try Sampler.prepare(r, model: Self.model).request.guidanceScale, 7.5)
        var recommending = Self.model
        recommending.recommendedGuidanceScale = 4
        let state = try Sampler.prepare(r, model: recommending)
        XCTAssertEqual(state.request.guidanceScale, 4)
        XCTAssertEqual(state.plan.guidanceScale, 4)
        // An explicit scale wins over the recommendation.
        r.guidanceScale = 2
        XCTAssertEqual(try Sampler.prepare(r, model: recommending).plan.guidanceScale, 2)
    }

    func testAnUnsetSizeTakesTheModelsNativeSizeElse512() throws {
        var r = request(.euler)
        r.width = nil
        r.height = nil
        let standard = try Sampler.prepare(r, model: Self.model)
        XCTAssertEqual(standard.latentShape, [1, 4, 64, 64])
        XCTAssertEqual([standard.request.width, standard.request.height], [512, 512])
        var small = Self.model
        small.nativeWidth = 128
        small.nativeHeight = 96
        let state = try Sampler.prepare(r, model: small)
        XCTAssertEqual(state.latentShape, [1, 4, 12, 16])
        XCTAssertEqual(state.imageShape, [1, 3, 96, 128])
        XCTAssertEqual([state.request.width, state.request.height], [128, 96], "the state records the size used")
        // An explicit size wins; one side can be given alone.
        r.width = 64
        XCTAssertEqual(try Sampler.prepare(r, model: small).latentShape, [1, 4, 12, 8])
    }
}
