import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// The coordinator driven turn by turn on the test's thread, over inproc sockets, with fake
/// workers whose every answer the test sends (or holds back) and a clock the test moves: task
/// dispatch, re-sending after a deadline, late duplicates, and workers that leave or go silent,
/// all without waiting for real time to pass.
final class CoordinatorDispatchTests: XCTestCase {
    /// One image, 64x64 (8x8 latents), 3 steps, guided throughout: each step is two
    /// evaluations (cond and uncond).
    private func request(_ i: Int = 0) -> GenerationRequest {
        GenerationRequest(prompt: "p\(i)", seed: UInt64(i), steps: 3, guidanceCutoff: 1, width: 64, height: 64,
                          model: SimulatedEngine.modelName)
    }

    private func planSteps(_ request: GenerationRequest) throws -> [StepPasses] {
        let info = try XCTUnwrap(SimulatedEngine(unetSeconds: 0).models[0].info)
        return try Sampler.prepare(request, model: info).plan.steps
    }

    func testOneWorkerIsSentTextThenEveryStepThenTheDecodingAndTheImageIsDone() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack }
        let worker = try cluster.connectWorker("w1")
        let key = try cluster.submit([request()])[0]
        let steps = try planSteps(request())
        var kinds: [String] = []
        while try cluster.store.imageStatus(key) != .done {
            let task = try worker.nextTask(cluster)
            kinds.append(task.kind)
            XCTAssertEqual(cluster.coordinator.ledger.count, 1, "one task out, booked once")
            XCTAssertEqual(cluster.coordinator.ledger.tasks(of: worker.identity).map(\.id), [task.taskId])
            worker.answer(task)
            try cluster.turn()
            XCTAssertLessThan(kinds.count, 20, "the image should be done by now")
        }
        XCTAssertEqual(kinds, ["text"] + steps.map { _ in "unet" } + ["vae"])
        XCTAssertEqual(cluster.coordinator.ledger.count, 0)
        XCTAssertTrue(cluster.coordinator.jobs.isEmpty)
        XCTAssertEqual(try cluster.evaluationsRecorded(key), steps.reduce(0) { $0 + $1.slots.count })
    }

    /// The slow worker holds its UNet task past the deadline: the task is closed and its work
    /// sent to the other worker; the slow worker's late answer then changes nothing.
    func testATaskPastItsDeadlineGoesToAnotherWorkerAndItsLateAnswerIsIgnored() throws {
        // Heartbeats every 100 s: no worker goes silent in the 20 s this test moves the clock.
        let cluster = try SteppedCluster(self) { $0.placement = .pack; $0.minimumDeadline = 10; $0.heartbeatInterval = 100 }
        let slow = try cluster.connectWorker("z-slow")
        let key = try cluster.submit([request()])[0]
        slow.answer(try slow.nextTask(cluster))   // the text
        try cluster.turn()
        let held = try slow.nextTask(cluster)
        guard case .unetTask(let heldTask) = held else { return XCTFail("expected a UNet task, got \(held.kind)") }
        XCTAssertEqual(Set(heldTask.items.map(\.slot)), [.cond, .uncond], "one worker: the step packed in one task")
        // Unknown speed: the deadline is the minimum per evaluation (2 x 10 s).
        XCTAssertEqual(cluster.coordinator.ledger.record(heldTask.taskId, at: slow.identity)?.deadline, cluster.clock.time + 20)

        let fast = try cluster.connectWorker("a-fast")
        try cluster.turn()
        XCTAssertTrue(fast.tasks().isEmpty, "the step is out at the slow worker: nothing to give")
        cluster.clock.time += 20
        try cluster.turn()
        XCTAssertTrue(fast.tasks().isEmpty, "a deadline is passed only after it")
        XCTAssertNotNil(cluster.coordinator.ledger.record(heldTask.taskId, at: slow.identity))

        cluster.clock.time += 0.5
        try cluster.turn()
        XCTAssertNil(cluster.coordinator.ledger.record(heldTask.taskId, at: slow.identity), "the overdue task is closed")
        let resent = try XCTUnwrap(fast.tasks().first, "the overdue work went to the idle worker first by name")
        guard case .unetTask(let resentTask) = resent else { return XCTFail("expected a UNet task, got \(resent.kind)") }
        XCTAssertNotEqual(resentTask.taskId, heldTask.taskId)
        XCTAssertEqual(resentTask.items.map(\.slot), heldTask.items.map(\.slot))
        XCTAssertEqual(resentTask.items.map(\.step), heldTask.items.map(\.step))
        XCTAssertTrue(slow.tasks().isEmpty, "one copy of the work is out")
        XCTAssertEqual(cluster.coordinator.counters.tasksResent, 1, "STATUS counts the re-sent task")

        slow.answer(held)   // the late answer
        try cluster.turn()
        let job = try XCTUnwrap(cluster.coordinator.jobs[key])
        XCTAssertEqual(job.state?.stepIndex, 0, "the late answer did not advance the image")
        XCTAssertTrue(job.predictions.isEmpty)
        XCTAssertEqual(cluster.coordinator.ledger.tasks(of: fast.identity).map(\.id), [resentTask.taskId], "the re-sent task is still out")
        XCTAssertEqual(cluster.coordinator.workers[slow.identity]?.evaluationsDone, 0, "the late answer is not counted")

        fast.answer(resent)
        try cluster.turn()
        XCTAssertEqual(job.state?.stepIndex, 1, "the re-sent task's answer advanced the image")
        try cluster.finish(key, by: [fast, slow])
        XCTAssertEqual(try cluster.evaluationsRecorded(key), try planSteps(request()).reduce(0) { $0 + $1.slots.count },
                       "every evaluation counted once")
        let counters = cluster.coordinator.counters
        XCTAssertEqual(counters.unetTaskSeconds.count, try planSteps(request()).count, "one timed task a step; the late answer is not timed")
        XCTAssertEqual(counters.imageSeconds.count, 1)
        XCTAssertGreaterThanOrEqual(counters.imageSeconds.sum, 20.5, "the image waited out the deadline on the test's clock")
        XCTAssertEqual(counters.tasksResent, 1)
    }

    func testAWorkerThatSaysDisconnectLosesItsTasksAtOnce() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack }
        let leaving = try cluster.connectWorker("a")
        let key = try cluster.submit([request()])[0]
        leaving.answer(try leaving.nextTask(cluster))
        try cluster.turn()
        let held = try leaving.nextTask(cluster)
        let other = try cluster.connectWorker("b")
        try cluster.turn()
        XCTAssertTrue(other.tasks().isEmpty)

        leaving.send(.disconnect(Disconnect(reason: "test")))
        try cluster.turn()
        XCTAssertNil(cluster.coordinator.workers[leaving.identity])
        XCTAssertTrue(cluster.coordinator.ledger.tasks(of: leaving.identity).isEmpty)
        let resent = try XCTUnwrap(other.tasks().first, "the work went to the other worker without waiting for a deadline")
        XCTAssertEqual(resent.unetItems, held.unetItems)
        other.answer(resent)
        try cluster.turn()
        try cluster.finish(key, by: [other])
    }

    /// After a coordinator restart a worker's heartbeats queued while it was down each get
    /// ERROR not-ready, and the worker answers each with READY, on the same connection. The
    /// first registers it; the same READY again must leave it and its task alone (it was
    /// dropped and re-registered, its task re-queued and sent again, found by
    /// scripts/cluster-faults.sh). A READY that says something else still starts afresh.
    func testTheSameReadyAgainOnAKnownConnectionKeepsTheWorkerAndItsTask() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack }
        let worker = try cluster.connectWorker("w1")
        let key = try cluster.submit([request()])[0]
        let text = try worker.nextTask(cluster)
        let record = try XCTUnwrap(cluster.coordinator.workers[worker.identity])
        let ready = record.ready
        worker.send(.ready(ready))
        worker.send(.ready(ready))
        try cluster.turn()
        XCTAssertTrue(cluster.coordinator.workers[worker.identity] === record, "the same record, not a new registration")
        XCTAssertEqual(cluster.coordinator.ledger.tasks(of: worker.identity).map(\.id), [text.taskId], "its task stays out")
        XCTAssertTrue(worker.tasks().isEmpty, "nothing was re-sent")
        worker.answer(text)
        try cluster.turn()
        XCTAssertEqual(record.refusedInARow, 0)
        let unet = try worker.nextTask(cluster)
        XCTAssertEqual(unet.kind, "unet", "the answer to the kept task was taken: sampling goes on")

        var changed = ready
        changed.threads = 2
        worker.send(.ready(changed))
        try cluster.turn()
        let fresh = try XCTUnwrap(cluster.coordinator.workers[worker.identity])
        XCTAssertFalse(fresh === record, "a different READY registers the connection afresh")
        XCTAssertEqual(fresh.ready.threads, 2)
        let resent = try worker.nextTask(cluster)
        XCTAssertEqual(resent.unetItems, unet.unetItems, "its task was re-queued and sent again")
        worker.answer(resent)
        try cluster.turn()
        try cluster.finish(key, by: [worker])
    }

    /// A worker silent for `liveness` heartbeat intervals is given up on and its task re-sent;
    /// one that keeps talking is kept. No deadline is near (1000 s).
    func testAWorkerThatMissesItsHeartbeatsLosesItsTasks() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack; $0.minimumDeadline = 1000 }
        let silent = try cluster.connectWorker("a")
        let key = try cluster.submit([request()])[0]
        silent.answer(try silent.nextTask(cluster))
        try cluster.turn()
        let held = try silent.nextTask(cluster)
        let alive = try cluster.connectWorker("b")
        try cluster.turn()

        // Heartbeat interval 1 s, liveness 3: silent for 2.5 s is still alive.
        cluster.clock.time += 2.5
        alive.send(.heartbeat)
        try cluster.turn()
        XCTAssertNotNil(cluster.coordinator.workers[silent.identity])
        XCTAssertEqual(cluster.coordinator.ledger.tasks(of: silent.identity).count, 1)
        XCTAssertTrue(alive.tasks().filter { $0.kind != "heartbeat" }.isEmpty)

        cluster.clock.time += 0.6
        alive.send(.heartbeat)
        try cluster.turn()
        XCTAssertNil(cluster.coordinator.workers[silent.identity], "silent for 3 intervals: given up on")
        XCTAssertNotNil(cluster.coordinator.workers[alive.identity])
        let resent = try XCTUnwrap(alive.tasks().first { $0.kind == "unet" })
        XCTAssertEqual(resent.unetItems, held.unetItems)
        silent.answer(held)   // too late: the coordinator no longer knows this connection
        try cluster.turn()
        XCTAssertEqual(silent.received().compactMap { message -> ErrorCode? in
            if case .error(let e) = message { return e.code }
            return nil
        }, [.notReady])
        XCTAssertEqual(cluster.coordinator.jobs[key]?.state?.stepIndex, 0)
        alive.answer(resent)
        try cluster.turn()
        try cluster.finish(key, by: [alive])
    }

    /// MISSING-EMBEDDING is answered with the same task, now carrying every embedding it uses.
    func testAWorkerMissingAnEmbeddingGetsTheSameTaskWithEveryEmbeddingAttached() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack }
        let worker = try cluster.connectWorker("w1")
        let key = try cluster.submit([request()])[0]
        worker.answer(try worker.nextTask(cluster))
        try cluster.turn()
        guard case .unetTask(let first) = try worker.nextTask(cluster) else { return XCTFail("expected a UNet task") }
        XCTAssertTrue(first.embeddings.isEmpty, "the worker computed the embeddings itself")
        worker.send(.missingEmbedding(MissingEmbedding(taskId: first.taskId, embeddingIds: [first.items[0].embeddingId])))
        try cluster.turn()
        guard case .unetTask(let again) = try XCTUnwrap(worker.tasks().first) else { return XCTFail("expected the task again") }
        XCTAssertEqual(again.taskId, first.taskId)
        XCTAssertEqual(again.items.map(\.slot), first.items.map(\.slot))
        XCTAssertEqual(Set(again.embeddings.map(\.embeddingId)), Set(first.items.map(\.embeddingId)))
        XCTAssertEqual(cluster.coordinator.ledger.count, 1, "still one task out")
        worker.answer(.unetTask(again))
        try cluster.turn()
        XCTAssertEqual(cluster.coordinator.jobs[key]?.state?.stepIndex, 1)
    }
}

