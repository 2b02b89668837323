import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// Embedding ids are content keys, so the empty negative prompt that every image of a batch
/// shares is encoded at most once per worker and shipped to a worker at most once. Two scripted
/// workers (the real task runner and cache behind a DEALER this test drives) record every task.
final class EmbeddingSharingTests: XCTestCase {
    func testTheEmptyNegativePromptIsEncodedOrShippedAtMostOncePerWorkerAcrossImages() throws {
        let cluster = try InProcessCluster(self) { $0.placement = .split }
        let workers = [ScriptedWorker("s1", cluster: cluster), ScriptedWorker("s2", cluster: cluster)]
        for worker in workers { try worker.start() }
        defer { workers.forEach { $0.stop() } }
        let client = try cluster.client()
        try waitUntil(10, "both scripted workers to be ready") { try client.status().workers.count == 2 }

        let requests = (0..<6).map {
            GenerationRequest(prompt: "p\($0)", seed: UInt64($0), steps: 3, guidanceCutoff: 1, width: 64, height: 64,
                              model: SimulatedEngine.modelName)
        }
        let outcome = try cluster.submitAndWait(requests)
        XCTAssertEqual(outcome.counts.done, 6)

        let empty = ImageJob.embeddingId(modelHash: SimulatedEngine(unetSeconds: 0).models[0].contentHash, text: "", slot: .uncond,
                                         encoding: requests[0].textEncoding)
        XCTAssertNotEqual(empty, ImageJob.embeddingId(modelHash: SimulatedEngine(unetSeconds: 0).models[0].contentHash, text: "",
                                                      slot: .cond, encoding: requests[0].textEncoding),
                          "an empty negative prompt is not an empty prompt (SDXL conditions on zeros for it)")
        var uncondIds = Set<String>()
        for worker in workers {
            let log = worker.record
            uncondIds.formUnion(log.textOutputs.filter { $0.slot == .uncond }.map(\.embeddingId))
            let encoded = worker.engine.encodes.filter { $0.isEmpty }.count
            let shipped = log.attached.filter { $0 == empty }.count
            XCTAssertLessThanOrEqual(encoded + shipped, 1, "\(worker.name): encoded \(encoded), shipped \(shipped) times")
            XCTAssertEqual(log.attached.count, Set(log.attached).count, "\(worker.name) got an embedding twice: \(log.attached)")
            XCTAssertTrue(log.unetTasks > 0, "\(worker.name) took part")
        }
        XCTAssertEqual(uncondIds, [empty], "every image's negative prompt has the one content id")
    }
}

/// A worker whose socket loop is the test's: READY, heartbeats, and every task answered by a
/// real `TaskRunner` on a `CountingEngine`, recording what arrived.
final class ScriptedWorker: @unchecked Sendable {
    struct Record {
        var textOutputs: [TextEncodeTask.TextOutput] = []
        var attached: [String] = []
        var unetTasks = 0
    }

    let name: String
    let engine = CountingEngine()
    private let endpoint: String
    private let context: ZMQContext
    private let lock = NSLock()
    private var log = Record()
    private let stopFlag = StopFlag()
    private let done = DispatchGroup()

    init(_ name: String, cluster: InProcessCluster) {
        self.name = name
        endpoint = cluster.workersEndpoint
        context = cluster.context
    }

    var record: Record { lock.withLock { log } }

    func start() throws {
        done.enter()
        Thread.detachNewThread { [self] in
            defer { done.leave() }
            do { try serve() } catch { XCTFail("scripted worker \(name): \(error)") }
        }
    }

    func stop() {
        stopFlag.raise()
        _ = done.wait(timeout: .now() + 5)
    }

    private func serve() throws {
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        try socket.connect(endpoint)
        let runner = TaskRunner(engine: engine, cacheCapacity: 512)
        let ready = WorkerToCoordinator.ready(WorkerReady(name: name, models: engine.models, threads: 1, maxBatch: 8))
        try socket.send(frames: ready.encode())
        let poller = ZMQPoller()
        _ = poller.add(socket)
        var lastSent = monotonicSeconds()
        while !stopFlag.isRaised {
            if monotonicSeconds() - lastSent > 0.2 {
                try socket.send(frames: WorkerToCoordinator.heartbeat.encode())
                lastSent = monotonicSeconds()
            }
            guard try poller.poll(timeoutMilliseconds: 50).first?.contains(.readable) == true else { continue }
            let message = try CoordinatorToWorker.decode(try socket.receiveMessage())
            switch message {
            case .textEncodeTask(let task):
                lock.withLock { log.textOutputs += task.outputs }
            case .unetTask(let task):
                lock.withLock { log.attached += task.embeddings.map(\.embeddingId); log.unetTasks += 1 }
            case .vaeDecodeTask:
                break
            case .error(let error) where error.code == .notReady:
                try socket.send(frames: ready.encode())
                continue
            default:
                continue
            }
            if let reply = runner.run(message) {
                try socket.send(frames: reply.encode())
                lastSent = monotonicSeconds()
            }
        }
        try? socket.send(frames: WorkerToCoordinator.disconnect(Disconnect(reason: "test over")).encode())
    }
}
