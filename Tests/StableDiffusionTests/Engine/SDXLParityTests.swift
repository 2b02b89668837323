import Compute
import Foundation
import ImageIO
@testable import StableDiffusion
import XCTest

/// SDXL against diffusers' `StableDiffusionXLPipeline` on tiny-sdxl
/// (scripts/fixtures/make_sdxl_fixtures.py): two text encoders (penultimate states side by side,
/// the second's projected pooled output), the UNet's `text_time` conditioning, a first level
/// without attention, `transformer_layers_per_block` [1, 2], zeros for an empty negative prompt,
/// and SDXL's VAE scaling factor.
final class SDXLParityTests: XCTestCase {
    struct Case: Decodable {
        let name, prompt, file: String
        let negative_prompt: String
        let seed: UInt64
        let steps: Int
        let guidance_scale, guidance_cutoff: Float
        let late_pass, scheduler: String
        let width, height: Int
        let unet_evaluations: Int
        /// tiny-sdxl, or tiny-sdxl-no-zeros (its parts with force_zeros_for_empty_prompt false).
        let model: String
    }

    static let folder: StableDiffusionPipeline = {
        try! StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sdxl")))
    }()

    static let noZeros: StableDiffusionPipeline = {
        try! StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sdxl-no-zeros")))
    }()

