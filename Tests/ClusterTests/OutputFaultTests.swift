import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// A disk that refuses: finished images whose PNG cannot be written are held and written once the
/// folder works again (nothing computed is lost, STATUS says why); a full store refuses new
/// batches with a clear reason and keeps everything it had.
final class OutputFaultTests: XCTestCase {
    private func request(_ i: Int) -> GenerationRequest {
        GenerationRequest(prompt: "p\(i)", seed: UInt64(i), steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)
    }

    /// Answers every task until the VAE task is the next one, and returns it unanswered.
    private func runUntilDecode(_ cluster: SteppedCluster, _ worker: FakeWorker) throws -> CoordinatorToWorker {
        for _ in 0..<30 {
            let task = try worker.nextTask(cluster)
            if task.kind == "vae" { return task }
            worker.answer(task)
            try cluster.turn()
        }
        throw ClusterTestError.timeout("the VAE task")
    }

    func testAnImageThatCannotBeWrittenIsHeldAndWrittenOnceTheFolderWorksAgain() throws {
        let cluster = try SteppedCluster(self)
        let worker = try cluster.connectWorker("w")
        let key = try cluster.submit([request(0)])[0]
        let decode = try runUntilDecode(cluster, worker)

        // The batch's folder is replaced by a file: no PNG can be written there (as root too).
        let folder = cluster.coordinator.writer.batchDirectory(key.batchId)
        let moved = folder + ".away"
        if FileManager.default.fileExists(atPath: folder) { try FileManager.default.moveItem(atPath: folder, toPath: moved) }
        FileManager.default.createFile(atPath: folder, contents: Data("in the way".utf8))
        worker.answer(decode)
        try cluster.turn()

        XCTAssertEqual(try cluster.store.imageStatus(key), .running, "not failed: the image is computed")
        XCTAssertEqual(cluster.coordinator.jobs[key]?.phase, .writing)
        let problems = try cluster.coordinator.statusReplyForTests().problems ?? []
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems.first?.contains("1 finished image(s) held") == true, "\(problems)")
        XCTAssertTrue(worker.tasks().isEmpty, "nothing is computed again")

        // Still refused at the next try: still held.
        cluster.clock.time += OutputFaultTests.retry
        try cluster.turn()
        XCTAssertEqual(cluster.coordinator.jobs[key]?.phase, .writing)

        try FileManager.default.removeItem(atPath: folder)
        if FileManager.default.fileExists(atPath: moved) { try FileManager.default.moveItem(atPath: moved, toPath: folder) }
        try cluster.turn()
        XCTAssertEqual(try cluster.store.imageStatus(key), .running, "the next try waits for its time")
        cluster.clock.time += OutputFaultTests.retry
        try cluster.turn()
        XCTAssertEqual(try cluster.store.imageStatus(key), .done)
        let file = (folder as NSString).appendingPathComponent(ImageWriter.fileName(index: 0, seed: 0))
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        let manifest = try String(contentsOfFile: (folder as NSString).appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        XCTAssertEqual(manifest.split(separator: "\n").count, 1)
        XCTAssertNil(try cluster.coordinator.statusReplyForTests().problems, "STATUS is clear again")
        XCTAssertTrue(worker.tasks().isEmpty, "written from memory, not computed again")
    }

    func testAFullStoreRefusesNewBatchesWithTheReasonAndKeepsWhatItHas() throws {
        let cluster = try SteppedCluster(self)
        let worker = try cluster.connectWorker("w")
        defer { withExtendedLifetime(worker) {} }
        let first = try cluster.submit([request(0)])
        // SQLite's own "database or disk is full" (SQLITE_FULL), as a full disk gives it.
        let pages = try XCTUnwrap(try cluster.store.db.scalarText("PRAGMA page_count"))
        try cluster.store.db.execute("PRAGMA max_page_count = \(pages)")
        let many = (1...300).map { i -> GenerationRequest in
            var r = request(i)
            r.prompt = String(repeating: "a long prompt to fill pages ", count: 40)
            return r
        }
        let reply = try cluster.submitRefusal(many)
        XCTAssertEqual(reply.code, .storeFailure)
        XCTAssertTrue(reply.message.contains("disk is full"), reply.message)
        XCTAssertEqual(try cluster.store.batches().map(\.id), [first[0].batchId], "the refused batch left nothing behind")
        XCTAssertEqual(try cluster.store.imageStatus(first[0]), .queued)

        try cluster.store.db.execute("PRAGMA max_page_count = 1073741823")
        XCTAssertEqual(try cluster.submit(many).count, 300, "accepted once there is room")
    }

    func testAFailureTheStoreCannotRecordIsHeldUntilItCanSoTheBatchEnds() throws {
        let cluster = try SteppedCluster(self) { $0.maxFailures = 1 }
        let worker = try cluster.connectWorker("w")
        let key = try cluster.submit([request(0)])[0]
        let task = try worker.nextTask(cluster)
        // The store refuses every write from now on (SQLITE_READONLY, as a read-only disk gives).
        try cluster.store.db.execute("PRAGMA query_only = ON")
        var reply = ErrorReply(code: .taskFailed, message: "engine exploded")
        reply.taskId = task.taskId
        worker.send(.error(reply))
        try cluster.turn()
        XCTAssertEqual(cluster.coordinator.jobs[key]?.phase, .writing, "held, not forgotten")
        XCTAssertEqual(cluster.coordinator.jobs[key]?.unrecordedFailure, "task-failed: engine exploded")
        XCTAssertNotNil(try cluster.coordinator.statusReplyForTests().problems)
        cluster.clock.time += OutputFaultTests.retry
        try cluster.turn()
        XCTAssertTrue(worker.tasks().isEmpty, "a failed image gets no more work")

        try cluster.store.db.execute("PRAGMA query_only = OFF")
        cluster.clock.time += OutputFaultTests.retry
        try cluster.turn()
        XCTAssertEqual(try cluster.store.imageStatus(key), .failed)
        XCTAssertEqual(try cluster.store.batch(key.batchId)?.state, .finished, "the batch ends, so `submit --wait` does too")
        XCTAssertNil(cluster.coordinator.jobs[key])
        XCTAssertNil(try cluster.coordinator.statusReplyForTests().problems)
    }

    private static let retry = Coordinator.writeRetryInterval + 0.1
}

extension Coordinator {
    /// STATUS as a client would get it.
    func statusReplyForTests() throws -> StatusReply { try statusReply(StatusQuery(), sender: .open) }
}

extension SteppedCluster {
    /// SUBMIT that the coordinator must refuse; its ERROR.
    func submitRefusal(_ requests: [GenerationRequest]) throws -> ErrorReply {
        let answer = try submitReply(requests)
        guard case .error(let reply) = answer else { throw ClusterTestError.setup("expected ERROR, got \(answer)") }
        return reply
    }
}