/// A clock the test moves by hand.
final class FakeClock: @unchecked Sendable {
    var time: Double = 1000
}

/// A coordinator on inproc endpoints, stepped by `turn()` on the test's thread.
final class SteppedCluster {
    let context: ZMQContext
    let clock = FakeClock()
    let coordinator: Coordinator
    /// Holds the store and the output folder; another cluster made on it resumes this one's store.
    let folder: URL
    private let client: ZMQSocket

    /// `folder`: an earlier cluster's (closed with `stop()`), to restart on its store.
    init(_ test: XCTestCase, folder: URL? = nil, options adjust: (inout CoordinatorOptions) -> Void = { _ in }) throws {
        context = try ZMQContext()
        let folder = try folder ?? temporaryFolder(test)
        self.folder = folder
        let id = UUID().uuidString
        var options = CoordinatorOptions(workersEndpoint: "inproc://workers-\(id)", clientsEndpoint: "inproc://clients-\(id)",
                                         storeDirectory: folder.appendingPathComponent("store").path,
                                         outputDirectory: folder.appendingPathComponent("output").path,
                                         heartbeatInterval: 1, liveness: 3)
        adjust(&options)
        let clock = self.clock
        coordinator = try Coordinator(options: options, context: context, log: ClusterLogging.silent("coordinator"),
                                      now: { clock.time })
        client = try context.socket(.dealer)
        try client.connect(coordinator.clientsEndpoint)
    }

