import Compute
import Foundation
import StableDiffusion

/// One image the coordinator is making: its request, its sampling state machine, and what is
/// out at workers. Lives in memory; its sampling state is checkpointed to the store every step.
///
/// Its phase changes only through the methods below, each named for what happened (a task was
/// sent, its answer arrived, its task was lost): the coordinator never sets it directly.
final class ImageJob {
    enum Phase: Equatable {
        /// Not prepared yet (no sampling state in memory): waiting for a worker to announce its
        /// model, or for room in the coordinator's active window.
        case queued
        /// Needs its text embeddings (after start, and after every coordinator restart).
        case needsText
        case encoding(taskId: String)
        /// Stepping: evaluations of the current step go out, predictions come back.
        case sampling
        case needsDecode
        case decoding(taskId: String)
        /// Decoded, but its PNG or its durable record could not be written (a full disk, a
        /// read-only folder): the pixels wait here and are written again later.
        case writing
    }

    let key: ImageKey
    let request: GenerationRequest
    let outputDirectory: String
    /// The image id on the wire: `batch/index`.
    let imageId: String
    private(set) var phase: Phase = .queued
    private(set) var state: ImageState?
    /// A stored checkpoint, decoded when the image is prepared (it needs the model's info).
    private var checkpoint: [UInt8]?
    /// Its texts' conditionings (embedding, and SDXL's pooled embedding), by slot.
    private(set) var embeddings: [TextSlot: TextConditioning] = [:]
    /// The current step's evaluations, their predictions so far and the slots out at workers.
    private(set) var pending: [Evaluation] = []
    private(set) var predictions: [TextSlot: Tensor] = [:]
    private(set) var assigned: Set<TextSlot> = []
    /// Names of the workers that served it, in first-use order.
    private(set) var workers: [String]
    /// The engine class (`EngineClass`) every task of it goes to: fixed when its first task is
    /// placed, kept with its checkpoint, nil while nothing it depends on has been computed.
    private(set) var engineClass: String?
    /// Its restarts from the first step on another class, oldest first (manifest
    /// `engine_restarts`).
    private(set) var engineRestarts: [EngineRestart]
    /// Since when (coordinator clock) no usable worker of its class hosting its model has been
    /// connected; nil while one is. Kept by the coordinator's class check.
    var classMissingSince: Double?
    /// Failed attempts so far (refused answers, engine errors, refused steps).
    private(set) var failures = 0

    /// `engineClass` is the class `checkpoint` was computed on (ignored without a checkpoint).
    init(key: ImageKey, request: GenerationRequest, outputDirectory: String, checkpoint: [UInt8]?, workers: [String],
         engineClass: String? = nil, engineRestarts: [EngineRestart] = []) {
        self.key = key
        self.request = request
        self.outputDirectory = outputDirectory
        self.checkpoint = checkpoint
        self.workers = workers
        self.engineClass = checkpoint == nil ? nil : engineClass
        self.engineRestarts = engineRestarts
        imageId = Self.imageId(key)
    }

    static func imageId(_ key: ImageKey) -> String { "\(key.batchId)/\(key.index)" }

    /// What PNGs and manifests record as `Engine`: the fingerprint of its class (every task of
    /// it ran there), nil for the class of workers that report none.
    var engineDescription: String? { engineClass.flatMap(EngineClass.fingerprint) }

    /// Whether a worker of `workerClass` may compute for it.
    func accepts(_ workerClass: String) -> Bool { engineClass == nil || engineClass == workerClass }

    /// The content hash of the image's model, fixed when the image is prepared (before any
    /// text is encoded for it).
    private(set) var modelHash = ""

