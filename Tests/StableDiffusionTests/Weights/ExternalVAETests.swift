import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// `--vae FILE|DIR`: a VAE given apart from the model replaces the model's own, whichever of the
/// three layouts it comes in, and a file that is not a fitting VAE is refused naming the file.
final class ExternalVAETests: XCTestCase {
    static let model = Fixtures.path("tiny-sd")
    let request = GenerationRequest(prompt: "a red circle on a blue background", seed: 5, steps: 3, guidanceScale: 7.5)

    private func image(_ location: ModelLocation) throws -> [UInt8] {
        try StableDiffusionPipeline(location: location).generate(request).rgb
    }

    /// tiny-sd's VAE written as a CompVis single file (`encoder.*`, `decoder.*`, as
    /// vae-ft-mse-840000-ema-pruned.safetensors is laid out), taken from the CompVis checkpoint
    /// fixture with its `first_stage_model.` prefix removed, plus EMA bookkeeping to be ignored.
    private func compVisVAEFile(in folder: TemporaryFolder, dropping dropped: String? = nil) throws -> String {
        let checkpoint = try SafeTensorsFile(path: Fixtures.singleFile("tiny-sd"))
        var writer = SafeTensorsWriter()
        for key in checkpoint.names where key.hasPrefix("first_stage_model.") {
            let name = String(key.dropFirst("first_stage_model.".count))
            if name == dropped { continue }
            writer.add(name, try checkpoint.tensor(key), as: .f16)
        }
        writer.add("model_ema.decay", shape: [], values: [0.9999])
        return try folder.write(writer, to: "vae-compvis.safetensors")
    }

    func testTheModelsOwnVAEGivenAsAFolderOrAsEitherKindOfSingleFileDecodesExactlyAsTheModelDoes() throws {
        let folder = try TemporaryFolder()
        let base = try ModelLocation.open(Self.model)
        let expected = try image(base)
        let diffusersFile = try folder.write(Data(contentsOf: URL(fileURLWithPath: Self.model + "/vae/diffusion_pytorch_model.safetensors")),
                                             to: "vae-diffusers-names.safetensors")
        for path in [Self.model + "/vae", try compVisVAEFile(in: folder), diffusersFile] {
            let vae = try ExternalVAE.open(path, modelConfig: base.vae.config)
            let location = try base.replacingVAE(vae)
            XCTAssertEqual(location.externalVAE?.path, path)
            XCTAssertNotEqual(location.contentHash, base.contentHash, "\(path): the VAE must be part of the model's identity")
            XCTAssertEqual(try image(location), expected, path)
        }
    }

    /// vae-2 (two levels) given as a folder brings its own config: the pipeline decodes with it,
    /// matching diffusers' `vae.decode` of that VAE (io/vae-2.safetensors).
    func testAnotherVAEFolderReplacesTheModelsVAEAndMatchesDiffusers() throws {
        let base = try ModelLocation.open(Self.model)
        let location = try base.replacingVAE(ExternalVAE.open(Fixtures.path("vae-2"), modelConfig: base.vae.config))
        XCTAssertEqual(location.vae.config.blockOutChannels, [16, 32])
        let pipeline = try StableDiffusionPipeline(location: location)
        let io = try Fixtures.io("vae-2")
        let decoded = try pipeline.vae.decode(io["latent"]!)
        XCTAssertLessThan(Fixtures.relativeError(decoded, io["decoded"]!), 1e-4)
        XCTAssertEqual(pipeline.modelInfo.vaeScaleFactor, 2)
    }

    func testParameterFieldsNameTheVAEAndGiveTheFirstTenDigitsOfItsSHA256() throws {
        let base = try ModelLocation.open(Self.model)
        XCTAssertEqual(base.weightParameterFields(), [])
        let location = try base.replacingVAE(ExternalVAE.open(Self.model + "/vae/", modelConfig: base.vae.config))
        let fields = Dictionary(uniqueKeysWithValues: location.weightParameterFields().map { ($0.key, $0.value) })
        XCTAssertEqual(fields["VAE"], "vae")
        // `sha256sum Fixtures/tiny-sd/vae/diffusion_pytorch_model.safetensors`, first 10 digits.
        XCTAssertEqual(fields["VAE hash"], "70fd89f807")
    }

    func testBadVAEsAreRefusedNamingTheFile() throws {
        let folder = try TemporaryFolder()
        let base = try ModelLocation.open(Self.model)
        let config = base.vae.config
        assertWeightError(["/nowhere/vae.safetensors", "VAE not found"]) {
            _ = try ExternalVAE.open("/nowhere/vae.safetensors", modelConfig: config)
        }
        let lora = Fixtures.path("lora/kohya-locon.safetensors")
        assertWeightError([lora, "is not a VAE", "lora_"]) { _ = try ExternalVAE.open(lora, modelConfig: config) }
        assertWeightError(["vae.ckpt", "pickle"]) {
            _ = try ExternalVAE.open(try folder.write("x", to: "vae.ckpt"), modelConfig: config)
        }
        let truncated = try folder.write(rawSafeTensors(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}"),
                                         to: "short.safetensors")
        assertWeightError(["short.safetensors"]) { _ = try ExternalVAE.open(truncated, modelConfig: config) }
        // A weight missing: found when the pipeline builds the VAE, before any image.
        let incomplete = try compVisVAEFile(in: folder, dropping: "decoder.conv_out.weight")
        assertWeightError(["vae-compvis.safetensors (VAE)", "conv_out.weight", "missing"]) {
            _ = try StableDiffusionPipeline(location: base.replacingVAE(ExternalVAE.open(incomplete, modelConfig: config)))
        }
        // vae-2's weights read with tiny-sd's three-level config (a single file brings none).
        let otherShape = try folder.write(Data(contentsOf: URL(fileURLWithPath: Fixtures.path("vae-2/diffusion_pytorch_model.safetensors"))),
                                          to: "vae-two-levels.safetensors")
        assertWeightError(["vae-two-levels.safetensors (VAE)"]) {
            _ = try StableDiffusionPipeline(location: base.replacingVAE(ExternalVAE.open(otherShape, modelConfig: config)))
        }
    }
}
