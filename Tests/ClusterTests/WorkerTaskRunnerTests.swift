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
        let attached = attach.map { AttachedEmbedding(embeddingId: $0, embedding: WireTensor(Tensor(zeros: [1, 77, 8]))) }
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

    func testTheCacheDropsTheLeastRecentlyUsedEntry() {
        var cache = EmbeddingCache(capacity: 2)
        cache.insert(Tensor(zeros: [1]), id: "a")
        cache.insert(Tensor(zeros: [1]), id: "b")
        XCTAssertNotNil(cache.lookup("a"))
        cache.insert(Tensor(zeros: [1]), id: "c")
        XCTAssertTrue(cache.contains("a"))
        XCTAssertFalse(cache.contains("b"), "b was used least recently")
        XCTAssertTrue(cache.contains("c"))
        XCTAssertEqual(cache.count, 2)
    }
}
