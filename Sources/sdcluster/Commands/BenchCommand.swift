import ArgumentParser
import Compute
import Foundation
import StableDiffusion

/// `sdcluster bench`: engine benchmarks on real Stable Diffusion 1.5 shapes with random weights.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine on Stable Diffusion 1.5 shapes with random weights (nothing to download).",
        subcommands: [BenchUNet.self, BenchTextEncoder.self, BenchVAE.self, BenchAttention.self, BenchConvolution.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Option(help: "Threads for oneDNN and the engine's loops (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("repeat"), help: "Timed runs per case, after one untimed warm-up run (which creates oneDNN's primitives).")
    var repeats: Int = 2

    @Option(help: "Model config: 'sd15', 'sd2' or 'sdxl' (SD 1.5's, SD 2.1's or SDXL 1.0 base's, built in) or a diffusers model folder whose configs to use (its weights are not loaded). For sdxl the text encoder bench runs the first (CLIP ViT-L) encoder.")
    var config: String = "sd15"

    @Flag(help: "Print the time spent per operation (slowest first).")
    var profile = false

    @Option(help: "What convolutions, linear layers and attention compute in: fp32, or bf16 (bfloat16 weights and inputs, fp32 accumulation; needs AVX512-BF16 or AMX to be fast).")
    var precision: Precision = .fp32

    @Option(name: .customLong("max-isa"), help: ArgumentHelp("Cap the instruction set oneDNN's kernels use (e.g. avx2), to measure what a lesser CPU's kernels do here.", valueName: "ISA"))
    var maxISA: String?

    @Flag(name: .customLong("no-lanes"), help: "Run the samples of a batch one after the other, each on all threads, instead of side by side with the threads shared out among them (the default, same bits): to measure what the lanes give.")
    var noLanes = false

    @Flag(help: "First time one 3x3 convolution of 320 channels at 64x64 (the machine's peak for the UNet's commonest operation, same precision and threads) and print each result's share of it.")
    var peak = false

    /// GFLOP/s of the peak convolution, when `--peak` measured it.
    nonisolated(unsafe) static var peakGFLOPS: Double?

    func apply() throws {
        if let maxISA { try EngineISA.cap(maxISA) }
        try precision.checkSupported()
        if let threads { Threads.setCount(threads) }
        Threads.sampleLanes = !noLanes
        print("engine: \(EngineFingerprint.current(precision: precision)), \(Threads.count) threads\(noLanes ? ", samples one by one" : "")")
        OpStatistics.shared.countFlops = true
        if peak {
            let result = try BenchConvolution.measure(options: self)
            Self.peakGFLOPS = result.flops / 1e9 / result.seconds
            print(String(format: "peak: conv3x3 320ch @64x64, %@: %.1f GFLOP/s", precision.rawValue, Self.peakGFLOPS!))
        }
        OpStatistics.shared.profile = profile
    }

    /// Runs `body` once untimed and `repeat` times timed; returns the best time and its FLOPs.
    func time(_ body: () throws -> Void) rethrows -> (seconds: Double, flops: Double) {
        try body()
        var best = Double.infinity, flops = 0.0
        OpStatistics.shared.reset()
        for _ in 0..<max(1, repeats) {
            let before = OpStatistics.shared.flops
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds < best { best = seconds; flops = OpStatistics.shared.flops - before }
        }
        return (best, flops)
    }

    func report(_ label: String, _ result: (seconds: Double, flops: Double)) {
        let gflops = result.flops / 1e9
        let padded = label.padding(toLength: max(28, label.count), withPad: " ", startingAt: 0)
        let share = Self.peakGFLOPS.map { String(format: "  %3.0f%% of peak", 100 * gflops / result.seconds / $0) } ?? ""
        print(padded + String(format: " %8.3f s  %8.1f GFLOP  %7.1f GFLOP/s  peak RSS %6.2f GiB",
                              result.seconds, gflops, gflops / result.seconds, Double(ProcessMemory.peakResidentBytes) / 1_073_741_824) + share)
    }

    func printProfile(top: Int = 25) {
        guard profile else { return }
        let entries = OpStatistics.shared.entries.sorted { $0.value.seconds > $1.value.seconds }
        let total = entries.reduce(0) { $0 + $1.value.seconds }
        print("\nprofile (all timed runs, slowest operations first; total \(String(format: "%.3f", total)) s in measured ops):")
        for (name, e) in entries.prefix(top) {
            print(String(format: "  %7.3f s %5.1f%%  %6d calls  %7.1f GFLOP/s  ", e.seconds, 100 * e.seconds / max(total, 1e-9), e.calls,
                         e.flops > 0 ? e.flops / e.seconds / 1e9 : 0) + name)
        }
    }

    func configs() throws -> (UNetConfig, CLIPTextConfig, VAEConfig) {
        if config == "sd15" { return (.stableDiffusion15, .stableDiffusion15, .stableDiffusion15) }
        if config == "sd2" { return (.stableDiffusion2(sampleSize: 96), .stableDiffusion2, .stableDiffusion15) }
        if config == "sdxl" { return (.stableDiffusionXL, .stableDiffusion15, .stableDiffusionXL) }
        let location = try ModelLocation.open(config)
        return (location.unet.config, location.textEncoder.config, location.vae.config)
    }
}

struct BenchUNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet", abstract: "One UNet evaluation per latent size and batch size.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Latent sizes (square), comma separated: 32 is a 256x256 image, 64 a 512x512 one.")
    var sizes: String = "32,64"

    @Option(help: "Batch sizes, comma separated (2 = one classifier-free guidance step).")
    var batches: String = "1,2"

    @Option(help: ArgumentHelp("Feed seeded random latents and text embeddings (instead of zeros) and write every output to this safetensors file (`unet_SIZE_bBATCH`), to compare the bits of two engines (ISAs, precisions, machines).", valueName: "FILE"))
    var saveOutputs: String?

    func run() throws {
        try options.apply()
        let (config, _, _) = try options.configs()
        let weights = RandomWeights()
        let unet = try UNet2DConditionModel(config: config, weights: weights, precision: options.precision)
        print("UNet: \(weights.parameterCount / 1_000_000)M parameters, \(options.precision), \(Threads.count) threads")
        var outputs = SafeTensorsWriter()
        for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
            for batch in batches.split(separator: ",").compactMap({ Int($0) }) {
                let sampleShape = [batch, unet.inChannels, size, size], contextShape = [batch, 77, unet.crossAttentionDim]
                let random = saveOutputs != nil
                let sample = random ? Self.randn(sampleShape, seed: 1) : Tensor(zeros: sampleShape)
                let context = random ? Self.randn(contextShape, seed: 2) : Tensor(zeros: contextShape)
                // SDXL's UNet also takes the pooled text embedding and the time ids (a 1024x1024 image's).
                let added = unet.pooledTextChannels.map { width in
                    Array(repeating: AddedConditioning(pooledText: [Float](repeating: 0.1, count: width),
                                                       timeIds: AddedConditioning.defaultTimeIds(width: 1024, height: 1024)), count: batch)
                }
                var last: Tensor?
                let result = try options.time {
                    last = try unet(sample: sample, timesteps: Array(repeating: 500, count: batch), context: context, added: added)
                }
                options.report("unet \(size)x\(size) batch \(batch)", result)
                if let last { outputs.add("unet_\(size)_b\(batch)", last) }
            }
        }
        if let saveOutputs { try outputs.write(to: saveOutputs) }
        options.printProfile()
    }

    private static func randn(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = TorchGenerator(seed: seed)
        return Tensor(shape: shape, values: generator.randn(count: shape.reduce(1, *)))
    }
}

struct BenchTextEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text-encoder", abstract: "The CLIP text encoder on a batch of 77-token prompts.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Prompts per batch.")
    var batch: Int = 2

    func run() throws {
        try options.apply()
        let (_, config, _) = try options.configs()
        let model = try CLIPTextModel(config: config, weights: RandomWeights(), precision: options.precision)
        let ids = [49406] + Array(repeating: 320, count: 20) + Array(repeating: 49407, count: 56)
        let result = try options.time { for _ in 0..<batch { _ = try model.encode(ids) } }
        options.report("text encoder batch \(batch)", result)
        options.printProfile()
    }
}

struct BenchVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae", abstract: "The VAE decoder at the given image sizes.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Image sizes (square, pixels), comma separated.")
    var sizes: String = "256,512"

    func run() throws {
        try options.apply()
        let (_, _, config) = try options.configs()
        let vae = try AutoencoderKL(config: config, weights: RandomWeights(), precision: options.precision)
        for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
            let latent = Tensor(zeros: [1, config.latentChannels, size / config.downscaleFactor, size / config.downscaleFactor])
            let result = try options.time { _ = try vae.decode(latent) }
            options.report("vae decode \(size)x\(size)", result)
        }
        options.printProfile()
    }
}
