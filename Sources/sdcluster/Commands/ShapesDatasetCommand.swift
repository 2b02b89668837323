import ArgumentParser
import Foundation
import ShapesWorld

/// `sdcluster shapes dataset`: writes numbered PNGs and captions.jsonl.
struct ShapesDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Write a seeded shapes-world data set: PNG files plus captions.jsonl.")

    @Option(help: "Number of images to draw.")
    var count: Int

    @Option(help: "Image side in pixels (square images).")
    var size: Int = 128

    @Option(help: "Seed: the same seed gives the same files on every machine.")
    var seed: UInt64 = 0

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Anti-aliasing: sub-samples per pixel side.")
    var supersampling: Int = 4

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard (8...4096).contains(size) else { throw ValidationError("--size must be between 8 and 4096 pixels") }
        guard (1...16).contains(supersampling) else { throw ValidationError("--supersampling must be between 1 and 16") }
    }

    func run() throws {
        let start = Date()
        let step = max(1, count / 100)
        try Dataset.write(count: count, size: size, seed: seed, to: out,
                          rasterizer: Rasterizer(supersampling: supersampling)) { done in
            if done % step == 0 || done == count {
                FileHandle.standardError.write(Data("\rshapes dataset: \(done)/\(count)".utf8))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        FileHandle.standardError.write(Data(String(format: "\nwrote %d images to %@ in %.1f s\n", count, out, seconds).utf8))
    }
}
