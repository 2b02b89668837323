import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// A coordinator process with simulated workers (no model to load): refusals of malformed and
/// oversized input on both sockets, routing by model, and a worker's graceful drain.
final class ClusterRobustnessTests: XCTestCase {
    private func simulatedCluster(workers: Int, unetSeconds: Double = 0) throws -> LocalCluster {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        for i in 1...max(1, workers) where workers > 0 {
            try cluster.startWorker("sim\(i)", ["--engine", "simulated", "--unet-seconds", String(unetSeconds)])
        }
        if workers > 0 { try cluster.waitForWorkers(workers) }
        return cluster
    }

    private func simulatedRequests(_ count: Int, model: String? = "simulated") -> [GenerationRequest] {
        (0..<count).map { GenerationRequest(prompt: "p\($0)", seed: UInt64($0), steps: 4, guidanceCutoff: 0.5, width: 64, height: 64, model: model) }
    }

    private func errorCode(_ frames: [[UInt8]]?) throws -> String {
        let frames = try XCTUnwrap(frames, "an ERROR reply arrived")
        let wire = try WireFrames.parse(frames)
        XCTAssertEqual(wire.type, .error)
        return try HeaderCoding.decode(ErrorReply.self, from: wire.header).code.rawValue
    }

    private func dealer(_ context: ZMQContext, _ endpoint: String) throws -> ZMQSocket {
        let socket = try context.socket(.dealer)
        try socket.connect(endpoint)
        return socket
    }

    func testMalformedAndOversizedClientMessagesGetErrorsAndServingGoesOn() throws {
        let cluster = try simulatedCluster(workers: 1)
        let context = try ZMQContext()
        let socket = try dealer(context, cluster.clientsEndpoint)
        let sig = bytes("SDC4")
        let cases: [([[UInt8]], String)] = [
            ([bytes("garbage")], "bad-frames"),
            ([bytes("SDC1"), bytes("STATUS"), bytes("{}")], "unsupported-version"),
            ([bytes("SDC2"), bytes("STATUS"), bytes("{}")], "unsupported-version"),  // the version before
            ([sig, bytes("NOPE"), bytes("{}")], "unknown-type"),
            ([sig, bytes("STATUS"), [UInt8](repeating: 32, count: 70_000)], "header-too-large"),
            ([sig, bytes("SUBMIT"), bytes("{not json")], "bad-header"),
            ([sig, bytes("READY"), bytes(#"{"name":"x","models":[],"threads":1,"maxBatch":1}"#)], "unexpected-type"),
            ([sig, bytes("FETCH"), bytes(#"{"batchId":"nope","since":0,"waitMilliseconds":0}"#)], "unknown-batch"),
        ]
        for (frames, code) in cases {
            try socket.send(frames: frames)
            XCTAssertEqual(try errorCode(try receive(socket, within: 5000)), code, "reply to \(frames.map { $0.prefix(12) })")
        }
        // A frame over ZMQ_MAXMSGSIZE: libzmq drops the connection before buffering it.
        let huge = try dealer(context, cluster.clientsEndpoint)
        try huge.send(frames: [sig, bytes("STATUS"), bytes("{}"), [UInt8](repeating: 0, count: Int(ProtocolLimits.standard.socketMaxMessageSize) + 1)])
        XCTAssertNil(try receive(huge, within: 500), "no answer to an oversized frame")
        // Still serving: status, a refused model, and a real batch to the end.
        let client = try cluster.client()
        XCTAssertEqual(try client.status().workers.count, 1)
        XCTAssertThrowsError(try client.submit(SubmitBatch(clientBatchName: "x", submissionId: UUID().uuidString,
                                                           requests: simulatedRequests(1, model: "no-such-model")))) { error in
            guard case ClientError.refused(let reply) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reply.code, .noWorkerForModel)
            XCTAssertTrue(reply.message.contains("no-such-model") && reply.message.contains("simulated"), reply.message)
        }
        let accepted = try client.submit(SubmitBatch(clientBatchName: "ok", submissionId: UUID().uuidString, requests: simulatedRequests(3)))
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId,
                                      outputDirectory: cluster.folder.appendingPathComponent("got").path).run()
        XCTAssertEqual(outcome.counts.done, 3)
        XCTAssertTrue(cluster.coordinator?.isRunning ?? false)
    }

    func testMalformedWorkerMessagesGetErrorsAndServingGoesOn() throws {
        let cluster = try simulatedCluster(workers: 1)
        let context = try ZMQContext()
        let socket = try dealer(context, cluster.workersEndpoint)
        let sig = bytes("SDC4")
        let result = UNetEvalResult(taskId: "t1", items: [UNetPrediction(imageId: "b/0", step: 0, slot: .cond,
                                                                           prediction: WireTensor(Tensor(zeros: [1, 4, 2, 2])))],
                                    computeSeconds: 0.1)
        var nonFinite = WorkerToCoordinator.unetResult(result).encode()
        nonFinite[3] = [UInt8](repeating: 0xFF, count: nonFinite[3].count)   // NaN bit patterns
        let cases: [([[UInt8]], String)] = [
            ([bytes("garbage")], "bad-frames"),
            ([sig, bytes("SUBMIT"), bytes("{}")], "unexpected-type"),
            ([sig, bytes("READY"), bytes(#"{"name":"","models":[],"threads":1,"maxBatch":1}"#)], "bad-header"),
            (nonFinite, "non-finite"),
            (WorkerToCoordinator.unetResult(result).encode(), "not-ready"),
        ]
        for (frames, code) in cases {
            try socket.send(frames: frames)
            XCTAssertEqual(try errorCode(try receive(socket, within: 5000)), code, "reply to \(frames.map { $0.prefix(12) })")
        }
        let huge = try dealer(context, cluster.workersEndpoint)
        try huge.send(frames: [sig, bytes("HEARTBEAT"), bytes("{}"), [UInt8](repeating: 0, count: Int(ProtocolLimits.standard.socketMaxMessageSize) + 1)])
        XCTAssertNil(try receive(huge, within: 500))
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "ok", submissionId: UUID().uuidString, requests: simulatedRequests(2)))
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId,
                                      outputDirectory: cluster.folder.appendingPathComponent("got").path).run()
        XCTAssertEqual(outcome.counts.done, 2)
    }

    func testSubmitWithoutWorkersIsRefusedAndResubmissionIsIdempotent() throws {
        let cluster = try simulatedCluster(workers: 0)
        let client = try cluster.client()
        let submission = SubmitBatch(clientBatchName: "x", submissionId: UUID().uuidString, requests: simulatedRequests(2, model: nil))
        XCTAssertThrowsError(try client.submit(submission)) { error in
            guard case ClientError.refused(let reply) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reply.code, .noWorkerForModel)
        }
        try cluster.startWorker("sim1", ["--engine", "simulated"])
        try cluster.waitForWorkers(1)
        let first = try client.submit(submission)
        let again = try client.submit(submission)
        XCTAssertEqual(first.batchId, again.batchId, "a resent SUBMIT returns the same batch")
        XCTAssertEqual(try client.status().batches.count, 1)
    }

    func testSIGTERMDrainsAWorkerAndItsWorkIsFinishedElsewhere() throws {
        let cluster = try simulatedCluster(workers: 2, unetSeconds: 0.3)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "drain", submissionId: UUID().uuidString, requests: simulatedRequests(6)))
        try waitUntil(60, "both workers busy") { try client.status().workers.allSatisfy { $0.inFlight > 0 } }
        let leaving = cluster.workers[0]
        kill(leaving.processIdentifier, SIGTERM)
        try waitUntil(30, "the worker to exit") { !leaving.isRunning }
        XCTAssertEqual(leaving.terminationStatus, 0)
        // The coordinator handles the DISCONNECT on its own schedule, possibly after the worker
        // exited (that DISCONNECT drops its tasks at once: CoordinatorDispatchTests).
        try waitUntil(30, "the coordinator to forget the drained worker") {
            try client.status().workers.map(\.name) == ["sim2"]
        }
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId,
                                      outputDirectory: cluster.folder.appendingPathComponent("got").path).run()
        XCTAssertEqual(outcome.counts.done, 6)
    }

