import XCTest
import StableDiffusion
@testable import Cluster

final class JobStoreTests: XCTestCase {
    private func storePath() throws -> String {
        try temporaryFolder(self).appendingPathComponent("jobs.sqlite").path
    }

    func testStoreUsesWriteAheadLogging() throws {
        let store = try JobStore(path: try storePath())
        XCTAssertEqual(store.journalMode, "wal")
    }

    func testSubmitStoresTheBatchAndEveryImageAsQueued() throws {
        let store = try JobStore(path: try storePath())
        let outcome = try store.submit(clientName: "prompts.txt", submissionId: "s-1", requests: requests(5), outputDirectory: "/out")
        XCTAssertTrue(outcome.isNew)
        let batch = try XCTUnwrap(try store.batch(outcome.batchId))
        XCTAssertEqual(batch.clientName, "prompts.txt")
        XCTAssertEqual(batch.imageCount, 5)
        XCTAssertEqual(batch.state, .active)
        XCTAssertEqual(batch.outputDirectory, "/out")
        XCTAssertEqual(try store.counts(batchId: outcome.batchId), ImageCounts(queued: 5))
        let unfinished = try store.unfinishedImages()
        XCTAssertEqual(unfinished.map(\.key.index), [0, 1, 2, 3, 4])
        XCTAssertEqual(unfinished.map(\.request), requests(5), "requests come back exactly as submitted")
    }

    func testResubmittingTheSameSubmissionIdReturnsTheSameBatch() throws {
        let store = try JobStore(path: try storePath())
        let first = try store.submit(clientName: "a", submissionId: "uuid-7", requests: requests(2), outputDirectory: "/o")
        let again = try store.submit(clientName: "a", submissionId: "uuid-7", requests: requests(2), outputDirectory: "/o")
        XCTAssertEqual(again, SubmitOutcome(batchId: first.batchId, isNew: false))
        XCTAssertEqual(try store.counts().total, 2, "no second copy of the images")
        let other = try store.submit(clientName: "a", requests: requests(1), outputDirectory: "/o")
        XCTAssertNotEqual(other.batchId, first.batchId)
    }

