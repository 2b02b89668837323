import Foundation
import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// The worker's task runner and embedding cache, on the simulated engine.
final class WorkerTaskRunnerTests: XCTestCase {
    private func unetTask(_ id: String, embeddingIds: [String], attach: [String] = []) -> CoordinatorToWorker {
        let items = embeddingIds.enumerated().map { i, e in
            UNetEvalItem(imageId: "b/\(i)", step: 0, slot: .cond, timestep: 999, embeddingId: e,
                         latent: WireTensor(Tensor(zeros: [1, 4, 8, 8])))
        }
        let attached = attach.map { AttachedEmbedding(embeddingId: $0, conditioning: WireConditioning(embedding: WireTensor(Tensor(zeros: [1, 77, 8])))) }
        return .unetTask(UNetEvalTask(taskId: id, model: nil, items: items, embeddings: attached))
    }

    func testAnEmbeddingNeitherCachedNorAttachedIsAskedFor() {
        let runner = TaskRunner(engine: SimulatedEngine(unetSeconds: 0), cacheCapacity: 8)
        XCTAssertEqual(runner.run(unetTask("t1", embeddingIds: ["e1", "e2", "e1"])),
                       .missingEmbedding(MissingEmbedding(taskId: "t1", embeddingIds: ["e1", "e2"])))
        guard case .unetResult(let result) = runner.run(unetTask("t2", embeddingIds: ["e1", "e2"], attach: ["e1", "e2"])) else {
            return XCTFail("attached embeddings make the task run")
        }
        XCTAssertEqual(result.items.map(\.imageId), ["b/0", "b/1"])
        XCTAssertEqual(result.items.map(\.prediction.tensor.shape), [[1, 4, 8, 8], [1, 4, 8, 8]])
        guard case .unetResult = runner.run(unetTask("t3", embeddingIds: ["e2"])) else {
            return XCTFail("a later task uses the cached embedding by id")
        }
    }

    func testTextResultsAreCachedUnderTheirIds() {
        let runner = TaskRunner(engine: SimulatedEngine(unetSeconds: 0), cacheCapacity: 8)
        let text = TextEncodeTask(taskId: "t1", imageId: "b/0", model: nil, prompt: "a", negativePrompt: "",
                                  outputs: [.init(slot: .cond, embeddingId: "b/0/cond"), .init(slot: .uncond, embeddingId: "b/0/uncond")])
        guard case .textEncodeResult(let r) = runner.run(.textEncodeTask(text)) else { return XCTFail() }
        XCTAssertEqual(r.embeddings.map(\.embeddingId), ["b/0/cond", "b/0/uncond"])
        guard case .unetResult = runner.run(unetTask("t2", embeddingIds: ["b/0/cond", "b/0/uncond"])) else {
            return XCTFail("text results are in the cache")
        }
    }

    func testAnotherModelIsRefusedWithTheTaskId() {
        let runner = TaskRunner(engine: SimulatedEngine(unetSeconds: 0), cacheCapacity: 8)
        let task = VAEDecodeTask(taskId: "t9", imageId: "b/0", model: "sd15", latent: WireTensor(Tensor(zeros: [1, 4, 8, 8])))
        guard case .error(let e) = runner.run(.vaeDecodeTask(task)) else { return XCTFail() }
        XCTAssertEqual(e.code, .taskFailed)
        XCTAssertEqual(e.taskId, "t9")
        XCTAssertTrue(e.message.contains("sd15"), e.message)
    }

    func testAnEngineThatThrowsGivesTaskFailedAndTheRunnerServesTheNextTask() {
        let engine = FaultyEngine { $0 == 0 ? .throwing : .good }
        let runner = TaskRunner(engine: engine, cacheCapacity: 8)
        guard case .error(let e) = runner.run(unetTask("t1", embeddingIds: ["e1"], attach: ["e1"])) else {
            return XCTFail("a thrown engine error becomes ERROR")
        }
        XCTAssertEqual(e.code, .taskFailed)
        XCTAssertEqual(e.taskId, "t1")
        XCTAssertTrue(e.message.contains("injected failure"), e.message)
        guard case .unetResult(let result) = runner.run(unetTask("t2", embeddingIds: ["e1"])) else {
            return XCTFail("the next task runs (its embedding was cached by the failed one)")
        }
        XCTAssertEqual(result.taskId, "t2")
        XCTAssertEqual(engine.calls, 2)
    }

    func testATextAlreadyCachedUnderItsContentIdIsNotEncodedAgain() {
        let engine = CountingEngine()
        let runner = TaskRunner(engine: engine, cacheCapacity: 8)
        let empty = EmbeddingKey(modelHash: "simulated-v1", text: "").id
        for (i, prompt) in ["a", "b"].enumerated() {
            let cond = EmbeddingKey(modelHash: "simulated-v1", text: prompt).id
            let text = TextEncodeTask(taskId: "t\(i)", imageId: "b/\(i)", model: nil, prompt: prompt, negativePrompt: "",
                                      outputs: [.init(slot: .cond, embeddingId: cond), .init(slot: .uncond, embeddingId: empty)])
            guard case .textEncodeResult(let r) = runner.run(.textEncodeTask(text)) else { return XCTFail() }
            XCTAssertEqual(r.embeddings.map(\.embeddingId), [cond, empty], "both come back, cached or not")
        }
        XCTAssertEqual(engine.encodes, ["a", "", "b"], "the empty negative prompt is encoded once")
        XCTAssertEqual(runner.cache.hits, 1)
    }

