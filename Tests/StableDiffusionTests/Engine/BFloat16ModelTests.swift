import Compute
import Foundation
import StableDiffusion
import XCTest

/// `--precision bf16` on whole models: close to diffusers' fp32 outputs, still batch invariant
/// bit for bit, and images of the shipped model faithful to the fp32 ones (PSNR).
final class BFloat16ModelTests: XCTestCase {
    private func unet(_ folder: String, _ precision: Precision) throws -> UNet2DConditionModel {
        let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
        return try UNet2DConditionModel(config: component.config, weights: component.weights, precision: precision)
    }

    /// bf16 keeps 8 significant bits (relative rounding up to 2^-9 per operand); through a UNet
    /// of a few dozen layers that stays at about one percent of the output's scale.
    func testUNetInBF16StaysWithinTwoPercentOfDiffusersFP32() throws {
        for (folder, io) in [("tiny-sd/unet", "unet-a"), ("unet-b", "unet-b")] {
            let model = try unet(folder, .bf16)
            let data = try Fixtures.io(io)
            for suffix in ["", "1", "_rect"] {
                let out = model(sample: data["sample\(suffix)"]!, timesteps: data["timestep\(suffix)"]!.values,
                                context: data["encoder_hidden_states\(suffix)"]!)
                let err = Fixtures.relativeError(out, data["out\(suffix)"]!)
                XCTAssertLessThan(err, 2e-2, "\(io) case '\(suffix)' in bf16: relative error \(err)")
                XCTAssertGreaterThan(err, 1e-4, "\(io) case '\(suffix)': bf16 should differ from fp32 (is it really bf16?)")
            }
        }
    }

    func testUNetInBF16IsBitIdenticalAloneOrInABatch() throws {
        let model = try unet("unet-b", .bf16)
        let io = try Fixtures.io("unet-b")
        let sample = io["sample"]!, context = io["encoder_hidden_states"]!, t = io["timestep"]!.values
        let batched = model(sample: sample, timesteps: t, context: context)
        for i in 0..<2 {
            let alone = model(sample: sample.sample(i), timesteps: [t[i]], context: context.sample(i))
            XCTAssertEqual(batched.sample(i).values, alone.values, "sample \(i) differs between batch and alone")
        }
    }

    /// The bar: images of the default model in bf16 at least 30 dB PSNR from fp32 ones.
    func testShippedModelImagesInBF16AreWithin30DBOfFP32() throws {
        let shipped = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/shapes").path
        let fp32 = try StableDiffusionPipeline(location: ModelLocation.open(shipped), precision: .fp32)
        let bf16 = try StableDiffusionPipeline(location: ModelLocation.open(shipped), precision: .bf16)
        XCTAssertEqual(bf16.precision, .bf16)
        let prompts = ["a red circle on a blue background", "a small yellow striped star at the top on a black background",
                       "a large white cross on the left"]
        for (i, prompt) in prompts.enumerated() {
            let request = GenerationRequest(prompt: prompt, seed: UInt64(100 + i), steps: 20)
            let a = try fp32.generate(request), b = try bf16.generate(request)
            let psnr = Self.psnr(a.rgb, b.rgb)
            print("PSNR", psnr); XCTAssertGreaterThanOrEqual(psnr, 30, "'\(prompt)': PSNR \(psnr) dB")
            XCTAssertLessThan(psnr, 200, "identical images: bf16 did not run")
        }
    }

    static func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var squared = 0.0
        for (x, y) in zip(a, b) { let d = Double(x) - Double(y); squared += d * d }
        let mse = squared / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
