import CZeroMQ

/// One libzmq socket. It owns its handle: `close()` (or deinit) closes it, after setting
/// `ZMQ_LINGER` at creation so that closing never hangs on unsent messages.
///
/// A socket is not thread-safe (libzmq's rule): use it from one thread at a time. It keeps its
/// context alive.
final class ZMQSocket {
    /// The socket type it was created with.
    let type: ZMQSocketType
    let context: ZMQContext
    private(set) var handle: UnsafeMutableRawPointer?

    init(context: ZMQContext, type: ZMQSocketType, linger: Int32) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("zmq_socket(\(type))")
        }
        self.context = context
        self.type = type
        self.handle = handle
        try set(.linger(milliseconds: linger))
    }

    deinit { close() }

    /// Closes the socket now; later calls on it fail with ENOTSOCK.
    func close() {
        if let h = handle { _ = zmq_close(h) }
        handle = nil
    }

    func live(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let h = handle else {
            throw ZMQError.failed(operation: operation, code: ENOTSOCK, message: "socket already closed")
        }
        return h
    }

    // MARK: Endpoints

    /// Binds to an endpoint such as `tcp://*:7431`, `tcp://127.0.0.1:*` or `inproc://name`.
    /// Binds to an endpoint (`tcp://` is assumed when it names no transport: `127.0.0.1:7430`).
    func bind(_ endpoint: String) throws {
        let endpoint = Self.withTransport(endpoint)
        try zmqCheck(zmq_bind(try live("zmq_bind"), endpoint), "zmq_bind(\(endpoint))")
    }

    /// Connects to an endpoint (`tcp://` assumed, as for `bind`); libzmq reconnects on its own
    /// when the peer goes away.
    func connect(_ endpoint: String) throws {
        let endpoint = Self.withTransport(endpoint)
        try zmqCheck(zmq_connect(try live("zmq_connect"), endpoint), "zmq_connect(\(endpoint))")
    }

    /// `host:port` as `tcp://host:port`; endpoints that name a transport stay as they are.
    static func withTransport(_ endpoint: String) -> String {
        endpoint.contains("://") ? endpoint : "tcp://" + endpoint
    }

    func unbind(_ endpoint: String) throws {
        let endpoint = Self.withTransport(endpoint)
        try zmqCheck(zmq_unbind(try live("zmq_unbind"), endpoint), "zmq_unbind(\(endpoint))")
    }

    func disconnect(_ endpoint: String) throws {
        let endpoint = Self.withTransport(endpoint)
        try zmqCheck(zmq_disconnect(try live("zmq_disconnect"), endpoint), "zmq_disconnect(\(endpoint))")
    }

    /// The endpoint of the last bind or connect, with a wildcard port resolved
    /// (`tcp://127.0.0.1:*` becomes `tcp://127.0.0.1:41234`).
    var lastEndpoint: String {
        get throws {
            var buffer = [CChar](repeating: 0, count: 512)
            var size = buffer.count
            try zmqCheck(zmq_getsockopt(try live("zmq_getsockopt"), ZMQ_LAST_ENDPOINT, &buffer, &size),
                         "zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
            return stringFromCBuffer(buffer)
        }
    }

    // MARK: Options

    /// Sets one option.
    func set(_ option: ZMQSocketOption) throws {
        let h = try live("zmq_setsockopt")
        let bytes = option.valueBytes
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(h, option.name, $0.baseAddress, $0.count) }
        try zmqCheck(rc, "zmq_setsockopt(\(option.name))")
    }

    /// Reads back an `int` option.
    func int32Option(_ option: ZMQReadableOption) throws -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCheck(zmq_getsockopt(try live("zmq_getsockopt"), option.rawValue, &value, &size),
                     "zmq_getsockopt(\(option))")
        return value
    }

    /// Reads back an `int64_t` option (only `maxMessageSize` is one).
    func int64Option(_ option: ZMQReadableOption) throws -> Int64 {
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        try zmqCheck(zmq_getsockopt(try live("zmq_getsockopt"), option.rawValue, &value, &size),
                     "zmq_getsockopt(\(option))")
        return value
    }
}
