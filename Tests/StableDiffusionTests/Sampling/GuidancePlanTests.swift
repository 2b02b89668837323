import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The guidance rules of paper.md "Exact semantics", one by one, with their edge cases.
final class GuidancePlanTests: XCTestCase {
    func request(_ w: Float = 7.5, cutoff: Float = 1, late: LatePass = .uncond, steps: Int = 10,
                 interval: GuidanceInterval? = nil, adaptive: Float? = nil) -> GenerationRequest {
        GenerationRequest(prompt: "p", steps: steps, guidanceScale: w, guidanceCutoff: cutoff, latePass: late,
                          scheduler: .ddim, guidanceInterval: interval, adaptiveGuidanceThreshold: adaptive)
    }

    func plan(_ r: GenerationRequest, sigmas: [Float]? = nil) throws -> GuidancePlan {
        try GuidancePlan.make(for: r, sigmas: sigmas ?? (0..<r.steps).map { Float(r.steps - $0) })
    }

    func testPlainCFGGuidesEveryStepWithTwoPasses() throws {
        let p = try plan(request())
        XCTAssertEqual(p.steps, Array(repeating: .guided, count: 10))
        XCTAssertEqual(p.maximumEvaluations, 20)
        XCTAssertEqual(p.plainGuidanceEvaluations, 20)
        XCTAssertEqual(StepPasses.guided.slots, [.uncond, .cond])
    }

    func testCutoffGuidesTheFirstFloorCTimesNStepsThenUncondAlone() throws {
        let p = try plan(request(cutoff: 0.5))
        XCTAssertEqual(p.guidedStepLimit, 5)
        XCTAssertEqual(p.steps, Array(repeating: .guided, count: 5) + Array(repeating: .uncond, count: 5))
        XCTAssertEqual(p.maximumEvaluations, 15)  // saves (N - k) / 2N = 25 %
    }

    func testLatePassCondKeepsTheConditionalPass() throws {
        let p = try plan(request(cutoff: 0.5, late: .cond))
        XCTAssertEqual(Array(p.steps.suffix(5)), Array(repeating: .cond, count: 5))
    }

    func testCutoffZeroIsASinglePassEverywhere() throws {
        XCTAssertEqual(try plan(request(cutoff: 0)).steps, Array(repeating: .uncond, count: 10))
        XCTAssertEqual(try plan(request(cutoff: 0, late: .cond)).maximumEvaluations, 10)
    }

    func testCutoffOneIsPlainCFG() throws {
        XCTAssertEqual(try plan(request(cutoff: 1, steps: 25)).maximumEvaluations, 50)
    }

