import StableDiffusion

/// What the coordinator knows of one connected worker (keyed by its ROUTER identity). The
/// tasks out at it are in the coordinator's `TaskLedger`, not here.
final class WorkerRecord {
    let identity: [UInt8]
    var ready: WorkerReady
    var liveness: PeerLiveness
    /// Embedding ids it was sent or computed (it may have evicted some: MISSING-EMBEDDING).
    var knownEmbeddings: Set<String> = []
    /// The LoRA set (model variant name) of the last text or UNet task sent to it: the pipeline
    /// it has built, which its next tasks should keep using (another set means a rebuild).
    var loadedVariant: String?
    var evaluationsDone = 0
    /// Tasks of any kind it answered and the coordinator accepted: one proves it is not stuck.
    var tasksAnswered = 0
    /// Measured seconds per UNet evaluation (moving average), nil before the first result.
    var secondsPerEvaluation: Double?
    /// Results in a row the coordinator refused (bad tensors, wrong shapes, answers that do
    /// not match the task); reset by every accepted result.
    var refusedInARow = 0
    /// Why the coordinator stopped giving it work (too many refused results in a row); nil
    /// while it is used. A retired worker stays connected (heartbeats) but gets no tasks.
    var retired: String?
    /// Tasks past their deadline that it has not answered yet, each with when to stop waiting
    /// for it: it is likely still computing them (it runs its tasks one after another), so they
    /// count against what it may be given, for one more deadline's length.
    var overdue: [String: Double] = [:]
    /// Its CURVE public key (nil on an open cluster): a reload that removes the key drops it.
    var key: CurveKey?

    init(identity: [UInt8], ready: WorkerReady, liveness: PeerLiveness) {
        self.identity = identity
        self.ready = ready
        self.liveness = liveness
    }

    var name: String { ready.name }
    /// Its engine class: the fingerprint READY carried, or `EngineClass.unknown`.
    var engineClass: String { EngineClass.of(ready.engine) }
    /// Whether tasks may be given to it.
    var isUsable: Bool { retired == nil }

    func hosts(_ model: String, hash: String) -> Bool {
        ready.models.contains { $0.name == model && $0.contentHash == hash }
    }

    /// Folds a measured compute time into the speed estimate.
    func measured(seconds: Double, evaluations: Int) {
        guard evaluations > 0 else { return }
        let sample = seconds / Double(evaluations)
        secondsPerEvaluation = secondsPerEvaluation.map { 0.7 * $0 + 0.3 * sample } ?? sample
    }
}

/// A model the cluster can serve: the first announcement of a name fixes its content hash;
/// workers announcing the same name with other weights are not used for it.
struct KnownModel {
    let name: String
    let contentHash: String
    let info: SamplingModelInfo
    /// Its external VAE (part of what `contentHash` covers), for the PNGs' `VAE` fields.
    var vae: HostedVAE? = nil
}

/// Workers whose READY carries the same engine fingerprint compute the same bits for the same
/// task (docs/engine.md, "Determinism"): they form one class, named by that fingerprint.
/// Workers that report none (the simulated engine, older workers) form the class `unknown`
/// (a worker reporting the fingerprint "unknown" joins it). Every task of one image goes to
/// workers of one class.
enum EngineClass {
    static let unknown = "unknown"

    /// The class of a worker reporting `fingerprint`.
    static func of(_ fingerprint: String?) -> String { fingerprint ?? unknown }

    /// What a PNG's `Engine` and a manifest's `engine` record for an image made on a class:
    /// its fingerprint, nil for `unknown`.
    static func fingerprint(_ engineClass: String) -> String? { engineClass == unknown ? nil : engineClass }
}
