import Foundation

/// A client of the coordinator's client socket: one request at a time, Lazy Pirate style (on a
/// timeout the DEALER is closed, a fresh one connects and the request is sent again), until
/// `giveUpAfter` seconds pass without an answer. Requests are idempotent (SUBMIT carries a
/// submission id), so a resend never makes anything twice.
public final class ClusterClient {
    public let endpoint: String
    /// How long one try waits for an answer beyond what the request itself asks to wait.
    public var replyTimeout: Double
    /// How long without any answer before giving up.
    public var giveUpAfter: Double
    /// Called when a try timed out and the request is sent again.
    public var onRetry: ((Double) -> Void)?
    private let context: ZMQContext
    /// With CURVE: this client's keys and the coordinator's public key.
    private let credentials: CurveCredentials?
    private var socket: ZMQSocket?
    /// Watches the socket's handshakes, so a refused key is reported instead of retried forever.
    private var monitor: ZMQMonitor?
    /// Since when connections have been closed mid-handshake with no reason given (and no
    /// answer came): the coordinator restarting, or a proxy in front of it with nothing behind.
    private var vagueHandshakeFailuresSince: Double?
    /// How long such failures go on before they are the answer: a restart takes seconds, while a
    /// wrong `--coordinator-key` never heals.
    static let vagueHandshakeGrace = 10.0

    public init(endpoint: String, context: ZMQContext, replyTimeout: Double = 5, giveUpAfter: Double = 120,
                credentials: CurveCredentials? = nil) {
        self.endpoint = endpoint
        self.context = context
        self.replyTimeout = replyTimeout
        self.giveUpAfter = giveUpAfter
        self.credentials = credentials
    }

    /// Sends a batch and returns its id once the coordinator has it on disk.
    public func submit(_ batch: SubmitBatch) throws -> BatchAccepted {
        let replies = try call(.submit(batch))
        guard case .accepted(let accepted) = replies.last else { throw Self.unexpected(replies) }
        return accepted
    }

    public func status(batchId: String? = nil) throws -> StatusReply {
        let replies = try call(.status(StatusQuery(batchId: batchId)))
        guard case .statusReply(let reply) = replies.last else { throw Self.unexpected(replies) }
        return reply
    }

    public func cancel(batchId: String) throws -> BatchProgress {
        let replies = try call(.cancel(CancelBatch(batchId: batchId)))
        guard case .progress(let progress) = replies.last else { throw Self.unexpected(replies) }
        return progress
    }

    /// Finished images from the cursor `since` on, waiting up to `waitSeconds` for one; at most
    /// `limit` of them when given (the coordinator's own bound otherwise).
    public func fetch(batchId: String, since: Int, waitSeconds: Double, limit: Int? = nil) throws -> (results: [FinishedImage], progress: BatchProgress) {
        let request = FetchResults(batchId: batchId, since: since, waitMilliseconds: Int(waitSeconds * 1000), limit: limit)
        let replies = try call(.fetch(request), extraWait: waitSeconds)
        guard case .progress(let progress) = replies.last else { throw Self.unexpected(replies) }
        let results = replies.compactMap { reply -> FinishedImage? in
            if case .result(let r) = reply { return r }
            return nil
        }
        return (results, progress)
    }

    /// Sends one request and collects its answer: any RESULT messages and the one closing
    /// message (everything else). ERROR becomes `ClientError.refused`.
    func call(_ request: ClientToCoordinator, extraWait: Double = 0) throws -> [CoordinatorToClient] {
        let started = monotonicSeconds()
        while true {
            let socket = try connected()
            try socket.send(frames: request.encode())
            if let replies = try collect(from: socket, until: monotonicSeconds() + replyTimeout + extraWait) {
                vagueHandshakeFailuresSince = nil
                if case .error(let e) = replies.last { throw ClientError.refused(e) }
                return replies
            }
            // Lazy Pirate: no answer; drop the socket (and anything late on it) and try again.
            disconnect()
            let waited = monotonicSeconds() - started
            guard waited < giveUpAfter else { throw ClientError.noAnswer(endpoint: endpoint, seconds: waited) }
            onRetry?(waited)
        }
    }

    /// Messages until a closing one, or nil when the time ran out first.
    private func collect(from socket: ZMQSocket, until deadline: Double) throws -> [CoordinatorToClient]? {
        var replies: [CoordinatorToClient] = []
        let poller = ZMQPoller()
        poller.add(socket)
        if let monitor { poller.add(monitor.pair) }
        while true {
            let left = deadline - monotonicSeconds()
            guard left > 0 else { return nil }
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMilliseconds: Int(left * 1000) + 1)
            } catch ZMQError.interrupted {
                continue
            }
            if ready.count > 1, ready[1].contains(.readable) {
                let failures = monitor?.pending().filter(\.isFailure) ?? []
                // A refused key or a CURVE mismatch is final; a connection closed mid-handshake
                // without a reason is retried (libzmq reconnects) until it has gone on too long.
                let now = monotonicSeconds()
                let definite = failures.first { $0.kind != .handshakeFailedNoDetail }
                if let vague = failures.first, definite == nil {
                    let since = vagueHandshakeFailuresSince ?? now
                    vagueHandshakeFailuresSince = since
                    if now - since >= min(Self.vagueHandshakeGrace, giveUpAfter) {
                        disconnect()
                        throw ClientError.handshakeFailed(endpoint: endpoint, vague.explanation(curve: credentials != nil, role: .clients))
                    }
                } else if let definite {
                    disconnect()
                    throw ClientError.handshakeFailed(endpoint: endpoint, definite.explanation(curve: credentials != nil, role: .clients))
                }
            }
            guard ready[0].contains(.readable) else { continue }
            let frames = try socket.receiveMessage()
            let reply: CoordinatorToClient
            do {
                reply = try CoordinatorToClient.decode(frames)
            } catch {
                throw ClientError.unexpectedReply("\(error)")
            }
            replies.append(reply)
            if case .result = reply { continue }
            return replies
        }
    }

    private func connected() throws -> ZMQSocket {
        if let socket { return socket }
        let socket = try context.socket(.dealer)
        try socket.set(.maxMessageSize(bytes: ProtocolLimits.standard.socketMaxMessageSize))
        try socket.set(.reconnectInterval(milliseconds: 100))
        try socket.set(.reconnectIntervalMax(milliseconds: 2000))
        try credentials?.apply(to: socket)
        monitor = try ZMQMonitor(watching: socket)
        try socket.connect(endpoint)
        self.socket = socket
        return socket
    }

    private func disconnect() {
        monitor?.close()
        monitor = nil
        socket?.close()
        socket = nil
    }

    private static func unexpected(_ replies: [CoordinatorToClient]) -> ClientError {
        .unexpectedReply(replies.last.map { "\($0)".prefix(200).description } ?? "nothing")
    }
}
