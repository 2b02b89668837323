import StableDiffusion

/// Identifies one image: its batch and its index in the submitted list.
struct ImageKey: Hashable, Sendable, Codable, CustomStringConvertible {
    var batchId: String
    var index: Int

    var description: String { "\(batchId)/\(index)" }
}

/// Where a batch stands as a whole.
enum BatchState: String, Codable, Sendable {
    /// Some images are still queued or running.
    case active
    /// Every image is done or failed.
    case finished
    /// Cancelled by the client.
    case cancelled
}

/// A stored batch.
struct StoredBatch: Sendable, Equatable {
    var id: String
    var clientName: String
    var submissionId: String?
    /// Seconds since 1970 (UTC) when it was accepted.
    var created: Double
    var state: BatchState
    var outputDirectory: String
    var imageCount: Int
    /// The submitting client's public key (Z85) with CURVE on; nil on an open cluster.
    var owner: String? = nil
}

/// What `submit` did.
struct SubmitOutcome: Sendable, Equatable {
    var batchId: String
    /// False when the submission id was seen before and the earlier batch was returned.
    var isNew: Bool
}

/// A stored image that still needs work, with what is needed to resume it.
struct StoredImage: Sendable, Equatable {
    var key: ImageKey
    var request: GenerationRequest
    var state: ImageStatus
    var outputDirectory: String
    /// The sampling state saved by `saveCheckpoint`, if any (opaque to the store).
    var checkpoint: [UInt8]?
    var unetEvaluations: Int
    var workers: [String]
    /// The engine class the checkpoint was computed on (a worker fingerprint, or `unknown`);
    /// nil without a checkpoint, or for one saved by a store of schema version 1.
    var engineClass: String?
    /// Its restarts on another class so far, oldest first.
    var engineRestarts: [EngineRestart] = []
}

/// One image's sampling state after a step, with what goes with it (the coordinator's
/// once-per-turn flush writes several).
struct CheckpointEntry: Sendable, Equatable {
    var key: ImageKey
    /// The sampling state, opaque to the store.
    var checkpoint: [UInt8]
    var unetEvaluations: Int
    var workers: [String]
    /// The engine class every evaluation of it ran on.
    var engineClass: String?
    var engineRestarts: [EngineRestart] = []
}

/// An image started again from its first step on another engine class, because no worker of
/// the class its work was computed on was left (after the grace period): what its manifest
/// line's `engine_restarts` lists.
struct EngineRestart: Codable, Sendable, Equatable {
    /// The class of the dropped work.
    var from: String
    /// The class it was pinned to at its next placement; nil until then.
    var to: String?
    /// The step it had reached when its work was dropped (0: only its text was encoded).
    var atStep: Int

    enum CodingKeys: String, CodingKey {
        case from, to
        case atStep = "at_step"
    }
}

/// What finishing an image records.
struct ImageOutcome: Sendable, Equatable {
    /// File name under the batch's output directory.
    var fileName: String
    /// The manifest.jsonl line written for it (JSON, no newline).
    var manifestLine: String
    var unetEvaluations: Int
    /// Names of the workers that served it.
    var workers: [String]
}

/// A finished (done or failed) image, in the order images finished.
struct StoredResult: Sendable, Equatable {
    var key: ImageKey
    /// 0, 1, 2... in finishing order within the batch (FETCH's `since`).
    var sequence: Int
    var state: ImageStatus
    var fileName: String?
    var manifestLine: String?
    var error: String?
    var unetEvaluations: Int
    var workers: [String]
}
