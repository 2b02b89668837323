import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// `--model` resolution: diffusers folders (full precision, fp16 variant, shards), refusals, hashes.
final class ModelLocationTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws { folder = try TemporaryFolder() }
    override func tearDown() { folder = nil }

    private func tinyA() throws -> CompVisKeyFixture.Case {
        try XCTUnwrap(CompVisKeyFixture.load().cases.first { $0.name == "tiny-a" })
    }

    /// Writes the case's three configs as `root/{unet,text_encoder,vae}/config.json`; returns the root.
    static func writeConfigs(of c: CompVisKeyFixture.Case, into folder: TemporaryFolder, root: String) throws -> String {
        try folder.write(c.unetConfig.data, to: root + "/unet/config.json")
        try folder.write(c.textEncoderConfig.data, to: root + "/text_encoder/config.json")
        try folder.write(c.vaeConfig.data, to: root + "/vae/config.json")
        return folder.path + "/" + root
    }

    /// A diffusers folder for `c` with weights under `suffix` (e.g. ".fp16.safetensors").
    /// The VAE uses the pre-0.14 attention names when `deprecatedVAE`, as SD v1.5's repository does.
    @discardableResult
    private func makeFolder(_ c: CompVisKeyFixture.Case, root: String = "model", suffix: String = ".safetensors",
                            dtype: SafeTensorsDType = .f32, deprecatedVAE: Bool = false, seed: UInt64 = 1) throws -> String {
        let path = try Self.writeConfigs(of: c, into: folder, root: root)
        try folder.write("{\"_class_name\": \"StableDiffusionPipeline\"}", to: root + "/model_index.json")
        let legacy = ["to_q.": "query.", "to_k.": "key.", "to_v.": "value.", "to_out.0.": "proj_attn."]
        for (component, base, rows) in [("unet", "diffusion_pytorch_model", c.unet), ("text_encoder", "model", c.textEncoder),
                                        ("vae", "diffusion_pytorch_model", c.vae)] {
            var writer = SafeTensorsWriter()
            for (i, row) in rows.enumerated() {
                var name = row.diffusers
                if deprecatedVAE, component == "vae", let (new, old) = legacy.first(where: { name.contains(".attentions.0.\($0.key)") }) {
                    name = name.replacingOccurrences(of: new, with: old)
                }
                writer.add(name, shape: row.diffusersShape,
                           values: testValues(row.diffusersShape.reduce(1, *), seed: seed &+ UInt64(i)), as: dtype)
            }
            try folder.write(writer, to: "\(root)/\(component)/\(base)\(suffix)")
        }
        return path
    }

    /// Loads every weight of every component at the fixture's shapes, then checks none is left over.
    private func assertLoadsCompletely(_ model: ModelLocation, _ c: CompVisKeyFixture.Case,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        for (store, rows) in [(model.unet.weights, c.unet), (model.textEncoder.weights, c.textEncoder),
                              (model.vae.weights, c.vae)] {
            for row in rows { _ = try store.tensor(row.diffusers, shape: row.diffusersShape) }
            XCTAssertNoThrow(try store.checkAllUsed(), store.source, file: file, line: line)
        }
    }

    func testDiffusersFolderResolvesConfigsWeightsTokenizerAndScheduler() throws {
        let c = try tinyA()
        let root = try makeFolder(c)
        try folder.write("{}", to: "model/tokenizer/vocab.json")
        try folder.write("#version: 0.2\n", to: "model/tokenizer/merges.txt")
        try folder.write(#"{"_class_name": "PNDMScheduler", "steps_offset": 1}"#, to: "model/scheduler/scheduler_config.json")
        let model = try ModelLocation.open(root + "/")
        XCTAssertEqual(model.layout, .diffusersFolder)
        XCTAssertEqual(model.name, "model")
        XCTAssertEqual(model.unet.config, try UNetConfig.decode(c.unetConfig.data, file: "u"))
        XCTAssertEqual(model.unet.config.blockOutChannels, [32, 64])
        XCTAssertEqual(model.textEncoder.config.hiddenSize, 16)
        XCTAssertEqual(model.vae.config.blockOutChannels, [8, 16])
        XCTAssertEqual(model.tokenizerDirectory, root + "/tokenizer")
        XCTAssertEqual(model.schedulerConfigJSON?["_class_name"] as? String, "PNDMScheduler")
        XCTAssertEqual(model.contentHash.count, 16)
        try assertLoadsCompletely(model, c)
    }

    func testFP16VariantFilesAreFound() throws {
        let c = try tinyA()
        let model = try ModelLocation.open(makeFolder(c, suffix: ".fp16.safetensors", dtype: .f16))
        try assertLoadsCompletely(model, c)
        XCTAssertNil(model.tokenizerDirectory)
        XCTAssertNil(model.schedulerConfigData)
    }

    func testFullPrecisionFileIsPreferredOverTheFP16Variant() throws {
        let c = try tinyA()
        let root = try makeFolder(c, suffix: ".fp16.safetensors", dtype: .f16, seed: 100)
        try makeFolder(c, suffix: ".safetensors", dtype: .f32, seed: 1)
        let model = try ModelLocation.open(root)
        let row = c.unet[0]
        XCTAssertEqual(try model.unet.weights.tensor(row.diffusers, shape: row.diffusersShape).values,
                       testValues(row.diffusersShape.reduce(1, *), seed: 1))
    }

    func testDeprecatedVAEAttentionNamesAreRenamed() throws {
        let c = try tinyA()
        let model = try ModelLocation.open(makeFolder(c, deprecatedVAE: true))
        XCTAssertTrue(model.vae.weights.contains("decoder.mid_block.attentions.0.to_out.0.weight"))
        XCTAssertFalse(model.vae.weights.names.contains("decoder.mid_block.attentions.0.proj_attn.weight"))
        try assertLoadsCompletely(model, c)
    }

    func testShardedWeightsListedByAnIndexLoad() throws {
        let c = try tinyA()
        let root = try makeFolder(c)
        let unetFile = try SafeTensorsFile(path: root + "/unet/diffusion_pytorch_model.safetensors")
        var shards = [SafeTensorsWriter(), SafeTensorsWriter()]
        var map: [String: String] = [:]
        for (i, name) in unetFile.names.enumerated() {
            shards[i % 2].add(name, try unetFile.tensor(name))
            map[name] = "diffusion_pytorch_model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        for (i, shard) in shards.enumerated() {
            try folder.write(shard, to: "model/unet/diffusion_pytorch_model-0000\(i + 1)-of-00002.safetensors")
        }
        try FileManager.default.removeItem(atPath: root + "/unet/diffusion_pytorch_model.safetensors")
        try folder.write(JSONSerialization.data(withJSONObject: ["weight_map": map]),
                         to: "model/unet/diffusion_pytorch_model.safetensors.index.json")
        try assertLoadsCompletely(ModelLocation.open(root), c)
    }

    func testFolderWithOnlyPickleWeightsIsRefusedWithARemedy() throws {
        let root = try makeFolder(try tinyA())
        try FileManager.default.removeItem(atPath: root + "/vae/diffusion_pytorch_model.safetensors")
        try folder.write(Data([0x80, 0x02]), to: "model/vae/diffusion_pytorch_model.bin")
        assertWeightError(["vae/diffusion_pytorch_model.bin", "pickle", "arbitrary code", ".safetensors"]) {
            _ = try ModelLocation.open(root)
        }
    }

    func testMissingComponentFolderIsNamed() throws {
        let root = try makeFolder(try tinyA())
        try FileManager.default.removeItem(atPath: root + "/text_encoder/model.safetensors")
        assertWeightError(["text_encoder", "no weights found", "model.safetensors"]) { _ = try ModelLocation.open(root) }
        try FileManager.default.removeItem(atPath: root + "/vae")
        assertWeightError(["vae/config.json"]) { _ = try ModelLocation.open(root) }
    }

    func testPathsThatAreNotModelsAreRefused() throws {
        try folder.write("x", to: "plain/readme.txt")
        assertWeightError(["plain", "not a diffusers model folder"]) { _ = try ModelLocation.open(folder.path + "/plain") }
        assertWeightError(["absent.safetensors", "does not exist"]) {
            _ = try ModelLocation.open(folder.path + "/absent.safetensors")
        }
        let ckpt = try folder.write(Data([0x80]), to: "v1-5-pruned.ckpt")
        assertWeightError(["v1-5-pruned.ckpt", "pickle"]) { _ = try ModelLocation.open(ckpt) }
    }

    func testSingleFileWithoutConfigFolderUsesSD15ConfigsAndScheduler() throws {
        var writer = SafeTensorsWriter()
        writer.add("model.diffusion_model.input_blocks.0.0.weight", shape: [320, 4, 3, 3], values: testValues(11520, seed: 4))
        writer.add("first_stage_model.decoder.mid.attn_1.q.weight", shape: [512, 512, 1, 1],
                   values: testValues(512 * 512, seed: 5), as: .bf16)
        let model = try ModelLocation.open(folder.write(writer, to: "sd-v1-5.safetensors"))
        XCTAssertEqual(model.layout, .singleFile)
        XCTAssertEqual(model.name, "sd-v1-5")
        XCTAssertEqual(model.unet.config, .stableDiffusion15)
        XCTAssertEqual(model.vae.config, .stableDiffusion15)
        XCTAssertNil(model.tokenizerDirectory)
        XCTAssertEqual(model.schedulerConfigJSON?["_class_name"] as? String, "PNDMScheduler")
        XCTAssertEqual(model.schedulerConfigJSON?["beta_end"] as? Double, 0.012)
        XCTAssertEqual(try model.unet.weights.tensor("conv_in.weight", shape: [320, 4, 3, 3]).shape, [320, 4, 3, 3])
        // The 1x1 convolution becomes the linear weight diffusers has.
        XCTAssertEqual(model.vae.weights.shape(of: "decoder.mid_block.attentions.0.to_q.weight"), [512, 512])
    }

    func testContentHashIsStableAndSeesWeightsAndConfigs() throws {
        let c = try tinyA()
        let a = try makeFolder(c, root: "a", seed: 1)
        let b = try makeFolder(c, root: "b", seed: 1)
        let d = try makeFolder(c, root: "d", seed: 2)
        XCTAssertEqual(try ModelLocation.open(a).contentHash, try ModelLocation.open(b).contentHash)
        XCTAssertNotEqual(try ModelLocation.open(a).contentHash, try ModelLocation.open(d).contentHash)
        try folder.write(#"{"scaling_factor": 0.5, "block_out_channels": [8, 16], "norm_num_groups": 4, "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "layers_per_block": 1}"#,
                         to: "b/vae/config.json")
        XCTAssertNotEqual(try ModelLocation.open(a).contentHash, try ModelLocation.open(b).contentHash)
    }

    func testSdclusterJSONRecommendsAGuidanceScaleAndJoinsTheContentHash() throws {
        let c = try tinyA()
        let plain = try makeFolder(c, root: "plain")
        let recommending = try makeFolder(c, root: "recommending")
        XCTAssertNil(try ModelLocation.open(plain).recommendations)
        try folder.write(#"{"guidance_scale": 4}"#, to: "recommending/sdcluster.json")
        let model = try ModelLocation.open(recommending)
        XCTAssertEqual(model.recommendations?.guidanceScale, 4)
        // Same weights, another default scale: other images, so another hash.
        XCTAssertNotEqual(model.contentHash, try ModelLocation.open(plain).contentHash)
        try folder.write(#"{"guidance_scale": -2}"#, to: "recommending/sdcluster.json")
        assertWeightError(["sdcluster.json", "guidance_scale", ">= 0"]) { _ = try ModelLocation.open(recommending) }
        try folder.write(#"{"guidance_scale": "high"}"#, to: "recommending/sdcluster.json")
        assertWeightError(["sdcluster.json", "guidance_scale"]) { _ = try ModelLocation.open(recommending) }
    }
}
