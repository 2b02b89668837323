import Foundation
import XCTest
@testable import Cluster

/// A connection closed in the middle of the handshake with no reason (the coordinator
/// restarting, or a TCP proxy in front of it with nothing behind yet) is retried, not reported
/// as a refused key: only refusals that say why end a client's request at once.
final class HandshakeRetryTests: XCTestCase {
    func testAClientWhoseConnectionsAreClosedMidHandshakeRetriesUntilTheCoordinatorIsThere() throws {
        let listener = try ClosingListener()
        let client = ClusterClient(endpoint: "tcp://127.0.0.1:\(listener.port)", context: try ZMQContext(), giveUpAfter: 30)
        let answer = Answer<StatusReply>()
        Thread.detachNewThread { answer.set(Result { try client.status() }) }
        try waitUntil(10, "the client's connections to be closed mid-handshake") { listener.closed >= 3 }
        listener.stop()
        let cluster = try InProcessCluster(self) { $0.clientsEndpoint = "tcp://127.0.0.1:\(listener.port)" }
        XCTAssertEqual(cluster.clientsEndpoint, "tcp://127.0.0.1:\(listener.port)")
        let status = try answer.wait(seconds: 30)
        XCTAssertEqual(status.batches, [], "the client got its answer from the coordinator that came up")
    }
}

/// A TCP listener that accepts each connection and closes it at once, until stopped.
private final class ClosingListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var closedCount = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)
    var closed: Int { lock.withLock { closedCount } }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterTestError.setup("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw ClusterTestError.setup("bind/listen: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptAndClose() }
    }

    private func acceptAndClose() {
        while true {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&poll, 1, 50)
            if lock.withLock({ stopped }) { break }
            guard ready > 0 else { continue }
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { continue }
            close(connection)
            lock.withLock { closedCount += 1 }
        }
        close(fd)
        finished.signal()
    }

    /// Stops accepting and closes the listening socket (returns once it is closed).
    func stop() {
        lock.withLock { stopped = true }
        finished.wait()
    }
}

/// A value another thread delivers.
private final class Answer<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private let signal = DispatchSemaphore(value: 0)
    private var result: Result<Value, Error>?

    func set(_ value: Result<Value, Error>) {
        lock.withLock { result = value }
        signal.signal()
    }

    func wait(seconds: Double) throws -> Value {
        guard signal.wait(timeout: .now() + seconds) == .success, let result = lock.withLock({ result }) else {
            throw ClusterTestError.timeout("the answer")
        }
        return try result.get()
    }
}
