/// A message split into its parts: type (frame 1), header (frame 2) and payloads (frames 3...),
/// after frame 0 was checked. The typed messages are built from this and turned into it.
struct WireFrames: Sendable, Equatable {
    var type: MessageType
    var header: [UInt8]
    var payloads: [[UInt8]] = []

    /// The frames to send: signature, type, header, payloads.
    var frames: [[UInt8]] {
        [ProtocolSignature.frame, type.frame, header] + payloads
    }

    /// Checks signature, version, frame count, type and header size. Does not look inside the
    /// header or payloads: that is the typed message's job.
    static func parse(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws -> WireFrames {
        guard frames.count >= 3 else { throw ProtocolError.tooFewFrames(count: frames.count) }
        guard frames.count <= limits.maxFrames else {
            throw ProtocolError.tooManyFrames(count: frames.count, limit: limits.maxFrames)
        }
        let signature = frames[0]
        let magic = ProtocolSignature.magic
        guard signature.count == magic.count + 1, signature.starts(with: magic) else {
            throw ProtocolError.badSignature(found: signature)
        }
        guard signature[magic.count] == ProtocolSignature.version else {
            throw ProtocolError.unsupportedVersion(found: String(decoding: [signature[magic.count]], as: UTF8.self))
        }
        let typeText = String(decoding: frames[1].prefix(32), as: UTF8.self)
        guard frames[1].count <= 32, let type = MessageType(rawValue: typeText) else {
            throw ProtocolError.unknownMessageType(typeText)
        }
        guard frames[2].count <= limits.maxHeaderBytes else {
            throw ProtocolError.headerTooLarge(bytes: frames[2].count, limit: limits.maxHeaderBytes)
        }
        return WireFrames(type: type, header: frames[2], payloads: Array(frames[3...]))
    }

    /// Refuses the message unless exactly `count` payload frames came with it.
    func expectPayloads(_ count: Int) throws {
        guard payloads.count == count else {
            throw ProtocolError.payloadCountMismatch(expected: count, found: payloads.count)
        }
    }
}

/// A message received on a ROUTER: the sender's routing id, then the protocol frames.
/// sdcluster's peers are DEALERs connected straight to the ROUTER, so the envelope is exactly
/// one identity frame (no empty delimiter, no proxies in between).
struct RoutedFrames: Sendable, Equatable {
    var identity: [UInt8]
    var frames: [[UInt8]]

    init(identity: [UInt8], frames: [[UInt8]]) {
        self.identity = identity
        self.frames = frames
    }

    /// Splits what a ROUTER received into identity and message.
    init(received: [[UInt8]]) throws {
        guard received.count >= 2 else { throw ProtocolError.tooFewFrames(count: max(0, received.count - 1)) }
        identity = received[0]
        frames = Array(received[1...])
    }

    /// What to hand the ROUTER to send: identity first.
    var toSend: [[UInt8]] { [identity] + frames }
}
