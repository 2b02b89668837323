import ArgumentParser

/// `sdcluster bench`: engine benchmarks with random weights (no download).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine's modules on real Stable Diffusion 1.5 shapes with random weights.")

    func run() async throws {
        print("bench: not yet implemented")
    }
}
