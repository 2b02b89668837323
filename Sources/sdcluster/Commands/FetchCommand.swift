import ArgumentParser
import Cluster
import Foundation

/// `sdcluster fetch BATCH`: collect a batch's images (again), e.g. after a stopped `submit --wait`.
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Collect a batch's images into a folder, waiting until the batch ends.",
        discussion: """
            Resumes where an earlier `submit --wait` or `fetch` into the same folder stopped: the \
            files its manifest lists are checked (each must be there and decode as a PNG) and only \
            the rest is fetched; if a check fails, everything is fetched again.
            Example: sdcluster fetch 20261128-143021-1378b2 --out results/
            """)

    @Argument(help: "The batch id (printed by submit; `sdcluster status` lists them).")
    var batch: String

    @Option(help: ArgumentHelp("Folder for the PNGs and manifest.jsonl (default: outputs/<batch>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("The coordinator's client endpoint.", valueName: "ENDPOINT"))
    var coordinator = "tcp://127.0.0.1:7430"

    @OptionGroup var curve: CurveOptions

    @Option(help: ArgumentHelp("Give up when no image has finished (or the coordinator has not answered) for this many seconds.", valueName: "S"))
    var giveUpAfter: Double = 1800

    func validate() throws {
        guard giveUpAfter > 0 else { throw ValidationError("--give-up-after must be positive") }
    }

    func run() throws {
        let client = ClusterClient(endpoint: coordinator, context: try ZMQContext(), giveUpAfter: 20, credentials: try curve.credentials())
        let status = try client.status(batchId: batch)
        guard let summary = status.batches.first else { throw ValidationError("the coordinator has no batch \(batch)") }
        try BatchCollection.collect(client: client, batchId: batch, folder: out ?? "outputs/\(batch)", total: summary.counts.total,
                                    giveUpAfter: giveUpAfter, resume: true)
    }
}
