import StableDiffusion

/// SUBMIT (client -> coordinator): a batch of images to make. The coordinator answers ACCEPTED
/// only once the batch is durable in its job store. Sending the same `submissionId` again
/// (a retry after a lost reply) returns the same batch instead of a second one.
/// Payload: the requests as a UTF-8 JSON array of `GenerationRequest` objects (the JSONL
/// prompt-file fields), `requestBytes` long.
public struct SubmitBatch: Sendable, Equatable {
    /// A name the client chose (for instance its prompt file's name); shown in STATUS.
    public var clientBatchName: String
    /// A client-generated unique id (UUID) that makes retries idempotent.
    public var submissionId: String
    public var requests: [GenerationRequest]

    public init(clientBatchName: String, submissionId: String, requests: [GenerationRequest]) {
        self.clientBatchName = clientBatchName
        self.submissionId = submissionId
        self.requests = requests
    }
}

/// STATUS (client -> coordinator): ask for STATUS-REPLY, for one batch or (nil) for all.
public struct StatusQuery: Codable, Sendable, Equatable {
    public var batchId: String?
    public init(batchId: String? = nil) { self.batchId = batchId }
}

/// CANCEL (client -> coordinator): stop a batch; unfinished images become cancelled, finished
/// ones stay. Answered with PROGRESS (or ERROR unknown-batch).
public struct CancelBatch: Codable, Sendable, Equatable {
    public var batchId: String
    public init(batchId: String) { self.batchId = batchId }
}

/// FETCH (client -> coordinator): send me the results of a batch whose sequence number is at
/// least `since` (0 for all). With `waitMilliseconds` > 0 and nothing new yet, the coordinator
/// holds the request up to that long for a result to finish. Answered by zero or more RESULT
/// messages and then one PROGRESS, whose `nextSince` is the `since` of the next FETCH.
public struct FetchResults: Codable, Sendable, Equatable {
    public var batchId: String
    public var since: Int
    public var waitMilliseconds: Int = 0
    /// Most RESULT messages wanted (the coordinator sends at most its own bound, 16, anyway):
    /// 1 fetches one image. Optional: older coordinators ignore it and send up to their bound.
    public var limit: Int? = nil
}

extension SubmitBatch: WireCodable {
    static let messageType = MessageType.submit

    struct Header: Codable {
        var clientBatchName: String
        var submissionId: String
        var count: Int
        var requestBytes: Int
    }

    func wireFrames() -> WireFrames {
        let body = HeaderCoding.encode(requests)
        let header = Header(clientBatchName: clientBatchName, submissionId: submissionId,
                            count: requests.count, requestBytes: body.count)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: [body])
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.submissionId, "submissionId")
        try Check.range(h.count, 1...limits.maxRequestsPerBatch, "count")
        try wire.expectPayloads(1)
        var reader = PayloadReader(wire, limits: limits)
        let body = try reader.blob(bytes: h.requestBytes, field: "requests")
        let requests: [GenerationRequest]
        do {
            requests = try HeaderCoding.decode([GenerationRequest].self, from: body)
        } catch let error as ProtocolError {
            throw error.inBody("requests")
        }
        guard requests.count == h.count else {
            throw ProtocolError.invalidField("count", reason: "announces \(h.count) requests but the payload holds \(requests.count)")
        }
        // The checks prompt files and Sampler.prepare make (the model's own rules come when the
        // coordinator routes the request).
        for (i, r) in requests.enumerated() {
            if let problem = RequestValidation.problems(in: r, model: nil).first {
                throw ProtocolError.invalidField("requests[\(i)].\(problem.field)", reason: problem.message)
            }
        }
        return SubmitBatch(clientBatchName: h.clientBatchName, submissionId: h.submissionId, requests: requests)
    }
}

extension StatusQuery: HeaderOnlyMessage {
    static let messageType = MessageType.status
}

extension CancelBatch: HeaderOnlyMessage {
    static let messageType = MessageType.cancel
    func validate(_ limits: ProtocolLimits) throws { try Check.nonEmpty(batchId, "batchId") }
}

extension FetchResults: HeaderOnlyMessage {
    static let messageType = MessageType.fetch
    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(batchId, "batchId")
        try Check.range(since, 0...Int(Int64.max), "since")
        try Check.range(waitMilliseconds, 0...600_000, "waitMilliseconds")
        if let limit { try Check.range(limit, 1...Int(Int32.max), "limit") }
    }
}

extension ProtocolError {
    /// Re-labels a header-style error found inside a JSON payload so the path names the payload.
    func inBody(_ name: String) -> ProtocolError {
        switch self {
        case .missingField(let path): return .missingField(name + (path.hasPrefix("[") ? path : "." + path))
        case .invalidField(let path, let reason): return .invalidField(name + (path.hasPrefix("[") ? path : "." + path), reason: reason)
        case .headerNotJSON(let why): return .badBlob(field: name, reason: "not a JSON array of requests: \(why)")
        default: return self
        }
    }
}
