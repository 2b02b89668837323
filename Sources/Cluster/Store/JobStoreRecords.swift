import StableDiffusion

/// Identifies one image: its batch and its index in the submitted list.
public struct ImageKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var batchId: String
    public var index: Int

    public init(batchId: String, index: Int) {
        self.batchId = batchId
        self.index = index
    }

    public var description: String { "\(batchId)/\(index)" }
}

/// Where a batch stands as a whole.
public enum BatchState: String, Codable, Sendable {
    /// Some images are still queued or running.
    case active
    /// Every image is done or failed.
    case finished
    /// Cancelled by the client.
    case cancelled
}

/// A stored batch.
public struct StoredBatch: Sendable, Equatable {
    public var id: String
    public var clientName: String
    public var submissionId: String?
    /// Seconds since 1970 (UTC) when it was accepted.
    public var created: Double
    public var state: BatchState
    public var outputDirectory: String
    public var imageCount: Int
}

/// What `submit` did.
public struct SubmitOutcome: Sendable, Equatable {
    public var batchId: String
    /// False when the submission id was seen before and the earlier batch was returned.
    public var isNew: Bool
}

/// A stored image that still needs work, with what is needed to resume it.
public struct StoredImage: Sendable, Equatable {
    public var key: ImageKey
    public var request: GenerationRequest
    public var state: ImageStatus
    public var outputDirectory: String
    /// The sampling state saved by `saveCheckpoint`, if any (opaque to the store).
    public var checkpoint: [UInt8]?
    public var unetEvaluations: Int
    public var workers: [String]
}

/// What finishing an image records.
public struct ImageOutcome: Sendable, Equatable {
    /// File name under the batch's output directory.
    public var fileName: String
    /// The manifest.jsonl line written for it (JSON, no newline).
    public var manifestLine: String
    public var unetEvaluations: Int
    /// Names of the workers that served it.
    public var workers: [String]

    public init(fileName: String, manifestLine: String, unetEvaluations: Int, workers: [String]) {
        self.fileName = fileName
        self.manifestLine = manifestLine
        self.unetEvaluations = unetEvaluations
        self.workers = workers
    }
}

/// A finished (done or failed) image, in the order images finished.
public struct StoredResult: Sendable, Equatable {
    public var key: ImageKey
    /// 0, 1, 2... in finishing order within the batch (FETCH's `since`).
    public var sequence: Int
    public var state: ImageStatus
    public var fileName: String?
    public var manifestLine: String?
    public var error: String?
    public var unetEvaluations: Int
    public var workers: [String]
}
