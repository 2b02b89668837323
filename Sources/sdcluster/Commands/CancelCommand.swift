import ArgumentParser
import Cluster

/// `sdcluster cancel BATCH`: stop a batch; finished images stay.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a batch on the coordinator (finished images are kept).")

    @Argument(help: "The batch id (printed by submit).")
    var batch: String

    @Option(help: ArgumentHelp("The coordinator's client endpoint.", valueName: "ENDPOINT"))
    var coordinator = "tcp://127.0.0.1:7430"

    @OptionGroup var curve: CurveOptions

    func run() throws {
        let client = ClusterClient(endpoint: coordinator, context: try ZMQContext(), giveUpAfter: 10, credentials: try curve.credentials())
        let progress = try client.cancel(batchId: batch)
        let c = progress.counts
        print("batch \(batch) cancelled: \(c.done) done, \(c.failed) failed, \(c.cancelled) cancelled")
    }
}
