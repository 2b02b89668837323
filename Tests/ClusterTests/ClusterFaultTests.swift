import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// Workers whose results are wrong: every path ends. A coordinator and real `Worker`s run in
/// this process on loopback (their own threads), the workers on an engine whose UNet answers
/// the test chooses per call. The coordinator refuses NaN predictions (protocol decoding) and
/// predictions of the wrong shape (checked against the task); each refusal is a failed attempt
/// of the task's images, so an image ends failed after `maxFailures` and the client's wait
/// ends; a worker refused `maxRefusedResults` times in a row is retired.
final class ClusterFaultTests: XCTestCase {
    /// One image, 64x64 (8x8 latents), 3 steps, guided throughout.
    private func request(_ i: Int = 0) -> GenerationRequest {
        GenerationRequest(prompt: "p\(i)", seed: UInt64(i), steps: 3, guidanceCutoff: 1, width: 64, height: 64,
                          model: SimulatedEngine.modelName)
    }

    /// The request's guidance plan on the simulated model: its steps (one packed UNet task
    /// each on a single worker) and its UNet evaluations.
    private func plan(_ request: GenerationRequest) throws -> (steps: Int, evaluations: Int) {
        let info = try XCTUnwrap(SimulatedEngine(unetSeconds: 0).models[0].info)
        let steps = try Sampler.prepare(request, model: info).plan.steps
        return (steps.count, steps.reduce(0) { $0 + $1.slots.count })
    }

    func testNonFinitePredictionsFailTheImageAfterThreeAttemptsAndTheWaitEnds() throws {
        let cluster = try InProcessCluster(self)
        let engine = FaultyEngine { _ in .nonFinite }
        try cluster.startWorker("w1", engine: engine)
        let started = monotonicSeconds()
        let outcome = try cluster.submitAndWait([request()])
        XCTAssertEqual(outcome.counts.failed, 1)
        XCTAssertEqual(outcome.counts.done, 0)
        XCTAssertEqual(outcome.counts.unfinished, 0)
        let error = try XCTUnwrap(outcome.failures.first?.error)
        XCTAssertTrue(error.contains("worker w1") && error.contains("non-finite"), error)
        // One worker packs the guided step's two evaluations into one task: 3 tasks, 3 attempts.
        XCTAssertEqual(engine.calls, 3)
        XCTAssertLessThan(monotonicSeconds() - started, 20)
        XCTAssertNil(try cluster.worker("w1").retired, "3 refused results stay below the 5 that retire a worker")
    }

    func testPredictionsOfTheWrongShapeFailTheImageAfterThreeAttempts() throws {
        let cluster = try InProcessCluster(self)
        let engine = FaultyEngine { _ in .wrongShape }
        try cluster.startWorker("w1", engine: engine)
        let outcome = try cluster.submitAndWait([request()])
        XCTAssertEqual(outcome.counts.failed, 1)
        XCTAssertEqual(outcome.counts.unfinished, 0)
        let error = try XCTUnwrap(outcome.failures.first?.error)
        XCTAssertTrue(error.contains("worker w1") && error.contains("shape [1, 4, 8, 9]") && error.contains("[1, 4, 8, 8]"), error)
        XCTAssertEqual(engine.calls, 3)
    }

