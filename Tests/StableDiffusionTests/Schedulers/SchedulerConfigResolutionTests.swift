import Foundation
import XCTest
@testable import StableDiffusion

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
        XCTAssertEqual(try config.settings(for: .pndm).skipPrkSteps, false, "PNDM's class default")
        XCTAssertThrowsError(try Schedulers.make(.pndm, config: config, steps: 3)) { error in
            XCTAssertTrue("\(error)".contains("skip_prk_steps"), "\(error)")
        }
        config.solverOrder = 4
        XCTAssertThrowsError(try config.settings(for: .dpmpp2m)) { error in
            XCTAssertTrue("\(error)".contains("solver_order"), "\(error)")
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