    /// The real engine on the tiny model: UNet tasks it cannot take (a latent of the wrong channel
    /// count; an embedding without tokens, which the UNet refuses) come back as ERROR
    /// task-failed naming the shapes, and the worker serves the next, valid task.
    func testThePipelineEngineAnswersTasksItCannotTakeWithTaskFailedAndServesTheNext() throws {
        guard let pipeline = LocalReference.pipeline else { throw ClusterTestError.setup("cannot load \(LocalCluster.tinyModel)") }
        let runner = TaskRunner(engine: try PipelineEngine(pipeline: pipeline), cacheCapacity: 8)
        let width = pipeline.textEncoder.shape.hiddenSize, channels = pipeline.modelInfo.latentChannels
        func task(_ id: String, latents: [[Int]], embeddings: [[Int]]) -> CoordinatorToWorker {
            let items = latents.enumerated().map { i, shape in
                UNetEvalItem(imageId: "b/\(i)", step: 0, slot: .cond, timestep: 500, embeddingId: "\(id)/e\(i)",
                             latent: WireTensor(Tensor(zeros: shape)))
            }
            let attached = embeddings.enumerated().map { i, shape in
                AttachedEmbedding(embeddingId: "\(id)/e\(i)", conditioning: WireConditioning(embedding: WireTensor(Tensor(zeros: shape))))
            }
            return .unetTask(UNetEvalTask(taskId: id, model: nil, items: items, embeddings: attached))
        }
        func refused(_ reply: WorkerToCoordinator?, _ id: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) {
            guard case .error(let e) = reply else { return XCTFail("\(id): \(String(describing: reply))", file: file, line: line) }
            XCTAssertEqual(e.code, .taskFailed, file: file, line: line)
            XCTAssertEqual(e.taskId, id, file: file, line: line)
            for w in words { XCTAssertTrue(e.message.contains(w), "'\(w)' missing from: \(e.message)", file: file, line: line) }
        }
        refused(runner.run(task("t1", latents: [[1, channels + 1, 8, 8]], embeddings: [[1, 77, width]])),
                "t1", ["[1, \(channels + 1), 8, 8]", "[1, \(channels), h, w]"])
        // Embeddings of different token counts in one batch (a long A1111 prompt next to a short
        // negative prompt) are served, one UNet call per count: each prediction is the one it
        // gets alone.
        guard case .unetResult(let mixed) = runner.run(task("t2", latents: [[1, channels, 8, 8], [1, channels, 8, 8]],
                                                            embeddings: [[1, 77, width], [1, 154, width]])),
              case .unetResult(let alone) = runner.run(task("t2b", latents: [[1, channels, 8, 8]], embeddings: [[1, 154, width]])) else {
            return XCTFail("a batch of mixed token counts was refused")
        }
        XCTAssertEqual(mixed.items.count, 2)
        XCTAssertEqual(mixed.items[1].prediction.tensor.values, alone.items[0].prediction.tensor.values)
        refused(runner.run(task("t3", latents: [[1, channels, 8, 8]], embeddings: [[1, 0, width]])),
                "t3", ["[1, 0, \(width)]", "[1, tokens, \(width)]"])
        guard case .unetResult(let result) = runner.run(task("t4", latents: [[1, channels, 8, 8], [1, channels, 8, 8]],
                                                             embeddings: [[1, 77, width], [1, 77, width]])) else {
            return XCTFail("the next, valid task runs")
        }
        XCTAssertEqual(result.taskId, "t4")
        XCTAssertEqual(result.items.map(\.prediction.tensor.shape), [[1, channels, 8, 8], [1, channels, 8, 8]])
        XCTAssertTrue(result.items.allSatisfy { $0.prediction.tensor.allFinite })
    }
}

/// The simulated engine, recording every text it encodes.
final class CountingEngine: WorkerEngine, @unchecked Sendable {
    private let base = SimulatedEngine(unetSeconds: 0)
    private let lock = NSLock()
    private var texts: [String] = []

    var models: [HostedModel] { base.models }
    /// The texts encoded so far, in order.
    var encodes: [String] { lock.withLock { texts } }

    func encode(text: String, slot: TextSlot, model: String?, encoding: TextEncoding) throws -> TextConditioning {
        lock.withLock { texts.append(text) }
        return try base.encode(text: text, slot: slot, model: model, encoding: encoding)
    }
    func unet(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning], timeIds: [[Float]]?,
              model: String?) throws -> [Tensor] {
        try base.unet(latents: latents, timesteps: timesteps, conditionings: conditionings, timeIds: timeIds, model: model)
    }
    func decode(latents: Tensor, model: String?) throws -> RGBPixels { try base.decode(latents: latents, model: model) }
}
