import ArgumentParser
import Compute

/// Entry point: settles the process environment (OpenMP, malloc), then runs the command line.
@main
enum Main {
    static func main() async {
        ProcessEnvironment.settle()
        await SDCluster.main()
    }
}

/// The `sdcluster` command: every subcommand lives in its own file under `Commands/`.
struct SDCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdcluster",
        abstract: "Distributed Stable Diffusion sampling on Linux CPUs.",
        discussion: """
            Runs Stable Diffusion v1.x models (diffusers folders or single-file .safetensors \
            checkpoints) on CPUs, in one process (`generate`) or spread over many machines \
            (`coordinator`, `worker`, `submit`).
            """,
        version: "0.2.0 (oneDNN \(EngineISA.libraryVersion); `sdcluster info` prints the engine fingerprint)",
        subcommands: [
            // Subcommands, one per line (keep one per line: branches add lines here).
            BenchCommand.self,
            TokenizeCommand.self,
            ShapesCommand.self,
            GenerateCommand.self,
            InfoCommand.self,
            CoordinatorCommand.self,
            WorkerCommand.self,
            SubmitCommand.self,
            StatusCommand.self,
            CancelCommand.self,
            FetchCommand.self,
            KeygenCommand.self,
            CompareImagesCommand.self,
            ProbeCommand.self,
        ]
    )
}
