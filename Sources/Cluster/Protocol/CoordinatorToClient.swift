/// Everything the coordinator sends to a client (after the routing id, on its ROUTER).
enum CoordinatorToClient: Sendable, Equatable {
    case accepted(BatchAccepted)
    case progress(BatchProgress)
    case result(FinishedImage)
    case statusReply(StatusReply)
    case error(ErrorReply)

    /// The frames to send, without the routing id.
    func encode() -> [[UInt8]] {
        switch self {
        case .accepted(let m): return m.wireFrames().frames
        case .progress(let m): return m.wireFrames().frames
        case .result(let m): return m.wireFrames().frames
        case .statusReply(let m): return m.wireFrames().frames
        case .error(let m): return m.wireFrames().frames
        }
    }

    /// Reads what a client's DEALER received. Throws `ProtocolError`.
    static func decode(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws -> CoordinatorToClient {
        let wire = try WireFrames.parse(frames, limits: limits)
        switch wire.type {
        case .accepted: return .accepted(try .decode(wire, limits: limits))
        case .progress: return .progress(try .decode(wire, limits: limits))
        case .result: return .result(try .decode(wire, limits: limits))
        case .statusReply: return .statusReply(try .decode(wire, limits: limits))
        case .error: return .error(try .decode(wire, limits: limits))
        default: throw ProtocolError.unexpectedMessageType(wire.type, socket: "the coordinator (to a client)")
        }
    }
}
