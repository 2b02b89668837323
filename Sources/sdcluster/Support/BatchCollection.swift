import ArgumentParser
import Cluster
import Foundation

/// What `submit --wait` and `fetch` share: collect a batch's images into a folder with a progress
/// bar, then report. Exit status 1 when an image failed.
enum BatchCollection {
    static func collect(client: ClusterClient, batchId: String, folder: String, total: Int, giveUpAfter: Double,
                        resume: Bool) throws {
        client.giveUpAfter = giveUpAfter
        let bar = ProgressBar(total: total, label: "batch \(batchId)")
        let waiter = BatchWaiter(client: client, batchId: batchId, outputDirectory: folder, giveUpWithoutProgress: giveUpAfter)
        let outcome = try waiter.run(resume: resume) { counts in
            bar.update(counts.done + counts.failed + counts.cancelled, detail: "\(counts.running) running")
        }
        bar.finish()
        for failure in outcome.failures { printError("image \(failure.index) failed: \(failure.error)") }
        let kept = outcome.kept > 0 ? ", \(outcome.kept) already there and intact" : ""
        printError("\(outcome.files.count) image(s) written to \(folder)\(kept) (\(outcome.counts.failed) failed, \(outcome.counts.cancelled) cancelled)")
        if outcome.counts.failed > 0 { throw ExitCode(1) }
    }
}
