import Compute
import Foundation
import StableDiffusion

/// Runs one task on the engine and makes its reply. Owns the embedding cache. Lives on the
/// worker's compute thread; nothing here touches a socket.
final class TaskRunner {
    let engine: WorkerEngine
    /// Text conditionings by embedding id, `--embedding-cache` of them.
    private(set) var cache: EmbeddingCache<TextConditioning>

    init(engine: WorkerEngine, cacheCapacity: Int) {
        self.engine = engine
        cache = EmbeddingCache<TextConditioning>(capacity: cacheCapacity)
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
            let conditioning: TextConditioning
            if let cached = cache.lookup(output.embeddingId) {
                conditioning = cached
            } else {
                // The prompt's <lora:...> tags are not text (as in `generate`); task.model names the set.
                conditioning = try engine.encode(text: output.slot == .cond ? LoRATags.removed(from: task.prompt) : task.negativePrompt,
                                                 slot: output.slot, model: task.model, encoding: task.encoding)
                cache.insert(conditioning, id: output.embeddingId)
            }
            return EncodedText(slot: output.slot, embeddingId: output.embeddingId, conditioning: WireConditioning(conditioning))
        }
        return TextEncodeResult(taskId: task.taskId, imageId: task.imageId, embeddings: embeddings,
                                computeSeconds: monotonicSeconds() - start)
    }

    private func unet(_ task: UNetEvalTask, start: Double) throws -> WorkerToCoordinator {
        // Attached embeddings are used from the task itself, so a task needing more of them
        // than the cache holds still runs.
        var attached: [String: TextConditioning] = [:]
        for a in task.embeddings {
            attached[a.embeddingId] = a.conditioning.conditioning
            cache.insert(a.conditioning.conditioning, id: a.embeddingId)
        }
        var missing: [String] = []
        var conditionings: [TextConditioning] = []
        for item in task.items {
            if let conditioning = attached[item.embeddingId] ?? cache.lookup(item.embeddingId) {
                conditionings.append(conditioning)
            } else if !missing.contains(item.embeddingId) {
                missing.append(item.embeddingId)
            }
        }
        guard missing.isEmpty else { return .missingEmbedding(MissingEmbedding(taskId: task.taskId, embeddingIds: missing)) }
        // Time ids come with every item of an SDXL image and with none of other families' images.
        let timeIds = task.items.contains { $0.timeIds != nil } ? try task.items.map { item -> [Float] in
            guard let ids = item.timeIds else {
                throw WorkerEngineError.shapeMismatch("item \(item.imageId) step \(item.step) has no time ids, other items of the task have")
            }
            return ids
        } : nil
        let outputs = try engine.unet(latents: task.items.map(\.latent.tensor), timesteps: task.items.map(\.timestep),
                                      conditionings: conditionings, timeIds: timeIds, model: task.model)
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
