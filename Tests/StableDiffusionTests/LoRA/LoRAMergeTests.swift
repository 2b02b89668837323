import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The merge arithmetic and the kohya name matching, on hand-made tensors.
final class LoRAMergeTests: XCTestCase {
    /// W = [[1, 2, 3], [4, 5, 6]], up = [[1], [2]], down = [[1, 0, -1]], scale 0.5:
    /// W + 0.5 * up @ down = [[1.5, 2, 2.5], [5, 5, 5]] (worked by hand).
    func testALinearUpdateAddsScaleTimesUpTimesDown() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.add("w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        writer.add("up", shape: [2, 1], values: [1, 2])
        writer.add("down", shape: [1, 3], values: [1, 0, -1])
        let file = try SafeTensorsFile(path: folder.write(writer, to: "f.safetensors"))
        let base = try WeightStore(files: [file], source: "test")
        let update = WeightUpdate(up: StoredTensor(file: file, key: "up"), down: StoredTensor(file: file, key: "down"),
                                  scale: 0.5, origin: "test")
        let merged = WeightStore(base: base, updates: ["w": [update, update]], source: "merged")
        // Applied twice: W + 2 * 0.5 * up @ down = [[2, 2, 2], [6, 5, 4]].
        XCTAssertEqual(try merged.tensor("w", shape: [2, 3]).values, [2, 2, 2, 6, 5, 4])
        XCTAssertEqual(try base.tensor("w", shape: [2, 3]).values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(merged.unappliedUpdates, [])
    }

    /// A 3x3 convolution (LoCon): down [r, in, 3, 3], up [out, r, 1, 1]; the product is laid out
    /// as the kernel [out, in, 3, 3]. Here out 2, in 1, r 1: row o of the kernel is up[o] * down.
    func testAConvolutionUpdateHasTheKernelsLayout() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        let down = (1...9).map(Float.init)
        writer.add("w", shape: [2, 1, 3, 3], values: [Float](repeating: 0, count: 18))
        writer.add("up", shape: [2, 1, 1, 1], values: [1, -2])
        writer.add("down", shape: [1, 1, 3, 3], values: down)
        let file = try SafeTensorsFile(path: folder.write(writer, to: "f.safetensors"))
        let update = WeightUpdate(up: StoredTensor(file: file, key: "up"), down: StoredTensor(file: file, key: "down"),
                                  scale: 1, origin: "test")
        XCTAssertEqual(update.rank, 1)
        XCTAssertFalse(update.fits([2, 1, 1, 1]))
        let merged = WeightStore(base: try WeightStore(files: [file], source: "t"), updates: ["w": [update]], source: "m")
        XCTAssertEqual(try merged.tensor("w", shape: [2, 1, 3, 3]).values, down + down.map { -2 * $0 })
        // An update nobody read is reported by checkAllUsed.
        let unread = WeightStore(base: try WeightStore(files: [file], source: "t"), updates: ["w": [update]], source: "m")
        _ = try unread.tensor("up"); _ = try unread.tensor("down")
        XCTAssertThrowsError(try unread.checkAllUsed()) { error in
            XCTAssertTrue("\(error)".contains("were never applied"), "\(error)")
        }
    }

    /// kohya's underscored names resolve to the model's real names, including names whose parts
    /// have underscores of their own, and UNet names in the CompVis spelling.
    func testKohyaNamesAreFoundAmongTheModelsNames() throws {
        let model = try ModelLocation.open(Fixtures.path("tiny-sd"))
        let unet = LoRATargets(store: model.unet.weights, compVisMap: CompVisKeyMap.unet(model.unet.config))
        let te = LoRATargets(store: model.textEncoder.weights)
        func layer(_ component: LoRAComponent, _ module: String) -> LoRAFile.Layer {
            let dummy = StoredTensor(file: try! SafeTensorsFile(path: Fixtures.path("lora/peft.safetensors")), key: "x")
            return LoRAFile.Layer(component: component, module: module, fileName: module, up: dummy, down: dummy, alpha: nil)
        }
        XCTAssertEqual(unet.weightName(for: layer(.unet, "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0"), layout: .kohya),
                       "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight")
        XCTAssertEqual(unet.weightName(for: layer(.unet, "input_blocks_1_1_proj_in"), layout: .kohya),
                       "down_blocks.0.attentions.0.proj_in.weight")
        XCTAssertEqual(unet.weightName(for: layer(.unet, "mid_block_resnets_0_time_emb_proj"), layout: .kohya),
                       "mid_block.resnets.0.time_emb_proj.weight")
        XCTAssertNil(unet.weightName(for: layer(.unet, "down_blocks_0_attentions_0_proj"), layout: .kohya))
        XCTAssertEqual(te.weightName(for: layer(.textEncoder, "text_model_encoder_layers_1_self_attn_out_proj"), layout: .kohya),
                       "text_model.encoder.layers.1.self_attn.out_proj.weight")
        XCTAssertEqual(te.weightName(for: layer(.textEncoder, "text_model.encoder.layers.1.mlp.fc2"), layout: .peft),
                       "text_model.encoder.layers.1.mlp.fc2.weight")
    }

    /// Scales: kohya alpha / rank; PEFT from diffusers' metadata (lora_alpha / r), 1 without.
    func testScalesFollowAlphaOverRank() throws {
        let kohya = try LoRAFile(path: Fixtures.path("lora/kohya-locon.safetensors"))
        XCTAssertEqual(kohya.layout, .kohya)
        let conv = try XCTUnwrap(kohya.layers.first { $0.module == "down_blocks_0_resnets_0_conv1" })
        XCTAssertEqual(conv.down.shape, [2, 32, 3, 3])
        XCTAssertEqual(conv.scale(rank: 2), 0.5)
        let peft = try LoRAFile(path: Fixtures.path("lora/peft.safetensors"))
        XCTAssertEqual(peft.layout, .peft)
        XCTAssertEqual(peft.layers.first { $0.component == .unet }?.scale(rank: 4), 2)
        XCTAssertEqual(peft.layers.first { $0.component == .textEncoder }?.scale(rank: 2), 0.5)
        struct Counts: Decodable { let layers: [String: [String: Int]] }
        let counts = try JSONDecoder().decode(Counts.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lora/cases.json"))))
        XCTAssertEqual(kohya.layers.count, counts.layers["kohya-locon"]!.values.reduce(0, +))
        XCTAssertEqual(peft.layers.count, counts.layers["peft"]!.values.reduce(0, +))
    }
}