    /// The embedding id of a slot: a content key (`EmbeddingKey`: the model's content hash, the
    /// slot's text and how the request reads it: prompt syntax, clip skip), the same for every image, run and machine, so a worker that has the
    /// embedding of a text (the empty negative prompt, mostly) is never sent it again.
    /// An empty negative prompt gets an id of its own: SDXL models condition on zeros for it
    /// (`force_zeros_for_empty_prompt`), not on the empty prompt's embedding.
    func embeddingId(_ slot: TextSlot) -> String {
        Self.embeddingId(modelHash: modelHash, text: slot == .cond ? request.prompt : request.negativePrompt, slot: slot,
                         encoding: request.textEncoding)
    }

    static func embeddingId(modelHash: String, text: String, slot: TextSlot, encoding: TextEncoding) -> String {
        let variant = [encoding.keyVariant, slot == .uncond && text.isEmpty ? "empty-negative" : ""]
            .filter { !$0.isEmpty }.joined(separator: ";")
        return EmbeddingKey(modelHash: modelHash, text: text, variant: variant).id
    }

    /// SDXL's time ids for its evaluations in `slot` (diffusers' defaults for its size, as
    /// `generate` uses them) when that slot's conditioning has a pooled embedding; nil otherwise.
    func timeIds(_ slot: TextSlot) -> [Float]? {
        guard embeddings[slot]?.pooled != nil, let shape = state?.imageShape else { return nil }
        return AddedConditioning.defaultTimeIds(width: shape[3], height: shape[2])
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
        assert(engineClass == worker.engineClass, "image \(imageId) of class \(engineClass ?? "none") served by \(worker.name) of \(worker.engineClass)")
        if !workers.contains(worker.name) { workers.append(worker.name) }
    }

    /// A task of it was placed on a worker of `workerClass`: the first one fixes its class
    /// (later ones are of that class already). Returns the restart this placement completes
    /// (its first placement after a restart), if any.
    @discardableResult
    func pin(to workerClass: String) -> EngineRestart? {
        guard engineClass == nil else {
            precondition(engineClass == workerClass, "image \(imageId) of class \(engineClass ?? "") placed on \(workerClass)")
            return nil
        }
        engineClass = workerClass
        classMissingSince = nil
        guard let last = engineRestarts.indices.last, engineRestarts[last].to == nil else { return nil }
        engineRestarts[last].to = workerClass
        return engineRestarts[last]
    }

    /// Counts a failed attempt; returns how many there were so far.
    @discardableResult
    func attemptFailed() -> Int {
        failures += 1
        return failures
    }

    // MARK: - Phase transitions

    /// Makes its sampling state (from its checkpoint, or from the start) so it can be sampled:
    /// next it needs its text embeddings. On a throw it stays queued.
    func prepare(model: SamplingModelInfo, modelHash: String) throws {
        precondition(phase == .queued, "image \(imageId) prepared twice")
        if let checkpoint {
            state = try JSONDecoder().decode(ImageState.self, from: Data(checkpoint))
            self.checkpoint = nil
        } else {
            state = try Sampler.prepare(request, model: model)
        }
        self.modelHash = modelHash
        phase = .needsText
    }

    /// Its text encoding task was sent.
    func startEncoding(taskId: String) {
        precondition(phase == .needsText, "image \(imageId): text task while \(phase)")
        phase = .encoding(taskId: taskId)
    }

    /// Whether `taskId` is the text task it waits for.
    func isEncoding(_ taskId: String) -> Bool { phase == .encoding(taskId: taskId) }

    /// Its text embeddings arrived (answering text task `taskId`): keeps them and loads the
    /// current step's evaluations. On a throw (the step cannot be loaded) nothing but the
    /// embeddings changed.
    func textArrived(_ arrived: [TextSlot: TextConditioning], taskId: String) throws {
        guard isEncoding(taskId) else { return }
        embeddings.merge(arrived) { _, new in new }
        guard let state else { return }
        try enter(state)
    }

    /// Its text task was lost (worker gone, deadline passed, attempt failed): it needs text again.
    func requeueText(taskId: String) {
        if isEncoding(taskId) { phase = .needsText }
    }

    /// The slot of the current step (`step`) was sent to a worker.
    func assign(_ slot: TextSlot) {
        precondition(phase == .sampling, "image \(imageId): evaluation sent while \(phase)")
        assigned.insert(slot)
    }

