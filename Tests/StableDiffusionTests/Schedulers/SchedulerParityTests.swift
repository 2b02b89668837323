import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Each scheduler against diffusers 0.42.1 driven by the same fake model
/// (eps = 0.3 sin(x) + 0.01 t / 1000), from the same seeded start (fixture: schedulers.json).
final class SchedulerParityTests: XCTestCase {
    struct Case: Decodable {
        let kind: String; let config: SchedulerConfig; let steps: Int; let seed: UInt64; let shape: [Int]
        let timesteps: [Float]; let init_noise_sigma: Float; let sigmas: [Float]?; let trajectory: [[Float]]
    }
    struct Schedule: Decodable { let config: SchedulerConfig; let alphas_cumprod: [Float] }
    struct Fixture: Decodable { let schedules: [Schedule]; let cases: [Case] }

    static let fixture = Result { try SamplingFixtures.load("schedulers.json", as: Fixture.self) }

    func cases(_ kind: SchedulerKind) throws -> [Case] {
        let all = try Self.fixture.get().cases.filter { $0.kind == kind.rawValue }
        XCTAssertFalse(all.isEmpty, "fixture has no \(kind.rawValue) case")
        return all
    }

    func testAlphasCumprodEqualTorchBitForBit() throws {
        for schedule in try Self.fixture.get().schedules {
            let settings = try schedule.config.settings(for: .ddim)
            XCTAssertEqual(NoiseSchedule(settings).alphasCumprod, schedule.alphas_cumprod, "\(schedule.config.betaSchedule ?? "")")
        }
    }

    func testDDIMMatchesDiffusers() throws { try checkTrajectories(.ddim) }
    func testPNDMMatchesDiffusers() throws { try checkTrajectories(.pndm) }
    func testEulerMatchesDiffusers() throws { try checkTrajectories(.euler) }
    func testEulerAncestralMatchesDiffusersWithTheSameSeed() throws { try checkTrajectories(.eulerAncestral) }
    func testDPMSolverPlusPlus2MMatchesDiffusers() throws { try checkTrajectories(.dpmpp2m) }
    func testDPMSolverPlusPlus2MKarrasMatchesDiffusers() throws { try checkTrajectories(.dpmpp2mKarras) }

    /// Timesteps, sigmas and init sigma as diffusers has them, then every step's sample.
    func checkTrajectories(_ kind: SchedulerKind) throws {
        for c in try cases(kind) {
            let label = "\(c.kind) steps \(c.steps) spacing \(c.config.timestepSpacing ?? "-") prediction \(c.config.predictionType ?? "-")"
            let scheduler = try Schedulers.make(kind, config: c.config, steps: c.steps)
            // Equal, except fractional Karras timesteps of Euler: NumPy's float32 log is not
            // correctly rounded, so they can differ in the 7th digit.
            assertClose(scheduler.timesteps, c.timesteps, relative: 1e-6, "timesteps, \(label)")
            if !(kind == .euler && c.config.useKarrasSigmas == true) { XCTAssertEqual(scheduler.timesteps, c.timesteps, label) }
            XCTAssertEqual(scheduler.initNoiseSigma, c.init_noise_sigma, accuracy: 1e-6 * c.init_noise_sigma, label)
            if let sigmas = c.sigmas, let mine = (scheduler as? EulerDiscreteScheduler)?.sigmas
                ?? (scheduler as? EulerAncestralDiscreteScheduler)?.sigmas ?? (scheduler as? DPMSolverMultistepScheduler)?.sigmas {
                assertClose(mine, sigmas, relative: 1e-6, "sigmas, \(label)")
            }
            var generator = TorchGenerator(seed: c.seed)
            let noise = generator.randn(shape: c.shape)
            let start = SchedulerMath.map(noise) { $0 * scheduler.initNoiseSigma }
            assertClose(start.values, c.trajectory[0], relative: 1e-6, "initial sample, \(label)")
            // Continue from diffusers' own start so that each step is compared on equal inputs.
            var sample = Tensor(shape: c.shape, values: c.trajectory[0])
            var state = SchedulerState()
            for i in 0..<scheduler.stepCount {
                let input = scheduler.scaleModelInput(sample, stepIndex: i)
                let t = scheduler.timesteps[i]
                let eps = SchedulerMath.map(input) { 0.3 * sin($0) + 0.01 * t / 1000 }
                sample = try scheduler.step(eps, stepIndex: i, sample: sample, state: &state, generator: &generator)
                assertClose(sample.values, c.trajectory[i + 1], relative: 1e-5, "step \(i), \(label)")
            }
        }
    }
}
