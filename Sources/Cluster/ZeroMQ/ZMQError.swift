import CZeroMQ
import Glibc

/// A failure reported by libzmq, read from `zmq_errno()` right after the failing call.
///
/// The cases a caller must handle differently get their own names: `.again` (nothing to
/// receive / cannot send now on a non-blocking call), `.terminated` (the context is shutting
/// down: leave the loop and close the socket), `.interrupted` (a signal arrived: check your
/// shutdown flag and retry), `.hostUnreachable` (a ROUTER with `routerMandatory` was asked to
/// route to a peer it does not know: that peer is gone).
enum ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// EAGAIN: a non-blocking call would block, or a send/receive timeout passed.
    case again
    /// ETERM: the context was terminated or shut down.
    case terminated
    /// EINTR: a signal interrupted a blocking call.
    case interrupted
    /// EHOSTUNREACH: a ROUTER_MANDATORY socket cannot route to the given identity.
    case hostUnreachable
    /// A CURVE key or Z85 text that is not what the API expects.
    case invalidKey(String)
    /// Any other error: the libzmq call, errno and `zmq_strerror` text.
    case failed(operation: String, code: Int32, message: String)

    /// ETERM is `ZMQ_HAUSNUMERO + 53`; spelled out because Swift does not import the macro.
    static let etermCode: Int32 = 156_384_712 + 53

    /// The error that the last libzmq call on this thread left in `zmq_errno()`.
    static func last(_ operation: String) -> ZMQError {
        from(code: zmq_errno(), operation: operation)
    }

    static func from(code: Int32, operation: String) -> ZMQError {
        switch code {
        case EAGAIN: return .again
        case etermCode: return .terminated
        case EINTR: return .interrupted
        case EHOSTUNREACH: return .hostUnreachable
        default: return .failed(operation: operation, code: code, message: String(cString: zmq_strerror(code)))
        }
    }

    var description: String {
        switch self {
        case .again: return "ZeroMQ: resource temporarily unavailable (EAGAIN): nothing to receive or the send queue is full; poll and retry"
        case .terminated: return "ZeroMQ: the context was terminated (ETERM): close the socket and stop"
        case .interrupted: return "ZeroMQ: interrupted by a signal (EINTR): check for shutdown, then retry"
        case .hostUnreachable: return "ZeroMQ: no route to that peer (EHOSTUNREACH): it disconnected or never connected"
        case .invalidKey(let why): return "ZeroMQ CURVE key: \(why)"
        case .failed(let op, let code, let message): return "ZeroMQ \(op) failed: \(message) (errno \(code))"
        }
    }
}

/// Throws the current `zmq_errno()` when a libzmq call returned -1.
@inline(__always)
func zmqCheck(_ result: Int32, _ operation: @autoclosure () -> String) throws {
    if result == -1 { throw ZMQError.last(operation()) }
}

/// Text of a NUL-terminated C buffer that libzmq filled in.
func stringFromCBuffer(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