    private func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sdxl/cases.json"))))
    }

    private func request(_ c: Case) -> GenerationRequest {
        GenerationRequest(prompt: c.prompt, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.steps,
                          guidanceScale: c.guidance_scale, guidanceCutoff: c.guidance_cutoff,
                          latePass: LatePass(rawValue: c.late_pass)!, scheduler: SchedulerKind(rawValue: c.scheduler)!,
                          width: c.width, height: c.height)
    }

    private func worstDifference(_ image: GeneratedImage, _ file: String) throws -> Int {
        let expected = try PNG.read(from: Fixtures.path("sdxl/\(file)"))
        XCTAssertEqual([image.width, image.height], [expected.width, expected.height], file)
        var worst = 0
        for (a, b) in zip(image.rgb, expected.pixels) { worst = max(worst, abs(Int(a) - Int(b))) }
        return worst
    }

    func testTheFolderIsReadAsSDXL() throws {
        let location = Self.folder.location
        XCTAssertEqual(location.family, .stableDiffusionXL)
        XCTAssertEqual(location.textEncoder2?.config.projectionDim, 24)
        XCTAssertTrue(location.forceZerosForEmptyPrompt)
        XCTAssertFalse(Self.noZeros.location.forceZerosForEmptyPrompt)
        XCTAssertEqual(location.vae.config.scalingFactor, 0.13025)
        XCTAssertTrue(Self.folder.unet.needsAddedConditioning)
        XCTAssertEqual(Self.folder.unet.crossAttentionDim, 48, "both encoders' widths: 32 + 16")
        let text = try XCTUnwrap(Self.folder.sdxlText)
        XCTAssertEqual(text.first.tokenizer.padID, 49407, "CLIP ViT-L pads with the end token")
        XCTAssertEqual(text.second.tokenizer.padID, 0, "OpenCLIP ViT-bigG pads with '!'")
        XCTAssertEqual([Self.folder.modelInfo.nativeWidth, Self.folder.modelInfo.nativeHeight], [32, 32],
                       "the default size is sample_size x the VAE factor")
        XCTAssertNotEqual(location.contentHash, Self.noZeros.location.contentHash)
    }

    func testEveryCaseMatchesDiffusersWithinTwoLevels() throws {
        let all = try cases()
        XCTAssertEqual(Set(all.map(\.scheduler)), ["ddim", "euler-a", "dpmpp-2m-karras", "euler"])
        XCTAssertTrue(all.contains { $0.guidance_cutoff < 1 && $0.late_pass == "uncond" })
        XCTAssertTrue(all.contains { $0.guidance_cutoff < 1 && $0.late_pass == "cond" })
        XCTAssertTrue(all.contains { $0.width != $0.height })
        for c in all {
            let pipeline = c.model == "tiny-sdxl" ? Self.folder : Self.noZeros
            let image = try pipeline.generate(request(c))
            let worst = try worstDifference(image, c.file)
            XCTAssertLessThanOrEqual(worst, 2, "\(c.name): a pixel differs by \(worst)/255")
            XCTAssertEqual(image.unetEvaluations, c.unet_evaluations, c.name)
        }
    }

    /// An empty negative prompt conditions on zeros (force_zeros_for_empty_prompt) unless the
    /// model says otherwise: the two folders differ in that flag alone and give other images.
    func testAnEmptyNegativePromptConditionsOnZerosOnlyWhereTheModelSaysSo() throws {
        let c = try cases()[0]
        XCTAssertEqual(c.negative_prompt, "")
        XCTAssertNotEqual(try Self.folder.generate(request(c)).rgb, try Self.noZeros.generate(request(c)).rgb)
        var negative = request(c)
        negative.negativePrompt = "blurry"
        XCTAssertEqual(try Self.folder.generate(negative).rgb, try Self.noZeros.generate(negative).rgb,
                       "a negative prompt that is not empty is encoded either way")
    }

    /// The context is the first encoder's penultimate hidden state, then the second's.
    func testTheContextIsBothEncodersPenultimateStatesSideBySide() throws {
        let text = try XCTUnwrap(Self.folder.sdxlText)
        let encoded = try text.encode("a red circle", encoding: .literal)
        XCTAssertEqual(encoded.context.shape, [1, 77, 48])
        XCTAssertEqual(encoded.pooled.count, 24)
        let ids1 = text.first.tokenizer.tokenize("a red circle", length: 77).ids
        let ids2 = text.second.tokenizer.tokenize("a red circle", length: 77).ids
        XCTAssertNotEqual(ids1, ids2, "different padding")
        XCTAssertNotEqual(encoded.pooled, try text.second.textEncoder.encodePenultimate(ids2, poolAt: 4).pooled!.values,
                          "the pooled output goes through text_projection (16 -> 24 wide)")
        let left = try text.first.textEncoder.encodePenultimate(ids1).hidden.values
        let right = try text.second.textEncoder.encodePenultimate(ids2).hidden.values
        let context = encoded.context.values
        for token in [0, 3, 76] {
            XCTAssertEqual(Array(context[(token * 48)..<(token * 48 + 32)]), Array(left[(token * 32)..<(token * 32 + 32)]))
            XCTAssertEqual(Array(context[(token * 48 + 32)..<(token * 48 + 48)]), Array(right[(token * 16)..<(token * 16 + 16)]))
        }
        // The penultimate state is not the last layer's output after the final norm (SD 1.x's).
        let last = try text.first.textEncoder.encode(ids1).values
        XCTAssertNotEqual(Array(last.prefix(32 * 5)), Array(left.prefix(32 * 5)))
    }

    func testClipSkipIsRefusedForSDXLWithWhatToUse() {
        let request = GenerationRequest(prompt: "a red circle", clipSkip: 2)
        XCTAssertThrowsError(try Self.folder.checkTexts(of: request)) { error in
            XCTAssertTrue("\(error)".contains("clip skip 1"), "\(error)")
        }
        XCTAssertThrowsError(try Self.folder.generate(request))
    }

    /// A prompt's <lora:...> tags name LoRAs, as for SD 1.x: a model without them merged refuses
    /// the prompt instead of reading the tag as text.
    func testLoRATagsAreCheckedNotReadAsText() {
        let request = GenerationRequest(prompt: "a red circle <lora:style:0.8>", steps: 1, width: 32, height: 32)
        XCTAssertThrowsError(try Self.folder.generate(request)) { error in
            XCTAssertTrue("\(error)".contains("style"), "\(error)")
        }
    }

    func testTheUNetRefusesToRunWithoutThePooledTextAndTimeIds() throws {
        let unet = Self.folder.unet
        let sample = Tensor(shape: [1, 4, 8, 8], values: [Float](repeating: 0.1, count: 256))
        let context = Tensor(shape: [1, 77, 48], values: [Float](repeating: 0.1, count: 77 * 48))
        XCTAssertThrowsError(try unet(sample: sample, timesteps: [500], context: context)) { error in
            XCTAssertTrue("\(error)".contains("time ids"), "\(error)")
        }
        let short = AddedConditioning(pooledText: [Float](repeating: 0, count: 23), timeIds: [32, 32, 0, 0, 32, 32])
        XCTAssertThrowsError(try unet(sample: sample, timesteps: [500], context: context, added: [short])) { error in
            XCTAssertTrue("\(error)".contains("24"), "\(error)")
        }
    }

    /// Two items with different conditioning in one call give each one's bits alone.
    func testBatchedEvaluationsWithDifferentConditioningEqualSingleOnes() throws {
        let unet = Self.folder.unet
        var generator = TorchGenerator(seed: 7)
        let latents = (0..<2).map { _ in Tensor(shape: [1, 4, 8, 12], values: generator.randn(count: 4 * 8 * 12)) }
        let contexts = (0..<2).map { _ in Tensor(shape: [1, 77, 48], values: generator.randn(count: 77 * 48)) }
        let added = [AddedConditioning(pooledText: generator.randn(count: 24), timeIds: [32, 48, 0, 0, 32, 48]),
                     AddedConditioning(pooledText: [Float](repeating: 0, count: 24), timeIds: [64, 64, 8, 8, 32, 48])]
        let both = try unet.predictions(latents: latents, timesteps: [801, 301], contexts: contexts, added: added)
        for i in 0..<2 {
            let alone = try unet.predictions(latents: [latents[i]], timesteps: [[801, 301][i]], contexts: [contexts[i]], added: [added[i]])
            XCTAssertEqual(both[i].values, alone[0].values)
        }
        XCTAssertNotEqual(try unet.predictions(latents: [latents[0]], timesteps: [801], contexts: [contexts[0]], added: [added[1]])[0].values,
                          both[0].values, "the time ids and pooled text change the prediction")
    }

    // MARK: single-file checkpoints (tiny-sdxl.safetensors: conditioner.embedders.0/1)

    /// The single file with the folder as config: the same weights, so the same bits as the folder.
    func testTheSingleFileWithItsConfigFolderGivesTheFoldersImagesBitForBit() throws {
        let location = try ModelLocation.open(Fixtures.singleFile("tiny-sdxl"), configDirectory: Fixtures.path("tiny-sdxl"))
        XCTAssertEqual(location.family, .stableDiffusionXL)
        XCTAssertTrue(location.forceZerosForEmptyPrompt)
        let single = try StableDiffusionPipeline(location: location)
        try XCTUnwrap(location.textEncoder2).weights.checkAllUsed()
        for c in try cases() where c.model == "tiny-sdxl" {
            XCTAssertEqual(try single.generate(request(c)).rgb, try Self.folder.generate(request(c)).rgb, c.name)
        }
    }

    /// OpenCLIP stores `text_projection` as `[width, projection]`; the linear weight is its transpose.
    func testTheStoredProjectionIsTransposedIntoTheLinearWeight() throws {
        let file = try SafeTensorsFile(path: Fixtures.singleFile("tiny-sdxl"))
        let stored = try file.tensor("conditioner.embedders.1.model.text_projection")
        XCTAssertEqual(stored.shape, [16, 24])
        let location = try ModelLocation.open(Fixtures.singleFile("tiny-sdxl"), configDirectory: Fixtures.path("tiny-sdxl"))
        let weight = try XCTUnwrap(location.textEncoder2).weights.tensor("text_projection.weight")
        XCTAssertEqual(weight.shape, [24, 16])
        for (i, j) in [(0, 0), (3, 7), (15, 23)] { XCTAssertEqual(weight.values[j * 16 + i], stored.values[i * 24 + j]) }
        let folder = try XCTUnwrap(Self.folder.location.textEncoder2).weights.tensor("text_projection.weight")
        XCTAssertEqual(weight.values, folder.values)
    }

    /// Without a config folder an SDXL file is read with SDXL 1.0 base's built-in configs: the tiny
    /// file does not fit them, and the message says to pass the config folder.
    func testAnSDXLSingleFileIsReadWithSDXLsBuiltInConfigsByDefault() throws {
        let location = try ModelLocation.open(Fixtures.singleFile("tiny-sdxl"))
        XCTAssertEqual(location.family, .stableDiffusionXL)
        XCTAssertEqual(location.unet.config, .stableDiffusionXL)
        XCTAssertEqual(location.textEncoder2?.config.numHiddenLayers, 32)
        XCTAssertEqual(location.vae.config.scalingFactor, 0.13025)
        XCTAssertEqual(location.schedulerConfigJSON?["_class_name"] as? String, "EulerDiscreteScheduler")
        XCTAssertEqual(UNetConfig.stableDiffusionXL.nativeImageSize(vaeScaleFactor: 8)?.width, 1024)
        XCTAssertThrowsError(try StableDiffusionPipeline(location: location,
                                                         fallbackTokenizerDirectory: Fixtures.path("tiny-sd/tokenizer"))) { error in
            XCTAssertTrue("\(error)".contains("config folder"), "\(error)")
        }
    }
}
