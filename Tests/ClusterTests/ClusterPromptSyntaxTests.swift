import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// A1111-style prompts through a coordinator and two worker processes on the tiny test model:
/// long prompts (154-token embeddings next to 77-token negative prompts in one UNet task),
/// emphasis, BREAK, clip skip and the literal syntax give `generate`'s pixels exactly.
final class ClusterPromptSyntaxTests: XCTestCase {
    static func requests() -> [GenerationRequest] {
        let long = (0..<40).map { "red circle \($0 % 7)" }.joined(separator: ", ")
        let prompts: [(String, PromptSyntax?, Int?)] = [
            (long, nil, nil),                                     // 3 chunks, negative 1 chunk
            ("a (red:1.4) circle on a [[blue]] background", nil, nil),
            ("a red circle BREAK on a blue background", nil, 2),
            (long, .literal, nil),                                // cut at 75 tokens
            ("a (red:1.4) circle", .literal, 2),                  // the brackets are text
            ("a red circle", nil, 2),
        ]
        return prompts.enumerated().map { i, p in
            GenerationRequest(prompt: p.0, negativePrompt: i % 2 == 0 ? "" : "blurry, (ugly:1.2)", seed: UInt64(300 + i),
                              steps: 3, guidanceScale: 5, guidanceCutoff: i == 0 ? 1 : 0.5, width: 32, height: 32,
                              model: "tiny-sd", promptSyntax: p.1, clipSkip: p.2)
        }
    }

    func testPromptSyntaxAndClipSkipGiveTheLocalPipelinesPixels() throws {
        let requests = Self.requests()
        // The requests really differ from their plain forms (the test would pass vacuously otherwise).
        var plain = requests[5]
        plain.clipSkip = nil
        XCTAssertNotEqual(try LocalReference.pixels(requests[5]).rgb, try LocalReference.pixels(plain).rgb)
        var literal = requests[0]
        literal.promptSyntax = .literal
        XCTAssertNotEqual(try LocalReference.pixels(requests[0]).rgb, try LocalReference.pixels(literal).rgb)

        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        try cluster.waitForWorkers(2)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "a1111", submissionId: UUID().uuidString, requests: requests))
        let out = cluster.folder.appendingPathComponent("received").path
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId, outputDirectory: out).run()
        XCTAssertEqual(outcome.counts.done, requests.count)
        try assertBatchMatchesLocal(folder: out, requests: requests)
    }

    /// Workers started with `--embedding-dir` read embedding names as `generate --embedding-dir`
    /// does, and advertise the model hash joined with their embeddings' digest.
    func testTextualInversionThroughWorkersWithTheSameEmbeddingFolder() throws {
        let folder = LocalCluster.packageRoot.appendingPathComponent("Tests/StableDiffusionTests/Fixtures/text/embeddings").path
        let library = { (tokenizer: CLIPTokenizer, width: Int) in
            try TextualInversionLibrary(directory: folder, tokenizer: tokenizer, hiddenSize: width)
        }
        let local = try StableDiffusionPipeline(location: ModelLocation.open(LocalCluster.tinyModel), textualInversions: library)
        let requests = [("a myconcept on a blue background", ""), ("a red circle", "(myconcept:1.3)"),
                        ("a red circle BREAK myconcept", "blurry")].enumerated().map { i, texts in
            GenerationRequest(prompt: texts.0, negativePrompt: texts.1, seed: UInt64(400 + i), steps: 3, guidanceScale: 5,
                              guidanceCutoff: 0.5, width: 32, height: 32, model: "tiny-sd")
        }
        var unnamed = requests[0]
        unnamed.model = nil
        XCTAssertNotEqual(try local.generate(unnamed).rgb, try LocalReference.pixels(requests[0]).rgb,
                          "the embedding changes the image")
        XCTAssertTrue(PipelineEngine.contentHash(of: local).hasPrefix(local.location.contentHash + "+ti-"))

        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        for name in ["w1", "w2"] {
            try cluster.startWorker(name, ["--model", LocalCluster.tinyModel, "--threads", "1", "--embedding-dir", folder])
        }
        try cluster.waitForWorkers(2)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "ti", submissionId: UUID().uuidString, requests: requests))
        let out = cluster.folder.appendingPathComponent("received").path
        XCTAssertEqual(try BatchWaiter(client: client, batchId: accepted.batchId, outputDirectory: out).run().counts.done, requests.count)
        for (index, request) in requests.enumerated() {
            var plain = request
            plain.model = nil
            let file = (out as NSString).appendingPathComponent(OutputFolder.fileName(index: index, seed: request.seed))
            XCTAssertTrue(try PNG.read(from: file).pixels == local.generate(plain).rgb, "image \(index) differs from generate --embedding-dir")
        }
    }
}
