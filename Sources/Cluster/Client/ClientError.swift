/// Why a client command could not get its answer.
enum ClientError: Error, Equatable, CustomStringConvertible {
    /// The coordinator did not answer within the time allowed, retries included.
    case noAnswer(endpoint: String, seconds: Double)
    /// The coordinator refused the request.
    case refused(ErrorReply)
    /// The coordinator answered with something this request does not expect.
    case unexpectedReply(String)
    /// No image of the batch finished within the wait's bound; the batch goes on at the coordinator.
    case noProgress(batchId: String, seconds: Double, counts: ImageCounts)
    /// The connection's handshake failed: a key the coordinator refuses, or CURVE on one side only.
    case handshakeFailed(endpoint: String, String)

    var description: String {
        switch self {
        case .noAnswer(let endpoint, let seconds):
            return "no answer from the coordinator at \(endpoint) for \(Int(seconds)) s; is `sdcluster coordinator` running there, and is the port reachable?"
        case .refused(let reply):
            return "the coordinator refused: \(reply.message) (\(reply.code))"
        case .unexpectedReply(let what):
            return "unexpected answer from the coordinator: \(what)"
        case .noProgress(let batchId, let seconds, let counts):
            return "no image of batch \(batchId) finished for \(Int(seconds)) s (\(counts.queued) queued, \(counts.running) running; see `sdcluster status` for workers and problems); it goes on at the coordinator: `sdcluster fetch \(batchId) --out DIR` collects it later"
        case .handshakeFailed(let endpoint, let why):
            return "cannot talk to the coordinator at \(endpoint): \(why)"
        }
    }
}

/// A refusal from the coordinator as callers outside this module see it (the HTTP gateway turns
/// its code into an HTTP status): the ERROR reply's code (`invalid-request`, `unknown-batch`,
/// `limit-exceeded`, ...) and its message for people.
public struct CoordinatorRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String

    /// The refusal inside an error thrown by `ClusterClient`, or nil when the error is of another
    /// kind (no answer, a failed handshake).
    public init?(_ error: any Error) {
        guard case ClientError.refused(let reply) = error else { return nil }
        code = reply.code.rawValue
        message = reply.message
    }

    public var description: String { "\(message) (\(code))" }
}
