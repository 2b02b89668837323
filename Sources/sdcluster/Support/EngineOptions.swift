import ArgumentParser
import Compute

/// The engine settings `generate` and `worker` share: threads and number format.
struct EngineOptions: ParsableArguments {
    @Option(help: "Threads for the engine (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("What convolutions, linear layers and attention compute in: fp32, or bf16 (weights stored in bfloat16, half the memory; fp32 accumulation; fast on CPUs with AVX512-BF16 or AMX). Images differ slightly from fp32 ones.", valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
    }

    /// Sets the engine's thread count (on the calling thread: OpenMP's setting is per thread).
    func applyThreads() {
        if let threads { Threads.setCount(threads) }
    }
}

extension Precision: ExpressibleByArgument {}
