import Compute
import Foundation
import StableDiffusion
import XCTest

/// `--precision bf16` on whole models: close to diffusers' fp32 outputs and still batch
/// invariant bit for bit. (Images of the shipped model: DefaultModelTests.)
final class BFloat16ModelTests: XCTestCase {
    private func unet(_ folder: String, _ precision: Precision) throws -> UNet2DConditionModel {
        let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
        return try UNet2DConditionModel(config: component.config, weights: component.weights, precision: precision)
    }

    /// On a CPU without native bf16 (under any ISA cap) every bf16 model is refused before it
    /// loads, with the reason; the checks below run where bf16 exists.
    private func onNativeBFloat16(_ body: () throws -> Void) throws {
        if EngineISA.hasNativeBFloat16 { return try body() }
        XCTAssertThrowsError(try unet("unet-b", .bf16)) { error in
            XCTAssertEqual(error as? EngineError, .bfloat16Unsupported(isa: EngineISA.current))
        }
        XCTAssertNoThrow(try unet("unet-b", .fp32), "fp32 stays available")
    }

    /// bf16 keeps 8 significant bits (relative rounding up to 2^-9 per operand); through a UNet
    /// of a few dozen layers that stays at about one percent of the output's scale.
    func testUNetInBF16StaysWithinTwoPercentOfDiffusersFP32() throws {
        try onNativeBFloat16 { try bf16StaysClose() }
    }

    private func bf16StaysClose() throws {
        for (folder, io) in [("tiny-sd/unet", "unet-a"), ("unet-b", "unet-b")] {
            let model = try unet(folder, .bf16)
            let data = try Fixtures.io(io)
            for suffix in ["", "1", "_rect"] {
                let out = try model(sample: data["sample\(suffix)"]!, timesteps: data["timestep\(suffix)"]!.values,
                                context: data["encoder_hidden_states\(suffix)"]!)
                let err = Fixtures.relativeError(out, data["out\(suffix)"]!)
                XCTAssertLessThan(err, 2e-2, "\(io) case '\(suffix)' in bf16: relative error \(err)")
                XCTAssertGreaterThan(err, 1e-4, "\(io) case '\(suffix)': bf16 should differ from fp32 (is it really bf16?)")
            }
        }
    }

    func testUNetInBF16IsBitIdenticalAloneOrInABatch() throws {
        try onNativeBFloat16 { try assertBatchInvariant(try unet("unet-b", .bf16), io: try Fixtures.io("unet-b")) }
    }
}
