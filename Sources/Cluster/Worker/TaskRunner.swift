import Compute
import Foundation
import StableDiffusion

/// Runs one task on the engine and makes its reply. Owns the embedding cache. Lives on the
/// worker's compute thread; nothing here touches a socket.
final class TaskRunner {
    let engine: WorkerEngine
    /// Text embeddings by id, `--embedding-cache` of them.
    private(set) var cache: EmbeddingCache

    init(engine: WorkerEngine, cacheCapacity: Int) {
        self.engine = engine
        cache = EmbeddingCache(capacity: cacheCapacity)
    }

    /// The reply to a task: its result, MISSING-EMBEDDING, or ERROR task-failed.
    func run(_ task: CoordinatorToWorker) -> WorkerToCoordinator? {
        let start = monotonicSeconds()
        do {
            switch task {
            case .textEncodeTask(let t): return .textEncodeResult(try encode(t, start: start))
            case .unetTask(let t): return try unet(t, start: start)
            case .vaeDecodeTask(let t): return .vaeDecodeResult(try decode(t, start: start))
            default: return nil
            }
        } catch {
            return .error(ErrorReply(code: .taskFailed, message: "\(error)", taskId: task.taskId))
        }
    }

    private func encode(_ task: TextEncodeTask, start: Double) throws -> TextEncodeResult {
        let embeddings = try task.outputs.map { output -> EncodedText in
            // Ids are content keys (model and text, `EmbeddingKey`): one already here is this
            // text's embedding, from an earlier image (the empty negative prompt, mostly).
            let tensor: Tensor
            if let cached = cache.lookup(output.embeddingId) {
                tensor = cached
            } else {
                // The prompt's <lora:...> tags are not text (as in `generate`); task.model names the set.
                tensor = try engine.encode(text: output.slot == .cond ? LoRATags.removed(from: task.prompt) : task.negativePrompt,
                                           model: task.model, encoding: task.encoding)
                cache.insert(tensor, id: output.embeddingId)
            }
            return EncodedText(slot: output.slot, embeddingId: output.embeddingId, embedding: WireTensor(tensor))
        }
        return TextEncodeResult(taskId: task.taskId, imageId: task.imageId, embeddings: embeddings,
                                computeSeconds: monotonicSeconds() - start)
    }

    private func unet(_ task: UNetEvalTask, start: Double) throws -> WorkerToCoordinator {
        // Attached embeddings are used from the task itself, so a task needing more of them
        // than the cache holds still runs.
        var attached: [String: Tensor] = [:]
        for a in task.embeddings {
            attached[a.embeddingId] = a.embedding.tensor
            cache.insert(a.embedding.tensor, id: a.embeddingId)
        }
        var missing: [String] = []
        var contexts: [Tensor] = []
        for item in task.items {
            if let tensor = attached[item.embeddingId] ?? cache.lookup(item.embeddingId) {
                contexts.append(tensor)
            } else if !missing.contains(item.embeddingId) {
                missing.append(item.embeddingId)
            }
        }
        guard missing.isEmpty else { return .missingEmbedding(MissingEmbedding(taskId: task.taskId, embeddingIds: missing)) }
        let outputs = try engine.unet(latents: task.items.map(\.latent.tensor), timesteps: task.items.map(\.timestep),
                                      contexts: contexts, model: task.model)
        let predictions = zip(task.items, outputs).map { item, output in
            UNetPrediction(imageId: item.imageId, step: item.step, slot: item.slot, prediction: WireTensor(output))
        }
        return .unetResult(UNetEvalResult(taskId: task.taskId, items: predictions, computeSeconds: monotonicSeconds() - start))
    }

    private func decode(_ task: VAEDecodeTask, start: Double) throws -> VAEDecodeResult {
        let image = try engine.decode(latents: task.latent.tensor, model: task.model)
        return VAEDecodeResult(taskId: task.taskId, imageId: task.imageId, image: image,
                               computeSeconds: monotonicSeconds() - start)
    }
}

extension CoordinatorToWorker {
    /// The task id of a task message (nil for heartbeats, disconnects and errors).
    var taskId: String? {
        switch self {
        case .textEncodeTask(let t): return t.taskId
        case .unetTask(let t): return t.taskId
        case .vaeDecodeTask(let t): return t.taskId
        default: return nil
        }
    }
}
