import Compute
import Foundation
import ImageIO
import StableDiffusion
import XCTest

/// Stable Diffusion 2.x against diffusers on tiny-sd2 (scripts/fixtures/make_sd2_fixtures.py): a
/// model with SD 2's traits (linear projections in the UNet's transformers, per-block head counts,
/// upcast attention, a plain-GELU text encoder padding with "!", v-prediction with SD 2.1's DDIM
/// config), from its diffusers folder and from an SD 2 single-file checkpoint whose text encoder is
/// in OpenCLIP's layout.
final class StableDiffusion2ParityTests: XCTestCase {
    static let zeroSNR: StableDiffusionPipeline = {
        try! StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sd2-zero-snr")))
    }()

    static let folder: StableDiffusionPipeline = {
        try! StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sd2")))
    }()

    private func cases() throws -> [DiffusersImageCase] { try DiffusersImageCase.load("sd2/cases.json") }

    private func request(_ c: DiffusersImageCase) -> GenerationRequest { c.request }

    private func assertMatchesDiffusers(_ pipeline: StableDiffusionPipeline, file: StaticString = #filePath, line: UInt = #line) throws {
        let all = try cases().filter { $0.model == "tiny-sd2" }
        XCTAssertEqual(all.count, 6, file: file, line: line)
        try assertMatchesDiffusers(all, on: pipeline, file: file, line: line)
    }

    private func assertMatchesDiffusers(_ all: [DiffusersImageCase], on pipeline: StableDiffusionPipeline,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        for c in all {
            let image = try pipeline.generate(request(c))
            let expected = try PNG.read(from: Fixtures.path("sd2/\(c.file)"))
            XCTAssertEqual([image.width, image.height], [expected.width, expected.height], c.name, file: file, line: line)
            var worst = 0
            for (a, b) in zip(image.rgb, expected.pixels) { worst = max(worst, abs(Int(a) - Int(b))) }
            XCTAssertLessThanOrEqual(worst, 2, "\(c.name): a pixel differs by \(worst)/255", file: file, line: line)
            XCTAssertEqual(image.unetEvaluations, c.unet_evaluations, c.name, file: file, line: line)
        }
    }

