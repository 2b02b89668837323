import Compute
import StableDiffusion
import XCTest

/// Every module against diffusers' outputs for the same fp16-stored weights (fixtures).
/// Bound: max absolute error under 1e-4 of the output's scale.
final class DiffusersParityTests: XCTestCase {
    let tolerance: Float = 1e-4

    private func unet(_ folder: String) throws -> UNet2DConditionModel {
        let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
        return try UNet2DConditionModel(config: component.config, weights: component.weights)
    }

    private func checkUNet(_ model: UNet2DConditionModel, io: [String: Tensor], suffix: String) throws {
        let t = io["timestep\(suffix)"]!.values
        let out = try model(sample: io["sample\(suffix)"]!, timesteps: t, context: io["encoder_hidden_states\(suffix)"]!)
        let err = Fixtures.relativeError(out, io["out\(suffix)"]!)
        XCTAssertLessThan(err, tolerance, "UNet case '\(suffix)': relative error \(err)")
        XCTAssertTrue(out.allFinite)
    }

    func testUNetAMatchesDiffusersBatchedSingleAndNonSquare() throws {
        let model = try unet("tiny-sd/unet")
        let io = try Fixtures.io("unet-a")
        for suffix in ["", "1", "_rect"] { try checkUNet(model, io: io, suffix: suffix) }
    }

    func testUNetBWithDeeperBlocksMoreHeadsAndGroupsMatchesDiffusers() throws {
        let model = try unet("unet-b")
        let io = try Fixtures.io("unet-b")
        for suffix in ["", "1", "_rect"] { try checkUNet(model, io: io, suffix: suffix) }
    }

    func testUNetSampleIsBitIdenticalAloneOrInABatch() throws {
        try assertBatchInvariant(try unet("unet-b"), io: try Fixtures.io("unet-b"))
    }

    func testTextEncoderMatchesTransformers() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd"))
        let model = try CLIPTextModel(config: location.textEncoder.config, weights: location.textEncoder.weights)
        let io = try Fixtures.io("text-encoder")
        let ids = io["input_ids"]!, expected = io["last_hidden_state"]!
        for p in 0..<ids.shape[0] {
            let row = (0..<77).map { Int(ids.pointer[p * 77 + $0]) }
            let out = try model.encode(row)
            let err = Fixtures.relativeError(out.reshaped([1, 77, 32]), expected.sample(p))
            XCTAssertLessThan(err, tolerance, "prompt \(p): relative error \(err)")
        }
    }

    private func checkVAE(_ folder: String, io name: String) throws {
        let component = try ModelComponent<VAEConfig>.open(directory: Fixtures.path(folder))
        let vae = try AutoencoderKL(config: component.config, weights: component.weights)
        let io = try Fixtures.io(name)
        let decoded = try vae.decode(io["latent"]!)
        XCTAssertLessThan(Fixtures.relativeError(decoded, io["decoded"]!), tolerance, "\(name) decoder")
        let (mean, logvar) = try vae.encode(io["image"]!)
        XCTAssertLessThan(Fixtures.relativeError(mean, io["encoded_mean"]!), tolerance, "\(name) encoder mean")
        XCTAssertLessThan(Fixtures.relativeError(logvar, io["encoded_logvar"]!), tolerance, "\(name) encoder logvar")
    }

    func testVAEWithThreeLevelsMatchesDiffusers() throws { try checkVAE("tiny-sd/vae", io: "vae-3") }

    func testVAEWithTwoLevelsMatchesDiffusers() throws { try checkVAE("vae-2", io: "vae-2") }

    func testSingleFileCheckpointGivesTheSameOutputsAsTheDiffusersFolder() throws {
        let folder = try ModelLocation.open(Fixtures.path("tiny-sd"))
        let single = try ModelLocation.open(Fixtures.singleFile("tiny-sd"), configDirectory: Fixtures.path("tiny-sd"))
        let io = try Fixtures.io("unet-a")
        let a = try UNet2DConditionModel(config: folder.unet.config, weights: folder.unet.weights)
        let b = try UNet2DConditionModel(config: single.unet.config, weights: single.unet.weights)
        let args = (io["sample"]!, io["timestep"]!.values, io["encoder_hidden_states"]!)
        XCTAssertEqual(try a(sample: args.0, timesteps: args.1, context: args.2).values, try b(sample: args.0, timesteps: args.1, context: args.2).values)
        let te1 = try CLIPTextModel(config: folder.textEncoder.config, weights: folder.textEncoder.weights)
        let te2 = try CLIPTextModel(config: single.textEncoder.config, weights: single.textEncoder.weights)
        let ids = [49406, 320, 736, 2151, 49407] + Array(repeating: 49407, count: 72)
        XCTAssertEqual(try te1.encode(ids).values, try te2.encode(ids).values)
        let v1 = try AutoencoderKL(config: folder.vae.config, weights: folder.vae.weights)
        let v2 = try AutoencoderKL(config: single.vae.config, weights: single.vae.weights)
        let latent = try Fixtures.io("vae-3")["latent"]!
        XCTAssertEqual(try v1.decode(latent).values, try v2.decode(latent).values)
        for store in [single.unet.weights, single.textEncoder.weights, single.vae.weights] { XCTAssertNoThrow(try store.checkAllUsed()) }
    }

    func testEveryWeightOfTheFolderIsUsed() throws {
        let location = try ModelLocation.open(Fixtures.path("tiny-sd"))
        _ = try UNet2DConditionModel(config: location.unet.config, weights: location.unet.weights)
        _ = try CLIPTextModel(config: location.textEncoder.config, weights: location.textEncoder.weights)
        _ = try AutoencoderKL(config: location.vae.config, weights: location.vae.weights)
        XCTAssertNoThrow(try location.unet.weights.checkAllUsed())
        XCTAssertNoThrow(try location.textEncoder.weights.checkAllUsed())
        XCTAssertNoThrow(try location.vae.weights.checkAllUsed())
    }
}

/// A sample's UNet output is bit-identical alone, in its batch, and in a batch with an unrelated
/// third sample (what makes cluster results equal to local ones).
func assertBatchInvariant(_ model: UNet2DConditionModel, io: [String: Tensor], file: StaticString = #filePath, line: UInt = #line) throws {
    let sample = io["sample"]!, context = io["encoder_hidden_states"]!, t = io["timestep"]!.values
    let batched = try model(sample: sample, timesteps: t, context: context)
    for i in 0..<2 {
        let alone = try model(sample: sample.sample(i), timesteps: [t[i]], context: context.sample(i))
        XCTAssertEqual(batched.sample(i).values, alone.values, "sample \(i) differs between batch and alone", file: file, line: line)
    }
    let mixed = try model(sample: try Tensor.concatenateBatch([sample.sample(1), sample.sample(0), sample.sample(1)]),
                      timesteps: [t[1], t[0], 500], context: try Tensor.concatenateBatch([context.sample(1), context.sample(0), context.sample(0)]))
    XCTAssertEqual(mixed.sample(1).values, batched.sample(0).values, "sample 0 differs in a mixed batch", file: file, line: line)
}
