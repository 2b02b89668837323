import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// Every path ends: a task no worker ever answers, or one every worker refuses, fails its image
/// after a bounded number of attempts with the reason, instead of being re-sent forever.
final class EveryRequestEndsTests: XCTestCase {
    private let request = GenerationRequest(prompt: "p", seed: 1, steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)

    func testATaskNeverAnsweredFailsItsImageAfterMaxFailuresDeadlines() throws {
        let cluster = try SteppedCluster(self) { $0.minimumDeadline = 10; $0.heartbeatInterval = 1000; $0.maxFailures = 3 }
        let worker = try cluster.connectWorker("silent")
        let key = try cluster.submit([request])[0]
        var sent = 0
        for _ in 0..<10 {
            if try cluster.store.imageStatus(key) == .failed { break }
            if !worker.tasks().isEmpty { sent += 1 }   // held, never answered
            cluster.clock.time += 11
            try cluster.turn()
        }
        XCTAssertEqual(try cluster.store.imageStatus(key), .failed)
        XCTAssertEqual(sent, 3, "sent once per attempt, then given up")
        let error = try cluster.store.resultsSince(batchId: key.batchId, since: 0, limit: 10).first?.error ?? ""
        XCTAssertTrue(error.contains("deadline"), error)
    }

    func testATaskTheWorkerCannotDecodeIsRefusedByIdAndFailsTheImage() throws {
        // The worker's refusal names the task even when the header itself is what is wrong.
        let big = TextEncodeTask(taskId: "t-big", imageId: "b/0", model: nil, prompt: String(repeating: "x", count: 100_000),
                                 negativePrompt: "", outputs: [.init(slot: .cond, embeddingId: "e")])
        let frames = CoordinatorToWorker.textEncodeTask(big).encode()
        XCTAssertThrowsError(try CoordinatorToWorker.decode(frames)) { error in
            guard case ProtocolError.headerTooLarge = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(CoordinatorToWorker.taskId(ofRefused: frames), "t-big")
        XCTAssertNil(CoordinatorToWorker.taskId(ofRefused: WorkerToCoordinator.heartbeat.encode()), "not a task")

        // And the coordinator counts such refusals: three and the image fails with the reason.
        let cluster = try SteppedCluster(self) { $0.maxFailures = 3 }
        let worker = try cluster.connectWorker("refuser")
        let key = try cluster.submit([request])[0]
        for _ in 0..<3 {
            let task = try worker.nextTask(cluster)
            var reply = ErrorReply(ProtocolError.headerTooLarge(bytes: 100_000, limit: 65_536), inReplyTo: .textEncodeTask)
            reply.taskId = task.taskId
            worker.send(.error(reply))
            try cluster.turn()
        }
        XCTAssertEqual(try cluster.store.imageStatus(key), .failed)
        let error = try cluster.store.resultsSince(batchId: key.batchId, since: 0, limit: 10).first?.error ?? ""
        XCTAssertTrue(error.contains("header-too-large"), error)
    }
}