    /// A NaN answer, then an engine error (ERROR task-failed), then good answers: two failed
    /// attempts, below the limit, so the image is made; the worker kept serving throughout.
    func testBadAnswersThenGoodOnesMakeTheImage() throws {
        let cluster = try InProcessCluster(self)
        let engine = FaultyEngine { call in call == 0 ? .nonFinite : call == 1 ? .throwing : .good }
        try cluster.startWorker("w1", engine: engine)
        let outcome = try cluster.submitAndWait([request()])
        XCTAssertEqual(outcome.counts.done, 1, "\(outcome.failures)")
        XCTAssertEqual(outcome.counts.failed, 0)
        XCTAssertEqual(outcome.files.count, 1)
        // One packed task per step, plus the 2 that failed.
        let plan = try plan(request())
        XCTAssertEqual(engine.calls, plan.steps + 2)
        let manifest = try String(contentsOfFile: (cluster.waitedInto as NSString).appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        XCTAssertTrue(manifest.contains(#""unet_evaluations":\#(plan.evaluations),"#),
                      "failed attempts are not counted as evaluations (\(plan.evaluations)): \(manifest)")
        XCTAssertNil(try cluster.worker("w1").retired)
    }

    /// A worker whose every result is refused is retired after 5 in a row (its image, allowed
    /// more failures here, waits); a healthy worker joining then finishes the image.
    func testAWorkerRefusedFiveTimesInARowIsRetiredAndAnotherFinishesItsImage() throws {
        let cluster = try InProcessCluster(self) { $0.maxFailures = 10 }
        let bad = FaultyEngine { _ in .nonFinite }
        try cluster.startWorker("bad", engine: bad)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "retire", submissionId: UUID().uuidString, requests: [request()]))
        try waitUntil(20, "the bad worker to be retired") { try cluster.worker("bad", client: client).retired != nil }
        let retired = try XCTUnwrap(try cluster.worker("bad", client: client).retired)
        XCTAssertTrue(retired.contains("5 results in a row refused") && retired.contains("non-finite"), retired)
        XCTAssertEqual(bad.calls, 5)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(bad.calls, 5, "a retired worker gets no more tasks")
        XCTAssertEqual(try client.status(batchId: accepted.batchId).batches[0].counts.unfinished, 1, "the image waits for a usable worker")
        let good = FaultyEngine { _ in .good }
        try cluster.startWorker("good", engine: good)
        let outcome = try cluster.wait(for: accepted.batchId)
        XCTAssertEqual(outcome.counts.done, 1, "\(outcome.failures)")
        XCTAssertEqual(good.calls, try plan(request()).steps, "the image starts again from its first step")
    }

