import StableDiffusion

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
    /// Heartbeat intervals a worker may stay silent (any message counts) before it is given up
    /// on and its tasks re-sent. 10: on a lossy link TCP's retransmissions alone can hold a
    /// connection silent for several seconds.
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
    /// CURVE on both sockets with allow-lists enforced by a ZAP handler; nil = an open cluster
    /// (plain TCP: anyone who reaches the ports may submit, read, cancel or serve as a worker).
    public var security: CoordinatorSecurity?
    /// Bounds on each request's steps, size and prompts (tighter than what the engine can do).
    public var requestLimits: RequestLimits
    /// Most images one SUBMIT may hold.
    public var maxImagesPerBatch: Int
    /// Most unfinished images one client (one key; everyone together on an open cluster) may
    /// have queued or running; a SUBMIT past it is refused whole.
    public var maxQueuedImagesPerClient: Int
    /// Largest message a client may send (a SUBMIT's request list), in bytes.
    public var maxClientMessageBytes: Int

    /// Seconds an image pinned to an engine class waits for a worker of that class to come
    /// (back) when none is connected, before it is restarted from its first step on another
    /// class (only when a worker of another class can take it; otherwise it waits on).
    public var classGrace: Double
    /// Tasks a worker may have at once (it runs them one after another): 3 keeps it computing
    /// while results and the next tasks cross a slow network (scripts/bench/slow-link.sh).
    public var tasksInFlight: Int

    public init(workersEndpoint: String, clientsEndpoint: String, storeDirectory: String, outputDirectory: String,
                placement: PlacementPolicy = .auto, defaultModel: String? = nil, heartbeatInterval: Double = 1,
                liveness: Int = 10, minimumDeadline: Double = 60, deadlineFactor: Double = 5, maxFailures: Int = 3,
                maxRefusedResults: Int = 5, security: CoordinatorSecurity? = nil,
                requestLimits: RequestLimits = .coordinator, maxImagesPerBatch: Int = 10_000,
                maxQueuedImagesPerClient: Int = 100_000, maxClientMessageBytes: Int = 32 << 20, classGrace: Double = 30,
                tasksInFlight: Int = 3) {
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
        self.security = security
        self.requestLimits = requestLimits
        self.maxImagesPerBatch = max(1, maxImagesPerBatch)
        self.maxQueuedImagesPerClient = max(1, maxQueuedImagesPerClient)
        self.maxClientMessageBytes = max(64 << 10, maxClientMessageBytes)
        self.classGrace = max(0, classGrace)
        self.tasksInFlight = min(8, max(1, tasksInFlight))
    }
}
