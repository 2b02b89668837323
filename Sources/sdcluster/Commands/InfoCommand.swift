import ArgumentParser
import Compute
import Foundation
import ImageIO
import StableDiffusion

/// `sdcluster info`: the generation parameters stored in PNGs, or this machine's engine.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the generation parameters stored in PNG files (AUTOMATIC1111's `parameters` text), or, with no file, this machine's engine fingerprint.",
        discussion: """
            The engine fingerprint (oneDNN version, the ISA its kernels run with, the engine's own \
            kernel path, precision) decides an image's exact bits besides its parameters: machines \
            with equal fingerprints make identical images; every PNG records it as `Engine`.
              sdcluster info                      # this machine, fp32
              sdcluster info --max-isa avx2       # what a worker capped at AVX2 computes with
            """)

    @Argument(help: "PNG files (none: print this machine's engine fingerprint).")
    var images: [String] = []

    @OptionGroup var engine: EngineOptions

    @Flag(help: "Print each image's parameters as a JSON request line (usable in a JSONL prompt file).")
    var json = false

    func run() throws {
        if images.isEmpty { return try printEngine() }
        var failures = 0
        for path in images {
            do {
                let chunks = try PNG.textChunks(at: path)
                guard let text = chunks.first(where: { $0.0 == "parameters" })?.1 else {
                    printError("\(path): no `parameters` text chunk (not written by sdcluster or AUTOMATIC1111)")
                    failures += 1
                    continue
                }
                if images.count > 1 { print("== \(path)") }
                if json {
                    let parameters = try GenerationParameters(parsing: text)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(parameters.request), as: UTF8.self))
                } else {
                    print(text)
                }
                for (key, value) in chunks where key != "parameters" { print("\(key): \(value)") }
            } catch {
                printError("\(path): \(error)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func printEngine() throws {
        if let maxISA = engine.maxISA { try EngineISA.cap(maxISA) }
        if let threads = engine.threads { Threads.setCount(threads) }
        print("engine: \(engine.fingerprint)")
        print("bf16: " + (EngineISA.hasNativeBFloat16 ? "native (--precision bf16 available)" : "not native on this ISA (--precision bf16 is refused)"))
        print("threads: \(Threads.count)")
    }
}
