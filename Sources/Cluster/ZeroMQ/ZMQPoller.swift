import CZeroMQ

/// Events to wait for or that happened on a polled socket.
struct ZMQPollEvents: OptionSet, Sendable {
    let rawValue: Int16
    init(rawValue: Int16) { self.rawValue = rawValue }
    /// A message can be received without blocking.
    static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits on several sockets at once with a timeout (`zmq_poll`), the heart of every
/// zguide-style loop: never block forever, wake up for heartbeats.
final class ZMQPoller {
    private var sockets: [ZMQSocket] = []
    private var wanted: [ZMQPollEvents] = []

    init() {}

    /// Registers a socket; returns its index in the results of `poll`.
    @discardableResult
    func add(_ socket: ZMQSocket, events: ZMQPollEvents = .readable) -> Int {
        sockets.append(socket)
        wanted.append(events)
        return sockets.count - 1
    }

    /// Waits up to `timeoutMilliseconds` (-1 = forever, 0 = just look) for any registered event.
    /// Returns, per registered socket in order, the events that are ready (empty when the
    /// timeout passed). A signal ends the wait early with `.interrupted`.
    func poll(timeoutMilliseconds: Int) throws -> [ZMQPollEvents] {
        var items = try sockets.indices.map { i in
            zmq_pollitem_t(socket: try sockets[i].live("zmq_poll"), fd: -1, events: wanted[i].rawValue, revents: 0)
        }
        let rc = items.withUnsafeMutableBufferPointer {
            zmq_poll($0.baseAddress, Int32($0.count), timeoutMilliseconds)
        }
        try zmqCheck(rc, "zmq_poll")
        return items.map { ZMQPollEvents(rawValue: $0.revents) }
    }
}
