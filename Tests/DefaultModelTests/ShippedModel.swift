import Foundation
import StableDiffusion

/// The model in `models/shapes`, loaded once per precision for all tests of this target.
enum ShippedModel {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/shapes").path

    static let fp32: StableDiffusionPipeline = try! StableDiffusionPipeline(location: ModelLocation.open(path), precision: .fp32)
    /// The bf16 pipeline, or the error that refused it (a CPU without native bf16).
    static let bf16: Result<StableDiffusionPipeline, Error> = Result {
        try StableDiffusionPipeline(location: ModelLocation.open(path), precision: .bf16)
    }
}
