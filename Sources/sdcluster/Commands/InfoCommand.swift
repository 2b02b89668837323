import ArgumentParser
import Foundation
import ImageIO
import StableDiffusion

/// `sdcluster info`: the generation parameters stored in PNGs.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the generation parameters stored in PNG files (AUTOMATIC1111's `parameters` text).")

    @Argument(help: "PNG files.")
    var images: [String]

    @Flag(help: "Print each image's parameters as a JSON request line (usable in a JSONL prompt file).")
    var json = false

    func run() throws {
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
}