    var store: JobStore { coordinator.store }

    /// Flushes the checkpoints and closes the store, as a stopping coordinator does (drop the
    /// cluster afterwards: its store lock goes with the coordinator).
    func stop() throws {
        coordinator.saveCheckpoints()
        try coordinator.store.close()
    }

    /// One turn of the coordinator's loop (not waiting for messages: inproc delivers at once).
    func turn() throws { try coordinator.turn(waitingMilliseconds: 0) }

    /// `engine`: the fingerprint its READY reports (nil: none, as the simulated engine).
    func connectWorker(_ name: String, maxBatch: Int = 8, identity: String? = nil, engine: String? = nil) throws -> FakeWorker {
        let worker = try FakeWorker(name, cluster: self, maxBatch: maxBatch, identity: identity, engine: engine)
        try turn()
        guard coordinator.workers[worker.identity] != nil else { throw ClusterTestError.setup("worker \(name) not registered") }
        return worker
    }

    /// SUBMIT through a client socket; the batch's image keys.
    func submit(_ requests: [GenerationRequest]) throws -> [ImageKey] {
        guard case .accepted(let accepted) = try submitReply(requests) else {
            throw ClusterTestError.setup("the submit was not accepted")
        }
        return (0..<requests.count).map { ImageKey(batchId: accepted.batchId, index: $0) }
    }

