/// Everything a client sends to the coordinator's client ROUTER.
enum ClientToCoordinator: Sendable, Equatable {
    case submit(SubmitBatch)
    case status(StatusQuery)
    case cancel(CancelBatch)
    case fetch(FetchResults)

    /// The frames to send (the client's DEALER sends them as is).
    func encode() -> [[UInt8]] {
        switch self {
        case .submit(let m): return m.wireFrames().frames
        case .status(let m): return m.wireFrames().frames
        case .cancel(let m): return m.wireFrames().frames
        case .fetch(let m): return m.wireFrames().frames
        }
    }

    /// Reads a message (routing envelope already removed). Throws `ProtocolError`.
    static func decode(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws -> ClientToCoordinator {
        let wire = try WireFrames.parse(frames, limits: limits)
        switch wire.type {
        case .submit: return .submit(try .decode(wire, limits: limits))
        case .status: return .status(try .decode(wire, limits: limits))
        case .cancel: return .cancel(try .decode(wire, limits: limits))
        case .fetch: return .fetch(try .decode(wire, limits: limits))
        default: throw ProtocolError.unexpectedMessageType(wire.type, socket: "a client")
        }
    }
}
