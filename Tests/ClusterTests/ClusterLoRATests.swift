import Foundation
import ImageIO
import XCTest
import StableDiffusion
@testable import Cluster

/// Requests naming LoRAs through the cluster: served by workers that have the LoRA files
/// (`--lora-dir`), with `generate`'s bits; a worker whose copy of a LoRA differs is not used for
/// it; requests no connected worker can serve are refused at SUBMIT with the reason.
final class ClusterLoRATests: XCTestCase {
    static let fixtures = LocalCluster.packageRoot.appendingPathComponent("Tests/StableDiffusionTests/Fixtures").path

    private func request(_ prompt: String, seed: UInt64) -> GenerationRequest {
        GenerationRequest(prompt: prompt, seed: seed, steps: 4, guidanceScale: 7.5, width: 32, height: 32)
    }

    private func engine(loraDirectory: String?) throws -> PipelineEngine {
        let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Self.fixtures + "/tiny-sd"))
        return try PipelineEngine(pipeline: pipeline, loraLibrary: loraDirectory.map { LoRALibrary(directory: $0) })
    }

    /// What `generate` makes: the model with the request's LoRA set merged.
    private func local(_ request: GenerationRequest) throws -> [UInt8] {
        let base = try ModelLocation.open(Self.fixtures + "/tiny-sd")
        let groups = try LoRAGroups([request], library: LoRALibrary(directory: Self.fixtures + "/lora"), model: base)
        return try StableDiffusionPipeline(location: base.applyingLoRAs(groups.groups[0].loras)).generate(request).rgb
    }

    private func refusal(_ client: ClusterClient, _ requests: [GenerationRequest]) -> ErrorReply? {
        do {
            _ = try client.submit(SubmitBatch(clientBatchName: "lora", submissionId: UUID().uuidString, requests: requests))
            XCTFail("accepted")
        } catch ClientError.refused(let reply) {
            return reply
        } catch {
            XCTFail("\(error)")
        }
        return nil
    }

    func testLoRARequestsGoToWorkersWithTheLoRAsAndGiveGeneratesBits() throws {
        // w2 has a different file under the name "peft": its copy is not the cluster's.
        let other = try temporaryFolder(self).appendingPathComponent("loras").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/lora/kohya-locon.safetensors", toPath: other + "/peft.safetensors")
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("w1", engine: try engine(loraDirectory: Self.fixtures + "/lora"), maxBatch: 4)
        try cluster.startWorker("w2", engine: try engine(loraDirectory: other), maxBatch: 4)
        let requests = [
            request("a red circle <lora:peft:1.0>", seed: 1),
            request("a red circle", seed: 2),
            request("a blue square <lora:kohya-locon:0.6> <lora:peft:-0.7>", seed: 3),
            request("a red circle <lora:peft:1.0>", seed: 4),
        ]
        let outcome = try cluster.submitAndWait(requests)
        XCTAssertEqual(outcome.counts.done, 4, "\(outcome.failures)")
        let manifest = try String(contentsOfFile: cluster.waitedInto + "/manifest.jsonl", encoding: .utf8)
        for line in manifest.split(separator: "\n") {
            let entry = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let index = try XCTUnwrap(entry["index"] as? Int)
            let file = try XCTUnwrap(entry["file"] as? String)
            let image = try PNG.read(from: cluster.waitedInto + "/" + file)
            XCTAssertEqual(image.pixels, try local(requests[index]), "image \(index) differs from generate's")
            // The PNG's parameters are generate's: the tags in the prompt and the LoRA hashes.
            let text = try XCTUnwrap(PNG.textChunks(at: cluster.waitedInto + "/" + file).first { $0.0 == "parameters" }?.1)
            let parameters = try GenerationParameters(parsing: text)
            XCTAssertEqual(parameters.request.prompt, requests[index].prompt)
            let expectedHashes = ["a red circle <lora:peft:1.0>": "peft: 91bb42898753", "a red circle": nil,
                                  "a blue square <lora:kohya-locon:0.6> <lora:peft:-0.7>": "kohya-locon: 7e69a2f472ea, peft: 91bb42898753"]
            XCTAssertEqual(parameters.otherFields.first { $0.key == "Lora hashes" }?.value, expectedHashes[requests[index].prompt] ?? nil)
            if requests[index].prompt.contains("peft") {
                XCTAssertEqual(entry["workers"] as? [String], ["w1"], "image \(index): only w1 has the cluster's peft")
            }
        }
    }

    func testRequestsNoWorkerCanServeAreRefusedWithTheReason() throws {
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0))
        let client = try cluster.client()
        let plain = GenerationRequest(prompt: "a red circle", seed: 1, steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)
        var tagged = plain
        tagged.prompt += " <lora:style:0.8>"
        let missing = refusal(client, [plain, tagged])
        XCTAssertEqual(missing?.code, .noWorkerForModel)
        XCTAssertTrue(missing?.message.contains("request 1") == true && missing?.message.contains("LoRA 'style'") == true
                      && missing?.message.contains("--lora-dir") == true, missing?.message ?? "")
        tagged.prompt = "x <lora:style:strong>"
        let bad = refusal(client, [tagged])
        XCTAssertEqual(bad?.code, .invalidRequest)
        XCTAssertTrue(bad?.message.contains("'strong' is not a number") == true, bad?.message ?? "")
        XCTAssertEqual(try client.status().batches, [])
    }

    /// A batch that interleaves two LoRA sets costs one worker one build per set, not one per
    /// change: the coordinator gives a worker work of the set it holds first.
    func testAWorkerBuildsEachLoRASetOnceForAnInterleavedBatch() throws {
        final class Builds: @unchecked Sendable {
            let lock = NSLock()
            var names: [String] = []
        }
        let builds = Builds()
        let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Self.fixtures + "/tiny-sd"))
        let engine = try PipelineEngine(pipeline: pipeline, loraLibrary: LoRALibrary(directory: Self.fixtures + "/lora")) { location in
            builds.lock.withLock { builds.names.append(location.loras?.references.map(\.tag).joined() ?? "") }
            return try StableDiffusionPipeline(location: location)
        }
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("w", engine: engine, maxBatch: 4)
        let requests = (0..<6).map { i in
            request(i % 2 == 0 ? "a red circle <lora:peft:1.0>" : "a red circle <lora:kohya-locon:0.8>", seed: UInt64(i))
        }
        let outcome = try cluster.submitAndWait(requests)
        XCTAssertEqual(outcome.counts.done, 6, "\(outcome.failures)")
        XCTAssertEqual(builds.lock.withLock { builds.names.sorted() }, ["<lora:kohya-locon:0.8>", "<lora:peft:1.0>"])
    }
}
