/// Everything a worker sends to the coordinator's worker ROUTER.
enum WorkerToCoordinator: Sendable, Equatable {
    case ready(WorkerReady)
    case heartbeat
    case disconnect(Disconnect)
    case textEncodeResult(TextEncodeResult)
    case unetResult(UNetEvalResult)
    case vaeDecodeResult(VAEDecodeResult)
    case missingEmbedding(MissingEmbedding)
    case error(ErrorReply)

    /// The frames to send (without a routing envelope: the worker's DEALER sends them as is).
    func encode() -> [[UInt8]] {
        switch self {
        case .ready(let m): return m.wireFrames().frames
        case .heartbeat: return heartbeatFrames()
        case .disconnect(let m): return m.wireFrames().frames
        case .textEncodeResult(let m): return m.wireFrames().frames
        case .unetResult(let m): return m.wireFrames().frames
        case .vaeDecodeResult(let m): return m.wireFrames().frames
        case .missingEmbedding(let m): return m.wireFrames().frames
        case .error(let m): return m.wireFrames().frames
        }
    }

    /// Reads a message (routing envelope already removed). Throws `ProtocolError`.
    static func decode(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws -> WorkerToCoordinator {
        let wire = try WireFrames.parse(frames, limits: limits)
        switch wire.type {
        case .ready: return .ready(try .decode(wire, limits: limits))
        case .heartbeat: try decodeHeartbeat(wire); return .heartbeat
        case .disconnect: return .disconnect(try .decode(wire, limits: limits))
        case .textEncodeResult: return .textEncodeResult(try .decode(wire, limits: limits))
        case .unetResult: return .unetResult(try .decode(wire, limits: limits))
        case .vaeDecodeResult: return .vaeDecodeResult(try .decode(wire, limits: limits))
        case .missingEmbedding: return .missingEmbedding(try .decode(wire, limits: limits))
        case .error: return .error(try .decode(wire, limits: limits))
        default: throw ProtocolError.unexpectedMessageType(wire.type, socket: "a worker")
        }
    }
}

extension WorkerToCoordinator {
    /// The types that answer a task: results, MISSING-EMBEDDING and ERROR.
    static let taskAnswerTypes: Set<MessageType> = [.textEncodeResult, .unetResult, .vaeDecodeResult, .missingEmbedding, .error]

    /// The task a refused message answers, when it can still be told: frames 0-2 pass
    /// `WireFrames.parse`, the type answers a task, and the header is a JSON object whose
    /// `taskId` is a non-empty string (whatever else is wrong with the header or the payloads).
    /// Lets the coordinator count a result it refused (non-finite values, a frame of the wrong
    /// size, a malformed field) as a failed attempt of that task instead of waiting for its
    /// deadline. Nil when the message cannot be tied to a task.
    static func answeredTaskId(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) -> String? {
        guard let wire = try? WireFrames.parse(frames, limits: limits), taskAnswerTypes.contains(wire.type),
              let header = try? HeaderCoding.decode(TaskIdHeader.self, from: wire.header),
              let taskId = header.taskId, !taskId.isEmpty else { return nil }
        return taskId
    }

    private struct TaskIdHeader: Decodable {
        var taskId: String?

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            taskId = try? container.decodeIfPresent(String.self, forKey: .taskId)
        }

        enum CodingKeys: String, CodingKey { case taskId }
    }
}
