/// A typed message body: how it becomes frames and how it is read back and checked.
protocol WireCodable: Sendable {
    /// Frame 1 of this message.
    static var messageType: MessageType { get }
    /// Header and payloads (the signature is added by `WireFrames.frames`).
    func wireFrames() -> WireFrames
    /// Reads and checks a message whose type is `messageType`.
    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self
}

/// A body that is its own JSON header and carries no payload frames.
protocol HeaderOnlyMessage: WireCodable, Codable {
    func validate(_ limits: ProtocolLimits) throws
}

extension HeaderOnlyMessage {
    func wireFrames() -> WireFrames {
        WireFrames(type: Self.messageType, header: HeaderCoding.encode(self))
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        try wire.expectPayloads(0)
        let value = try HeaderCoding.decode(Self.self, from: wire.header)
        try value.validate(limits)
        return value
    }

    func validate(_ limits: ProtocolLimits) throws {}
}
