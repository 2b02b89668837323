import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// Workers do not serve LoRA sets yet: a request naming LoRAs (a `<lora:...>` tag, which is also
/// where JSONL `loras` go) is refused whole with a reason, rather than made without its LoRAs.
final class LoRARefusalTests: XCTestCase {
    func testARequestNamingALoRAIsRefusedAndNothingIsStored() throws {
        let cluster = try InProcessCluster(self) { _ in }
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0))
        let client = try cluster.client()
        let plain = GenerationRequest(prompt: "a red circle", seed: 1, steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)
        var tagged = plain
        tagged.prompt += " <lora:style:0.8>"
        do {
            _ = try client.submit(SubmitBatch(clientBatchName: "lora", submissionId: UUID().uuidString, requests: [plain, tagged]))
            XCTFail("a LoRA request was accepted")
        } catch ClientError.refused(let reply) {
            XCTAssertEqual(reply.code, .invalidRequest)
            XCTAssertTrue(reply.message.contains("request 1") && reply.message.contains("sdcluster generate --lora-dir"), reply.message)
        }
        XCTAssertEqual(try client.status().batches, [])
        // Without the tag the same batch goes through.
        _ = try client.submit(SubmitBatch(clientBatchName: "plain", submissionId: UUID().uuidString, requests: [plain]))
    }
}
