import Foundation
import ImageIO
import Logging
import StableDiffusion

/// The coordinator: two ROUTERs (workers, clients), the durable job store, and the sampling
/// state machines of every running image. It never runs a network itself: it sends each
/// image's text encoding, UNet evaluations and VAE decoding to workers, advances the state
/// machine with what comes back, checkpoints every step, and writes the finished PNGs.
///
/// Single-threaded: `run` owns both sockets and the store. Its time comes from `now` (the
/// monotonic clock unless a test passes its own), so deadlines and liveness can be tested
/// without waiting for them.
public final class Coordinator {
    public let options: CoordinatorOptions
    let context: ZMQContext
    let log: Logger
    /// Seconds on a monotonic clock: liveness, heartbeats, task deadlines, FETCH expiry, rates.
    let now: () -> Double
    let store: JobStore
    let writer: ImageWriter
    let workersSocket: ZMQSocket
    let clientsSocket: ZMQSocket
    /// The bound endpoints with wildcard ports resolved (what to tell workers and clients).
    public let workersEndpoint: String
    public let clientsEndpoint: String

    var workers: [[UInt8]: WorkerRecord] = [:]
    var models: [String: KnownModel] = [:]
    /// LoRA name -> content hash, fixed by the first worker announcing it (as models are).
    var knownLoRAs: [String: String] = [:]
    /// LoRA name -> AUTOMATIC1111 hash of the cluster's copy, for PNGs (when its worker sent one).
    var loraShortHashes: [String: String] = [:]
    var jobs: [ImageKey: ImageJob] = [:]
    /// Unfinished images not yet prepared, oldest batch first, in index order.
    var waiting: [ImageKey] = []
    /// Prepared images (sampling state in memory), in the order they were prepared: the
    /// dispatch order. At most `activeWindow` of them.
    var active: [ImageKey] = []
    /// Every task out at a worker.
    var ledger = TaskLedger()
    var fetches: [PendingFetch] = []
    /// Images stepped since the last checkpoint flush (written together once per loop turn).
    var unsavedCheckpoints: Set<ImageKey> = []
    /// Distinguishes this run's task ids from an earlier run's late results.
    let runId = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    var taskCounter = 0
    /// UNet evaluations answered, with their time, for STATUS's rate (last minute).
    var recentEvaluations: [(time: Double, count: Int)] = []
    /// Re-sent tasks and latencies, for STATUS-REPLY.
    var counters = CoordinatorCounters()
    /// When each unfinished image of this run was queued (for `counters.imageSeconds`).
    var queuedAt: [ImageKey: Double] = [:]
    let startedAt: Double
    private let poller = ZMQPoller()
    /// Held while this coordinator lives: a second one on the same store is refused.
    let storeLock: StoreLock
    /// The keys and allow-lists with CURVE on (re-read by `reloadKeys`); nil on an open cluster.
    var security: CoordinatorSecurity?
    /// Answers the CURVE handshakes of both sockets (nil on an open cluster).
    let authenticator: ZAPHandler?
    /// When each refused key was last logged, so a peer retrying every second logs once a minute.
    var refusalsLogged: [String: Double] = [:]
    /// One line per kind of refused message per 10 s, however many arrive.
    var refusalLog = LogLimiter()
    /// Set while the output folder or the store refuses finished images (they are held).
    var outputTrouble: OutputTrouble?
    /// A manifest line could not be appended: rebuild the manifests once writing works.
    var manifestsStale = false

