import CZeroMQ

/// A libzmq context: the I/O threads and the inproc:// namespace that sockets share.
///
/// A context is thread-safe. Every `ZMQSocket` keeps its context alive, so the context is
/// terminated (`zmq_ctx_term`) only after its last socket is gone; `shutdown()` makes every
/// blocking call on its sockets return `ZMQError.terminated`, which is how a loop on another
/// thread is told to stop.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with the given number of I/O threads (one is plenty below ~1 GB/s).
    public init(ioThreads: Int = 1) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        try zmqCheck(zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads)), "zmq_ctx_set(ZMQ_IO_THREADS)")
    }

    /// Makes blocking operations on this context's sockets fail with `.terminated`.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    /// Opens a socket of the given type with the given linger (milliseconds).
    func socket(_ type: ZMQSocketType, linger: Int32 = 0) throws -> ZMQSocket {
        try ZMQSocket(context: self, type: type, linger: linger)
    }

    deinit {
        // Retry on EINTR: a signal during termination must not leak the context.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}

/// libzmq version and build capabilities.
public enum ZMQLibrary {
    /// The linked libzmq version as (major, minor, patch).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether the library was built with a capability such as "curve" or "ipc".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
