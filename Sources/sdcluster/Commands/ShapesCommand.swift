import ArgumentParser

/// `sdcluster shapes`: the synthetic world of the default model (data sets and the judge).
struct ShapesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shapes",
        abstract: "Draw shapes-world data sets and judge images against their captions.",
        discussion: "The world (palette, shapes, captions, judge) is described in docs/default-model.md.",
        subcommands: [ShapesDatasetCommand.self, ShapesJudgeCommand.self, ShapesPromptsCommand.self])
}
