import ArgumentParser
import Compute
import Foundation
import StableDiffusion

/// `sdcluster generate`: text to images in this process, no setup.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate images from prompts in this process (no cluster needed).",
        discussion: """
            Examples:
              sdcluster generate "a red circle on a blue background"
              sdcluster generate "a large white cross" --count 4 --guidance-cutoff 0.5
              sdcluster generate --prompts prompts.jsonl --output out/
              sdcluster generate "masterpiece, (red dress:1.3), [blurry], EasyNegative" --clip-skip 2 --embedding-dir embeddings/
              sdcluster generate "a cat <lora:myStyle:0.8>" --lora-dir loras/ --vae vae-ft-mse-840000-ema-pruned.safetensors
            Each PNG carries its parameters in AUTOMATIC1111's `parameters` text; `sdcluster info` prints them.
            """)

    @Argument(help: "Prompts (each in quotes). Or use --prompts.")
    var prompts: [String] = []

    @Option(name: .customLong("prompts"), help: ArgumentHelp("A prompt file: one prompt a line, or JSONL with one request object a line (fields named like the options: prompt, negative_prompt, seed, count, steps, guidance_scale, guidance_cutoff, late_pass, scheduler, width, height, guidance_rescale, prompt_syntax, clip_skip, loras).", valueName: "FILE"))
    var promptsFile: String?

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("A folder of textual-inversion embeddings (A1111 / civitai .safetensors, sub-folders too): a prompt or negative prompt that writes a file's name (without .safetensors) gets its vectors there. Pickle files (.pt, .bin) are refused when a prompt names them. In a cluster, give every worker the same --embedding-dir.", valueName: "DIR"))
    var embeddingDir: String?

    @OptionGroup var sampling: SamplingOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Output folder, or a .png file name when making one image.", valueName: "FILE-OR-DIR"))
    var output: String = "outputs"

    @OptionGroup var engine: EngineOptions

    static func makeConfiguration() -> CommandConfiguration { configuration }

    func run() throws {
        try engine.apply()
        let requests = try sampling.requests(prompts: prompts, file: promptsFile)
        let base = try model.location()
        // Every LoRA is found and matched to the model before the first image.
        let groups = try LoRAGroups(requests, library: LoRALibrary(directory: model.loraDirectory), model: base)
        printError("\(requests.count) image(s) to make")
        var used = 0, plain = 0, done = 0
        var loading = 0.0  // model builds and file hashing: not part of the per-image time
        let start = Date()
        for (groupIndex, group) in groups.groups.enumerated() {
            let loadStart = Date()
            // One model per LoRA set: the previous one is released before the next is built.
            let pipeline = try model.loadPipeline(location: base.applyingLoRAs(group.loras), precision: engine.precision,
                                                  embeddingDir: embeddingDir)
            // Embedding names and clip skips are checked for every request before the first image (the
            // tokenizer, embeddings and text encoder depth are the same with any LoRA set).
            if groupIndex == 0 {
                for (index, request) in requests.enumerated() {
                    do { try pipeline.checkTexts(of: request) } catch { throw UnreadableRequestText(index: index, reason: "\(error)") }
                }
            }
            let hashStart = Date()
            let weightFields = pipeline.location.weightParameterFields()
            if !weightFields.isEmpty {
                printError(String(format: "hashed the LoRA / VAE files for the PNG parameters in %.2f s", Date().timeIntervalSince(hashStart)))
            }
            loading += Date().timeIntervalSince(loadStart)
            for index in group.indices {
                let request = requests[index]
                done += 1
                // Off a terminal: one line per finished image (a bar per step would flood logs of long lists).
                let bar = ProgressBar(total: request.steps, label: "image \(done)/\(requests.count)", linePercent: 100)
                let image = try pipeline.generate(request) { progress in
                    bar.update(progress.completedSteps, detail: "\(progress.evaluationsUsed) UNet evals")
                    return true
                }
                bar.finish()
                if image.truncatedTokens > 0 {
                    printError("warning: image \(index + 1): \(image.truncatedTokens) prompt tokens past CLIP's 75 were cut (literal prompt syntax; see `sdcluster tokenize`)")
                }
                let path = ImageOutput.path(for: index, seed: request.seed, output: output, total: requests.count)
                try ImageOutput.write(image, modelName: pipeline.location.name, weightFields: weightFields, to: path)
                print(path)
                used += image.unetEvaluations
                plain += image.plainGuidanceEvaluations
            }
        }
        let seconds = Date().timeIntervalSince(start) - loading
        let saved = plain - used
        printError(String(format: "%d image(s) in %.2f s (%.2f s each); %d UNet evaluations, %d fewer than plain guidance (%.0f%% saved)",
                          requests.count, seconds, seconds / Double(requests.count), used, saved,
                          plain > 0 ? 100 * Double(saved) / Double(plain) : 0))
    }
}

/// A request whose texts the model cannot read (an unusable embedding, a clip skip past its
/// text encoder's layers), found before the first image.
struct UnreadableRequestText: Error, CustomStringConvertible {
    let index: Int
    let reason: String

    var description: String { "request \(index + 1): \(reason); nothing was run" }
}
