/// The machine-readable code of an ERROR reply. Open-ended (a newer peer may send codes this
/// build does not know), so a struct over its string rather than a closed enum.
public struct ErrorCode: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }

    // Protocol refusals (see ProtocolError).
    public static let badSignature = ErrorCode(rawValue: "bad-signature")
    public static let unsupportedVersion = ErrorCode(rawValue: "unsupported-version")
    public static let unknownType = ErrorCode(rawValue: "unknown-type")
    public static let unexpectedType = ErrorCode(rawValue: "unexpected-type")
    public static let badFrames = ErrorCode(rawValue: "bad-frames")
    public static let badHeader = ErrorCode(rawValue: "bad-header")
    public static let headerTooLarge = ErrorCode(rawValue: "header-too-large")
    public static let badTensor = ErrorCode(rawValue: "bad-tensor")
    public static let nonFinite = ErrorCode(rawValue: "non-finite")
    public static let tooLarge = ErrorCode(rawValue: "too-large")
    // Application errors the coordinator and workers send.
    public static let unknownBatch = ErrorCode(rawValue: "unknown-batch")
    public static let unknownModel = ErrorCode(rawValue: "unknown-model")
    public static let noWorkerForModel = ErrorCode(rawValue: "no-worker-for-model")
    public static let invalidRequest = ErrorCode(rawValue: "invalid-request")
    public static let storeFailure = ErrorCode(rawValue: "store-failure")
    public static let taskFailed = ErrorCode(rawValue: "task-failed")
    public static let notReady = ErrorCode(rawValue: "not-ready")
    /// To a worker whose results the coordinator refused too often in a row: it gets no more tasks.
    public static let workerRetired = ErrorCode(rawValue: "worker-retired")
    public static let `internal` = ErrorCode(rawValue: "internal")
}
