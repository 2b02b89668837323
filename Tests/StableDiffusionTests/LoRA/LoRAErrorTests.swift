import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Every way a LoRA can be wrong is found when the requests are grouped, before any image, and
/// the message names the LoRA (file, key) and says what to do.
final class LoRAErrorTests: XCTestCase {
    static let base = try! ModelLocation.open(Fixtures.path("tiny-sd"))
    static let toQ = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"

    /// A kohya file with one pair per (module, down shape, up shape).
    private func kohya(_ layers: [(String, [Int], [Int])], extra: [String] = [], in folder: TemporaryFolder,
                       name: String) throws -> String {
        var writer = SafeTensorsWriter()
        for (stem, down, up) in layers {
            writer.add(stem + ".lora_down.weight", shape: down, values: testValues(down.reduce(1, *), seed: 1))
            writer.add(stem + ".lora_up.weight", shape: up, values: testValues(up.reduce(1, *), seed: 2))
        }
        for key in extra { writer.add(key, shape: [1], values: [1]) }
        return try folder.write(writer, to: name + ".safetensors")
    }

    private func assertLoRAError(_ prompt: String, directory: String?, _ fragments: [String],
                                 file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try LoRAGroups([GenerationRequest(prompt: "plain"), GenerationRequest(prompt: prompt)],
                               library: LoRALibrary(directory: directory), model: Self.base)
            XCTFail("expected an error for \(prompt)", file: file, line: line)
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("image 2: "), message, file: file, line: line)
            for fragment in fragments { XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line) }
        }
    }

    func testMissingLoRAsAndMissingFoldersAreNamed() throws {
        let folder = try TemporaryFolder()
        assertLoRAError("<lora:style:1>", directory: nil, ["LoRA 'style'", "--lora-dir"])
        assertLoRAError("<lora:style:1>", directory: folder.path, ["LoRA 'style'", "no file style.safetensors", folder.path])
        assertLoRAError("<lora:style:1>", directory: folder.path + "/nope", ["does not exist"])
        try folder.write("x", to: "old.pt")
        assertLoRAError("<lora:old:1>", directory: folder.path, ["old.pt", "pickle"])
    }

    func testAKeyThatMatchesNoLayerIsNamedWithItsFile() throws {
        let folder = try TemporaryFolder()
        let good = "lora_unet_" + Self.toQ.replacingOccurrences(of: ".", with: "_")
        let path = try kohya([(good, [2, 32], [32, 2]), ("lora_unet_down_blocks_7_attentions_0_proj_in", [2, 32], [32, 2])],
                             in: folder, name: "other")
        assertLoRAError("<lora:other:1>", directory: folder.path, [path, "lora_unet_down_blocks_7_attentions_0_proj_in", "matches no layer", "UNet".lowercased()])
        try kohya([("lora_te_text_model_encoder_layers_5_mlp_fc1", [2, 32], [64, 2])], in: folder, name: "te")
        assertLoRAError("<lora:te:1>", directory: folder.path, ["lora_te_text_model_encoder_layers_5_mlp_fc1", "text encoder"])
    }

    func testFactorsOfTheWrongSizeAreNamed() throws {
        let folder = try TemporaryFolder()
        let stem = "lora_unet_" + Self.toQ.replacingOccurrences(of: ".", with: "_")
        let path = try kohya([(stem, [4, 48], [32, 4])], in: folder, name: "sdxl-sized")
        assertLoRAError("<lora:sdxl-sized:1>", directory: folder.path, [path, stem, Self.toQ + ".weight", "[4, 48]"])
        try kohya([(stem, [4, 32], [32, 3])], in: folder, name: "inconsistent")
        assertLoRAError("<lora:inconsistent:1>", directory: folder.path, ["does not fit"])
    }

    func testOtherModelsAndVariantsAreRefusedByName() throws {
        let folder = try TemporaryFolder()
        try kohya([("lora_te1_text_model_encoder_layers_0_mlp_fc1", [2, 32], [64, 2])], in: folder, name: "xl")
        assertLoRAError("<lora:xl:1>", directory: folder.path, ["SDXL"])
        try kohya([], extra: ["lora_unet_conv_in.hada_w1_a"], in: folder, name: "loha")
        assertLoRAError("<lora:loha:1>", directory: folder.path, ["hada_w1_a", "LoHa"])
        try kohya([("lora_unet_conv_in", [2, 4, 3, 3], [32, 2, 1, 1])], extra: ["lora_unet_conv_in.something"], in: folder, name: "odd")
        assertLoRAError("<lora:odd:1>", directory: folder.path, ["lora_unet_conv_in.something", "not a LoRA factor"])
        try kohya([("lora_unet_conv_in", [2, 4, 3, 3], [32, 2, 1, 1])], in: folder, name: "fine")
        XCTAssertNoThrow(try LoRAGroups([GenerationRequest(prompt: "<lora:fine:1>")], library: LoRALibrary(directory: folder.path), model: Self.base))
    }

    /// A pipeline refuses a request whose LoRAs are not the ones merged into it.
    func testAPipelineRefusesARequestForAnotherLoRASet() throws {
        let pipeline = try StableDiffusionPipeline(location: Self.base)
        XCTAssertThrowsError(try pipeline.generate(GenerationRequest(prompt: "x <lora:peft:1>", steps: 1))) { error in
            XCTAssertEqual(error as? LoRAError, .pipelineMismatch(requested: "<lora:peft:1.0>", loaded: ""))
        }
    }

    func testGroupsFollowFirstAppearanceAndKeepRequestOrder() throws {
        let prompts = ["a <lora:peft:1>", "b", "c <lora:peft:1.0>", "d <lora:peft:0.5>", "e"]
        let groups = try LoRAGroups(prompts.map { GenerationRequest(prompt: $0) },
                                    library: LoRALibrary(directory: Fixtures.path("lora")), model: Self.base)
        XCTAssertEqual(groups.groups.map(\.indices), [[0, 2], [1, 4], [3]])
        XCTAssertEqual(groups.groups.map { $0.loras.references.map(\.unetWeight) }, [[1], [], [0.5]])
    }
}
