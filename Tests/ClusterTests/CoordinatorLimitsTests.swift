import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// The coordinator's limits against exhaustion: each refuses a SUBMIT whole, with a reason,
/// before anything is stored.
final class CoordinatorLimitsTests: XCTestCase {
    private func request(_ seed: UInt64, _ change: (inout GenerationRequest) -> Void = { _ in }) -> GenerationRequest {
        var r = GenerationRequest(prompt: "a red circle", seed: seed, steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)
        change(&r)
        return r
    }

    private func refusal(_ client: ClusterClient, _ requests: [GenerationRequest], file: StaticString = #filePath,
                         line: UInt = #line) -> ErrorReply? {
        do {
            _ = try client.submit(SubmitBatch(clientBatchName: "limits", submissionId: UUID().uuidString, requests: requests))
            XCTFail("accepted", file: file, line: line)
        } catch ClientError.refused(let reply) {
            return reply
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return nil
    }

    func testEachLimitRefusesTheBatchWithItsReasonAndStoresNothing() throws {
        let cluster = try InProcessCluster(self) {
            $0.requestLimits = RequestLimits(maxSteps: 10, maxPixels: 128 * 128, maxTextBytes: 20)
            $0.maxImagesPerBatch = 4
            $0.maxQueuedImagesPerClient = 6
        }
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0.3))
        let client = try cluster.client()

        let wide = refusal(client, [request(1) { $0.width = 100_000 }])
        XCTAssertEqual(wide?.code, .invalidRequest)
        XCTAssertTrue(wide?.message.contains("pixels allowed") == true, wide?.message ?? "")
        XCTAssertEqual(refusal(client, [request(1) { $0.steps = 11 }])?.code, .invalidRequest)
        XCTAssertEqual(refusal(client, [request(1) { $0.prompt = String(repeating: "x", count: 21) }])?.code, .invalidRequest)
        let big = refusal(client, (0..<5).map { request($0) })
        XCTAssertEqual(big?.code, .limitExceeded)
        XCTAssertTrue(big?.message.contains("--max-batch-images") == true, big?.message ?? "")
        XCTAssertEqual(try client.status().batches, [], "nothing refused was stored")

        // The queue bound counts what is still unfinished: 4 + 4 passes 6.
        _ = try client.submit(SubmitBatch(clientBatchName: "first", submissionId: UUID().uuidString, requests: (0..<4).map { request($0) }))
        let queued = refusal(client, (4..<8).map { request($0) })
        XCTAssertEqual(queued?.code, .limitExceeded)
        XCTAssertTrue(queued?.message.contains("--max-queued-per-client") == true, queued?.message ?? "")
        XCTAssertEqual(try client.status().batches.count, 1)
    }

    func testASubmitLargerThanTheMessageLimitIsRefusedNotDropped() throws {
        let cluster = try InProcessCluster(self) { $0.maxClientMessageBytes = 64 << 10 }
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0))
        let prompt = String(repeating: "a blue square ", count: 20)
        let reply = refusal(try cluster.client(), (0..<400).map { seed in request(UInt64(seed)) { $0.prompt = prompt } })
        XCTAssertEqual(reply?.code, .tooLarge)
    }
}
