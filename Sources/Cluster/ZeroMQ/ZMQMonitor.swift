import CZeroMQ
import Foundation

/// What a socket monitor reported: a connection's handshake failing (a refused key, a plain
/// peer on a CURVE port) or succeeding. libzmq retries a failed handshake silently forever;
/// watching these events lets a client say why it gets no answer.
struct ZMQMonitorEvent: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case handshakeSucceeded
        /// The peer's authentication refused us; `value` holds the ZAP status code (e.g. 400).
        case handshakeFailedAuthentication
        /// The peers disagree on the protocol or security mechanism (CURVE against plain).
        case handshakeFailedProtocol
        /// The handshake failed without a reason the peer would give (e.g. a wrong server key).
        case handshakeFailedNoDetail
        case other(UInt16)
    }

    let kind: Kind
    let value: UInt32
    let endpoint: String

    static let watched = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL

    init(kind: Kind, value: UInt32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// Parses libzmq's two-frame event message: 2 bytes of event, 4 of value (native byte
    /// order), then the endpoint.
    init?(frames: [[UInt8]]) {
        guard frames.count >= 2, frames[0].count >= 6 else { return nil }
        let head = frames[0]
        let event = UInt16(head[0]) | UInt16(head[1]) << 8
        let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        let kind: Kind
        switch Int32(event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: kind = .handshakeSucceeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: kind = .handshakeFailedAuthentication
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: kind = .handshakeFailedProtocol
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: kind = .handshakeFailedNoDetail
        default: kind = .other(event)
        }
        self.init(kind: kind, value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    var isFailure: Bool {
        switch kind {
        case .handshakeFailedAuthentication, .handshakeFailedProtocol, .handshakeFailedNoDetail: return true
        default: return false
        }
    }
}

/// A PAIR socket on which libzmq reports a socket's handshake events (`zmq_socket_monitor`).
/// Create it before the watched socket connects; it must not outlive that socket's context.
final class ZMQMonitor {
    /// Readable when an event is waiting (to poll it with other sockets).
    let pair: ZMQSocket
    private weak var watched: ZMQSocket?

    private static let counter = Counter()

    init(watching socket: ZMQSocket) throws {
        let endpoint = "inproc://sdcluster-monitor-\(getpid())-\(Self.counter.next())"
        try zmqCheck(zmq_socket_monitor(try socket.live("zmq_socket_monitor"), endpoint, ZMQMonitorEvent.watched),
                     "zmq_socket_monitor")
        pair = try socket.context.socket(.pair)
        try pair.connect(endpoint)
        watched = socket
    }

    /// The events reported so far, without waiting.
    func pending() -> [ZMQMonitorEvent] {
        var events: [ZMQMonitorEvent] = []
        while let frames = try? pair.receiveMessage(dontWait: true) {
            if let event = ZMQMonitorEvent(frames: frames) { events.append(event) }
        }
        return events
    }

    /// Stops the monitor and closes its socket (the watched socket may stay open).
    func close() {
        if let watched, let handle = try? watched.live("zmq_socket_monitor") {
            _ = zmq_socket_monitor(handle, nil, 0)
        }
        pair.close()
    }

    deinit { close() }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}
