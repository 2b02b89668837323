import Cluster
import Foundation
import Hummingbird
import Logging

/// How the HTTP front door listens and what it fills in.
public struct GatewayOptions: Sendable {
    /// Address to bind: 127.0.0.1 unless the operator names another.
    public var host: String
    /// Port; 0 lets the system choose (tests), the chosen one is reported on start.
    public var port: Int
    /// Keys callers must present; required when `host` is not a loopback address.
    public var keys: APIKeys?
    public var txt2img: Txt2ImgDefaults
    /// The coordinator's store folder, for `sdcluster_store_bytes` (nil: not reported).
    public var storeDirectory: String?
    /// Largest request body (a JSONL batch, a txt2img JSON).
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int, keys: APIKeys? = nil, txt2img: Txt2ImgDefaults = Txt2ImgDefaults(),
                storeDirectory: String? = nil, maxBodyBytes: Int = 32 << 20) {
        self.host = host
        self.port = port
        self.keys = keys
        self.txt2img = txt2img
        self.storeDirectory = storeDirectory
        self.maxBodyBytes = maxBodyBytes
    }

    /// `HOST:PORT`, `:PORT` or `PORT` (`[::1]:PORT` for IPv6); the host defaults to 127.0.0.1.
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        var host = "127.0.0.1"
        var portText = text
        if let colon = text.lastIndex(of: ":") {
            let hostPart = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
            if !hostPart.isEmpty { host = hostPart.hasPrefix("[") && hostPart.hasSuffix("]") ? String(hostPart.dropFirst().dropLast()) : hostPart }
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw GatewayError.address("--http \(text): expected HOST:PORT (e.g. 127.0.0.1:7860, or 0.0.0.0:7860 with --http-keys)")
        }
        return (host, port)
    }

    /// Whether `host` reaches only this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1" || host == "localhost"
    }
}

/// The coordinator's HTTP front door: A1111's txt2img API and friends, a batch API, Prometheus
/// metrics and a status page. It is a client of the coordinator's client socket (through
/// `CoordinatorLink`), so it adds no second way into the job store.
public final class HTTPGateway: Sendable {
    public let options: GatewayOptions
    let link: CoordinatorLink
    let metrics = GatewayMetrics()

    /// Refuses to listen beyond this machine without API keys.
    public init(options: GatewayOptions, link: CoordinatorLink) throws {
        if !GatewayOptions.isLoopback(options.host), options.keys == nil {
            throw GatewayError.keys("--http \(options.host):\(options.port) reaches beyond this machine: give --http-keys FILE (API keys callers send as 'Authorization: Bearer KEY'), or bind to 127.0.0.1")
        }
        self.options = options
        self.link = link
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AccessMiddleware(keys: options.keys, metrics: metrics))
        let settings = GatewaySettings(defaults: options.txt2img)
        let catalog = BatchCatalog(link: link)
        A1111Routes(link: link, jobs: Txt2ImgJobs(), settings: settings, metrics: metrics, maxBodyBytes: options.maxBodyBytes).add(to: router)
        BatchRoutes(link: link, catalog: catalog, settings: settings, maxBodyBytes: options.maxBodyBytes).add(to: router)
        StatusRoutes(link: link, catalog: catalog, metrics: metrics, storeDirectory: options.storeDirectory).add(to: router)
        router.get("openapi.json") { _, _ in HTTPAnswers.text(OpenAPIDocument.json, contentType: "application/json") }
        return router
    }

    /// Serves until the task is cancelled; `onListening` gets the bound host and port.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        var logger = Logger(label: "http")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(options.host, port: options.port), serverName: "sdcluster"),
                              onServerRunning: { channel in
                                  onListening(channel.localAddress?.ipAddress ?? "?", channel.localAddress?.port ?? 0)
                              }, logger: logger)
        try await app.run()
    }

    /// Starts serving in the background (for a command whose own thread runs the coordinator)
    /// and returns once it listens, with the URL it listens on. Throws when it cannot bind.
    public func start() throws -> String {
        let bound = BoundAddress()
        Task.detached { [self] in
            do {
                try await run { host, port in bound.set(.success(host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)")) }
            } catch {
                bound.set(.failure(error))
            }
        }
        return try bound.wait()
    }
}

/// The first outcome of starting the server, handed to the thread that waits for it.
private final class BoundAddress: @unchecked Sendable {
    private let condition = NSCondition()
    private var outcome: Result<String, any Error>?

    func set(_ result: Result<String, any Error>) {
        condition.withLock {
            if outcome == nil { outcome = result }
            condition.broadcast()
        }
    }

    func wait() throws -> String {
        try condition.withLock {
            while outcome == nil { condition.wait() }
            return try outcome!.get()
        }
    }
}
