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

    @Option(help: ArgumentHelp("A VAE to use instead of the model's own: a diffusers VAE folder (config.json + weights) or a single-file VAE such as vae-ft-mse-840000-ema-pruned.safetensors. Recorded in PNG parameters as `VAE` and `VAE hash`.", valueName: "FILE|DIR"))
    var vae: String?

    @Option(name: .customLong("lora-dir"), help: ArgumentHelp("The folder of LoRA .safetensors files (kohya/AUTOMATIC1111 or diffusers/PEFT layout) that prompts name with <lora:NAME:WEIGHT> or JSONL \"loras\": [{\"name\": ..., \"weight\": ...}]; NAME is the file name without .safetensors (subfolders are searched).", valueName: "DIR"))
    var loraDirectory: String?

    /// The model (the shipped one when none is named), with the `--vae` in place of its own VAE.
    func location() throws -> ModelLocation {
        let location = try ModelLocation.open(model ?? DefaultModel.path, configDirectory: config, predictionType: predictionType)
        guard let vae else { return location }
        return try location.replacingVAE(ExternalVAE.open(vae, modelConfig: location.vae.config))
    }

    /// Loads the model (the shipped one when none is named) and says on stderr how long it took;
    /// `embeddingDir`: textual-inversion embeddings prompts may name (`--embedding-dir`).
    func loadPipeline(precision: Precision, embeddingDir: String? = nil) throws -> StableDiffusionPipeline {
        try loadPipeline(location: location(), precision: precision, embeddingDir: embeddingDir)
    }

    /// Builds the pipeline of `location` (with its LoRAs merged) and says how long it took.
    func loadPipeline(location: ModelLocation, precision: Precision, embeddingDir: String? = nil) throws -> StableDiffusionPipeline {
        let start = Date()
        let pipeline = try StableDiffusionPipeline(location: location,
                                                   fallbackTokenizerDirectory: DefaultModel.tokenizerDirectory,
                                                   precision: precision,
                                                   textualInversions: embeddingDir.map { dir in
                                                       { tokenizer, width in try TextualInversionLibrary(directory: dir, tokenizer: tokenizer, hiddenSize: width) }
                                                   })
        let vaeNote = (pipeline.location.externalVAE.map { " with VAE \($0.name)" } ?? "")
            + (pipeline.location.loras.map { loras in
                let merge = pipeline.location.unet.weights.updateSeconds + pipeline.location.textEncoder.weights.updateSeconds
                return " with " + loras.references.map(\.tag).joined(separator: " ") + String(format: " (merging took %.2f s)", merge)
            } ?? "")
        printError("loaded \(pipeline.location.name)\(vaeNote) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s (engine: \(pipeline.fingerprint))")
        return pipeline
    }
}

extension PredictionType: ExpressibleByArgument {
    public static var allValueStrings: [String] { [PredictionType.vPrediction.rawValue, PredictionType.epsilon.rawValue] }
}
