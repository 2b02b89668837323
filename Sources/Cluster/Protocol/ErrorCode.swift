/// The machine-readable code of an ERROR reply. Open-ended (a newer peer may send codes this
/// build does not know), so a struct over its string rather than a closed enum.
struct ErrorCode: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    let rawValue: String
    init(rawValue: String) { self.rawValue = rawValue }
    init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    var description: String { rawValue }

    // Protocol refusals (see ProtocolError).
    static let badSignature = ErrorCode(rawValue: "bad-signature")
    static let unsupportedVersion = ErrorCode(rawValue: "unsupported-version")
    static let unknownType = ErrorCode(rawValue: "unknown-type")
    static let unexpectedType = ErrorCode(rawValue: "unexpected-type")
    static let badFrames = ErrorCode(rawValue: "bad-frames")
    static let badHeader = ErrorCode(rawValue: "bad-header")
    static let headerTooLarge = ErrorCode(rawValue: "header-too-large")
    static let badTensor = ErrorCode(rawValue: "bad-tensor")
    static let nonFinite = ErrorCode(rawValue: "non-finite")
    static let tooLarge = ErrorCode(rawValue: "too-large")
    // Application errors the coordinator and workers send.
    static let unknownBatch = ErrorCode(rawValue: "unknown-batch")
    static let unknownModel = ErrorCode(rawValue: "unknown-model")
    static let noWorkerForModel = ErrorCode(rawValue: "no-worker-for-model")
    static let invalidRequest = ErrorCode(rawValue: "invalid-request")
    static let storeFailure = ErrorCode(rawValue: "store-failure")
    static let taskFailed = ErrorCode(rawValue: "task-failed")
    static let notReady = ErrorCode(rawValue: "not-ready")
    /// To a worker whose results the coordinator refused too often in a row: it gets no more tasks.
    static let workerRetired = ErrorCode(rawValue: "worker-retired")
    /// The sender's key is not (or no longer) in the coordinator's allow-list.
    static let notAuthorized = ErrorCode(rawValue: "not-authorized")
    /// A limit of the coordinator (batch size, images queued per client) refuses the request.
    static let limitExceeded = ErrorCode(rawValue: "limit-exceeded")
    static let `internal` = ErrorCode(rawValue: "internal")
}
