import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// The CompVis -> diffusers name mapping agrees with diffusers' own single-file converter, pair by
/// pair, for two tiny configs and SD v1.5 (fixture: scripts/weights/make_compvis_key_fixtures.py).
final class CompVisMappingTests: XCTestCase {
    private struct Component {
        let label: String
        let rows: [CompVisKeyFixture.Row]
        let map: CompVisKeyMap
        /// diffusers' name as the store spells it (text encoder names gain `text_model.`).
        let spelled: (String) -> String
    }

    private func components(_ c: CompVisKeyFixture.Case) throws -> [Component] {
        let unet = try UNetConfig.decode(c.unetConfig.data, file: "\(c.name)/unet")
        let vae = try VAEConfig.decode(c.vaeConfig.data, file: "\(c.name)/vae")
        return [
            Component(label: "\(c.name) unet", rows: c.unet, map: .unet(unet), spelled: { $0 }),
            Component(label: "\(c.name) vae", rows: c.vae, map: .vae(vae), spelled: { $0 }),
            Component(label: "\(c.name) text encoder", rows: c.textEncoder, map: .clipText(),
                      spelled: CompVisKeyMap.withTextModelLevel),
        ]
    }

    func testFixtureCoversThreeConfigsWithTheExpectedSD15ParameterCounts() throws {
        let cases = try CompVisKeyFixture.load().cases
        XCTAssertEqual(cases.map(\.name), ["tiny-a", "tiny-b", "sd15"])
        let sd15 = cases[2]
        // UNet2DConditionModel, AutoencoderKL and CLIPTextModel of SD v1.5 have 686, 248 and 196 parameters.
        XCTAssertEqual([sd15.unet.count, sd15.vae.count, sd15.textEncoder.count], [686, 248, 196])
    }

    func testEveryCompVisNameMapsToTheDiffusersNameThatDiffusersGivesIt() throws {
        for c in try CompVisKeyFixture.load().cases {
            for component in try components(c) {
                for row in component.rows {
                    let name = component.label.hasSuffix("text encoder")
                        ? CompVisKeyMap.withTextModelLevel(row.compVis) : row.compVis
                    XCTAssertEqual(component.map.diffusersName(name), component.spelled(row.diffusers),
                                   "\(component.label): \(row.compVis)")
                }
            }
        }
    }

    func testEveryDiffusersNameHasExactlyOneCompVisSource() throws {
        for c in try CompVisKeyFixture.load().cases {
            for component in try components(c) {
                var sources: [String: String] = [:]
                for row in component.rows {
                    let diffusers = component.spelled(row.diffusers)
                    let back = try XCTUnwrap(component.map.compVisName(diffusers), "\(component.label): \(diffusers)")
                    XCTAssertEqual(component.map.diffusersName(back), diffusers, "\(component.label): \(back)")
                    XCTAssertNil(sources[back], "\(component.label): \(back) feeds two weights")
                    sources[back] = diffusers
                }
                XCTAssertEqual(sources.count, component.rows.count, component.label)
            }
        }
    }

    func testNamesOutsideTheConfiguredStructureAreNotMapped() throws {
        let tinyA = try XCTUnwrap(CompVisKeyFixture.load().cases.first)
        let map = CompVisKeyMap.unet(try UNetConfig.decode(tinyA.unetConfig.data, file: "u"))
        // tiny-a has 2 levels of 1 layer: input_blocks 0...3 exist, 9 does not; level 1 has no attention.
        XCTAssertNil(map.diffusersName("input_blocks.9.0.in_layers.0.weight"))
        XCTAssertNil(map.diffusersName("input_blocks.3.1.norm.weight"))
        XCTAssertNil(map.diffusersName("input_blocks.1.0.unknown_layer.weight"))
        XCTAssertNil(map.diffusersName("label_emb.0.0.weight"))
    }

