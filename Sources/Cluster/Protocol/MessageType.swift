/// Frame 1 of every message: the message type as short ASCII.
enum MessageType: String, Sendable, CaseIterable, Codable {
    // worker -> coordinator
    case ready = "READY"
    case textEncodeResult = "RESULT-TEXT"
    case unetResult = "RESULT-UNET"
    case vaeDecodeResult = "RESULT-VAE"
    case missingEmbedding = "MISSING-EMBEDDING"
    // coordinator -> worker
    case textEncodeTask = "TASK-TEXT"
    case unetTask = "TASK-UNET"
    case vaeDecodeTask = "TASK-VAE"
    // both directions between worker and coordinator
    case heartbeat = "HEARTBEAT"
    case disconnect = "DISCONNECT"
    // client -> coordinator
    case submit = "SUBMIT"
    case status = "STATUS"
    case cancel = "CANCEL"
    case fetch = "FETCH"
    // coordinator -> client
    case accepted = "ACCEPTED"
    case progress = "PROGRESS"
    case result = "RESULT"
    case statusReply = "STATUS-REPLY"
    // any direction
    case error = "ERROR"

    /// Frame 1 as sent.
    var frame: [UInt8] { Array(rawValue.utf8) }
}

extension MessageType {
    /// The type of a message that may have failed to decode, for ERROR's `inReplyTo`:
    /// nil unless frame 0 is our signature and frame 1 a known type.
    static func peek(_ frames: [[UInt8]]) -> MessageType? {
        guard frames.count >= 2, frames[0] == ProtocolSignature.frame, frames[1].count <= 32 else { return nil }
        return MessageType(rawValue: String(decoding: frames[1], as: UTF8.self))
    }
}