    func testCancelStopsABatchAndKeepsFinishedImages() throws {
        let cluster = try simulatedCluster(workers: 1, unetSeconds: 0.2)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "cancel", submissionId: UUID().uuidString, requests: simulatedRequests(20)))
        try waitUntil(60, "one image done") { try client.status(batchId: accepted.batchId).batches[0].counts.done >= 1 }
        let progress = try client.cancel(batchId: accepted.batchId)
        XCTAssertGreaterThanOrEqual(progress.counts.done, 1)
        XCTAssertGreaterThan(progress.counts.cancelled, 0)
        XCTAssertEqual(progress.counts.unfinished, 0)
        XCTAssertEqual(try client.status(batchId: accepted.batchId).batches[0].state, "cancelled")
        XCTAssertThrowsError(try client.cancel(batchId: "no-such-batch"))
    }
    /// Every UNet answer of the slow worker (2.5 s an evaluation) comes after its deadline (0.5 s:
    /// its speed is never measured, since no answer of it is accepted): each task it held went
    /// to the fast worker, and none of its late answers counted. The exact sequence, with a
    /// clock the test moves, is in CoordinatorDispatchTests.
    func testATaskPastItsDeadlineIsResentAndTheLateAnswerIgnored() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--minimum-deadline", "0.5"])
        try cluster.startWorker("slow", ["--engine", "simulated", "--unet-seconds", "2.5", "--max-batch", "1"])
        try cluster.waitForWorkers(1)
        let client = try cluster.client()
        let requests = simulatedRequests(1)
        let accepted = try client.submit(SubmitBatch(clientBatchName: "deadline", submissionId: UUID().uuidString,
                                                     requests: requests))
        func slow() throws -> WorkerSummary? { try client.status().workers.first { $0.name == "slow" } }
        try waitUntil(30, "the slow worker to hold a UNet evaluation") { try slow()?.inFlight ?? 0 > 0 }
        let held = monotonicSeconds()
        try cluster.startWorker("fast", ["--engine", "simulated"])
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId,
                                      outputDirectory: cluster.folder.appendingPathComponent("got").path).run()
        XCTAssertEqual(outcome.counts.done, 1)
        // The slow worker's first answer arrives 2.5 s after it got its task.
        Thread.sleep(forTimeInterval: max(0, held + 3 - monotonicSeconds()))
        let info = try XCTUnwrap(SimulatedEngine(unetSeconds: 0).models[0].info)
        let evaluations = try Sampler.prepare(requests[0], model: info).plan.steps.reduce(0) { $0 + $1.slots.count }
        let workers = try client.status().workers
        XCTAssertEqual(workers.first { $0.name == "slow" }?.evaluationsDone, 0, "every late answer was ignored")
        XCTAssertEqual(workers.first { $0.name == "fast" }?.evaluationsDone, evaluations, "the fast worker made every evaluation")
    }
}
