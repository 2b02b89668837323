import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// Heterogeneous fleets: every task of an image goes to workers of one engine class (the
/// fingerprint of its first task's worker); lost work is re-sent within the class; an image
/// whose class is gone waits `classGrace` and then starts again from its first step on another
/// class, which its manifest line records; the class is kept with the checkpoint across a
/// coordinator restart. In-process, with fake workers and the test's clock (as
/// `CoordinatorDispatchTests`).
final class EngineClassPinningTests: XCTestCase {
    private let classA = "oneDNN 3.2.0 avx512_core_amx avx512 fp32"
    private let classB = "oneDNN 3.2.0 avx2 avx2 fp32"

    /// 64x64, 3 steps, guided throughout: two evaluations (cond, uncond) every step.
    private func request() -> GenerationRequest {
        GenerationRequest(prompt: "a red circle", seed: 7, steps: 3, guidanceCutoff: 1, width: 64, height: 64,
                          model: SimulatedEngine.modelName)
    }

    private func planSteps() throws -> [StepPasses] {
        let info = try XCTUnwrap(SimulatedEngine(unetSeconds: 0).models[0].info)
        return try Sampler.prepare(request(), model: info).plan.steps
    }

    private func planEvaluations() throws -> Int { try planSteps().reduce(0) { $0 + $1.slots.count } }

    /// A task one worker was sent.
    private struct Sent: CustomStringConvertible {
        var worker: String
        var task: CoordinatorToWorker
        var description: String { "\(worker): \(task.kind) \(task.unetItems)" }
    }

    /// Lets the workers answer every task until the image is done; what each was sent.
    private func serve(_ cluster: SteppedCluster, _ workers: [FakeWorker], until key: ImageKey) throws -> [Sent] {
        var sent: [Sent] = []
        for _ in 0..<100 {
            if try cluster.store.imageStatus(key) == .done { return sent }
            for worker in workers {
                for task in worker.tasks() {
                    sent.append(Sent(worker: worker.name, task: task))
                    worker.answer(task)
                }
            }
            try cluster.turn()
        }
        throw ClusterTestError.timeout("image \(key) to be done; sent so far: \(sent)")
    }

