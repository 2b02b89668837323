import ArgumentParser
import ShapesWorld

/// `sdcluster shapes prompts`: captions that state every attribute, for judging a model.
struct ShapesPromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Print seeded shapes-world captions that state every attribute (one a line): a prompt file for `generate`, judged afterwards with `shapes judge`.",
        discussion: """
            A plain pattern is never written, so plain objects' captions leave the pattern out.
            The training set is drawn with seed 1; another seed gives held-out examples.
            Example: sdcluster shapes prompts --count 200 --seed 7 > held-out.txt
            """)

    @Option(help: "Number of captions.")
    var count: Int = 200

    @Option(help: "Seed: the same seed gives the same captions on every machine.")
    var seed: UInt64 = 7

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        for index in 0..<count {
            print(Caption.text(StatedAttributes(all: WorldSampler.example(seed: seed, index: index).attributes)))
        }
    }
}
