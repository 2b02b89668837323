import Compute
import StableDiffusion

/// One image the coordinator is making: its request, its sampling state machine, and what is
/// out at workers. Lives in memory; its sampling state is checkpointed to the store every step.
final class ImageJob {
    enum Phase: Equatable {
        /// No connected worker has announced the image's model yet (needed to prepare it).
        case waitingForModel
        /// Needs its text embeddings (after start, and after every coordinator restart).
        case needsText
        case encoding(taskId: String)
        /// Stepping: evaluations of the current step go out, predictions come back.
        case sampling
        case needsDecode
        case decoding(taskId: String)
    }

    let key: ImageKey
    let request: GenerationRequest
    let outputDirectory: String
    /// The image id on the wire: `batch/index`.
    let imageId: String
    var phase: Phase
    var state: StableDiffusion.ImageState?
    /// A stored checkpoint waiting for the model info to be decoded against.
    var checkpoint: [UInt8]?
    var embeddings: [TextSlot: Tensor] = [:]
    /// The current step's evaluations, their predictions so far and the slots out at workers.
    var pending: [Evaluation] = []
    var predictions: [TextSlot: Tensor] = [:]
    var assigned: Set<TextSlot> = []
    /// Names of the workers that served it, in first-use order.
    var workers: [String]
    /// Engine fingerprints of the workers that served it since this coordinator started, in
    /// first-use order (more than one: its bits are those of no single machine class).
    var engines: [String] = []
    var failures = 0

    init(key: ImageKey, request: GenerationRequest, outputDirectory: String, checkpoint: [UInt8]?, workers: [String]) {
        self.key = key
        self.request = request
        self.outputDirectory = outputDirectory
        self.checkpoint = checkpoint
        self.workers = workers
        imageId = Self.imageId(key)
        phase = .waitingForModel
    }

    static func imageId(_ key: ImageKey) -> String { "\(key.batchId)/\(key.index)" }

    /// What PNGs and manifests record as `Engine`: the one fingerprint, or all of them joined
    /// by " + " when workers of different classes served it; nil when none reported one.
    var engineDescription: String? { engines.isEmpty ? nil : engines.joined(separator: " + ") }

    /// The content hash of the image's model, fixed when the image is prepared (before any
    /// text is encoded for it).
    var modelHash = ""

    /// The embedding id of a slot: a content key (`EmbeddingKey`: the model's content hash and
    /// the slot's text), the same for every image, run and machine, so a worker that has the
    /// embedding of a text (the empty negative prompt, mostly) is never sent it again.
    func embeddingId(_ slot: TextSlot) -> String {
        EmbeddingKey(modelHash: modelHash, text: slot == .cond ? request.prompt : request.negativePrompt).id
    }

    /// The texts this image's plan needs: cond always, uncond when any step uses it.
    var slotsNeeded: [TextSlot] {
        guard let state else { return [.cond] }
        let usesUncond = state.plan.steps.contains { $0.slots.contains(.uncond) }
        return usesUncond ? [.cond, .uncond] : [.cond]
    }

    /// The current step's evaluations not yet at a worker and not yet answered.
    var waitingSlots: [TextSlot] {
        guard phase == .sampling else { return [] }
        return pending.map(\.slot).filter { !assigned.contains($0) && predictions[$0] == nil }
    }

    func noteWorker(_ worker: WorkerRecord) {
        if !workers.contains(worker.name) { workers.append(worker.name) }
        if let engine = worker.ready.engine, !engines.contains(engine) { engines.append(engine) }
    }

    /// Loads the current step's evaluations (or moves to decoding when sampling is over).
    func beginStep() throws {
        guard let state else { return }
        try enter(state)
    }

    /// Moves to `next` and loads its evaluations (or moves to decoding when sampling is over).
    /// On a throw nothing changes: the job stays at its current step with its evaluations.
    func enter(_ next: StableDiffusion.ImageState) throws {
        let nextPending = next.isFinished ? [] : try Sampler.pendingEvaluations(next)
        state = next
        predictions = [:]
        assigned = []
        pending = nextPending
        phase = next.isFinished ? .needsDecode : .sampling
    }
}
