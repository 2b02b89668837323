import ArgumentParser
import Cluster
import Foundation

/// `sdcluster status`: the coordinator's batches, workers and throughput.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a coordinator's batches, workers and throughput.")

    @Argument(help: "Only this batch.")
    var batch: String?

    @Option(help: ArgumentHelp("The coordinator's client endpoint.", valueName: "ENDPOINT"))
    var coordinator = "tcp://127.0.0.1:7430"

    @OptionGroup var curve: CurveOptions

    @Flag(help: "Print the reply as JSON.")
    var json = false

    func run() throws {
        let client = ClusterClient(endpoint: coordinator, context: try ZMQContext(), giveUpAfter: 10, credentials: try curve.credentials())
        let reply = try client.status(batchId: batch)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(reply), as: UTF8.self))
            return
        }
        print("batches:")
        for b in reply.batches {
            let c = b.counts
            print("  \(b.batchId)  \(b.state.padding(toLength: 9, withPad: " ", startingAt: 0)) \(c.done)/\(c.total) done, \(c.running) running, \(c.queued) queued, \(c.failed) failed, \(c.cancelled) cancelled  (\(b.clientBatchName))")
        }
        let classes = Set(reply.workers.compactMap(\.engine))
        print("workers: \(reply.workers.count)" + (classes.count > 1 ? " in \(classes.count) engine classes (each image stays on one)" : ""))
        for w in reply.workers {
            print("  \(w.name)  models \(w.models.joined(separator: ",")), \(w.inFlight) evaluation(s) in flight, \(w.evaluationsDone) done, liveness \(w.liveness), engine \(w.engine ?? "not reported")"
                  + (w.retired.map { "; RETIRED, gets no work: \($0)" } ?? ""))
        }
        print(String(format: "throughput: %.2f UNet evaluations/s (last minute)", reply.evaluationsPerSecond))
        for problem in reply.problems ?? [] { print("PROBLEM: \(problem)") }
    }
}
