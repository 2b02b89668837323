import Foundation
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
    let startedAt: Double
    private let poller = ZMQPoller()
    /// Held while this coordinator lives: a second one on the same store is refused.
    let storeLock: StoreLock

    public init(options: CoordinatorOptions, context: ZMQContext, log: Logger = Logger(label: "coordinator"),
                now: @escaping () -> Double = monotonicSeconds) throws {
        self.options = options
        self.context = context
        self.log = log
        self.now = now
        startedAt = now()
        let files = FileManager.default
        try files.createDirectory(atPath: options.storeDirectory, withIntermediateDirectories: true)
        try files.createDirectory(atPath: options.outputDirectory, withIntermediateDirectories: true)
        storeLock = try StoreLock(directory: options.storeDirectory)
        store = try JobStore(path: (options.storeDirectory as NSString).appendingPathComponent("jobs.sqlite"))
        writer = ImageWriter(root: options.outputDirectory)
        workersSocket = try Self.router(context, bind: options.workersEndpoint)
        clientsSocket = try Self.router(context, bind: options.clientsEndpoint)
        workersEndpoint = try workersSocket.lastEndpoint
        clientsEndpoint = try clientsSocket.lastEndpoint
        poller.add(workersSocket)
        poller.add(clientsSocket)
        try writer.rebuildManifests(store)
        try resume()
        log.info("listening: workers \(workersEndpoint), clients \(clientsEndpoint); store \(options.storeDirectory), output \(options.outputDirectory), placement \(options.placement.rawValue)")
    }

    private static func router(_ context: ZMQContext, bind endpoint: String) throws -> ZMQSocket {
        let socket = try context.socket(.router)
        try socket.set(.routerMandatory(true))
        try socket.set(.maxMessageSize(bytes: ProtocolLimits.standard.socketMaxMessageSize))
        try socket.bind(endpoint)
        return socket
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
    }

    /// Serves until `stop` is raised; then tells the workers it is leaving and closes the store.
    public func run(until stop: StopFlag) throws {
        while !stop.isRaised { try turn(waitingMilliseconds: 50) }
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
        if ready[0].contains(.readable) { drain(workersSocket, handle: handleWorkerMessage) }
        if ready[1].contains(.readable) { drain(clientsSocket, handle: handleClientMessage) }
        tick(now: now())
        dispatch()
        saveCheckpoints()
    }

    /// Handles what is queued on a socket now, at most a bounded number so neither socket starves.
    private func drain(_ socket: ZMQSocket, handle: ([[UInt8]]) -> Void) {
        for _ in 0..<256 {
            do {
                handle(try socket.receiveMessage(dontWait: true))
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
            if !worker.liveness.isAlive(at: now) {
                removeWorker(worker, reason: "missed \(options.liveness) heartbeats")
            } else if worker.liveness.heartbeatDue(at: now) {
                send(.heartbeat, to: worker.identity)
            }
        }
        for record in ledger.closeOverdue(at: now) {
            let name = workers[record.worker]?.name
            log.warning("task \(record.id) passed its deadline at \(name ?? "a lost worker"); re-sending its work",
                        metadata: .about(task: record.id, worker: name))
            requeue(record)
        }
        expireFetches(now: now)
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