    /// The finished image's manifest line, as JSON.
    private func manifest(_ cluster: SteppedCluster, _ key: ImageKey) throws -> [String: Any] {
        let line = try XCTUnwrap(try cluster.store.resultsSince(batchId: key.batchId, since: 0).first { $0.key == key }?.manifestLine)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    private func restarts(_ manifest: [String: Any]) -> [[String: String]] {
        ((manifest["engine_restarts"] as? [[String: Any]]) ?? []).map { entry in
            entry.mapValues { "\($0)" }
        }
    }

    // MARK: - Placement

    /// `split` would send the uncond pass to the other worker; it is of another class.
    func testEveryTaskOfAnImageGoesToTheClassOfItsFirstTask() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .split }
        let a = try cluster.connectWorker("a1", engine: classA)
        let b = try cluster.connectWorker("b1", engine: classB)
        let key = try cluster.submit([request()])[0]
        let sent = try serve(cluster, [a, b], until: key)
        XCTAssertEqual(sent.first?.task.kind, "text")
        XCTAssertEqual(sent.first?.worker, "a1", "the first idle worker by name encodes the text")
        XCTAssertEqual(Set(sent.map(\.worker)), ["a1"], "every task went to the class of the first: \(sent)")
        XCTAssertEqual(sent.map(\.task.kind), ["text"] + Array(repeating: "unet", count: try planEvaluations()) + ["vae"],
                       "split: one evaluation a task, all on a1")
        let line = try manifest(cluster, key)
        XCTAssertEqual(line["engine"] as? String, classA)
        XCTAssertEqual(line["workers"] as? [String], ["a1"])
        XCTAssertNil(line["engine_restarts"])
    }

    /// Two workers of class A and one of B between them by name: both passes of every split
    /// step go to the A workers, one each.
    func testBothPassesOfASplitStepGoToTwoWorkersOfTheImagesClass() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .split }
        let a1 = try cluster.connectWorker("a1", engine: classA)
        let b1 = try cluster.connectWorker("b1", engine: classB)
        let c1 = try cluster.connectWorker("c1", engine: classA)
        let key = try cluster.submit([request()])[0]
        let sent = try serve(cluster, [a1, b1, c1], until: key)
        XCTAssertFalse(sent.contains { $0.worker == "b1" }, "nothing for the other class: \(sent)")
        var workersByStep: [Int: [String]] = [:]
        for entry in sent {
            guard case .unetTask(let task) = entry.task else { continue }
            XCTAssertEqual(task.items.count, 1, "split: one pass a task")
            for item in task.items { workersByStep[item.step, default: []].append(entry.worker) }
        }
        let steps = try planSteps()
        XCTAssertEqual(workersByStep.count, steps.count)
        for (step, names) in workersByStep {
            XCTAssertEqual(names.sorted(), ["a1", "c1"], "step \(step): its two passes at the same time on the two A workers")
        }
        XCTAssertEqual(try manifest(cluster, key)["engine"] as? String, classA)
    }

    /// `auto` splits only over idle workers of the image's class: with one A worker (and an idle
    /// B worker that cannot take the other pass) it packs both passes into one task.
    func testAutoPacksWhenTheOnlyOtherIdleWorkerIsOfAnotherClass() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .auto }
        let a = try cluster.connectWorker("a1", engine: classA)
        let b = try cluster.connectWorker("b1", engine: classB)
        _ = try cluster.submit([request()])
        a.answer(try a.nextTask(cluster))
        try cluster.turn()
        let step = try a.nextTask(cluster)
        XCTAssertEqual(step.unetItems.count, 2, "both passes to a1: \(step.unetItems)")
        XCTAssertTrue(b.tasks().isEmpty)
    }

    // MARK: - Failures

    /// The A worker holding a step leaves: its work goes to the other A worker, not to the B
    /// worker that comes first by name.
    func testLostWorkIsResentToAnotherWorkerOfTheClass() throws {
        let cluster = try SteppedCluster(self) { $0.placement = .pack }
        let a1 = try cluster.connectWorker("a1", engine: classA)
        let b1 = try cluster.connectWorker("b1", engine: classB)
        let c1 = try cluster.connectWorker("c1", engine: classA)
        let key = try cluster.submit([request()])[0]
        a1.answer(try a1.nextTask(cluster))
        try cluster.turn()
        let held = try a1.nextTask(cluster)
        XCTAssertEqual(held.unetItems.count, 2)
        try cluster.turn()
        XCTAssertTrue(b1.tasks().isEmpty && c1.tasks().isEmpty, "the step is out at a1")

        a1.send(.disconnect(Disconnect(reason: "test")))
        try cluster.turn()
        XCTAssertTrue(b1.tasks().isEmpty, "the other class gets none of it")
        let resent = try XCTUnwrap(c1.tasks().first, "re-sent to the other worker of class A")
        XCTAssertEqual(resent.unetItems, held.unetItems)
        c1.answer(resent)
        try cluster.turn()
        let sent = try serve(cluster, [b1, c1], until: key)
        XCTAssertFalse(sent.contains { $0.worker == "b1" }, "\(sent)")
        let line = try manifest(cluster, key)
        XCTAssertEqual(line["workers"] as? [String], ["a1", "c1"])
        XCTAssertEqual(line["engine"] as? String, classA)
        XCTAssertNil(line["engine_restarts"], "re-sent within the class: no restart")
        XCTAssertEqual(line["unet_evaluations"] as? Int, try planEvaluations())
    }

    /// A at step 1 with its only worker gone: the B worker gets nothing during the grace
    /// period; after it the image starts again from its first step on B, and says so.
    func testWithNoWorkerOfItsClassLeftTheImageWaitsTheGraceThenRestartsOnAnotherClass() throws {
        let cluster = try SteppedCluster(self) {
            $0.placement = .pack; $0.classGrace = 30; $0.heartbeatInterval = 100; $0.minimumDeadline = 1000
        }
        let a = try cluster.connectWorker("a1", engine: classA)
        let b = try cluster.connectWorker("b1", engine: classB)
        let key = try cluster.submit([request()])[0]
        a.answer(try a.nextTask(cluster))   // text
        try cluster.turn()
        a.answer(try a.nextTask(cluster))   // step 0
        try cluster.turn()
        _ = try a.nextTask(cluster)          // step 1, never answered
        let job = try XCTUnwrap(cluster.coordinator.jobs[key])
        XCTAssertEqual(job.state?.stepIndex, 1)
        XCTAssertEqual(try cluster.store.unfinishedImages().first?.engineClass, classA, "the checkpoint's class is stored")

        a.send(.disconnect(Disconnect(reason: "test")))
        try cluster.turn()
        cluster.clock.time += 29.5
        try cluster.turn()
        XCTAssertTrue(b.tasks().isEmpty, "within the grace period the image waits for its class")
        XCTAssertEqual(job.engineClass, classA)
        XCTAssertEqual(job.state?.stepIndex, 1, "its work is kept")
        XCTAssertEqual(try cluster.store.unfinishedImages().first?.checkpoint != nil, true)

        cluster.clock.time += 1
        try cluster.turn()
        let restarted = try XCTUnwrap(cluster.coordinator.jobs[key])
        let first = b.tasks()
        XCTAssertEqual(first.map(\.kind), ["text"], "after the grace period: from the first task, on B")
        XCTAssertEqual(restarted.engineClass, classB)
        XCTAssertEqual(restarted.state?.stepIndex, 0, "from its first step")
        XCTAssertEqual(restarted.engineRestarts, [EngineRestart(from: classA, to: classB, atStep: 1)])
        let stored = try XCTUnwrap(try cluster.store.unfinishedImages().first)
        XCTAssertNil(stored.checkpoint, "the A checkpoint is dropped in the store too")
        XCTAssertNil(stored.engineClass)

        for task in first { b.answer(task) }
        try cluster.turn()
        let sent = try serve(cluster, [b], until: key)
        XCTAssertTrue(sent.allSatisfy { $0.worker == "b1" })
        let line = try manifest(cluster, key)
        XCTAssertEqual(line["engine"] as? String, classB)
        XCTAssertEqual(line["workers"] as? [String], ["b1"], "only the workers whose work the image kept")
        XCTAssertEqual(line["unet_evaluations"] as? Int, try planEvaluations(), "the dropped evaluations are not counted")
        XCTAssertEqual(restarts(line), [["from": classA, "to": classB, "at_step": "1"]])
    }

    /// An A worker that comes back within the grace period continues the image from its step:
    /// no restart, even once the time since the first one left passes the grace.
    func testAWorkerOfTheClassBackWithinTheGraceContinuesTheImage() throws {
        let cluster = try SteppedCluster(self) {
            $0.placement = .pack; $0.classGrace = 30; $0.heartbeatInterval = 100; $0.minimumDeadline = 1000
        }
        let a1 = try cluster.connectWorker("a1", engine: classA)
        let b1 = try cluster.connectWorker("b1", engine: classB)
        let key = try cluster.submit([request()])[0]
        a1.answer(try a1.nextTask(cluster))
        try cluster.turn()
        a1.answer(try a1.nextTask(cluster))
        try cluster.turn()
        let held = try a1.nextTask(cluster)
        a1.send(.disconnect(Disconnect(reason: "test")))
        try cluster.turn()
        cluster.clock.time += 20
        try cluster.turn()
        let a2 = try cluster.connectWorker("a2", engine: classA)
        guard case .unetTask(let resent) = try a2.nextTask(cluster) else { return XCTFail("expected the held step") }
        XCTAssertEqual(resent.items.map { "\($0.imageId) \($0.step) \($0.slot.rawValue)" }, held.unetItems)
        XCTAssertEqual(resent.embeddings.count, 2, "a2 never saw the embeddings: attached")
        cluster.clock.time += 20   // 40 s after a1 left
        try cluster.turn()
        XCTAssertEqual(cluster.coordinator.jobs[key]?.engineClass, classA)
        XCTAssertTrue(b1.tasks().isEmpty)
        a2.answer(.unetTask(resent))
        try cluster.turn()
        let sent = try serve(cluster, [a2, b1], until: key)
        XCTAssertFalse(sent.contains { $0.worker == "b1" })
        let line = try manifest(cluster, key)
        XCTAssertNil(line["engine_restarts"])
        XCTAssertEqual(line["workers"] as? [String], ["a1", "a2"])
        XCTAssertEqual(line["engine"] as? String, classA)
    }

    /// With no worker of any other class, an image keeps its work past the grace period; a
    /// worker of another class that joins then takes it over at once (its class has been gone
    /// longer than the grace).
    func testAnImageNoOtherClassCanTakeKeepsItsWorkPastTheGrace() throws {
        let cluster = try SteppedCluster(self) {
            $0.placement = .pack; $0.classGrace = 30; $0.heartbeatInterval = 100; $0.minimumDeadline = 1000
        }
        let a = try cluster.connectWorker("a1", engine: classA)
        let key = try cluster.submit([request()])[0]
        a.answer(try a.nextTask(cluster))
        try cluster.turn()
        a.answer(try a.nextTask(cluster))
        try cluster.turn()
        _ = try a.nextTask(cluster)
        a.send(.disconnect(Disconnect(reason: "test")))
        try cluster.turn()
        cluster.clock.time += 100
        try cluster.turn()
        let job = try XCTUnwrap(cluster.coordinator.jobs[key])
        XCTAssertEqual(job.engineClass, classA)
        XCTAssertEqual(job.state?.stepIndex, 1, "nobody else could take it: its work is kept")
        XCTAssertTrue(job.engineRestarts.isEmpty)

        let b = try cluster.connectWorker("b1", engine: classB)
        XCTAssertEqual(b.tasks().map(\.kind), ["text"], "B takes it over from the first step")
        XCTAssertEqual(cluster.coordinator.jobs[key]?.engineRestarts, [EngineRestart(from: classA, to: classB, atStep: 1)])
    }

    // MARK: - Coordinator restart

    /// An image stepped twice on class A, then the coordinator stopped: its store folder.
    private func imageCheckpointedOnA() throws -> (folder: URL, key: ImageKey) {
        var cluster: SteppedCluster? = try SteppedCluster(self) { $0.placement = .pack }
        let a = try cluster!.connectWorker("a1", engine: classA)
        _ = try cluster!.connectWorker("b1", engine: classB)
        let key = try cluster!.submit([request()])[0]
        for _ in 0..<3 {
            a.answer(try a.nextTask(cluster!))
            try cluster!.turn()
        }
        XCTAssertEqual(cluster!.coordinator.jobs[key]?.state?.stepIndex, 2)
        let folder = cluster!.folder
        try cluster!.stop()
        cluster = nil
        return (folder, key)
    }

    /// Restarted with only a B worker, the coordinator does not continue the A checkpoint on
    /// B; the A worker that comes back within the grace period gets it, from its step.
    func testARestartedCoordinatorContinuesACheckpointOnlyOnItsClass() throws {
        let (folder, key) = try imageCheckpointedOnA()
        XCTAssertGreaterThan(try planSteps().count, 2)
        let cluster = try SteppedCluster(self, folder: folder) {
            $0.placement = .pack; $0.classGrace = 30; $0.heartbeatInterval = 100
        }
        let b = try cluster.connectWorker("b1", engine: classB)
        try cluster.turn()
        let job = try XCTUnwrap(cluster.coordinator.jobs[key])
        XCTAssertEqual(job.engineClass, classA, "the class came back with the checkpoint")
        XCTAssertEqual(job.state?.stepIndex, 2)
        cluster.clock.time += 20
        try cluster.turn()
        XCTAssertTrue(b.tasks().isEmpty, "B does not continue A's checkpoint")

        let a = try cluster.connectWorker("a1", engine: classA)
        let text = try a.nextTask(cluster)
        XCTAssertEqual(text.kind, "text", "embeddings are not stored: encoded again, on A")
        a.answer(text)
        try cluster.turn()
        let step = try a.nextTask(cluster)
        XCTAssertEqual(step.unetItems.map { $0.split(separator: " ")[1] }, ["2", "2"], "from its checkpoint's step")
        a.answer(step)
        try cluster.turn()
        let sent = try serve(cluster, [a, b], until: key)
        XCTAssertFalse(sent.contains { $0.worker == "b1" })
        let line = try manifest(cluster, key)
        XCTAssertEqual(line["engine"] as? String, classA, "recorded from the stored class (no A task before the restart was seen by this run)")
        XCTAssertNil(line["engine_restarts"])
        XCTAssertEqual(line["unet_evaluations"] as? Int, try planEvaluations())
    }

    /// Restarted with only a B worker and nobody of A coming back: after the grace period the
    /// image starts again on B, and its manifest line says so.
    func testARestoredImageWhoseClassNeverComesBackRestartsAfterTheGrace() throws {
        let (folder, key) = try imageCheckpointedOnA()
        let cluster = try SteppedCluster(self, folder: folder) {
            $0.placement = .pack; $0.classGrace = 30; $0.heartbeatInterval = 100
        }
        let b = try cluster.connectWorker("b1", engine: classB)
        cluster.clock.time += 29
        try cluster.turn()
        XCTAssertTrue(b.tasks().isEmpty)
        cluster.clock.time += 2
        try cluster.turn()
        let sent = try serve(cluster, [b], until: key)
        XCTAssertEqual(sent.first?.task.kind, "text")
        XCTAssertEqual(sent.filter { $0.task.kind == "unet" }.flatMap { $0.task.unetItems }.count, try planEvaluations(),
                       "every step again, from the first")
        let line = try manifest(cluster, key)
        XCTAssertEqual(line["engine"] as? String, classB)
        XCTAssertEqual(line["workers"] as? [String], ["b1"])
        XCTAssertEqual(restarts(line), [["from": classA, "to": classB, "at_step": "2"]])
    }

    // MARK: - STATUS

    func testStatusShowsEachWorkersEngineClass() throws {
        let cluster = try SteppedCluster(self)
        _ = try cluster.connectWorker("a1", engine: classA)
        _ = try cluster.connectWorker("u1")
        let reply = try cluster.coordinator.statusReply(StatusQuery(batchId: nil), sender: .open)
        XCTAssertEqual(reply.workers.map(\.name), ["a1", "u1"])
        XCTAssertEqual(reply.workers.map(\.engine), [classA, EngineClass.unknown])
    }
}
