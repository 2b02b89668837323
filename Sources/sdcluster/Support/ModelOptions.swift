import ArgumentParser
import Compute
import Foundation
import StableDiffusion

/// The model options `generate` and `worker` share, and loading the pipeline from them.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A diffusers model folder or a single-file SD 1.x .safetensors checkpoint (default: the shipped shapes model).", valueName: "DIR|FILE"))
    var model: String?

    @Option(help: ArgumentHelp("For a single-file checkpoint: a diffusers folder whose configs and tokenizer to use (default: SD 1.5's configs).", valueName: "DIR"))
    var config: String?

    @Option(help: ArgumentHelp("A VAE to use instead of the model's own: a diffusers VAE folder (config.json + weights) or a single-file VAE such as vae-ft-mse-840000-ema-pruned.safetensors. Recorded in PNG parameters as `VAE` and `VAE hash`.", valueName: "FILE|DIR"))
    var vae: String?

    @Option(name: .customLong("lora-dir"), help: ArgumentHelp("The folder of LoRA .safetensors files (kohya/AUTOMATIC1111 or diffusers/PEFT layout) that prompts name with <lora:NAME:WEIGHT> or JSONL \"loras\": [{\"name\": ..., \"weight\": ...}]; NAME is the file name without .safetensors (subfolders are searched).", valueName: "DIR"))
    var loraDirectory: String?

    /// The model (the shipped one when none is named), with the `--vae` in place of its own VAE.
    func location() throws -> ModelLocation {
        let location = try ModelLocation.open(model ?? DefaultModel.path, configDirectory: config)
        guard let vae else { return location }
        return try location.replacingVAE(ExternalVAE.open(vae, modelConfig: location.vae.config))
    }

    /// Loads the model (the shipped one when none is named) and says on stderr how long it took.
    func loadPipeline(precision: Precision) throws -> StableDiffusionPipeline {
        try loadPipeline(location: location(), precision: precision)
    }

    /// Builds the pipeline of `location` (with its LoRAs merged) and says how long it took.
    func loadPipeline(location: ModelLocation, precision: Precision) throws -> StableDiffusionPipeline {
        let start = Date()
        let pipeline = try StableDiffusionPipeline(location: location,
                                                   fallbackTokenizerDirectory: DefaultModel.tokenizerDirectory,
                                                   precision: precision)
        let vaeNote = (pipeline.location.externalVAE.map { " with VAE \($0.name)" } ?? "")
            + (pipeline.location.loras.map { loras in
                let merge = pipeline.location.unet.weights.updateSeconds + pipeline.location.textEncoder.weights.updateSeconds
                return " with " + loras.references.map(\.tag).joined(separator: " ") + String(format: " (merging took %.2f s)", merge)
            } ?? "")
        printError("loaded \(pipeline.location.name)\(vaeNote) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s (engine: \(pipeline.fingerprint))")
        return pipeline
    }
}
