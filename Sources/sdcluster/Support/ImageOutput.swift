import Foundation
import ImageIO
import StableDiffusion

/// Writes generated images as PNGs with their parameters in a `parameters` text chunk
/// (AUTOMATIC1111's format, which its web UI and other tools read back).
enum ImageOutput {
    /// `DIR/<index>-<seed>.png`, or `output` itself when it names a `.png` file and there is
    /// exactly one image.
    static func path(for index: Int, seed: UInt64, output: String, total: Int) -> String {
        if total == 1 && output.lowercased().hasSuffix(".png") { return output }
        return (output as NSString).appendingPathComponent(String(format: "%05d-%llu.png", index, seed))
    }

    static func write(_ image: GeneratedImage, modelName: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        var request = image.request
        request.model = modelName
        let parameters = GenerationParameters(request: request, unetEvaluations: image.unetEvaluations,
                                              engine: image.engine.description)
        try PNG.write(RGBImage(width: image.width, height: image.height, pixels: image.rgb), to: path,
                      text: [("parameters", parameters.text)])
    }
}