    public init(options: CoordinatorOptions, context: ZMQContext, log: Logger = Logger(label: "coordinator"),
                now: @escaping () -> Double = monotonicSeconds) throws {
        self.options = options
        self.context = context
        self.log = log
        self.now = now
        startedAt = now()
        // Both folders must take files now: an output folder found read-only only when the
        // first image is done would cost that image's whole computation.
        try WritableFolder.check(options.storeDirectory, role: "store folder (--store)")
        try WritableFolder.check(options.outputDirectory, role: "output folder (--output)")
        storeLock = try StoreLock(directory: options.storeDirectory)
        store = try JobStore(path: (options.storeDirectory as NSString).appendingPathComponent("jobs.sqlite"))
        writer = ImageWriter(root: options.outputDirectory)
        security = options.security
        // The handler must be bound before any CURVE socket takes a connection.
        authenticator = try options.security.map { _ in try ZAPHandler(context: context) }
        workersSocket = try Self.router(context, bind: options.workersEndpoint, security: options.security, domain: .workers)
        clientsSocket = try Self.router(context, bind: options.clientsEndpoint, security: options.security, domain: .clients,
                                        maxMessageBytes: options.maxClientMessageBytes)
        workersEndpoint = try workersSocket.lastEndpoint
        clientsEndpoint = try clientsSocket.lastEndpoint
        poller.add(workersSocket)
        poller.add(clientsSocket)
        if let authenticator { poller.add(authenticator.socket) }
        try writer.rebuildManifests(store)
        try resume()
        log.info("listening: workers \(workersEndpoint), clients \(clientsEndpoint); store \(options.storeDirectory), output \(options.outputDirectory), placement \(options.placement.rawValue)")
        if let security {
            log.info("CURVE on, public key \(security.serverKeys.publicKey.z85); \(security.summary)")
        } else {
            let exposed = [workersEndpoint, clientsEndpoint].filter { !Self.isLoopback($0) }
            let reach = exposed.isEmpty ? "this machine" : "the network (\(exposed.joined(separator: ", ")))"
            log.warning("OPEN CLUSTER: no CURVE (--curve-secret), so anyone on \(reach) can submit, read and cancel every batch and serve as a worker; see docs/security.md")
        }
    }

    private static func router(_ context: ZMQContext, bind endpoint: String, security: CoordinatorSecurity?,
                               domain: SecurityDomain, maxMessageBytes: Int = 0) throws -> ZMQSocket {
        let socket = try context.socket(.router)
        try socket.set(.routerMandatory(true))
        try socket.set(.maxMessageSize(bytes: max(ProtocolLimits.standard.socketMaxMessageSize, Int64(maxMessageBytes))))
        if let security {
            try socket.set(.curveServer(true))
            try socket.set(.curveSecretKey(security.serverKeys.secretKey))
            try socket.set(.zapDomain(domain.rawValue))
        }
        try socket.bind(endpoint)
        return socket
    }

    /// Whether a bound endpoint is reachable only from this machine.
    static func isLoopback(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("inproc://") || endpoint.hasPrefix("ipc://")
            || endpoint.hasPrefix("tcp://127.") || endpoint.hasPrefix("tcp://[::1]") || endpoint.hasPrefix("tcp://localhost:")
    }

    /// Loads every unfinished image of the store: it resumes from its checkpoint (or from the
    /// start) once a worker hosting its model is connected, on workers of the engine class the
    /// checkpoint was computed on. Finished images are not loaded.
    private func resume() throws {
        let unfinished = try store.unfinishedImages()
        for image in unfinished {
            enqueue(ImageJob(key: image.key, request: image.request,
                             outputDirectory: writer.batchDirectory(image.key.batchId),
                             checkpoint: image.checkpoint, workers: image.workers,
                             engineClass: image.engineClass, engineRestarts: image.engineRestarts))
        }
        if !unfinished.isEmpty {
            let checkpointed = unfinished.filter { $0.checkpoint != nil }.count
            log.info("resuming \(unfinished.count) unfinished image(s), \(checkpointed) from a checkpoint")
        }
    }

    func enqueue(_ job: ImageJob) {
        jobs[job.key] = job
        waiting.append(job.key)
        queuedAt[job.key] = now()
    }

    /// Serves until `stop` is raised; then tells the workers it is leaving and closes the store.
    /// `reload`, when raised (SIGHUP), makes it re-read the key allow-lists between turns.
    public func run(until stop: StopFlag, reload: ReloadFlag? = nil) throws {
        while !stop.isRaised {
            if reload?.take() == true { reloadKeys() }
            try turn(waitingMilliseconds: 50)
        }
        saveCheckpoints()
        for worker in workers.values {
            send(.disconnect(Disconnect(reason: "coordinator stopping")), to: worker.identity)
        }
        try store.close()
        log.info("stopped")
    }

