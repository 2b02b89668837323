import ArgumentParser
import StableDiffusion

/// `--seed`: a number, or -1 / "random" for a seed drawn when the requests are made.
enum SeedOption: ExpressibleByArgument {
    case fixed(UInt64), random

    init?(argument: String) {
        if argument == "-1" || argument.lowercased() == "random" { self = .random }
        else if let seed = UInt64(argument) { self = .fixed(seed) }
        else { return nil }
    }

    var value: UInt64 {
        switch self {
        case .fixed(let seed): return seed
        case .random: return GenerationRequest.randomSeed()
        }
    }
}

/// `--guidance-interval LOW,HIGH`.
struct GuidanceIntervalOption: ExpressibleByArgument {
    let interval: GuidanceInterval

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1] else { return nil }
        interval = GuidanceInterval(sigmaLow: low, sigmaHigh: high)
    }
}

/// The sampling options `generate` and `submit` share; for prompt files they are the defaults of
/// every line.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "What the image should not show (the unconditional pass's text; empty when not given).")
    var negativePrompt: String = ""

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the first image; image i of a prompt uses seed + i (AUTOMATIC1111's rule). Same seed, same image. -1 (or 'random'): a random seed, drawn once and recorded in each PNG and manifest line.", valueName: "N|-1"))
    var seed: SeedOption = .fixed(42)

    @Option(help: "Images per prompt.")
    var count: Int = 1

    @Option(help: "Denoising steps.")
    var steps: Int = 25

    @Option(name: .long, help: ArgumentHelp(
        "Classifier-free guidance scale w; 1 or less runs the conditional pass alone. Default: the model's recommendation (sdcluster.json in its folder; 2.5 for the shipped shapes model), else 7.5.",
        valueName: "W"))
    var guidanceScale: Float?

    @Option(name: .long, help: ArgumentHelp(
        "Share of steps, from the start, that run full guidance (both passes); the rest run one pass. 1 = plain CFG; 0.5 saves a quarter of the UNet work.",
        valueName: "C"))
    var guidanceCutoff: Float = 1

    @Option(name: .long, help: "The single pass after the cut-off: 'uncond' (the paper's rule: drop the text) or 'cond' (diffusers' SDCFGCutoffCallback).")
    var latePass: LatePass = .uncond

    @Option(name: .long, help: ArgumentHelp(
        "Guidance interval (Kynkaanniemi et al.): full guidance only while the noise level sigma is in (LOW, HIGH], the conditional pass alone outside it. E.g. 0.28,5.42.",
        valueName: "LOW,HIGH"))
    var guidanceInterval: GuidanceIntervalOption?

    @Option(name: .long, help: ArgumentHelp(
        "Adaptive guidance (Castillo et al.): once the conditional and unconditional predictions' cosine similarity passes THRESHOLD, the remaining steps run the conditional pass alone (typical: 0.99 to 0.9999).",
        valueName: "THRESHOLD"))
    var adaptiveGuidance: Float?

    @Option(name: .long, help: ArgumentHelp(
        "Guidance rescale (diffusers' guidance_rescale, Lin et al.): on guided steps, blend the guided prediction with itself rescaled to the conditional prediction's spread; 0 = off. Against over-exposed images from v-prediction / zero-terminal-SNR models (typical: 0.7).",
        valueName: "PHI"))
    var guidanceRescale: Float?

    @Option(help: "ddim | pndm | euler | euler-a | dpmpp-2m | dpmpp-2m-karras. Default: the model's own (the class its scheduler_config.json names, as diffusers loads it: PNDM for SD 1.x, Euler for SDXL; PNDM when it names another).")
    var scheduler: SchedulerKind?

    @Option(help: ArgumentHelp(
        "Image width in pixels, a multiple of the model's VAE factor (8 for SD). Default: the size the model was trained at (its UNet's sample_size x the VAE factor: 128 for the shipped shapes model, 512 for SD v1).",
        valueName: "PIXELS"))
    var width: Int?

    @Option(help: ArgumentHelp("Image height in pixels. Default: as --width.", valueName: "PIXELS"))
    var height: Int?

    @Option(name: .long, help: ArgumentHelp(
        "How prompts are read: 'a1111' (default: AUTOMATIC1111's emphasis (word) (word:1.3) [word], \\( escapes, BREAK, and prompts past 75 tokens in 75-token chunks) or 'literal' (every character is text, cut at 75 tokens, as diffusers). Plain prompts of up to 75 tokens give the same image either way.",
        valueName: "a1111|literal"))
    var promptSyntax: PromptSyntax?

    @Option(name: .long, help: ArgumentHelp(
        "A1111's 'Clip skip': 1 = the text encoder's last layer (default), 2 = the penultimate layer (then the final layer norm), as anime-style SD 1.x models expect. diffusers' clip_skip=1 is this 2.",
        valueName: "N"))
    var clipSkip: Int?

    /// The request that options alone describe, for `prompt` (a random `--seed` is drawn here).
    func request(prompt: String) -> GenerationRequest {
        GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, seed: seed.value, steps: steps,
                          guidanceScale: guidanceScale, guidanceCutoff: guidanceCutoff, latePass: latePass,
                          scheduler: scheduler, width: width, height: height,
                          guidanceInterval: guidanceInterval?.interval, adaptiveGuidanceThreshold: adaptiveGuidance,
                          guidanceRescale: guidanceRescale, promptSyntax: promptSyntax, clipSkip: clipSkip)
    }

    /// Requests from positional prompts and/or a prompt file, validated before anything runs.
    func requests(prompts: [String], file: String?) throws -> [GenerationRequest] {
        let defaults = request(prompt: "")
        var out: [GenerationRequest] = []
        if !prompts.isEmpty {
            let text = prompts.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
            out += try PromptFile.parse(text: text, defaults: defaults, count: count, format: .plainText, source: "command line")
        }
        if let file { out += try PromptFile.read(path: file, defaults: defaults, count: count) }
        guard !out.isEmpty else { throw ValidationError("Give a prompt (in quotes) or --prompts FILE.") }
        return out
    }
}

extension LatePass: ExpressibleByArgument {}
extension PromptSyntax: ExpressibleByArgument {}
extension SchedulerKind: ExpressibleByArgument {}
