/// ACCEPTED (coordinator -> client): the batch is on disk and will be made.
public struct BatchAccepted: Codable, Sendable, Equatable {
    public var batchId: String
    public var clientBatchName: String
    public var submissionId: String
    public var count: Int
}

/// PROGRESS (coordinator -> client): a batch's counts; ends every answer to FETCH and CANCEL.
public struct BatchProgress: Codable, Sendable, Equatable {
    public var batchId: String
    public var counts: ImageCounts
    /// The `since` to use in the next FETCH.
    public var nextSince: Int
}

/// RESULT (coordinator -> client): one finished image. Payload: the PNG file's bytes when
/// `pngBytes` is set (done images), none for failed ones.
public struct FinishedImage: Sendable, Equatable {
    public var batchId: String
    /// The image's index in the submitted batch.
    public var index: Int
    /// Completion order within the batch (what FETCH's `since` counts).
    public var sequence: Int
    public var state: ImageStatus
    /// File name under the batch's output folder, e.g. `0007-42.png`.
    public var fileName: String?
    /// The line written to manifest.jsonl for this image (JSON, no newline).
    public var manifestLine: String
    public var error: String?
    public var png: [UInt8]?
}

/// One batch in STATUS-REPLY.
public struct BatchSummary: Codable, Sendable, Equatable {
    public var batchId: String
    public var clientBatchName: String
    public var state: String
    public var counts: ImageCounts
}

/// One worker in STATUS-REPLY.
public struct WorkerSummary: Codable, Sendable, Equatable {
    public var name: String
    public var models: [String]
    /// Heartbeats it may still miss before it is given up on.
    public var liveness: Int
    /// Evaluations sent to it and not yet answered.
    public var inFlight: Int
    /// Evaluations it has answered since it connected.
    public var evaluationsDone: Int
    /// Why the coordinator gives it no more tasks (its results were refused too often in a
    /// row); absent while it is used. Optional: older peers neither send nor read it.
    public var retired: String?
    /// Its engine class: the engine fingerprint its READY carried, or `unknown` when it sent
    /// none. Every evaluation of one image goes to workers of one class. Optional: older peers
    /// neither send nor read it.
    public var engine: String?
}

/// STATUS-REPLY (coordinator -> client): queue, workers and throughput.
public struct StatusReply: Codable, Sendable, Equatable {
    public var batches: [BatchSummary]
    public var workers: [WorkerSummary]
    /// UNet evaluations per second over the last minute.
    public var evaluationsPerSecond: Double
    /// What keeps the coordinator from finishing work, for its operator (e.g. an output folder
    /// it cannot write); nil or empty when nothing does. Optional: older coordinators omit it.
    public var problems: [String]? = nil
    /// Re-sent tasks and latency histograms since the coordinator started. Optional: older
    /// coordinators omit it (and older clients ignore it).
    public var counters: CoordinatorCounters? = nil
}

/// ERROR (any direction): a refusal or failure, with a code to act on and a message to show.
struct ErrorReply: Codable, Sendable, Equatable, Error {
    var code: ErrorCode
    var message: String
    /// The type of the message this answers, when known.
    var inReplyTo: String?
    var taskId: String?
    var batchId: String?

    init(code: ErrorCode, message: String, inReplyTo: String? = nil, taskId: String? = nil, batchId: String? = nil) {
        self.code = code
        self.message = message
        self.inReplyTo = inReplyTo
        self.taskId = taskId
        self.batchId = batchId
    }

    /// The reply to a message that could not be decoded.
    init(_ error: ProtocolError, inReplyTo: MessageType? = nil) {
        self.init(code: error.code, message: error.description, inReplyTo: inReplyTo?.rawValue)
    }
}

extension BatchAccepted: HeaderOnlyMessage {
    static let messageType = MessageType.accepted
    func validate(_ limits: ProtocolLimits) throws { try Check.nonEmpty(batchId, "batchId") }
}

extension BatchProgress: HeaderOnlyMessage {
    static let messageType = MessageType.progress
    func validate(_ limits: ProtocolLimits) throws { try Check.nonEmpty(batchId, "batchId") }
}

extension StatusReply: HeaderOnlyMessage {
    static let messageType = MessageType.statusReply
}

extension ErrorReply: HeaderOnlyMessage {
    static let messageType = MessageType.error
}

extension FinishedImage: WireCodable {
    static let messageType = MessageType.result

    struct Header: Codable {
        var batchId: String
        var index: Int
        var sequence: Int
        var state: ImageStatus
        var fileName: String?
        var manifestLine: String
        var error: String?
        var pngBytes: Int?
    }

    func wireFrames() -> WireFrames {
        let header = Header(batchId: batchId, index: index, sequence: sequence, state: state, fileName: fileName,
                            manifestLine: manifestLine, error: error, pngBytes: png?.count)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: png.map { [$0] } ?? [])
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.batchId, "batchId")
        try Check.range(h.index, 0...Int(Int32.max), "index")
        try Check.range(h.sequence, 0...Int(Int64.max), "sequence")
        try wire.expectPayloads(h.pngBytes == nil ? 0 : 1)
        var reader = PayloadReader(wire, limits: limits)
        let png = try h.pngBytes.map { try reader.blob(bytes: $0, field: "png") }
        return FinishedImage(batchId: h.batchId, index: h.index, sequence: h.sequence, state: h.state, fileName: h.fileName,
                             manifestLine: h.manifestLine, error: h.error, png: png)
    }
}
