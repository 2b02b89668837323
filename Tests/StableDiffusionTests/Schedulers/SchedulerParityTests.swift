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

/// `settings(for:)` resolves the config the way diffusers' `.from_config` did for each fixture case.
final class SchedulerConfigResolutionTests: XCTestCase {
    struct Resolved: Decodable {
        let timestep_spacing: String; let steps_offset: Int; let prediction_type: String
        let num_train_timesteps: Int; let beta_schedule: String
        let use_karras_sigmas: Bool?; let set_alpha_to_one: Bool?; let clip_sample: Bool?
    }
    struct Case: Decodable { let kind: String; let config: SchedulerConfig; let resolved: Resolved }
    struct Fixture: Decodable { let cases: [Case] }

    func testSettingsMatchWhatFromConfigResolvedInDiffusers() throws {
        for c in try SamplingFixtures.load("schedulers.json", as: Fixture.self).cases {
            let kind = try XCTUnwrap(SchedulerKind(rawValue: c.kind))
            let s = try c.config.settings(for: kind)
            let label = "\(c.kind) \(c.config.timestepSpacing ?? "-")"
            XCTAssertEqual(s.timestepSpacing.rawValue, c.resolved.timestep_spacing, label)
            XCTAssertEqual(s.stepsOffset, c.resolved.steps_offset, label)
            XCTAssertEqual(s.predictionType.rawValue, c.resolved.prediction_type, label)
            XCTAssertEqual(s.numTrainTimesteps, c.resolved.num_train_timesteps, label)
            XCTAssertEqual(s.betaSchedule.rawValue, c.resolved.beta_schedule, label)
            if let karras = c.resolved.use_karras_sigmas { XCTAssertEqual(s.useKarrasSigmas, karras, label) }
            if let one = c.resolved.set_alpha_to_one { XCTAssertEqual(s.setAlphaToOne, one, label) }
            if let clip = c.resolved.clip_sample { XCTAssertEqual(s.clipSample, clip, label) }
        }
    }

    func testStableDiffusion15ConfigGivesLinspaceEulerAndLeadingPNDM() throws {
        let config = SchedulerConfig.stableDiffusion15
        XCTAssertEqual(try config.settings(for: .euler).timestepSpacing, .linspace)
        XCTAssertEqual(try config.settings(for: .pndm).timestepSpacing, .leading)
        XCTAssertEqual(try config.settings(for: .ddim).clipSample, false)
    }

    func testUnsupportedOptionsAreRefusedWithTheKeyNamed() {
        var config = SchedulerConfig.stableDiffusion15
        config.thresholding = true
        XCTAssertThrowsError(try config.settings(for: .ddim)) { error in
            XCTAssertTrue("\(error)".contains("thresholding"), "\(error)")
        }
        config = .stableDiffusion15
        config.skipPrkSteps = nil
        XCTAssertThrowsError(try config.settings(for: .pndm)) { error in
            XCTAssertTrue("\(error)".contains("skip_prk_steps"), "\(error)")
        }
        XCTAssertThrowsError(try Schedulers.make(.ddim, config: .stableDiffusion15, steps: 0))
        XCTAssertThrowsError(try Schedulers.make(.ddim, config: .stableDiffusion15, steps: 1001))
    }

    func testConfigDecodesFromDiffusersJSON() throws {
        let json = #"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "clip_sample": false}"#
        let config = try JSONDecoder().decode(SchedulerConfig.self, from: Data(json.utf8))
        XCTAssertEqual(config, SchedulerConfig.stableDiffusion15)
    }
}