    /// Whether the slot of step `step` is out at a worker now.
    func isAssigned(_ slot: TextSlot, step: Int) -> Bool {
        phase == .sampling && state?.stepIndex == step && assigned.contains(slot)
    }

    /// A prediction for a slot of step `step` arrived. False (and nothing changes) when that
    /// evaluation is not out any more (the image moved on, or it was re-sent elsewhere).
    @discardableResult
    func predictionArrived(_ prediction: Tensor, slot: TextSlot, step: Int) -> Bool {
        guard isAssigned(slot, step: step) else { return false }
        assigned.remove(slot)
        predictions[slot] = prediction
        return true
    }

    /// Whether every evaluation of the current step is answered.
    var stepAnswered: Bool { phase == .sampling && !pending.isEmpty && predictions.count == pending.count }

    /// An evaluation of step `step` was lost: it waits to be sent again.
    func requeueEvaluation(_ slot: TextSlot, step: Int) {
        guard phase == .sampling, state?.stepIndex == step else { return }
        assigned.remove(slot)
    }

    /// Runs the state machine one step with the predictions in hand and loads the next step
    /// (or moves to decoding when sampling is over). On a throw the image stays at its step
    /// with the predictions dropped, so its evaluations are sent again.
    func advance() throws {
        guard let state, stepAnswered else { return }
        do {
            try enter(try Sampler.advance(state, predictions: predictions))
        } catch {
            predictions = [:]
            throw error
        }
    }

    /// Its VAE decoding task was sent.
    func startDecoding(taskId: String) {
        precondition(phase == .needsDecode, "image \(imageId): VAE task while \(phase)")
        phase = .decoding(taskId: taskId)
    }

    /// The decoded pixels that wait for the disk (phase `writing`).
    private(set) var unwritten: RGBPixels?
    /// Its failure, when the store could not record it (phase `writing`).
    private(set) var unrecordedFailure: String?

    /// Its image could not be written: keep the pixels until the disk takes them.
    func holdUnwritten(_ image: RGBPixels) {
        phase = .writing
        unwritten = image
    }

    /// Its failure could not be recorded: keep it (and stop its work) until the store takes it.
    func holdFailure(_ error: String) {
        phase = .writing
        unrecordedFailure = error
        pending = []
        assigned = []
    }

    /// Whether `taskId` is the VAE task it waits for.
    func isDecoding(_ taskId: String) -> Bool { phase == .decoding(taskId: taskId) }

    /// Its VAE task was lost: it needs decoding again.
    func requeueDecode(taskId: String) {
        if isDecoding(taskId) { phase = .needsDecode }
    }

    /// No worker of its class is left: everything computed for it is dropped (sampling state,
    /// embeddings, the current step, its workers and failed attempts) and it is queued again,
    /// unpinned, to start from its first step on the class of its next placement. Returns the
    /// restart it records. Answers to its earlier tasks then match nothing.
    func restartFromFirstStep() -> EngineRestart {
        precondition(engineClass != nil, "image \(imageId) restarted without a class")
        let restart = EngineRestart(from: engineClass ?? EngineClass.unknown, to: nil, atStep: state?.stepIndex ?? 0)
        engineRestarts.append(restart)
        engineClass = nil
        classMissingSince = nil
        phase = .queued
        state = nil
        checkpoint = nil
        embeddings = [:]
        pending = []
        predictions = [:]
        assigned = []
        workers = []
        failures = 0
        return restart
    }

    /// Moves to `next` and loads its evaluations (or moves to decoding when sampling is over).
    /// On a throw nothing changes: the job stays at its current step with its evaluations.
    private func enter(_ next: ImageState) throws {
        let nextPending = next.isFinished ? [] : try Sampler.pendingEvaluations(next)
        state = next
        predictions = [:]
        assigned = []
        pending = nextPending
        phase = next.isFinished ? .needsDecode : .sampling
    }
}
