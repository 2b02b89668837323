/// Why a received message was refused. Every case maps to an `ErrorCode` and a message that
/// says what was wrong, so the receiver can answer with an ERROR reply and keep serving.
enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the three frames every message has (signature, type, header).
    case tooFewFrames(count: Int)
    /// More frames than `ProtocolLimits.maxFrames`.
    case tooManyFrames(count: Int, limit: Int)
    /// Frame 0 is not "SDC" followed by a version byte.
    case badSignature(found: [UInt8])
    /// Frame 0 is "SDC" with a version this build does not speak.
    case unsupportedVersion(found: String)
    /// Frame 1 names no message type of this protocol.
    case unknownMessageType(String)
    /// A known type that this socket does not accept (for instance SUBMIT on the worker socket).
    case unexpectedMessageType(MessageType, socket: String)
    /// The header is larger than `ProtocolLimits.maxHeaderBytes`.
    case headerTooLarge(bytes: Int, limit: Int)
    /// The header is not valid JSON (or not UTF-8).
    case headerNotJSON(String)
    /// A required header field is absent.
    case missingField(String)
    /// A header field has the wrong type or a value out of range.
    case invalidField(String, reason: String)
    /// The message has a different number of payload frames than its header announces.
    case payloadCountMismatch(expected: Int, found: Int)
    /// A tensor's shape is not acceptable (rank, non-positive or overflowing dimensions).
    case invalidTensorShape(field: String, shape: [Int], reason: String)
    /// A tensor frame's byte count is not dtype size x element count.
    case tensorSizeMismatch(field: String, expectedBytes: Int, foundBytes: Int)
    /// A tensor larger than `ProtocolLimits.maxTensorBytes`.
    case tensorTooLarge(field: String, bytes: Int, limit: Int)
    /// A tensor holds NaN or infinity.
    case nonFiniteTensor(field: String, elementIndex: Int)
    /// A non-tensor payload larger than its limit, or of a size other than announced.
    case badBlob(field: String, reason: String)

    /// The code an ERROR reply carries for this refusal.
    var code: ErrorCode {
        switch self {
        case .tooFewFrames, .tooManyFrames, .payloadCountMismatch: return .badFrames
        case .badSignature: return .badSignature
        case .unsupportedVersion: return .unsupportedVersion
        case .unknownMessageType: return .unknownType
        case .unexpectedMessageType: return .unexpectedType
        case .headerTooLarge: return .headerTooLarge
        case .headerNotJSON, .missingField, .invalidField: return .badHeader
        case .invalidTensorShape, .tensorSizeMismatch: return .badTensor
        case .tensorTooLarge: return .tooLarge
        case .nonFiniteTensor: return .nonFinite
        case .badBlob: return .tooLarge
        }
    }

    var description: String {
        switch self {
        case .tooFewFrames(let n):
            return "message has \(n) frame(s); every message needs at least signature, type and header"
        case .tooManyFrames(let n, let limit):
            return "message has \(n) frames, more than the limit of \(limit); send smaller batches"
        case .badSignature(let found):
            return "frame 0 is \(Self.show(found)), not the protocol signature \"\(String(decoding: ProtocolSignature.frame, as: UTF8.self))\"; is this an sdcluster peer?"
        case .unsupportedVersion(let v):
            return "protocol version \(v) is not supported (this build speaks \"\(String(decoding: ProtocolSignature.frame, as: UTF8.self))\"); run the same sdcluster version everywhere"
        case .unknownMessageType(let t):
            return "unknown message type \"\(t)\""
        case .unexpectedMessageType(let t, let socket):
            return "message type \(t.rawValue) is not accepted from \(socket)"
        case .headerTooLarge(let bytes, let limit):
            return "header of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .headerNotJSON(let why):
            return "header is not a JSON object: \(why)"
        case .missingField(let path):
            return "header lacks the required field \"\(path)\""
        case .invalidField(let path, let reason):
            return "header field \"\(path)\" is invalid: \(reason)"
        case .payloadCountMismatch(let expected, let found):
            return "header announces \(expected) payload frame(s) but \(found) arrived"
        case .invalidTensorShape(let field, let shape, let reason):
            return "tensor \(field) has shape \(shape): \(reason)"
        case .tensorSizeMismatch(let field, let expected, let found):
            return "tensor \(field): dtype x shape needs \(expected) bytes but the frame has \(found)"
        case .tensorTooLarge(let field, let bytes, let limit):
            return "tensor \(field) of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .nonFiniteTensor(let field, let index):
            return "tensor \(field) holds a non-finite value (NaN or infinity) at element \(index)"
        case .badBlob(let field, let reason):
            return "payload \(field): \(reason)"
        }
    }

    private static func show(_ bytes: [UInt8]) -> String {
        let head = bytes.prefix(8)
        if head.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "\"\(String(decoding: head, as: UTF8.self))\"" + (bytes.count > 8 ? "..." : "")
        }
        return head.map { String(format2: $0) }.joined(separator: " ") + (bytes.count > 8 ? " ..." : "")
    }
}

private extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
