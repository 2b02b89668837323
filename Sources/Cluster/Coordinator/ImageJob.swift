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
    private(set) var embeddings: [TextSlot: Tensor] = [:]
    /// The current step's evaluations, their predictions so far and the slots out at workers.
    private(set) var pending: [Evaluation] = []
    private(set) var predictions: [TextSlot: Tensor] = [:]
    private(set) var assigned: Set<TextSlot> = []
    /// Names of the workers that served it, in first-use order.
    private(set) var workers: [String]
    /// Engine fingerprints of the workers that served it since this coordinator started, in
    /// first-use order (more than one: its bits are those of no single machine class).
    private(set) var engines: [String] = []
    /// Failed attempts so far (refused answers, engine errors, refused steps).
    private(set) var failures = 0

    init(key: ImageKey, request: GenerationRequest, outputDirectory: String, checkpoint: [UInt8]?, workers: [String]) {
        self.key = key
        self.request = request
        self.outputDirectory = outputDirectory
        self.checkpoint = checkpoint
        self.workers = workers
        imageId = Self.imageId(key)
    }

    static func imageId(_ key: ImageKey) -> String { "\(key.batchId)/\(key.index)" }

    /// What PNGs and manifests record as `Engine`: the one fingerprint, or all of them joined
    /// by " + " when workers of different classes served it; nil when none reported one.
    var engineDescription: String? { engines.isEmpty ? nil : engines.joined(separator: " + ") }

    /// The content hash of the image's model, fixed when the image is prepared (before any
    /// text is encoded for it).
    private(set) var modelHash = ""

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
    func textArrived(_ arrived: [TextSlot: Tensor], taskId: String) throws {
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
