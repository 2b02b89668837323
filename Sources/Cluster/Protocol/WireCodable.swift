/// A typed message body: how it becomes frames and how it is read back and checked.
public protocol WireCodable: Sendable {
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
    public func wireFrames() -> WireFrames {
        WireFrames(type: Self.messageType, header: HeaderCoding.encode(self))
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        try wire.expectPayloads(0)
        let value = try HeaderCoding.decode(Self.self, from: wire.header)
        try value.validate(limits)
        return value
    }

    func validate(_ limits: ProtocolLimits) throws {}
}

extension WorkerReady: HeaderOnlyMessage {
    public static let messageType = MessageType.ready
}

extension Disconnect: HeaderOnlyMessage {
    public static let messageType = MessageType.disconnect
}

extension MissingEmbedding: HeaderOnlyMessage {
    public static let messageType = MessageType.missingEmbedding
    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(taskId, "taskId")
        try Check.range(embeddingIds.count, 1...(2 * limits.maxBatchItems), "embeddingIds")
    }
}

extension TextEncodeTask: HeaderOnlyMessage {
    public static let messageType = MessageType.textEncodeTask
    func validate(_ limits: ProtocolLimits) throws { try validate() }
}

extension Check {
    static func seconds(_ value: Double, _ field: String) throws {
        if !value.isFinite || value < 0 {
            throw ProtocolError.invalidField(field, reason: "must be a finite number of seconds >= 0")
        }
    }
}
