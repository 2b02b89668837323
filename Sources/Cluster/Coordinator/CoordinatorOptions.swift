/// How a coordinator listens, stores and schedules.
public struct CoordinatorOptions: Sendable {
    /// ROUTER endpoint for workers, e.g. `tcp://*:7431`.
    public var workersEndpoint: String
    /// ROUTER endpoint for clients, e.g. `tcp://*:7430`.
    public var clientsEndpoint: String
    /// Folder of the job store (`jobs.sqlite`).
    public var storeDirectory: String
    /// Folder under which each batch's PNGs and manifest are written (`<output>/<batch>/`).
    public var outputDirectory: String
    public var placement: PlacementPolicy
    /// The model a request without `model` gets; nil = the first model (by name) of the
    /// connected workers at submit time.
    public var defaultModel: String?
    public var heartbeatInterval: Double
    public var liveness: Int
    /// A task's deadline is at least this many seconds, and otherwise `deadlineFactor` times
    /// the worker's measured time for it.
    public var minimumDeadline: Double
    public var deadlineFactor: Double
    /// Tasks of one image that may fail (ERROR from a worker) before the image is failed.
    public var maxFailures: Int
    /// Results in a row from one worker that the coordinator may refuse (non-finite values,
    /// wrong shapes, malformed frames) before it retires that worker: no more tasks for it
    /// until it reconnects (a restarted worker process is a new connection).
    public var maxRefusedResults: Int
    /// Seconds an image pinned to an engine class waits for a worker of that class to come
    /// (back) when none is connected, before it is restarted from its first step on another
    /// class (only when a worker of another class can take it; otherwise it waits on).
    public var classGrace: Double

    public init(workersEndpoint: String, clientsEndpoint: String, storeDirectory: String, outputDirectory: String,
                placement: PlacementPolicy = .auto, defaultModel: String? = nil, heartbeatInterval: Double = 1,
                liveness: Int = 3, minimumDeadline: Double = 60, deadlineFactor: Double = 5, maxFailures: Int = 3,
                maxRefusedResults: Int = 5, classGrace: Double = 30) {
        self.workersEndpoint = workersEndpoint
        self.clientsEndpoint = clientsEndpoint
        self.storeDirectory = storeDirectory
        self.outputDirectory = outputDirectory
        self.placement = placement
        self.defaultModel = defaultModel
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.minimumDeadline = minimumDeadline
        self.deadlineFactor = deadlineFactor
        self.maxFailures = max(1, maxFailures)
        self.maxRefusedResults = max(1, maxRefusedResults)
        self.classGrace = max(0, classGrace)
    }
}
