/// Everything the coordinator sends to a worker (after the routing id, on its ROUTER).
enum CoordinatorToWorker: Sendable, Equatable {
    case textEncodeTask(TextEncodeTask)
    case unetTask(UNetEvalTask)
    case vaeDecodeTask(VAEDecodeTask)
    case heartbeat
    case disconnect(Disconnect)
    case error(ErrorReply)

    /// The frames to send, without the routing id.
    func encode() -> [[UInt8]] {
        switch self {
        case .textEncodeTask(let m): return m.wireFrames().frames
        case .unetTask(let m): return m.wireFrames().frames
        case .vaeDecodeTask(let m): return m.wireFrames().frames
        case .heartbeat: return heartbeatFrames()
        case .disconnect(let m): return m.wireFrames().frames
        case .error(let m): return m.wireFrames().frames
        }
    }

    /// Reads what a worker's DEALER received. Throws `ProtocolError`.
    static func decode(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws -> CoordinatorToWorker {
        let wire = try WireFrames.parse(frames, limits: limits)
        switch wire.type {
        case .textEncodeTask: return .textEncodeTask(try .decode(wire, limits: limits))
        case .unetTask: return .unetTask(try .decode(wire, limits: limits))
        case .vaeDecodeTask: return .vaeDecodeTask(try .decode(wire, limits: limits))
        case .heartbeat: try decodeHeartbeat(wire); return .heartbeat
        case .disconnect: return .disconnect(try .decode(wire, limits: limits))
        case .error: return .error(try .decode(wire, limits: limits))
        default: throw ProtocolError.unexpectedMessageType(wire.type, socket: "the coordinator (to a worker)")
        }
    }
}
