import Compute
import Foundation
import ImageIO
import XCTest
@testable import StableDiffusion

/// LoRAs merged into tiny-sd against diffusers' `load_lora_weights` + `set_adapters` with the
/// same weights: a kohya/LoCon file, a PEFT file with diffusers' alpha metadata, and both at once
/// (fixtures from scripts/fixtures/make_lora_fixtures.py). Each pixel within 2/255.
final class LoRAParityTests: XCTestCase {
    struct Case: Decodable {
        let name, prompt, diffusers_prompt, file, negative_prompt, scheduler: String
        let seed: UInt64
        let steps, width, height: Int
        let guidance_scale: Float
    }

    static let base = try! ModelLocation.open(Fixtures.path("tiny-sd"))
    static let library = LoRALibrary(directory: Fixtures.path("lora"))

    private func cases() throws -> [Case] {
        struct File: Decodable { let cases: [Case] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lora/cases.json")))).cases
    }

    private func request(_ c: Case, prompt: String? = nil) -> GenerationRequest {
        GenerationRequest(prompt: prompt ?? c.prompt, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.steps,
                          guidanceScale: c.guidance_scale, scheduler: SchedulerKind(rawValue: c.scheduler)!,
                          width: c.width, height: c.height)
    }

    /// The pipeline for the LoRAs `request` names.
    private func pipeline(for request: GenerationRequest) throws -> StableDiffusionPipeline {
        let groups = try LoRAGroups([request], library: Self.library, model: Self.base)
        XCTAssertEqual(groups.groups.count, 1)
        return try StableDiffusionPipeline(location: Self.base.applyingLoRAs(groups.groups[0].loras))
    }

    private func worstDifference(_ rgb: [UInt8], _ file: String) throws -> Int {
        let expected = try PNG.read(from: Fixtures.path("lora/\(file)"))
        XCTAssertEqual(expected.pixels.count, rgb.count)
        return zip(rgb, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    func testEachCaseMatchesDiffusersWithinTwoLevels() throws {
        let all = try cases()
        XCTAssertEqual(all.map(\.name), ["kohya", "peft", "both"])
        let plain = try StableDiffusionPipeline(location: Self.base).generate(request(all[0], prompt: all[0].diffusers_prompt)).rgb
        for c in all {
            let image = try pipeline(for: request(c)).generate(request(c))
            let worst = try worstDifference(image.rgb, c.file)
            XCTAssertLessThanOrEqual(worst, 2, "\(c.name): a pixel differs from diffusers by \(worst)/255")
            // The LoRA really changed the image (the fixture script made sure it changes diffusers' a lot).
            let change = zip(image.rgb, plain).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertGreaterThan(change, 20, c.name)
            // The tag stays in the recorded prompt, as AUTOMATIC1111 records it.
            XCTAssertEqual(image.request.prompt, c.prompt)
        }
    }

    /// `<lora:NAME:TE:UNET>` with UNET 0: only the text encoder layers act (diffusers: adapter
    /// weight 0.8, then the UNet's adapter set to 0).
    func testTextEncoderOnlyWeightsMatchDiffusers() throws {
        let c = try cases()[0]
        let r = request(c, prompt: c.diffusers_prompt + " <lora:kohya-locon:0.8:0>")
        let worst = try worstDifference(try pipeline(for: r).generate(r).rgb, "kohya-te-only.png")
        XCTAssertLessThanOrEqual(worst, 2, "text-encoder-only LoRA differs from diffusers by \(worst)/255")
    }

    /// The order LoRAs are written in does not change the bits (they merge sorted by name), and a
    /// JSONL `loras` list gives the same image as the tags.
    func testTagOrderAndTheJSONLFormGiveTheSameBits() throws {
        let c = try cases()[2]
        let reference = try pipeline(for: request(c)).generate(request(c)).rgb
        let swapped = request(c, prompt: c.diffusers_prompt + " <lora:peft:-0.7> <lora:kohya-locon:0.6>")
        XCTAssertEqual(try pipeline(for: swapped).generate(swapped).rgb, reference)
        let line = #"{"prompt": "\#(c.diffusers_prompt)", "loras": [{"name": "kohya-locon", "weight": 0.6}, {"name": "peft", "weight": -0.7}]}"#
        let fromJSONL = try PromptFile.parse(text: line, defaults: request(c, prompt: ""), format: .jsonLines)
        XCTAssertEqual(fromJSONL.count, 1)
        XCTAssertEqual(try pipeline(for: fromJSONL[0]).generate(fromJSONL[0]).rgb, reference)
    }

    /// Building a LoRA model leaves the plain model's weights alone: the plain model still gives
    /// diffusers' plain image afterwards (e2e/case1-pndm: same prompt, seed, steps, scheduler).
    func testThePlainModelIsUnchangedAfterALoRAModelWasBuilt() throws {
        let c = try cases()[0]
        _ = try pipeline(for: request(c)).generate(request(c))
        let plain = try StableDiffusionPipeline(location: Self.base).generate(request(c, prompt: c.diffusers_prompt))
        XCTAssertLessThanOrEqual(try worstDifferenceFromE2E(plain.rgb), 2)
    }

    private func worstDifferenceFromE2E(_ rgb: [UInt8]) throws -> Int {
        let expected = try PNG.read(from: Fixtures.path("e2e/case1-pndm.png"))
        return zip(rgb, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// `Lora hashes` as AUTOMATIC1111 writes it; the digits are the SHA-256 of each file's
    /// tensor data, computed with Python's hashlib (`sha256(data[8 + header_length:])[:12]`).
    func testLoRAHashesAreTheFirstTwelveDigitsOfTheDataSHA256() throws {
        let set = try LoRASet.resolve([LoRAReference(name: "peft"), LoRAReference(name: "kohya-locon", weight: 0.5)],
                                      library: Self.library, model: Self.base)
        XCTAssertEqual(set.parameterHashes(), "kohya-locon: 7e69a2f472ea, peft: 91bb42898753")
        let fields = Self.base.applyingLoRAs(set).weightParameterFields()
        XCTAssertEqual(fields, [GenerationParameters.Field(key: "Lora hashes", value: "kohya-locon: 7e69a2f472ea, peft: 91bb42898753")])
        // Written into the parameters text and read back (what `sdcluster info` prints).
        let text = GenerationParameters(request: GenerationRequest(prompt: "x <lora:peft:1.0>", guidanceScale: 7.5, width: 32, height: 32), otherFields: fields).text
        XCTAssertTrue(text.contains(#"Lora hashes: "kohya-locon: 7e69a2f472ea, peft: 91bb42898753""#), text)
        let parsed = try GenerationParameters(parsing: text)
        XCTAssertEqual(parsed.request.prompt, "x <lora:peft:1.0>")
        XCTAssertEqual(parsed.otherFields.first { $0.key == "Lora hashes" }?.value, "kohya-locon: 7e69a2f472ea, peft: 91bb42898753")
    }

    /// The same LoRAs on the single-file CompVis checkpoint of tiny-sd (same fp16 weights, other
    /// key names) give the same bits: layers are matched against the model's diffusers names,
    /// whichever file layout they were read from.
    func testASingleFileModelTakesTheSameLoRAsWithTheSameBits() throws {
        let c = try cases()[2]
        let folderImage = try pipeline(for: request(c)).generate(request(c)).rgb
        let single = try ModelLocation.open(Fixtures.singleFile("tiny-sd"), configDirectory: Fixtures.path("tiny-sd"))
        let groups = try LoRAGroups([request(c)], library: Self.library, model: single)
        let image = try StableDiffusionPipeline(location: single.applyingLoRAs(groups.groups[0].loras)).generate(request(c)).rgb
        XCTAssertEqual(image, folderImage)
    }
}