    /// A SUBMIT while the only worker is retired is refused, as when no worker is connected.
    func testASubmitWhileTheOnlyWorkerIsRetiredIsRefused() throws {
        let cluster = try InProcessCluster(self) { $0.maxRefusedResults = 1; $0.maxFailures = 10 }
        try cluster.startWorker("bad", engine: FaultyEngine { _ in .wrongShape })
        let client = try cluster.client()
        _ = try client.submit(SubmitBatch(clientBatchName: "first", submissionId: UUID().uuidString, requests: [request()]))
        try waitUntil(20, "the bad worker to be retired") { try cluster.worker("bad", client: client).retired != nil }
        XCTAssertThrowsError(try client.submit(SubmitBatch(clientBatchName: "second", submissionId: UUID().uuidString,
                                                           requests: [request(1)]))) { error in
            guard case ClientError.refused(let reply) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reply.code, .noWorkerForModel)
        }
    }

    // MARK: - Which task a refused message answers

    func testTheTaskIdOfARefusedResultIsReadWhenItsHeaderDecodes() throws {
        let good = WorkerToCoordinator.unetResult(Samples.unetResult).encode()
        var nonFinite = good
        nonFinite[3] = [UInt8](repeating: 0xFF, count: good[3].count)
        var truncated = good
        truncated[3] = Array(good[3].dropLast(4))
        let missingPayload = Array(good.dropLast())
        let badField = replacing(good, at: 2, with: bytes(#"{"taskId":"t2","computeSeconds":-1,"items":[]}"#))
        let vae = WorkerToCoordinator.vaeDecodeResult(Samples.vaeResult).encode()
        var vaeNaN = vae
        vaeNaN[3] = Array(vae[3].dropLast())
        let cases: [([[UInt8]], ErrorCode)] = [(nonFinite, .nonFinite), (truncated, .badTensor), (missingPayload, .badFrames),
                                               (badField, .badHeader)]
        for (frames, code) in cases {
            XCTAssertThrowsError(try WorkerToCoordinator.decode(frames)) { XCTAssertEqual(($0 as? ProtocolError)?.code, code) }
            XCTAssertEqual(WorkerToCoordinator.answeredTaskId(frames), "t2")
        }
        XCTAssertThrowsError(try WorkerToCoordinator.decode(vaeNaN))
        XCTAssertEqual(WorkerToCoordinator.answeredTaskId(vaeNaN), "t3")
        XCTAssertEqual(WorkerToCoordinator.answeredTaskId(good), "t2", "a good result names its task too")
    }

    func testNoTaskIdIsReadFromMessagesThatDoNotNameOne() {
        let good = WorkerToCoordinator.unetResult(Samples.unetResult).encode()
        let cases: [[[UInt8]]] = [
            replacing(good, at: 2, with: bytes("{not json")),
            replacing(good, at: 2, with: bytes(#"{"taskId":""}"#)),
            replacing(good, at: 2, with: bytes(#"{"taskId":7}"#)),
            replacing(good, at: 2, with: bytes(#"["t2"]"#)),
            replacing(good, at: 0, with: bytes("SDC9")),
            WorkerToCoordinator.heartbeat.encode(),
            replacing(WorkerToCoordinator.ready(Samples.ready).encode(), at: 2, with: bytes(#"{"taskId":"t2"}"#)),
            [bytes("SDC4"), bytes("RESULT-UNET")],
        ]
        for frames in cases {
            XCTAssertNil(WorkerToCoordinator.answeredTaskId(frames), "\(frames.prefix(3).map { String(decoding: $0, as: UTF8.self) })")
        }
    }

    // MARK: - The coordinator's checks of results against their tasks

    func testResultsThatDoNotFitTheirTaskAreDescribed() {
        let task = Samples.unetTask
        func result(_ items: [UNetPrediction]) -> UNetEvalResult { UNetEvalResult(taskId: task.taskId, items: items, computeSeconds: 0) }
        let fitting = task.items.map { UNetPrediction(imageId: $0.imageId, step: $0.step, slot: $0.slot, prediction: $0.latent) }
        XCTAssertNil(Coordinator.unetProblem(result(fitting), task: task))
        XCTAssertEqual(Coordinator.unetProblem(result(Array(fitting.dropLast())), task: task),
                       "answered 2 of the 3 evaluations of task t2")
        var swapped = fitting
        swapped.swapAt(0, 1)
        XCTAssertEqual(Coordinator.unetProblem(result(swapped), task: task),
                       "answered item 0 of task t2 with b1/0 step 3 uncond, not b1/0 step 3 cond")
        var misshapen = fitting
        misshapen[2].prediction = WireTensor(Tensor(zeros: [1, 4, 4, 5]))
        XCTAssertEqual(Coordinator.unetProblem(result(misshapen), task: task),
                       "returned a prediction of shape [1, 4, 4, 5] for a latent of shape [1, 4, 4, 4] (image b1/5, step 0, cond)")

        let text = Samples.textResult
        XCTAssertNil(Coordinator.textProblem(text, needed: [.cond, .uncond]))
        XCTAssertNil(Coordinator.textProblem(TextEncodeResult(taskId: "t1", imageId: "b1/0", embeddings: [text.embeddings[0]],
                                                              computeSeconds: 0), needed: [.cond]))
        XCTAssertNotNil(Coordinator.textProblem(TextEncodeResult(taskId: "t1", imageId: "b1/0", embeddings: [text.embeddings[0]],
                                                                 computeSeconds: 0), needed: [.cond, .uncond]))
        XCTAssertNotNil(Coordinator.textProblem(TextEncodeResult(taskId: "t1", imageId: "b1/0",
                                                                 embeddings: [text.embeddings[0], text.embeddings[0]],
                                                                 computeSeconds: 0), needed: [.cond]))
        var odd = text
        odd.embeddings[1].conditioning.embedding = WireTensor(Tensor(zeros: [1, 77, 9]))
        XCTAssertNotNil(Coordinator.textProblem(odd, needed: [.cond, .uncond]))
        // A long prompt (two 77-token chunks) next to a one-chunk negative prompt is fine.
        let width = text.embeddings[0].conditioning.embedding.tensor.shape[2]
        var long = text
        long.embeddings[0].conditioning.embedding = WireTensor(Tensor(zeros: [1, 154, width]))
        XCTAssertNil(Coordinator.textProblem(long, needed: [.cond, .uncond]))
        long.embeddings[0].conditioning.embedding = WireTensor(Tensor(zeros: [1, 0, width]))
        XCTAssertNotNil(Coordinator.textProblem(long, needed: [.cond, .uncond]))
        // SDXL: a pooled embedding with every text, of one width, or with none.
        XCTAssertNil(Coordinator.textProblem(Samples.textResultSDXL, needed: [.cond, .uncond]))
        var halfPooled = Samples.textResultSDXL
        halfPooled.embeddings[1].conditioning.pooled = nil
        XCTAssertNotNil(Coordinator.textProblem(halfPooled, needed: [.cond, .uncond]))
        var pooledWidths = Samples.textResultSDXL
        pooledWidths.embeddings[1].conditioning.pooled = WireTensor(Tensor(zeros: [1, 7]))
        XCTAssertNotNil(Coordinator.textProblem(pooledWidths, needed: [.cond, .uncond]))
    }
}

/// A worker engine over the simulated one whose UNet answer the test picks per call (counted
/// from 0): the simulated zeros, NaN everywhere, one column too many, or a thrown error.
final class FaultyEngine: WorkerEngine, @unchecked Sendable {
    enum Answer { case good, nonFinite, wrongShape, throwing }

    private let base = SimulatedEngine(unetSeconds: 0)
    private let plan: (Int) -> Answer
    private let lock = NSLock()
    private var callCount = 0

    init(_ plan: @escaping (Int) -> Answer) { self.plan = plan }

    /// UNet calls so far.
    var calls: Int { lock.withLock { callCount } }
    var models: [HostedModel] { base.models }

    func encode(text: String, slot: TextSlot, model: String?, encoding: TextEncoding) throws -> TextConditioning {
        try base.encode(text: text, slot: slot, model: model, encoding: encoding)
    }
    func decode(latents: Tensor, model: String?) throws -> RGBPixels { try base.decode(latents: latents, model: model) }

    func unet(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning], timeIds: [[Float]]?,
              model: String?) throws -> [Tensor] {
        let call = lock.withLock { callCount += 1; return callCount - 1 }
        let good = try base.unet(latents: latents, timesteps: timesteps, conditionings: conditionings, timeIds: timeIds, model: model)
        switch plan(call) {
        case .good: return good
        case .nonFinite: return latents.map { Tensor(shape: $0.shape, values: [Float](repeating: .nan, count: $0.count)) }
        case .wrongShape: return latents.map { Tensor(zeros: Array($0.shape.dropLast()) + [$0.shape.last! + 1]) }
        case .throwing: throw WorkerEngineError.shapeMismatch("injected failure")
        }
    }
}

/// A coordinator and workers in this process, each on its own thread (a socket lives on the
/// thread that made it), over loopback tcp; stopped (workers first) when the test ends.
final class InProcessCluster {
    let context: ZMQContext
    let folder: URL
    let workersEndpoint: String
    let clientsEndpoint: String
    /// Where `submitAndWait` wrote the last batch's files.
    private(set) var waitedInto = ""
    private let coordinatorStop = StopFlag()
    /// Raise to make the coordinator re-read its key allow-lists (what SIGHUP does).
    let reload = ReloadFlag()
    /// The credentials `client()` uses by default (an admin's, when the cluster has CURVE on).
    var clientCredentials: CurveCredentials?
    private var workerStops: [StopFlag] = []
    private let workersDone = DispatchGroup()
    private let coordinatorDone = DispatchGroup()

    init(_ test: XCTestCase, options adjust: (inout CoordinatorOptions) -> Void = { _ in }) throws {
        context = try ZMQContext()
        folder = try temporaryFolder(test)
        var options = CoordinatorOptions(workersEndpoint: "tcp://127.0.0.1:*", clientsEndpoint: "tcp://127.0.0.1:*",
                                         storeDirectory: folder.appendingPathComponent("store").path,
                                         outputDirectory: folder.appendingPathComponent("output").path,
                                         heartbeatInterval: 0.5)
        adjust(&options)
        let started = Started<(String, String)>()
        let stopFlag = coordinatorStop, context = self.context, settled = options, reload = self.reload
        coordinatorDone.enter()
        Thread.detachNewThread { [coordinatorDone] in
            defer { coordinatorDone.leave() }
            do {
                let coordinator = try Coordinator(options: settled, context: context, log: ClusterLogging.silent("coordinator"))
                started.set(.success((coordinator.workersEndpoint, coordinator.clientsEndpoint)))
                try coordinator.run(until: stopFlag, reload: reload)
            } catch {
                started.set(.failure(error))
            }
        }
        (workersEndpoint, clientsEndpoint) = try started.wait()
        test.addTeardownBlock { [self] in stop() }
    }

    /// Starts a worker thread and (unless `waitReady` is false) waits until STATUS lists it.
    func startWorker(_ name: String, engine: WorkerEngine, maxBatch: Int = 8, credentials: CurveCredentials? = nil,
                     waitReady: Bool = true) throws {
        let stop = StopFlag()
        workerStops.append(stop)
        let options = WorkerOptions(coordinator: workersEndpoint, name: name, threads: 1, maxBatch: maxBatch, heartbeatInterval: 0.5,
                                    credentials: credentials)
        let context = self.context
        workersDone.enter()
        Thread.detachNewThread { [workersDone] in
            defer { workersDone.leave() }
            do {
                try Worker(engine: engine, options: options, context: context, log: ClusterLogging.silent(name)).run(until: stop)
            } catch {
                XCTFail("worker \(name): \(error)")
            }
        }
        guard waitReady else { return }
        let client = try self.client()
        try waitUntil(10, "worker \(name) to be ready") { try client.status().workers.contains { $0.name == name } }
    }

    func client(giveUpAfter: Double = 30, credentials: CurveCredentials?? = nil) throws -> ClusterClient {
        ClusterClient(endpoint: clientsEndpoint, context: context, giveUpAfter: giveUpAfter, credentials: credentials ?? clientCredentials)
    }

    /// The worker's line in STATUS.
    func worker(_ name: String, client: ClusterClient? = nil) throws -> WorkerSummary {
        let status = try (client ?? self.client()).status()
        guard let summary = status.workers.first(where: { $0.name == name }) else { throw ClusterTestError.setup("no worker \(name)") }
        return summary
    }

    func submitAndWait(_ requests: [GenerationRequest]) throws -> BatchWaiter.Outcome {
        let accepted = try client().submit(SubmitBatch(clientBatchName: "faults", submissionId: UUID().uuidString, requests: requests))
        return try wait(for: accepted.batchId)
    }

    /// `submit --wait`'s loop (BatchWaiter) on its own thread and client, given `seconds` to end.
    func wait(for batchId: String, seconds: Double = 25) throws -> BatchWaiter.Outcome {
        let into = folder.appendingPathComponent("got-\(batchId)").path
        waitedInto = into
        let finished = Started<BatchWaiter.Outcome>()
        let endpoint = clientsEndpoint, context = self.context, credentials = clientCredentials
        Thread.detachNewThread {
            // Gives up soon after the coordinator is stopped, should the wait never end.
            let client = ClusterClient(endpoint: endpoint, context: context, giveUpAfter: 5, credentials: credentials)
            finished.set(Result { try BatchWaiter(client: client, batchId: batchId, outputDirectory: into).run() })
        }
        return try finished.wait(seconds: seconds, what: "the wait for batch \(batchId) to end")
    }

    func stop() {
        for stop in workerStops { stop.raise() }
        _ = workersDone.wait(timeout: .now() + 10)
        coordinatorStop.raise()
        _ = coordinatorDone.wait(timeout: .now() + 10)
    }
}

/// A value another thread hands over once.
private final class Started<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private let signal = DispatchSemaphore(value: 0)
    private var result: Result<Value, Error>?

    func set(_ value: Result<Value, Error>) {
        lock.withLock { if result == nil { result = value } }
        signal.signal()
    }

    func wait(seconds: Double = 30, what: String = "the coordinator to start") throws -> Value {
        guard signal.wait(timeout: .now() + seconds) == .success, let result = lock.withLock({ result }) else {
            throw ClusterTestError.timeout(what)
        }
        return try result.get()
    }
}
