import ArgumentParser
import Compute

/// The engine settings `generate`, `worker` and `bench` share: threads, number format, ISA cap.
struct EngineOptions: ParsableArguments {
    @Option(help: "Threads for the engine (default: all cores). Images are the same bits whatever the count.")
    var threads: Int?

    @Option(help: ArgumentHelp("What convolutions, linear layers and attention compute in: fp32, or bf16 (weights stored in bfloat16, half the memory; fp32 accumulation). bf16 needs a CPU with AVX512-BF16 or AMX and is refused elsewhere. Images differ slightly from fp32 ones.", valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    @Option(name: .customLong("max-isa"), help: ArgumentHelp("Cap the instruction set oneDNN's kernels use (\(EngineISA.names.joined(separator: ", "))). Images are identical only between machines running the same ISA: cap a mixed fleet at the lowest one (e.g. avx2) to get the same bits everywhere, at some speed on the better CPUs. Same as oneDNN's ONEDNN_MAX_CPU_ISA. Default: the best this CPU has.", valueName: "ISA"))
    var maxISA: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
        if let maxISA, !EngineISA.names.contains(maxISA.lowercased()) {
            throw ValidationError("--max-isa: unknown ISA '\(maxISA)'; use one of \(EngineISA.names.joined(separator: ", "))")
        }
    }

    /// Caps the ISA, checks the precision against this CPU, and sets the engine's thread count
    /// (on the calling thread: OpenMP's setting is per thread). Before any engine work.
    func apply() throws {
        if let maxISA { try EngineISA.cap(maxISA) }
        try precision.checkSupported()
        if let threads { Threads.setCount(threads) }
    }

    /// This process's engine fingerprint at the chosen precision.
    var fingerprint: EngineFingerprint { .current(precision: precision) }
}

extension Precision: ExpressibleByArgument {}
