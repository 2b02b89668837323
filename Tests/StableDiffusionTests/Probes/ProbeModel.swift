import Foundation
import StableDiffusion

/// The shipped shapes model (`models/shapes`, 128 px, fast), loaded once for the probe tests.
enum ProbeModel {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/shapes").path

    static let pipeline: StableDiffusionPipeline = try! StableDiffusionPipeline(location: ModelLocation.open(path))
}
