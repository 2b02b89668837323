import Foundation
import ImageIO

/// Follows a batch to its end with long-polling FETCHes, writing each finished PNG and its
/// manifest line into a folder as it arrives. Survives coordinator restarts: results live in
/// the coordinator's store, and the cursor simply asks again from where it was.
///
/// The folder remembers where it is (`.sdcluster-fetch`: the batch and the FETCH cursor), so a
/// stopped wait can be resumed (`sdcluster fetch BATCH --out DIR`): the files already there are
/// checked (each one in the manifest must exist and decode as a PNG) and only what is missing is
/// fetched; when a check fails, everything is fetched again and the manifest rewritten.
public struct BatchWaiter {
    public let client: ClusterClient
    public let batchId: String
    public let outputDirectory: String
    /// Stop when no image of the batch has finished for this many seconds (the coordinator may
    /// answer but have no worker, or a full disk): a hard bound on the wait. Nil: no bound.
    public var giveUpWithoutProgress: Double?

    public init(client: ClusterClient, batchId: String, outputDirectory: String, giveUpWithoutProgress: Double? = nil) {
        self.client = client
        self.batchId = batchId
        self.outputDirectory = outputDirectory
        self.giveUpWithoutProgress = giveUpWithoutProgress
    }

    /// What the wait ended with.
    public struct Outcome: Sendable {
        public var counts: ImageCounts
        /// Files written by this wait.
        public var files: [String]
        /// Files a resumed wait found already there and intact.
        public var kept: Int = 0
        public var failures: [(index: Int, error: String)]
    }

    private var manifestPath: String { (outputDirectory as NSString).appendingPathComponent("manifest.jsonl") }
    private var cursorPath: String { (outputDirectory as NSString).appendingPathComponent(".sdcluster-fetch") }

    /// Fetches until no image of the batch is queued or running. `progress` sees the counts
    /// after every answer. With `resume`, continues from the folder's cursor when its files check out.
    public func run(resume: Bool = false, progress: (ImageCounts) -> Void = { _ in }) throws -> Outcome {
        try WritableFolder.check(outputDirectory, role: "output folder (--out)")
        var outcome = Outcome(counts: ImageCounts(), files: [], failures: [])
        var since = 0
        // Files the manifest already lists: a result fetched again (the cursor is written after
        // the files) is not listed twice.
        var listed: Set<String> = []
        if resume, let cursor = readCursor(), cursor.batch == batchId, let kept = verifiedFiles() {
            since = cursor.since
            listed = kept
            outcome.kept = kept.count
        } else {
            try write(Data(), to: manifestPath, what: "manifest")
        }
        let manifest: FileHandle
        do {
            manifest = try FileHandle(forWritingTo: URL(fileURLWithPath: manifestPath))
            try manifest.seekToEnd()
        } catch {
            throw FolderError(path: manifestPath, role: "manifest", reason: "cannot be opened: \(FileErrors.reason(error))")
        }
        defer { try? manifest.close() }
        var lastProgress = monotonicSeconds()
        var finished = -1
        while true {
            let answer = try client.fetch(batchId: batchId, since: since, waitSeconds: 2)
            for result in answer.results {
                if let png = result.png, let name = result.fileName {
                    let path = (outputDirectory as NSString).appendingPathComponent((name as NSString).lastPathComponent)
                    try write(Data(png), to: path, what: "image")
                    if listed.contains(name) { continue }
                    listed.insert(name)
                    do {
                        try manifest.write(contentsOf: Data((result.manifestLine + "\n").utf8))
                    } catch {
                        throw FolderError(path: manifestPath, role: "manifest", reason: "cannot be appended to: \(FileErrors.reason(error))")
                    }
                    outcome.files.append(path)
                } else {
                    outcome.failures.append((result.index, result.error ?? "failed"))
                }
            }
            since = answer.progress.nextSince
            try write(Data("{\"batch\":\"\(batchId)\",\"since\":\(since)}\n".utf8), to: cursorPath, what: "fetch cursor")
            outcome.counts = answer.progress.counts
            progress(answer.progress.counts)
            if answer.progress.counts.unfinished == 0 && answer.results.isEmpty { return outcome }
            let done = answer.progress.counts.total - answer.progress.counts.unfinished
            if done != finished {
                finished = done
                lastProgress = monotonicSeconds()
            } else if let limit = giveUpWithoutProgress, monotonicSeconds() - lastProgress > limit {
                throw ClientError.noProgress(batchId: batchId, seconds: limit, counts: answer.progress.counts)
            }
        }
    }

    private func write(_ data: Data, to path: String, what: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FolderError(path: path, role: what, reason: "cannot be written: \(FileErrors.reason(error))")
        }
    }

    private struct Cursor: Decodable { var batch: String; var since: Int }

    private func readCursor() -> Cursor? {
        guard let data = FileManager.default.contents(atPath: cursorPath) else { return nil }
        return try? JSONDecoder().decode(Cursor.self, from: data)
    }

    /// The files the manifest lists, when every one is there and decodes; nil otherwise.
    private func verifiedFiles() -> Set<String>? {
        guard let text = FileManager.default.contents(atPath: manifestPath).map({ String(decoding: $0, as: UTF8.self) }) else { return nil }
        var files: Set<String> = []
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let file = object["file"] as? String else { return nil }
            let path = (outputDirectory as NSString).appendingPathComponent((file as NSString).lastPathComponent)
            guard (try? PNG.read(from: path)) != nil else { return nil }
            files.insert(file)
        }
        return files
    }
}
