import ArgumentParser
import Compute
import Foundation
import StableDiffusion

/// The model options `generate` and `worker` share, and loading the pipeline from them.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A diffusers model folder or a single-file .safetensors checkpoint, SD 1.x, 2.x or SDXL (default: the shipped shapes model). SDXL runs in generate only: a worker refuses it.", valueName: "DIR|FILE"))
    var model: String?

    @Option(help: ArgumentHelp("For a single-file checkpoint: a diffusers folder whose configs and tokenizer to use (default: the built-in SD 1.5, SD 2.1 or SDXL 1.0 base configs, by the file's keys).", valueName: "DIR"))
    var config: String?

    @Option(name: .customLong("prediction-type"), help: ArgumentHelp(
        "What the UNet predicts, overriding the model's scheduler config: v_prediction (SD 2.0-v / 2.1 768-v models) or epsilon (SD 1.x, SD 2 512-base). Needed for an SD 2.x single file without --config.",
        valueName: "v_prediction|epsilon"))
    var predictionType: PredictionType?

    /// Loads the model (the shipped one when none is named) and says on stderr how long it took;
    /// `embeddingDir`: textual-inversion embeddings prompts may name (`generate --embedding-dir`).
    func loadPipeline(precision: Precision, embeddingDir: String? = nil) throws -> StableDiffusionPipeline {
        let start = Date()
        let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(model ?? DefaultModel.path, configDirectory: config,
                                                                                     predictionType: predictionType),
                                                   fallbackTokenizerDirectory: DefaultModel.tokenizerDirectory,
                                                   precision: precision,
                                                   textualInversions: embeddingDir.map { dir in
                                                       { tokenizer, width in try TextualInversionLibrary(directory: dir, tokenizer: tokenizer, hiddenSize: width) }
                                                   })
        printError("loaded \(pipeline.location.name) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s (engine: \(pipeline.fingerprint))")
        return pipeline
    }
}

extension PredictionType: ExpressibleByArgument {
    public static var allValueStrings: [String] { [PredictionType.vPrediction.rawValue, PredictionType.epsilon.rawValue] }
}
