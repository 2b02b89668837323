import Foundation
import ImageIO
import StableDiffusion

/// `generate`'s images, written through `OutputFolder` (the coordinator's naming and writer).
enum ImageOutput {
    /// `DIR/<index>-<seed>.png`, or `output` itself when it names a `.png` file and there is
    /// exactly one image.
    static func path(for index: Int, seed: UInt64, output: String, total: Int) -> String {
        OutputFolder.path(for: index, seed: seed, output: output, total: total)
    }

    /// `weightFields`: the model's `weightParameterFields()` (VAE, LoRA hashes), if any.
    static func write(_ image: GeneratedImage, modelName: String, weightFields: [GenerationParameters.Field] = [],
                      to path: String) throws {
        var request = image.request
        request.model = modelName
        let parameters = GenerationParameters(request: request, unetEvaluations: image.unetEvaluations,
                                              engine: image.engine.description, otherFields: weightFields)
        try OutputFolder.writePNG(RGBImage(width: image.width, height: image.height, pixels: image.rgb),
                                  parameters: parameters.text, to: path)
    }
}
