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
