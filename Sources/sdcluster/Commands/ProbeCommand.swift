import ArgumentParser

/// `sdcluster probe`: the paper's experiments (Yi et al., docs/paper-reproduction.md), measured on
/// a model by the shapes-world judge and by the distance to plain guidance.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Measure where the prompt acts: cut-off sweep, [EOS] swap, prompt switch, frequency of x0 per step.",
        discussion: "Each probe prints a table; --out DIR adds a CSV and a plot (PNG). docs/paper-reproduction.md has the shipped model's results.",
        subcommands: [ProbeCutoffCommand.self, ProbeEosSwapCommand.self, ProbePromptSwitchCommand.self, ProbeFrequencyCommand.self])
}
