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
        XCTAssertEqual(location.textEncoder2?.config.projectionDim, 16)
        XCTAssertTrue(location.forceZerosForEmptyPrompt)
        XCTAssertFalse(Self.noZeros.location.forceZerosForEmptyPrompt)
        XCTAssertEqual(location.vae.config.scalingFactor, 0.13025)
        XCTAssertTrue(Self.folder.unet.needsAddedConditioning)
        XCTAssertEqual(Self.folder.unet.crossAttentionDim, 64, "both encoders' widths")
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
        XCTAssertEqual(encoded.context.shape, [1, 77, 64])
        XCTAssertEqual(encoded.pooled.count, 16)
        let ids1 = text.first.tokenizer.tokenize("a red circle", length: 77).ids
        let ids2 = text.second.tokenizer.tokenize("a red circle", length: 77).ids
        XCTAssertNotEqual(ids1, ids2, "different padding")
        let left = try text.first.textEncoder.encodePenultimate(ids1).hidden.values
        let right = try text.second.textEncoder.encodePenultimate(ids2).hidden.values
        let context = encoded.context.values
        for token in [0, 3, 76] {
            XCTAssertEqual(Array(context[(token * 64)..<(token * 64 + 32)]), Array(left[(token * 32)..<(token * 32 + 32)]))
            XCTAssertEqual(Array(context[(token * 64 + 32)..<(token * 64 + 64)]), Array(right[(token * 32)..<(token * 32 + 32)]))
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

    func testTheUNetRefusesToRunWithoutThePooledTextAndTimeIds() throws {
        let unet = Self.folder.unet
        let sample = Tensor(shape: [1, 4, 8, 8], values: [Float](repeating: 0.1, count: 256))
        let context = Tensor(shape: [1, 77, 64], values: [Float](repeating: 0.1, count: 77 * 64))
        XCTAssertThrowsError(try unet(sample: sample, timesteps: [500], context: context)) { error in
            XCTAssertTrue("\(error)".contains("time ids"), "\(error)")
        }
        let short = AddedConditioning(pooledText: [Float](repeating: 0, count: 15), timeIds: [32, 32, 0, 0, 32, 32])
        XCTAssertThrowsError(try unet(sample: sample, timesteps: [500], context: context, added: [short])) { error in
            XCTAssertTrue("\(error)".contains("16"), "\(error)")
        }
    }

    /// Two items with different conditioning in one call give each one's bits alone.
    func testBatchedEvaluationsWithDifferentConditioningEqualSingleOnes() throws {
        let unet = Self.folder.unet
        var generator = TorchGenerator(seed: 7)
        let latents = (0..<2).map { _ in Tensor(shape: [1, 4, 8, 12], values: generator.randn(count: 4 * 8 * 12)) }
        let contexts = (0..<2).map { _ in Tensor(shape: [1, 77, 64], values: generator.randn(count: 77 * 64)) }
        let added = [AddedConditioning(pooledText: generator.randn(count: 16), timeIds: [32, 48, 0, 0, 32, 48]),
                     AddedConditioning(pooledText: [Float](repeating: 0, count: 16), timeIds: [64, 64, 8, 8, 32, 48])]
        let both = try unet.predictions(latents: latents, timesteps: [801, 301], contexts: contexts, added: added)
        for i in 0..<2 {
            let alone = try unet.predictions(latents: [latents[i]], timesteps: [[801, 301][i]], contexts: [contexts[i]], added: [added[i]])
            XCTAssertEqual(both[i].values, alone[0].values)
        }
        XCTAssertNotEqual(try unet.predictions(latents: [latents[0]], timesteps: [801], contexts: [contexts[0]], added: [added[1]])[0].values,
                          both[0].values, "the time ids and pooled text change the prediction")
    }
}