    /// One turn of the loop: waits up to `waitingMilliseconds` for messages, handles what came,
    /// runs the timers, gives idle workers work and writes the checkpoints of the turn.
    func turn(waitingMilliseconds: Int) throws {
        let ready: [ZMQPollEvents]
        do {
            ready = try poller.poll(timeoutMilliseconds: waitingMilliseconds)
        } catch ZMQError.interrupted {
            return
        }
        if ready.count > 2, ready[2].contains(.readable) { authenticate() }
        if ready[0].contains(.readable) { drain(workersSocket, handle: handleWorkerMessage) }
        if ready[1].contains(.readable) { drain(clientsSocket, handle: handleClientMessage) }
        tick(now: now())
        dispatch()
        saveCheckpoints()
    }

    /// Handles what is queued on a socket now, at most a bounded number so neither socket starves.
    private func drain(_ socket: ZMQSocket, handle: ([[UInt8]], String?) -> Void) {
        for _ in 0..<256 {
            do {
                let (frames, userId) = try socket.receiveMessageWithUserId(dontWait: true)
                handle(frames, userId)
            } catch ZMQError.again {
                return
            } catch {
                log.error("receive failed: \(error)")
                return
            }
        }
    }

    /// Timers: worker liveness and heartbeats, task deadlines, long-poll FETCH expiry.
    func tick(now: Double) {
        for worker in Array(workers.values) {
            worker.overdue = worker.overdue.filter { $0.value > now }
            if !worker.liveness.isAlive(at: now) {
                removeWorker(worker, reason: "missed \(options.liveness) heartbeats")
            } else if worker.liveness.heartbeatDue(at: now) {
                send(.heartbeat, to: worker.identity)
            }
        }
        for record in ledger.closeOverdue(at: now) {
            // A missed deadline is a failed attempt of its images: a task no worker ever answers
            // (one that hangs or crashes its worker each time) fails them after `maxFailures`.
            guard let worker = workers[record.worker] else { requeue(record); continue }
            worker.overdue[record.id] = now + (record.deadline - record.sentAt)
            taskFailed(record, worker: worker, message: "no answer within its deadline of \(Int(record.deadline - record.sentAt)) s")
        }
        expireFetches(now: now)
        retryUnwritten(now: now)
        recentEvaluations.removeAll { now - $0.time > 60 }
    }

    /// Writes the sampling state of every image stepped since the last call, in one
    /// transaction (at `synchronous=NORMAL`: a crash loses at most these steps, which are then
    /// redone with the same bits).
    func saveCheckpoints() {
        guard !unsavedCheckpoints.isEmpty else { return }
        let encoder = JSONEncoder()
        var entries: [CheckpointEntry] = []
        for key in unsavedCheckpoints {
            guard let job = jobs[key], let state = job.state, let data = try? encoder.encode(state) else { continue }
            entries.append(CheckpointEntry(key: key, checkpoint: Array(data), unetEvaluations: state.evaluationsUsed,
                                           workers: job.workers, engineClass: job.engineClass,
                                           engineRestarts: job.engineRestarts))
        }
        unsavedCheckpoints.removeAll()
        do {
            try store.saveCheckpoints(entries)
        } catch {
            log.error("could not save \(entries.count) checkpoint(s): \(error); a restart would redo those steps")
        }
    }

    func nextTaskId() -> String {
        taskCounter += 1
        return "\(runId)-\(taskCounter)"
    }

    /// Sends to a worker; a vanished one is forgotten and its tasks re-sent.
    func send(_ message: CoordinatorToWorker, to identity: [UInt8]) {
        do {
            try workersSocket.send(frames: [identity] + message.encode(), dontWait: true)
            workers[identity]?.liveness.sent(at: now())
        } catch {
            if let worker = workers[identity] { removeWorker(worker, reason: "unreachable (\(error))") }
        }
    }

    func send(_ message: CoordinatorToClient, toClient identity: [UInt8]) {
        do {
            try clientsSocket.send(frames: [identity] + message.encode(), dontWait: true)
        } catch {
            log.debug("a client left before its answer (\(error))")
        }
    }
}
