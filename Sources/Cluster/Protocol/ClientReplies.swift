/// ACCEPTED (coordinator -> client): the batch is on disk and will be made.
public struct BatchAccepted: Codable, Sendable, Equatable {
    public var batchId: String
    public var clientBatchName: String
    public var submissionId: String
    public var count: Int

    public init(batchId: String, clientBatchName: String, submissionId: String, count: Int) {
        self.batchId = batchId
        self.clientBatchName = clientBatchName
        self.submissionId = submissionId
        self.count = count
    }
}

/// PROGRESS (coordinator -> client): a batch's counts; ends every answer to FETCH and CANCEL.
public struct BatchProgress: Codable, Sendable, Equatable {
    public var batchId: String
    public var counts: ImageCounts
    /// The `since` to use in the next FETCH.
    public var nextSince: Int

    public init(batchId: String, counts: ImageCounts, nextSince: Int) {
        self.batchId = batchId
        self.counts = counts
        self.nextSince = nextSince
    }
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

    public init(batchId: String, index: Int, sequence: Int, state: ImageStatus, fileName: String?,
                manifestLine: String, error: String? = nil, png: [UInt8]?) {
        self.batchId = batchId
        self.index = index
        self.sequence = sequence
        self.state = state
        self.fileName = fileName
        self.manifestLine = manifestLine
        self.error = error
        self.png = png
    }
}

/// One batch in STATUS-REPLY.
public struct BatchSummary: Codable, Sendable, Equatable {
    public var batchId: String
    public var clientBatchName: String
    public var state: String
    public var counts: ImageCounts

    public init(batchId: String, clientBatchName: String, state: String, counts: ImageCounts) {
        self.batchId = batchId
        self.clientBatchName = clientBatchName
        self.state = state
        self.counts = counts
    }
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

    public init(name: String, models: [String], liveness: Int, inFlight: Int, evaluationsDone: Int, retired: String? = nil) {
        self.name = name
        self.models = models
        self.liveness = liveness
        self.inFlight = inFlight
        self.evaluationsDone = evaluationsDone
        self.retired = retired
    }
}

/// STATUS-REPLY (coordinator -> client): queue, workers and throughput.
public struct StatusReply: Codable, Sendable, Equatable {
    public var batches: [BatchSummary]
    public var workers: [WorkerSummary]
    /// UNet evaluations per second over the last minute.
    public var evaluationsPerSecond: Double

    public init(batches: [BatchSummary], workers: [WorkerSummary], evaluationsPerSecond: Double) {
        self.batches = batches
        self.workers = workers
        self.evaluationsPerSecond = evaluationsPerSecond
    }
}

/// ERROR (any direction): a refusal or failure, with a code to act on and a message to show.
public struct ErrorReply: Codable, Sendable, Equatable, Error {
    public var code: ErrorCode
    public var message: String
    /// The type of the message this answers, when known.
    public var inReplyTo: String?
    public var taskId: String?
    public var batchId: String?

    public init(code: ErrorCode, message: String, inReplyTo: String? = nil, taskId: String? = nil, batchId: String? = nil) {
        self.code = code
        self.message = message
        self.inReplyTo = inReplyTo
        self.taskId = taskId
        self.batchId = batchId
    }

    /// The reply to a message that could not be decoded.
    public init(_ error: ProtocolError, inReplyTo: MessageType? = nil) {
        self.init(code: error.code, message: error.description, inReplyTo: inReplyTo?.rawValue)
    }
}

extension BatchAccepted: HeaderOnlyMessage {
    public static let messageType = MessageType.accepted
    func validate(_ limits: ProtocolLimits) throws { try Check.nonEmpty(batchId, "batchId") }
}

extension BatchProgress: HeaderOnlyMessage {
    public static let messageType = MessageType.progress
    func validate(_ limits: ProtocolLimits) throws { try Check.nonEmpty(batchId, "batchId") }
}

extension StatusReply: HeaderOnlyMessage {
    public static let messageType = MessageType.statusReply
}

extension ErrorReply: HeaderOnlyMessage {
    public static let messageType = MessageType.error
}

extension FinishedImage: WireCodable {
    public static let messageType = MessageType.result

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

    public func wireFrames() -> WireFrames {
        let header = Header(batchId: batchId, index: index, sequence: sequence, state: state, fileName: fileName,
                            manifestLine: manifestLine, error: error, pngBytes: png?.count)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: png.map { [$0] } ?? [])
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
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