    /// CANCEL through the client socket; the coordinator's answer.
    func cancel(_ batchId: String) throws -> CoordinatorToClient {
        try client.send(frames: ClientToCoordinator.cancel(CancelBatch(batchId: batchId)).encode())
        try turn()
        guard let frames = try? client.receiveMessage(dontWait: true) else { throw ClusterTestError.setup("no answer to CANCEL") }
        return try CoordinatorToClient.decode(frames)
    }

    /// SUBMIT through a client socket; the coordinator's answer.
    func submitReply(_ requests: [GenerationRequest]) throws -> CoordinatorToClient {
        try client.send(frames: ClientToCoordinator.submit(SubmitBatch(clientBatchName: "stepped", submissionId: UUID().uuidString,
                                                                       requests: requests)).encode())
        try turn()
        guard let frames = try? client.receiveMessage(dontWait: true) else { throw ClusterTestError.setup("no answer to SUBMIT") }
        return try CoordinatorToClient.decode(frames)
    }

    /// Lets the given workers answer every task until the image is done.
    func finish(_ key: ImageKey, by workers: [FakeWorker]) throws {
        for _ in 0..<50 {
            if try store.imageStatus(key) == .done { return }
            for worker in workers {
                for task in worker.tasks() { worker.answer(task) }
            }
            try turn()
        }
        throw ClusterTestError.timeout("image \(key) to be done")
    }