    func testTheFolderReadsSD2sTraits() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd2"))
        XCTAssertTrue(location.unet.config.useLinearProjection)
        XCTAssertEqual((0..<3).map { location.unet.config.headCount(forBlock: $0) }, [2, 4, 4])
        XCTAssertEqual(location.textEncoder.config.hiddenAct, "gelu")
        XCTAssertEqual(Self.folder.tokenizer.padID, 0, "SD 2 pads with '!'")
        XCTAssertEqual(Self.folder.tokenizer.tokenize("a red circle", length: 77).ids.suffix(3), [0, 0, 0])
    }

    func testEveryCaseFromTheFolderMatchesDiffusersWithinTwoLevels() throws {
        try assertMatchesDiffusers(Self.folder)
    }

    /// The single file with the folder as config: the same weights, so the same bits as the folder.
    func testTheSingleFileWithItsConfigFolderGivesTheFoldersImagesBitForBit() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd2.safetensors"), configDirectory: Fixtures.path("tiny-sd2"))
        XCTAssertEqual(location.family, .stableDiffusion2)
        let single = try StableDiffusionPipeline(location: location)
        try single.location.textEncoder.weights.checkAllUsed()
        for c in try cases() where c.model == "tiny-sd2" {
            XCTAssertEqual(try single.generate(request(c)).rgb, try Self.folder.generate(request(c)).rgb, c.name)
        }
    }

    /// `rescale_betas_zero_snr` with trailing timesteps: DDIM keeps the last alpha at 0, Euler and
    /// DPM-Solver floor it at 2^-24, as diffusers does.
    func testZeroTerminalSNRMatchesDiffusersForDDIMEulerAndDPMSolver() throws {
        let all = try cases().filter { $0.model == "tiny-sd2-zero-snr" }
        XCTAssertEqual(Set(all.map(\.scheduler)), ["ddim", "euler", "dpmpp-2m"])
        XCTAssertTrue(all.contains { ($0.guidance_rescale ?? 0) > 0 }, "with guidance rescale too")
        try assertMatchesDiffusers(all, on: Self.zeroSNR)
        let config = Self.zeroSNR.modelInfo.schedulerConfig
        XCTAssertEqual(NoiseSchedule(try config.settings(for: .ddim)).alphasCumprod.last, 0)
        XCTAssertEqual(NoiseSchedule(try config.settings(for: .euler)).alphasCumprod.last, 0x1p-24)
        XCTAssertNotEqual(NoiseSchedule(try config.settings(for: .pndm)).alphasCumprod.last, 0x1p-24,
                          "PNDM has no such option in diffusers and ignores it")
    }

    func testTheOpenCLIPTowersLastLayerAndProjectionAreSkippedNotLoaded() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd2.safetensors"), configDirectory: Fixtures.path("tiny-sd2"))
        let layers = location.textEncoder.config.numHiddenLayers
        let extra = location.skippedKeys.filter { $0.hasPrefix("cond_stage_model.model.transformer.resblocks.\(layers).") }
        XCTAssertEqual(extra.count, 12, "the file's extra layer: \(location.skippedKeys)")
        XCTAssertTrue(location.skippedKeys.contains("cond_stage_model.model.text_projection"))
        XCTAssertFalse(location.skippedKeys.contains { $0.hasPrefix("cond_stage_model.model.transformer.resblocks.0.") })
    }

    /// q, k and v are the three row blocks of `in_proj_weight`, in that order.
    func testTheFusedProjectionSplitsIntoQueryKeyAndValueRows() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd2.safetensors"), configDirectory: Fixtures.path("tiny-sd2"))
        let file = try SafeTensorsFile(path: Fixtures.path("tiny-sd2.safetensors"))
        let fused = try file.tensor("cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight")
        let width = fused.shape[1]
        XCTAssertEqual(fused.shape, [3 * width, width])
        for (index, name) in ["q", "k", "v"].enumerated() {
            let part = try location.textEncoder.weights.tensor("text_model.encoder.layers.1.self_attn.\(name)_proj.weight")
            XCTAssertEqual(part.shape, [width, width])
            XCTAssertEqual(part.values, Array(fused.values[(index * width * width)..<((index + 1) * width * width)]), name)
            let bias = try location.textEncoder.weights.tensor("text_model.encoder.layers.1.self_attn.\(name)_proj.bias")
            XCTAssertEqual(bias.shape, [width])
        }
        // And they are the folder's weights.
        let folder = try ModelLocation.open(Fixtures.path("tiny-sd2"))
        XCTAssertEqual(try folder.textEncoder.weights.tensor("text_model.encoder.layers.1.self_attn.k_proj.weight").values,
                       try location.textEncoder.weights.tensor("text_model.encoder.layers.1.self_attn.k_proj.weight").values)
    }

    func testAnSD2SingleFileWithoutConfigOrPredictionTypeIsRefusedWithWhatToPass() {
        XCTAssertThrowsError(try ModelLocation.open(Fixtures.path("tiny-sd2.safetensors"))) { error in
            guard case WeightError.predictionTypeNeeded = error else { return XCTFail("got \(error)") }
            XCTAssertTrue("\(error)".contains("--prediction-type v_prediction"), "\(error)")
        }
    }

    /// Without a config folder the built-in SD 2.1 configs apply: the tiny file does not fit them,
    /// and the message says to pass the config folder.
    func testAnSD2SingleFileIsReadWithSD21sConfigsByDefault() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd2.safetensors"), predictionType: .vPrediction)
        XCTAssertEqual(location.textEncoder.config.numHiddenLayers, 23)
        XCTAssertEqual(location.tokenizerPadToken, "!", "the default CLIP vocabulary, padded as SD 2 pads")
        XCTAssertEqual(location.schedulerConfigJSON?["prediction_type"] as? String, "v_prediction")
        XCTAssertThrowsError(try StableDiffusionPipeline(location: location,
                                                         fallbackTokenizerDirectory: Fixtures.path("tiny-sd/tokenizer"))) { error in
            XCTAssertTrue("\(error)".contains("config folder"), "\(error)")
        }
        let config = UNetConfig.stableDiffusion2(sampleSize: 96)
        XCTAssertEqual((0..<4).map { config.headCount(forBlock: $0) }, [5, 10, 20, 20])
        XCTAssertEqual((0..<4).map { config.headDim(forBlock: $0) }, [64, 64, 64, 64])
        XCTAssertEqual(config.nativeImageSize(vaeScaleFactor: 8)?.width, 768)
    }

    func testThePredictionTypeOptionOverridesTheSchedulerConfig() throws {
        let epsilon = try ModelLocation.open(Fixtures.path("tiny-sd2"), predictionType: .epsilon)
        XCTAssertEqual(epsilon.schedulerConfigJSON?["prediction_type"] as? String, "epsilon")
        XCTAssertNotEqual(epsilon.contentHash, try ModelLocation.open(Fixtures.path("tiny-sd2")).contentHash)
        let c = try cases()[0]
        let asEpsilon = try StableDiffusionPipeline(location: epsilon).generate(request(c))
        XCTAssertNotEqual(asEpsilon.rgb, try Self.folder.generate(request(c)).rgb)
    }
}
