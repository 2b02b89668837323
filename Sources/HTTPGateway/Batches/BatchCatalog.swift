import Cluster
import Foundation

/// What the gateway has learnt of each batch's finished images (index, state, file, manifest
/// line, where in the batch's FETCH order it came): FETCH is a cursor, so each finished image
/// crosses the client socket once for the listing, and its PNG again only when asked for.
/// Nothing here is durable: a restarted gateway reads from the cursor's start again.
actor BatchCatalog {
    struct Entry: Sendable {
        var index: Int
        var sequence: Int
        var state: ImageStatus
        var file: String?
        var manifestLine: String
        var error: String?
    }

    private struct Known {
        var since = 0
        var entries: [Int: Entry] = [:]
        /// File name -> index, for the image route.
        var files: [String: Int] = [:]
    }

    private var batches: [String: Known] = [:]
    private let link: CoordinatorLink

    init(link: CoordinatorLink) { self.link = link }

    /// Reads what finished since the last look, and returns every finished image with the
    /// batch's counts. Throws what the coordinator refused (`unknown-batch` among them).
    func refresh(_ batchId: String) async throws -> (entries: [Entry], counts: ImageCounts) {
        var known = batches[batchId] ?? Known()
        var counts = ImageCounts()
        while true {
            let since = known.since
            let answer = try await link.call { try $0.fetch(batchId: batchId, since: since, waitSeconds: 0) }
            for result in answer.results {
                let entry = Entry(index: result.index, sequence: result.sequence, state: result.state, file: result.fileName,
                                  manifestLine: result.manifestLine, error: result.error)
                known.entries[result.index] = entry
                if let file = result.fileName { known.files[file] = result.index }
            }
            known.since = answer.progress.nextSince
            counts = answer.progress.counts
            if answer.results.isEmpty { break }
        }
        // Another refresh may have run meanwhile; keep whichever went further.
        if let other = batches[batchId], other.since > known.since { known = other }
        batches[batchId] = known
        return (known.entries.values.sorted { $0.sequence < $1.sequence }, counts)
    }

    /// The PNG bytes of one finished image by file name, or nil when the batch has no such file.
    func png(batchId: String, file: String) async throws -> [UInt8]? {
        if batches[batchId]?.files[file] == nil { _ = try await refresh(batchId) }
        guard let index = batches[batchId]?.files[file], let entry = batches[batchId]?.entries[index] else { return nil }
        let answer = try await link.call { try $0.fetch(batchId: batchId, since: entry.sequence, waitSeconds: 0, limit: 1) }
        return answer.results.first { $0.fileName == file }?.png
    }

    /// Files of the latest finished images of the given batches (newest batch first), newest
    /// first within each batch: the status page's thumbnails.
    func latest(_ count: Int, of batchIds: [String]) -> [(batchId: String, file: String)] {
        var found: [(batchId: String, file: String)] = []
        for id in batchIds {
            let entries = batches[id].map { Array($0.entries.values) } ?? []
            for entry in entries.sorted(by: { $0.sequence > $1.sequence }) {
                if let file = entry.file { found.append((id, file)) }
                if found.count == count { return found }
            }
        }
        return found
    }
}