    /// The UNet evaluations the store recorded for a finished image.
    func evaluationsRecorded(_ key: ImageKey) throws -> Int? {
        try store.resultsSince(batchId: key.batchId, since: 0, limit: 100).first { $0.key == key }?.unetEvaluations
    }
}

/// A worker's DEALER that the test drives: it says READY, and answers a task (with the
/// simulated engine) only when the test says so.
final class FakeWorker {
    let name: String
    let identity: [UInt8]
    private let socket: ZMQSocket
    private let runner = TaskRunner(engine: SimulatedEngine(unetSeconds: 0), cacheCapacity: 64)

    init(_ name: String, cluster: SteppedCluster, maxBatch: Int, identity: String? = nil, engine: String? = nil) throws {
        self.name = name
        self.identity = Array((identity ?? "id-\(name)").utf8)
        socket = try cluster.context.socket(.dealer)
        try socket.set(.routingId(self.identity))
        try socket.connect(cluster.coordinator.workersEndpoint)
        send(.ready(WorkerReady(name: name, models: runner.engine.models, threads: 1, maxBatch: maxBatch, engine: engine)))
    }

    func send(_ message: WorkerToCoordinator) {
        try? socket.send(frames: message.encode(), dontWait: true)
    }

    /// Everything the coordinator sent since the last look.
    func received() -> [CoordinatorToWorker] {
        var messages: [CoordinatorToWorker] = []
        while let frames = try? socket.receiveMessage(dontWait: true) {
            if let message = try? CoordinatorToWorker.decode(frames) { messages.append(message) }
        }
        return messages
    }

    /// The tasks the coordinator sent since the last look (heartbeats left out).
    func tasks() -> [CoordinatorToWorker] { received().filter { $0.taskId != nil } }

    /// The one task the coordinator sends next (turning the coordinator until it does).
    func nextTask(_ cluster: SteppedCluster) throws -> CoordinatorToWorker {
        for _ in 0..<5 {
            let tasks = self.tasks()
            if tasks.count == 1 { return tasks[0] }
            guard tasks.isEmpty else { throw ClusterTestError.setup("\(name) got \(tasks.count) tasks at once") }
            try cluster.turn()
        }
        throw ClusterTestError.timeout("a task for \(name)")
    }

    /// Computes the task's answer and sends it.
    func answer(_ task: CoordinatorToWorker) {
        if let reply = runner.run(task) { send(reply) }
    }
}

extension CoordinatorToWorker {
    var kind: String {
        switch self {
        case .textEncodeTask: return "text"
        case .unetTask: return "unet"
        case .vaeDecodeTask: return "vae"
        case .heartbeat: return "heartbeat"
        case .disconnect: return "disconnect"
        case .error: return "error"
        }
    }

    /// A UNet task's evaluations as (image, step, slot).
    var unetItems: [String] {
        guard case .unetTask(let task) = self else { return [] }
        return task.items.map { "\($0.imageId) \($0.step) \($0.slot.rawValue)" }
    }
}
