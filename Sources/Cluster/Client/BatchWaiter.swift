import Foundation

/// Follows a batch to its end with long-polling FETCHes, writing each finished PNG and its
/// manifest line into a folder as it arrives. Survives coordinator restarts: results live in
/// the coordinator's store, and the cursor simply asks again from where it was.
public struct BatchWaiter {
    public let client: ClusterClient
    public let batchId: String
    public let outputDirectory: String

    public init(client: ClusterClient, batchId: String, outputDirectory: String) {
        self.client = client
        self.batchId = batchId
        self.outputDirectory = outputDirectory
    }

    /// What the wait ended with.
    public struct Outcome: Sendable {
        public var counts: ImageCounts
        public var files: [String]
        public var failures: [(index: Int, error: String)]
    }

    /// Fetches until no image of the batch is queued or running. `progress` sees the counts
    /// after every answer.
    public func run(progress: (ImageCounts) -> Void = { _ in }) throws -> Outcome {
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let manifestPath = (outputDirectory as NSString).appendingPathComponent("manifest.jsonl")
        FileManager.default.createFile(atPath: manifestPath, contents: nil)
        let manifest = try FileHandle(forWritingTo: URL(fileURLWithPath: manifestPath))
        defer { try? manifest.close() }
        var since = 0
        var outcome = Outcome(counts: ImageCounts(), files: [], failures: [])
        while true {
            let answer = try client.fetch(batchId: batchId, since: since, waitSeconds: 2)
            for result in answer.results {
                if let png = result.png, let name = result.fileName {
                    let path = (outputDirectory as NSString).appendingPathComponent((name as NSString).lastPathComponent)
                    try Data(png).write(to: URL(fileURLWithPath: path), options: .atomic)
                    try manifest.write(contentsOf: Data((result.manifestLine + "\n").utf8))
                    outcome.files.append(path)
                } else {
                    outcome.failures.append((result.index, result.error ?? "failed"))
                }
            }
            since = answer.progress.nextSince
            outcome.counts = answer.progress.counts
            progress(answer.progress.counts)
            if answer.progress.counts.unfinished == 0 && answer.results.isEmpty { return outcome }
        }
    }
}