    /// A single file built from the fixture's CompVis names, with the noise-schedule buffers and
    /// an EMA copy real checkpoints carry, loads every diffusers weight with the values written.
    func testSingleFileCheckpointLoadsEveryWeightWithItsValues() throws {
        let c = try XCTUnwrap(CompVisKeyFixture.load().cases.first { $0.name == "tiny-b" })
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        var expected: [String: [Float]] = [:]
        let parts: [(String, [CompVisKeyFixture.Row])] = [
            ("model.diffusion_model.", c.unet), ("first_stage_model.", c.vae),
            ("cond_stage_model.transformer.text_model.", c.textEncoder),
        ]
        for (p, (prefix, rows)) in parts.enumerated() {
            for (i, row) in rows.enumerated() {
                let values = testValues(row.compVisShape.reduce(1, *), seed: UInt64(p * 10_000 + i + 1))
                writer.add(prefix + row.compVis, shape: row.compVisShape, values: values, as: .f16)
                expected[(p == 2 ? "text_model." : "") + row.diffusers] = values.map { Float(Float16($0)) }
            }
        }
        writer.add("betas", shape: [4], values: [1, 2, 3, 4])
        writer.add("model_ema.decay", shape: [], values: [0.999])
        writer.add("model_ema.diffusion_modelout0weight", shape: [2], values: [0, 0])
        writer.addRaw("cond_stage_model.transformer.text_model.embeddings.position_ids", dtypeName: "I64",
                      shape: [1, 8], bytes: Data(count: 64))
        let path = try folder.write(writer, to: "tiny.safetensors")
        let configs = try ModelLocationTests.writeConfigs(of: c, into: folder, root: "configs")
        let model = try ModelLocation.open(path, configDirectory: configs)

        XCTAssertEqual(model.skippedKeys, ["betas", "model_ema.decay", "model_ema.diffusion_modelout0weight"])
        let stores = [(model.unet.weights, c.unet, ""), (model.vae.weights, c.vae, ""),
                      (model.textEncoder.weights, c.textEncoder, "text_model.")]
        for (store, rows, level) in stores {
            for row in rows {
                let t = try store.tensor(level + row.diffusers, shape: row.diffusersShape)
                XCTAssertEqual(t.values, expected[level + row.diffusers], row.diffusers)
            }
            XCTAssertNoThrow(try store.checkAllUsed(), store.source)
        }
    }

    func testCheckpointWithoutTheTextModelLevelLoadsToo() throws {
        let c = try XCTUnwrap(CompVisKeyFixture.load().cases.first { $0.name == "tiny-a" })
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        for row in c.textEncoder {
            writer.add("cond_stage_model.transformer." + row.compVis, shape: row.compVisShape,
                       values: testValues(row.compVisShape.reduce(1, *), seed: 9))
        }
        let file = try SafeTensorsFile(path: folder.write(writer, to: "clip-only.safetensors"))
        let split = try CompVisCheckpoint(file: file, unet: .stableDiffusion15, vae: .stableDiffusion15, textEncoder: .stableDiffusion15)
        XCTAssertEqual(split.textEncoder.names.count, c.textEncoder.count)
        XCTAssertTrue(split.textEncoder.names.allSatisfy { $0.hasPrefix("text_model.") })
        XCTAssertTrue(split.unet.names.isEmpty && split.vae.names.isEmpty)
    }

    func testUnmappedComponentKeysSurfaceAsSurplus() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.add("model.diffusion_model.time_embed.0.bias", shape: [1280], values: testValues(1280, seed: 1))
        writer.add("model.diffusion_model.input_blocks.99.0.in_layers.0.weight", shape: [1], values: [1])
        let file = try SafeTensorsFile(path: folder.write(writer, to: "odd.safetensors"))
        let split = try CompVisCheckpoint(file: file, unet: .stableDiffusion15, vae: .stableDiffusion15, textEncoder: .stableDiffusion15)
        _ = try split.unet.tensor("time_embedding.linear_1.bias", shape: [1280])
        assertWeightError(["odd.safetensors", "model.diffusion_model.input_blocks.99.0.in_layers.0.weight"]) {
            try split.unet.checkAllUsed()
        }
    }

    func testShapeMismatchInASingleFileSuggestsAConfigFolder() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.add("model.diffusion_model.input_blocks.0.0.weight", shape: [32, 4, 3, 3], values: testValues(1152, seed: 2))
        let file = try SafeTensorsFile(path: folder.write(writer, to: "small.safetensors"))
        let split = try CompVisCheckpoint(file: file, unet: .stableDiffusion15, vae: .stableDiffusion15, textEncoder: .stableDiffusion15)
        assertWeightError(["small.safetensors", "'conv_in.weight'", "[320, 4, 3, 3]", "config folder"]) {
            _ = try split.unet.tensor("conv_in.weight", shape: [320, 4, 3, 3])
        }
    }
}
