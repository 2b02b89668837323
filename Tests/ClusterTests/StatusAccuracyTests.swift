import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// STATUS says what is: no ghost of a reconnected worker, nothing in flight for a cancelled batch,
/// and a flood of bad messages is one log line per kind.
final class StatusAccuracyTests: XCTestCase {
    private let request = GenerationRequest(prompt: "p", seed: 1, steps: 3, width: 64, height: 64, model: SimulatedEngine.modelName)

    func testAWorkerThatReconnectsIsListedOnce() throws {
        let cluster = try SteppedCluster(self) { $0.heartbeatInterval = 1; $0.liveness = 5 }
        let first = try cluster.connectWorker("box-1", identity: "connection-1")
        cluster.clock.time += 1.5   // its old connection went silent, as before a reconnect
        let second = try cluster.connectWorker("box-1", identity: "connection-2")
        let names = try cluster.coordinator.statusReplyForTests().workers.map(\.name)
        XCTAssertEqual(names, ["box-1"])
        XCTAssertNil(cluster.coordinator.workers[first.identity])
        XCTAssertNotNil(cluster.coordinator.workers[second.identity])

        // Two live workers that share a name by mistake both stay.
        _ = try cluster.connectWorker("box-1", identity: "connection-3")
        XCTAssertEqual(try cluster.coordinator.statusReplyForTests().workers.count, 2)
    }

    func testACancelledBatchLeavesNothingInFlight() throws {
        let cluster = try SteppedCluster(self)
        let worker = try cluster.connectWorker("w")
        let key = try cluster.submit([request])[0]
        worker.answer(try worker.nextTask(cluster))   // text
        try cluster.turn()
        let unet = try worker.nextTask(cluster)
        XCTAssertGreaterThan(try cluster.coordinator.statusReplyForTests().workers[0].inFlight, 0)
        guard case .progress = try cluster.cancel(key.batchId) else { return XCTFail("CANCEL not answered with PROGRESS") }
        XCTAssertEqual(try cluster.coordinator.statusReplyForTests().workers[0].inFlight, 0)
        XCTAssertEqual(cluster.coordinator.ledger.count, 0)
        worker.answer(unet)   // the late answer changes nothing
        try cluster.turn()
        XCTAssertEqual(try cluster.store.imageStatus(key), .cancelled)
        XCTAssertTrue(worker.tasks().isEmpty)
    }

    func testAFloodOfOneKindIsOneLineWithACount() {
        var limiter = LogLimiter(window: 10)
        XCTAssertEqual(limiter.admit("bad-header", at: 0).log, true)
        for i in 1...2000 { XCTAssertFalse(limiter.admit("bad-header", at: Double(i) / 1000).log) }
        XCTAssertTrue(limiter.admit("non-finite", at: 3).log, "another kind is its own line")
        let next = limiter.admit("bad-header", at: 10.5)
        XCTAssertTrue(next.log)
        XCTAssertEqual(next.held, 2000)
        XCTAssertTrue(LogLimiter.suffix(next.held).contains("2000 more"))
    }
}

/// A worker that has answered a task holds up to `tasksInFlight` tasks, so a slow link's round
/// trip does not idle it; one that has not answered yet holds one.
final class TasksInFlightTests: XCTestCase {
    private func requests(_ n: Int) -> [GenerationRequest] {
        (0..<n).map { GenerationRequest(prompt: "p\($0)", seed: UInt64($0), steps: 4, width: 64, height: 64, model: SimulatedEngine.modelName) }
    }

    /// Answers the oldest task out at the worker until the images are done; the most tasks it
    /// held at once, before and after its first answer.
    private func mostHeld(tasksInFlight: Int) throws -> (beforeAnswer: Int, after: Int) {
        let cluster = try SteppedCluster(self) { $0.placement = .pack; $0.tasksInFlight = tasksInFlight; $0.maxFailures = 100 }
        let worker = try cluster.connectWorker("w", maxBatch: 1)
        let keys = try cluster.submit(requests(3))
        var held: [CoordinatorToWorker] = []
        var before = 0, after = 0
        for _ in 0..<200 {
            if try keys.allSatisfy({ try cluster.store.imageStatus($0) == .done }) { break }
            held += worker.tasks()
            let answered = (cluster.coordinator.workers[worker.identity]?.tasksAnswered ?? 0) > 0
            let out = cluster.coordinator.ledger.tasks(of: worker.identity).count
            if answered { after = max(after, out) } else { before = max(before, out) }
            if !held.isEmpty { worker.answer(held.removeFirst()) }
            try cluster.turn()
        }
        XCTAssertTrue(try keys.allSatisfy { try cluster.store.imageStatus($0) == .done }, "every image done")
        return (before, after)
    }

    func testAWorkerHoldsOneTaskUntilItAnswersThenTasksInFlight() throws {
        let two = try mostHeld(tasksInFlight: 2)
        XCTAssertEqual(two.beforeAnswer, 1)
        XCTAssertEqual(two.after, 2)
        let one = try mostHeld(tasksInFlight: 1)
        XCTAssertEqual(one.after, 1)
    }

    /// The moment a busy worker answers one of its tasks it gets the next, while work waits: not
    /// only once it has run dry (which idled it for a round trip on every refill).
    func testABusyWorkerIsToppedUpWithEachAnswer() throws {
        let depth = 3
        let cluster = try SteppedCluster(self) { $0.placement = .pack; $0.tasksInFlight = depth; $0.maxFailures = 100 }
        let worker = try cluster.connectWorker("w", maxBatch: 1)
        _ = try cluster.submit(requests(6))
        var held: [CoordinatorToWorker] = []
        var out: Int { cluster.coordinator.ledger.tasks(of: worker.identity).count }
        func onlyUNet(_ tasks: [CoordinatorToWorker]) -> Bool {
            tasks.allSatisfy { if case .unetTask = $0 { return true } else { return false } }
        }
        // Answer its text tasks (and the first UNet ones) until it holds a full set of UNet tasks.
        var turns = 0
        held += worker.tasks()
        while out < depth || !onlyUNet(held), turns < 50 {
            if !held.isEmpty { worker.answer(held.removeFirst()) }
            try cluster.turn()
            held += worker.tasks()
            turns += 1
        }
        XCTAssertEqual(out, depth, "it holds a full set of tasks")
        for round in 0..<5 {
            worker.answer(held.removeFirst())
            try cluster.turn()
            held += worker.tasks()
            XCTAssertEqual(out, depth, "round \(round): topped up right after one answer")
        }
    }
}
