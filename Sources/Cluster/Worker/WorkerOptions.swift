/// How a worker connects and behaves.
public struct WorkerOptions: Sendable {
    /// The coordinator's worker endpoint, e.g. `tcp://10.0.0.5:7431`.
    public var coordinator: String
    /// Display name (in STATUS and the manifest); the host name and process id by default.
    public var name: String
    public var threads: Int
    /// Largest UNet batch it asks for.
    public var maxBatch: Int
    /// Heartbeat interval in seconds; the coordinator is given up on after `liveness` silent ones
    /// (any message counts as a sign of life).
    public var heartbeatInterval: Double
    public var liveness: Int
    /// Reconnect back-off after the coordinator went silent: doubling from `initial` up to `maximum` seconds.
    public var reconnectInitial: Double
    public var reconnectMaximum: Double
    /// Text embeddings kept for later steps.
    public var embeddingCacheSize: Int
    /// With CURVE: this worker's keys and the coordinator's public key; nil on an open cluster.
    public var credentials: CurveCredentials?

    public init(coordinator: String, name: String, threads: Int, maxBatch: Int = 8, heartbeatInterval: Double = 1,
                liveness: Int = 10, reconnectInitial: Double = 0.5, reconnectMaximum: Double = 4, embeddingCacheSize: Int = 512,
                credentials: CurveCredentials? = nil) {
        self.coordinator = coordinator
        self.name = name
        self.threads = threads
        self.maxBatch = maxBatch
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.reconnectInitial = reconnectInitial
        self.reconnectMaximum = reconnectMaximum
        self.embeddingCacheSize = embeddingCacheSize
        self.credentials = credentials
    }
}
