import Foundation
import StableDiffusion

/// The model in `models/shapes`, loaded once per precision for all tests of this target.
enum ShippedModel {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/shapes").path

    static let fp32: StableDiffusionPipeline = try! StableDiffusionPipeline(location: ModelLocation.open(path), precision: .fp32)
    static let bf16: StableDiffusionPipeline = try! StableDiffusionPipeline(location: ModelLocation.open(path), precision: .bf16)
}
