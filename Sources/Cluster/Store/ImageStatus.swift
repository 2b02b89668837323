/// Where one image of a batch stands. Stored as these strings in the job store and sent as
/// such in PROGRESS, RESULT and STATUS-REPLY.
public enum ImageStatus: String, Codable, Sendable, CaseIterable {
    /// Waiting for the coordinator to start sampling it.
    case queued
    /// Being sampled (after a coordinator restart, resumed from its checkpoint or from scratch).
    case running
    /// Finished: the PNG is written and the manifest line recorded. Never redone.
    case done
    /// Given up on, with an error message.
    case failed
    /// Cancelled by the client before it finished.
    case cancelled

    /// Whether the image still needs work.
    public var isUnfinished: Bool { self == .queued || self == .running }
}

/// How many images of a batch (or of all batches) are in each state.
public struct ImageCounts: Codable, Sendable, Equatable {
    public var queued = 0
    public var running = 0
    public var done = 0
    public var failed = 0
    public var cancelled = 0

    public init(queued: Int = 0, running: Int = 0, done: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        self.queued = queued
        self.running = running
        self.done = done
        self.failed = failed
        self.cancelled = cancelled
    }

    public var total: Int { queued + running + done + failed + cancelled }
    public var unfinished: Int { queued + running }

    public subscript(state: ImageStatus) -> Int {
        get {
            switch state {
            case .queued: return queued
            case .running: return running
            case .done: return done
            case .failed: return failed
            case .cancelled: return cancelled
            }
        }
        set {
            switch state {
            case .queued: queued = newValue
            case .running: running = newValue
            case .done: done = newValue
            case .failed: failed = newValue
            case .cancelled: cancelled = newValue
            }
        }
    }
}
