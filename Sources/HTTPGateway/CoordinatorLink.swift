import Cluster
import Foundation

/// The gateway's way to the coordinator: ordinary clients of its client socket, so every rule of
/// the cluster (validation, limits, durability before an answer, CURVE roles) applies to HTTP
/// callers as it does to `sdcluster submit`.
///
/// `ClusterClient` blocks and its ZeroMQ socket must have one owner at a time, while HTTP
/// handlers are async tasks on a small shared pool. So each call takes an idle client from a pool
/// (or makes one), runs on a thread of its own, and gives the client back when done: a client is
/// used by one thread at a time (the lock orders the hand-over), a long-polling FETCH never holds
/// up another request, and no blocking call runs on Swift's cooperative threads.
public final class CoordinatorLink: @unchecked Sendable {
    /// The coordinator's client endpoint as this process connects to it.
    public let endpoint: String
    private let context: ZMQContext
    private let credentials: CurveCredentials?
    private let giveUpAfter: Double
    private let lock = NSLock()
    private var idle: [ClusterClient] = []

    /// Clients kept for reuse; more may exist while many calls run at once.
    static let keptIdle = 16

    public init(endpoint: String, context: ZMQContext, credentials: CurveCredentials? = nil, giveUpAfter: Double = 30) {
        self.endpoint = Self.connectable(endpoint)
        self.context = context
        self.credentials = credentials
        self.giveUpAfter = giveUpAfter
    }

    /// Runs `body` with a client of its own on a thread of its own.
    public func call<T: Sendable>(_ body: @escaping @Sendable (ClusterClient) throws -> T) async throws -> T {
        let client = take()
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                let result = Result { try body(client) }
                giveBack(client)
                continuation.resume(with: result)
            }
            thread.name = "sdcluster-http-link"
            thread.start()
        }
    }

    private func take() -> ClusterClient {
        lock.withLock {
            if let client = idle.popLast() { return client }
            return ClusterClient(endpoint: endpoint, context: context, replyTimeout: 5, giveUpAfter: giveUpAfter,
                                 credentials: credentials)
        }
    }

    private func giveBack(_ client: ClusterClient) {
        lock.withLock {
            if idle.count < Self.keptIdle { idle.append(client) }
        }
    }

    /// A bound endpoint made connectable: a wildcard host becomes this machine's loopback.
    static func connectable(_ endpoint: String) -> String {
        endpoint.replacingOccurrences(of: "tcp://0.0.0.0:", with: "tcp://127.0.0.1:")
            .replacingOccurrences(of: "tcp://*:", with: "tcp://127.0.0.1:")
            .replacingOccurrences(of: "tcp://[::]:", with: "tcp://[::1]:")
    }
}
