import Compute
import Foundation
import ImageIO
import XCTest
@testable import StableDiffusion

/// Image sizes whose latents are not a multiple of the UNet's overall up factor (2 ^ upsamplers):
/// diffusers forwards `upsample_size` and each upsampler resizes to the next skip connection's
/// size. Fixtures from scripts/fixtures/make_size_fixtures.py (Fixtures/README.md, "Image sizes").
final class ImageSizeParityTests: XCTestCase {
    let tolerance: Float = 1e-4


    static var pipelines: [String: StableDiffusionPipeline] = [:]

    private func pipeline(_ model: String) throws -> StableDiffusionPipeline {
        if let p = Self.pipelines[model] { return p }
        let p = try StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path(model)))
        Self.pipelines[model] = p
        return p
    }

    private func cases() throws -> [DiffusersImageCase] { try DiffusersImageCase.load("sizes/cases.json") }

    private func request(_ c: DiffusersImageCase) -> GenerationRequest { c.request }

    func testNearestResizeMatchesTorchInterpolate() throws {
        let io = try Fixtures.io("sizes")
        let input = try io["resize_in"]!.nchwToNHWC()
        let sizes = io.keys.filter { $0.hasPrefix("resize_") && $0 != "resize_in" }
        XCTAssertEqual(sizes.count, 7)
        for key in sizes {
            let expected = io[key]!
            let out = try NearestResize.resize(input, height: expected.shape[2], width: expected.shape[3]).nhwcToNCHW()
            XCTAssertEqual(out.shape, expected.shape, key)
            XCTAssertEqual(out.values, expected.values, "\(key): nearest resize differs from torch")
        }
    }

    /// The index rule for every size pair a UNet meets going up (`s` from `ceil(s / 2)`) and more:
    /// it must agree with plain 2x where the output is exactly twice the input, and never leave
    /// the input.
    func testNearestIndexRuleIsPlainRepeatForEvenAndOddSkipSizes() {
        for out in 1...200 {
            let input = (out + 1) / 2
            let indices = (0..<out).map { NearestResize.sourceIndex($0, input: input, output: out) }
            XCTAssertEqual(indices, (0..<out).map { $0 / 2 }, "\(input) -> \(out)")
        }
        XCTAssertEqual((0..<5).map { NearestResize.sourceIndex($0, input: 3, output: 5) }, [0, 0, 1, 1, 2])
        XCTAssertEqual((0..<4).map { NearestResize.sourceIndex($0, input: 7, output: 4) }, [0, 1, 3, 5])
    }

    func testUNetsMatchDiffusersAtLatentSizesThatAreNotMultiplesOfTheUpFactor() throws {
        let io = try Fixtures.io("sizes")
        let models = [("a_9x15", "tiny-sd/unet", 2), ("b_6x10", "unet-b", 4), ("b_15x9", "unet-b", 4),
                      ("sd15_12x12", "tiny-sd15/unet", 8), ("sd15_15x9", "tiny-sd15/unet", 8)]
        var loaded: [String: UNet2DConditionModel] = [:]
        for (key, folder, factor) in models {
            let model: UNet2DConditionModel
            if let m = loaded[folder] { model = m } else {
                let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
                model = try UNet2DConditionModel(config: component.config, weights: component.weights)
                loaded[folder] = model
            }
            XCTAssertEqual(model.overallUpFactor, factor, folder)
            let sample = io["\(key)_sample"]!
            XCTAssertTrue(sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0, "\(key) does not test upsample_size")
            let out = try model(sample: sample, timesteps: io["\(key)_timestep"]!.values,
                                             context: io["\(key)_encoder_hidden_states"]!)
            let expected = io["\(key)_out"]!
            XCTAssertEqual(out.shape, expected.shape, key)
            let err = Fixtures.relativeError(out, expected)
            XCTAssertLessThan(err, tolerance, "\(key): relative error \(err)")
            print("UNet \(key): max difference \(err) of the output's scale")
        }
    }

    /// 96x96 and 72x120 (width 72, height 120) through the whole pipeline: tiny-sd (VAE factor 4,
    /// UNet factor 2: both sizes divide evenly) and tiny-sd15 (factors 8 and 8, as SD v1.5: latents
    /// 12x12 and 15x9 need upsample_size). Each pixel within 2/255 of diffusers', as the e2e tests.
    func testPipelineImagesAt96x96And72x120MatchDiffusers() throws {
        let all = try cases()
        XCTAssertEqual(all.map(\.name), ["tiny-sd-96x96", "tiny-sd-72x120", "tiny-sd15-96x96", "tiny-sd15-72x120"])
        let finals = try SafeTensorsFile(path: Fixtures.path("sizes/final-latents.safetensors"))
        for c in all {
            let pipeline = try pipeline(c.model!)
            XCTAssertEqual(pipeline.unet.overallUpFactor, c.unet_up_factor!, c.name)
            let state = try Sampler.prepare(request(c), model: pipeline.modelInfo)
            XCTAssertEqual(Array(state.latentShape[2...]), c.latent_size!, c.name)
            let image = try pipeline.generate(request(c))
            let expected = try PNG.read(from: Fixtures.path("sizes/\(c.file)"))
            XCTAssertEqual([image.width, image.height], [c.width, c.height], c.name)
            XCTAssertEqual([expected.width, expected.height], [c.width, c.height], c.name)
            XCTAssertEqual(image.rgb.count, expected.pixels.count, c.name)
            var worst = 0
            for (a, b) in zip(image.rgb, expected.pixels) { worst = max(worst, abs(Int(a) - Int(b))) }
            XCTAssertLessThanOrEqual(worst, 2, "\(c.name): a pixel differs by \(worst)/255")
            XCTAssertEqual(image.unetEvaluations, c.unet_evaluations, c.name)

            let final = try Sampler.run(state, textEmbeddings: [.cond: pipeline.embed(c.prompt).embedding,
                                                                .uncond: pipeline.embed(c.negative_prompt).embedding],
                                        evaluator: LocalUNetEvaluator(unet: pipeline.unet))
            let err = Fixtures.relativeError(final.finalLatents!, try finals.tensor(c.name))
            XCTAssertLessThan(err, 1e-4, "\(c.name): final latents differ by \(err) of their scale")
            print("pipeline \(c.name): worst pixel \(worst)/255, final latents \(err) of their scale")
        }
    }

    func testSizesThatAreNotMultiplesOfTheVAEFactorAreRefusedWithAClearError() throws {
        let pipeline = try pipeline("tiny-sd15")
        XCTAssertEqual(pipeline.modelInfo.vaeScaleFactor, 8)
        for (w, h) in [(100, 96), (96, 60), (4, 8), (0, 64)] {
            var r = GenerationRequest(prompt: "a red circle", seed: 1, steps: 1, guidanceScale: 2)
            r.width = w
            r.height = h
            XCTAssertThrowsError(try pipeline.generate(r), "\(w)x\(h)") { error in
                let fields = (error as? InvalidRequest)?.problems.map(\.field) ?? []
                XCTAssertEqual(fields, [w % 8 != 0 || w < 8 ? "width" : nil, h % 8 != 0 || h < 8 ? "height" : nil].compactMap { $0 })
                XCTAssertTrue("\(error)".contains("multiple of 8"), "\(error)")
            }
            XCTAssertFalse(RequestValidation.problems(in: r, model: nil).isEmpty, "\(w)x\(h) passes the prompt-file checks")
        }
        var ok = GenerationRequest(prompt: "a red circle", seed: 1, steps: 1, guidanceScale: 2)
        ok.width = 72
        ok.height = 120
        XCTAssertEqual(RequestValidation.problems(in: ok, model: nil), [])
    }

    func testTheUNetRefusesInputsItCannotTakeWithAClearError() throws {
        let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path("tiny-sd15/unet"))
        let unet = try UNet2DConditionModel(config: component.config, weights: component.weights)
        let context = Tensor(zeros: [1, 77, 32])
        func refused(_ sample: [Int], _ timesteps: [Float], _ ctx: Tensor, _ words: String) {
            XCTAssertThrowsError(try unet(sample: Tensor(zeros: sample), timesteps: timesteps, context: ctx), "\(sample)") {
                XCTAssertTrue("\($0)".contains(words), "\(sample): \($0)")
            }
        }
        refused([1, 3, 12, 12], [1], context, "[N, 4, height, width]")
        refused([1, 4, 12], [1], context, "[N, 4, height, width]")
        refused([1, 4, 0, 12], [1], context, "at least 1")
        refused([1, 4, 12, 12], [1, 2], context, "needs 1 timesteps")
        refused([1, 4, 12, 12], [1], Tensor(zeros: [1, 77, 48]), "[1, tokens, 32]")
        refused([2, 4, 12, 12], [1, 2], context, "[2, tokens, 32]")
        // Odd, tiny and lopsided latents all run (any side >= 1), and keep their size.
        for shape in [[1, 4, 1, 1], [1, 4, 3, 17], [1, 4, 13, 2]] {
            let out = try unet(sample: Tensor(zeros: shape), timesteps: [500], context: context)
            XCTAssertEqual(out.shape, shape)
            XCTAssertTrue(out.allFinite)
        }
    }
}