    func testEverythingSurvivesCloseAndReopen() throws {
        let path = try storePath()
        var store: JobStore? = try JobStore(path: path)
        let id = try store!.submit(clientName: "c", requests: requests(4), outputDirectory: "/o").batchId
        try store!.markRunning(ImageKey(batchId: id, index: 1))
        try store!.saveCheckpoint(ImageKey(batchId: id, index: 1), checkpoint: [9, 8, 7], unetEvaluations: 12, workers: ["w3"])
        XCTAssertEqual(try store!.markDone(ImageKey(batchId: id, index: 2), outcome: outcome(2, seed: 1002)), 0)
        try store!.close()
        store = nil

        let reopened = try JobStore(path: path)
        XCTAssertEqual(try reopened.counts(batchId: id), ImageCounts(queued: 2, running: 1, done: 1))
        let unfinished = try reopened.unfinishedImages()
        XCTAssertEqual(unfinished.map(\.key.index), [0, 1, 3])
        let resumed = try XCTUnwrap(unfinished.first { $0.key.index == 1 })
        XCTAssertEqual(resumed.state, .running)
        XCTAssertEqual(resumed.checkpoint, [9, 8, 7])
        XCTAssertEqual(resumed.unetEvaluations, 12)
        XCTAssertEqual(resumed.workers, ["w3"])
        XCTAssertEqual(resumed.request, requests(4)[1])
        let results = try reopened.resultsSince(batchId: id, since: 0)
        XCTAssertEqual(results.map(\.key.index), [2])
        XCTAssertEqual(results.first?.fileName, "2-1002.png")
        XCTAssertEqual(results.first?.manifestLine, #"{"index":2}"#)
        XCTAssertEqual(results.first?.workers, ["w1", "w2"])
        XCTAssertEqual(results.first?.unetEvaluations, 32)
    }

    func testCommittedSubmitIsInTheFilesWithoutClose() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("jobs.sqlite").path
        let live = try JobStore(path: path)  // never closed: stands for a process that died
        let id = try live.submit(clientName: "c", requests: requests(3), outputDirectory: "/o").batchId

        // What a crash leaves behind is what is in the files: copy them (main file and WAL, not
        // the shared-memory index, which SQLite rebuilds) and open the copy.
        let crash = folder.appendingPathComponent("after-crash")
        try FileManager.default.createDirectory(at: crash, withIntermediateDirectories: true)
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: crash.appendingPathComponent("jobs.sqlite" + suffix).path)
        }
        let recovered = try JobStore(path: crash.appendingPathComponent("jobs.sqlite").path)
        XCTAssertEqual(try recovered.counts(batchId: id), ImageCounts(queued: 3))
        XCTAssertEqual(try recovered.unfinishedImages().map(\.request), requests(3))

        // And a second connection to the live file sees it too.
        XCTAssertEqual(try JobStore(path: path).counts(batchId: id), ImageCounts(queued: 3))
        withExtendedLifetime(live) {}
    }

    func testDoneImagesNeverComeBackAsUnfinished() throws {
        let path = try storePath()
        let store = try JobStore(path: path)
        let id = try store.submit(clientName: "c", requests: requests(3), outputDirectory: "/o").batchId
        let key = ImageKey(batchId: id, index: 0)
        XCTAssertEqual(try store.markDone(key, outcome: outcome(0, seed: 1000)), 0)
        XCTAssertFalse(try store.unfinishedImages().contains { $0.key == key })
        XCTAssertFalse(try store.markRunning(key), "a done image cannot be started again")
        XCTAssertFalse(try store.saveCheckpoint(key, checkpoint: [1], unetEvaluations: 1, workers: []))
        XCTAssertNil(try store.markDone(key, outcome: outcome(0, seed: 1000)), "a late duplicate result is ignored")
        XCTAssertNil(try store.markFailed(key, error: "late"), "and cannot turn it into a failure")
        XCTAssertEqual(try store.imageStatus(key), .done)
        try store.close()
        XCTAssertFalse(try JobStore(path: path).unfinishedImages().contains { $0.key == key }, "nor after a reopen")
    }

    func testFinishingEveryImageFinishesTheBatchAndNumbersResultsInOrder() throws {
        let store = try JobStore(path: try storePath())
        let id = try store.submit(clientName: "c", requests: requests(3), outputDirectory: "/o").batchId
        XCTAssertEqual(try store.markDone(ImageKey(batchId: id, index: 2), outcome: outcome(2, seed: 1)), 0)
        XCTAssertEqual(try store.markFailed(ImageKey(batchId: id, index: 0), error: "worker exploded", unetEvaluations: 4), 1)
        XCTAssertEqual(try store.batch(id)?.state, .active)
        XCTAssertEqual(try store.markDone(ImageKey(batchId: id, index: 1), outcome: outcome(1, seed: 1)), 2)
        XCTAssertEqual(try store.batch(id)?.state, .finished)
        XCTAssertEqual(try store.resultsSince(batchId: id, since: 0).map(\.key.index), [2, 0, 1])
        let later = try store.resultsSince(batchId: id, since: 1)
        XCTAssertEqual(later.map(\.sequence), [1, 2])
        XCTAssertEqual(later.first?.state, .failed)
        XCTAssertEqual(later.first?.error, "worker exploded")
        XCTAssertEqual(try store.resultsSince(batchId: id, since: 0, limit: 1).count, 1)
        XCTAssertEqual(try store.unfinishedImages(), [])
    }

    func testCancelStopsUnfinishedImagesAndKeepsFinishedOnes() throws {
        let store = try JobStore(path: try storePath())
        let id = try store.submit(clientName: "c", requests: requests(4), outputDirectory: "/o").batchId
        let other = try store.submit(clientName: "d", requests: requests(1), outputDirectory: "/o").batchId
        try store.markRunning(ImageKey(batchId: id, index: 1))
        try store.markDone(ImageKey(batchId: id, index: 2), outcome: outcome(2, seed: 1))

        XCTAssertEqual(try store.cancel(batchId: id), 3)
        XCTAssertEqual(try store.counts(batchId: id), ImageCounts(done: 1, cancelled: 3))
        XCTAssertEqual(try store.batch(id)?.state, .cancelled)
        XCTAssertEqual(try store.unfinishedImages().map(\.key), [ImageKey(batchId: other, index: 0)], "other batches untouched")
        XCTAssertNil(try store.markDone(ImageKey(batchId: id, index: 1), outcome: outcome(1, seed: 1)),
                     "a result arriving after cancel is ignored")
        XCTAssertEqual(try store.cancel(batchId: id), 0, "cancelling twice changes nothing")
        XCTAssertThrowsError(try store.cancel(batchId: "no-such-batch")) {
            XCTAssertEqual($0 as? JobStoreError, .unknownBatch("no-such-batch"))
        }
    }

    func testCountsCoverTheWholeStore() throws {
        let store = try JobStore(path: try storePath())
        let a = try store.submit(clientName: "a", requests: requests(2), outputDirectory: "/o").batchId
        _ = try store.submit(clientName: "b", requests: requests(3), outputDirectory: "/o")
        try store.markRunning(ImageKey(batchId: a, index: 0))
        XCTAssertEqual(try store.counts(), ImageCounts(queued: 4, running: 1))
        XCTAssertEqual(try store.batches().map(\.clientName), ["a", "b"])
    }

    func testRefusalsAreTyped() throws {
        let path = try storePath()
        let store = try JobStore(path: path)
        XCTAssertThrowsError(try store.submit(clientName: "c", requests: [], outputDirectory: "/o")) {
            XCTAssertEqual($0 as? JobStoreError, .emptyBatch)
        }
        let missing = ImageKey(batchId: "nope", index: 3)
        XCTAssertThrowsError(try store.markRunning(missing)) { XCTAssertEqual($0 as? JobStoreError, .unknownImage(missing)) }
        XCTAssertThrowsError(try store.markDone(missing, outcome: outcome(3, seed: 1))) {
            XCTAssertEqual($0 as? JobStoreError, .unknownImage(missing))
        }
        XCTAssertThrowsError(try store.counts(batchId: "nope")) { XCTAssertEqual($0 as? JobStoreError, .unknownBatch("nope")) }
        try store.close()

        let raw = try SQLiteDatabase(path: path)
        try raw.execute("PRAGMA user_version = 99")
        try raw.close()
        XCTAssertThrowsError(try JobStore(path: path)) {
            XCTAssertEqual($0 as? JobStoreError, .schemaTooNew(found: 99, supported: JobStoreSchema.version))
        }
    }

    func testBatchIdsAreSortableAndFolderSafe() {
        let id = JobStore.newBatchId(now: 1_795_874_220)  // 2026-11-28 13:57:00 UTC
        XCTAssertTrue(id.hasPrefix("20261128-135700-"), id)
        XCTAssertEqual(id.count, 22)
        XCTAssertTrue(id.allSatisfy { $0.isHexDigit || $0 == "-" })
    }
}