    func testFloorRoundsDownAndDecimalCutoffsAreNotUnderCounted() {
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 0.3, steps: 25), 7)   // 7.5 -> 7
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 0.7, steps: 10), 7)   // 0.7f * 10 = 6.99999988
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 0.29, steps: 100), 29)
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 0.99, steps: 50), 49)
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 1, steps: 1), 1)
        XCTAssertEqual(GuidancePlan.guidedStepCount(cutoff: 0.5, steps: 1), 0)
    }

    func testSingleStepPlans() throws {
        XCTAssertEqual(try plan(request(steps: 1)).steps, [.guided])
        XCTAssertEqual(try plan(request(cutoff: 0.9, steps: 1)).steps, [.uncond])
    }

    func testGuidanceScaleAtMostOneNeverRunsAnUnconditionalPass() throws {
        for w: Float in [1, 0.5, 0] {
            for (c, late) in [(Float(1), LatePass.uncond), (0.5, .uncond), (0, .uncond), (0.5, .cond)] {
                let p = try plan(request(w, cutoff: c, late: late))
                XCTAssertEqual(p.steps, Array(repeating: .cond, count: 10), "w \(w) c \(c)")
                XCTAssertEqual(p.plainGuidanceEvaluations, 10)
            }
        }
        // A negative scale is refused, as prompt files and the command line always did.
        XCTAssertThrowsError(try plan(request(-2))) { XCTAssertEqual(($0 as? InvalidRequest)?.problems.map(\.field), ["guidance_scale"]) }
    }

    func testGuidanceIntervalGuidesOnlyInsideTheHalfOpenSigmaRange() throws {
        // sigmas 10, 9, ..., 1; interval (3, 8]: guided at 8 ... 4; 3 is excluded, 8 included.
        let p = try plan(request(interval: GuidanceInterval(sigmaLow: 3, sigmaHigh: 8)))
        let expected: [StepPasses] = [.cond, .cond, .guided, .guided, .guided, .guided, .guided, .cond, .cond, .cond]
        XCTAssertEqual(p.steps, expected)
        XCTAssertEqual(p.maximumEvaluations, 15)
    }

    func testIntervalAndCutoffCombine() throws {
        let p = try plan(request(cutoff: 0.5, interval: GuidanceInterval(sigmaLow: 3, sigmaHigh: 8)))
        XCTAssertEqual(p.steps, [.cond, .cond, .guided, .guided, .guided, .uncond, .uncond, .uncond, .uncond, .uncond])
    }

    func testAdaptiveStopTurnsLaterGuidedStepsIntoConditionalOnly() throws {
        let p = try plan(request(adaptive: 0.99))
        XCTAssertEqual(p.adaptiveThreshold, 0.99)
        XCTAssertEqual(p.maximumEvaluations, 20, "an upper bound: as if it never stops")
        XCTAssertEqual(p.passes(atStep: 3, adaptiveStop: nil), .guided)
        XCTAssertEqual(p.passes(atStep: 3, adaptiveStop: 4), .guided)
        XCTAssertEqual(p.passes(atStep: 4, adaptiveStop: 4), .cond)
    }

    func testAdaptiveStopLeavesTheLatePassAlone() throws {
        let p = try plan(request(cutoff: 0.5, adaptive: 0.99))
        XCTAssertEqual(p.passes(atStep: 7, adaptiveStop: 2), .uncond)
    }

    func testInvalidOptionsAreRefused() {
        XCTAssertThrowsError(try plan(request(cutoff: 1.5))) {
            XCTAssertEqual(($0 as? InvalidRequest)?.problems, [.init(field: "guidance_cutoff", message: "guidance_cutoff must be within [0, 1], not 1.5")])
        }
        XCTAssertThrowsError(try plan(request(cutoff: -0.1)))
        XCTAssertThrowsError(try plan(request(.nan)))
        XCTAssertThrowsError(try plan(request(interval: GuidanceInterval(sigmaLow: 5, sigmaHigh: 5))))
        XCTAssertThrowsError(try plan(request(adaptive: 1.5)))
        XCTAssertThrowsError(try plan(request(adaptive: 0)))
    }

    func testCosineSimilarity() {
        let a = Tensor(shape: [3], values: [1, 2, 3])
        XCTAssertEqual(AdaptiveGuidance.cosineSimilarity(a, a), 1, accuracy: 1e-12)
        XCTAssertEqual(AdaptiveGuidance.cosineSimilarity(a, Tensor(shape: [3], values: [-1, -2, -3])), -1, accuracy: 1e-12)
        XCTAssertEqual(AdaptiveGuidance.cosineSimilarity(Tensor(shape: [2], values: [1, 0]), Tensor(shape: [2], values: [0, 1])), 0)
        XCTAssertEqual(AdaptiveGuidance.cosineSimilarity(Tensor(zeros: [2]), Tensor(zeros: [2])), 1)
    }

    func testRequestJSONUsesSnakeCaseAndOptionalKeys() throws {
        let r = request(interval: GuidanceInterval(sigmaLow: 0.28, sigmaHigh: 5.42), adaptive: 0.999)
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        XCTAssertTrue(json.contains("\"guidance_interval\":{"), json)
        XCTAssertTrue(json.contains("\"sigma_low\":0.28"), json)
        XCTAssertTrue(json.contains("\"adaptive_guidance_threshold\":0.999"), json)
        XCTAssertEqual(try JSONDecoder().decode(GenerationRequest.self, from: Data(json.utf8)), r)
        let plain = String(decoding: try JSONEncoder().encode(request()), as: UTF8.self)
        XCTAssertFalse(plain.contains("guidance_interval"), "absent options are left out")
    }
}
