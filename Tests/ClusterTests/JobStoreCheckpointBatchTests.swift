import XCTest
import StableDiffusion
@testable import Cluster

/// `saveCheckpoints` (the coordinator's once-per-loop flush) and `batchId(forSubmission:)`.
final class JobStoreCheckpointBatchTests: XCTestCase {
    func testSeveralCheckpointsInOneTransactionAndFinishedImagesUntouched() throws {
        let path = try temporaryFolder(self).appendingPathComponent("jobs.sqlite").path
        let store = try JobStore(path: path)
        let batch = try store.submit(clientName: "t", submissionId: "s1", requests: requests(3), outputDirectory: "/out").batchId
        let keys = (0..<3).map { ImageKey(batchId: batch, index: $0) }
        XCTAssertNotNil(try store.markDone(keys[2], outcome: outcome(2, seed: 1002)))
        try store.saveCheckpoints([
            CheckpointEntry(key: keys[0], checkpoint: [1, 2, 3], unetEvaluations: 4, workers: ["w1"], engineClass: "class-a"),
            CheckpointEntry(key: keys[1], checkpoint: [9], unetEvaluations: 2, workers: ["w2", "w3"], engineClass: nil),
            CheckpointEntry(key: keys[2], checkpoint: [7], unetEvaluations: 9, workers: ["x"], engineClass: "class-b"),
        ])
        try store.close()
        let reopened = try JobStore(path: path)
        let unfinished = try reopened.unfinishedImages()
        XCTAssertEqual(unfinished.map(\.key), [keys[0], keys[1]])
        XCTAssertEqual(unfinished.map(\.checkpoint), [[1, 2, 3], [9]])
        XCTAssertEqual(unfinished.map(\.unetEvaluations), [4, 2])
        XCTAssertEqual(unfinished.map(\.workers), [["w1"], ["w2", "w3"]])
        XCTAssertEqual(unfinished.map(\.state), [.running, .running])
        XCTAssertEqual(unfinished.map(\.engineClass), ["class-a", nil])
        XCTAssertEqual(try reopened.imageStatus(keys[2]), .done, "a finished image is not made running again")
        XCTAssertEqual(try reopened.batchId(forSubmission: "s1"), batch)
        XCTAssertNil(try reopened.batchId(forSubmission: "s2"))
    }
}
