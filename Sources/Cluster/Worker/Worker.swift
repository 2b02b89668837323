import Compute
import Foundation
import Logging

/// A worker: connects a DEALER to the coordinator, says READY, runs the tasks it is sent on a
/// compute thread (so heartbeats keep flowing during a long UNet call), reconnects with
/// back-off when the coordinator goes silent, and on `stop` finishes its running task, sends
/// DISCONNECT and returns (graceful drain).
public final class Worker {
    let options: WorkerOptions
    let context: ZMQContext
    let log: Logger
    private let runner: TaskRunner
    private let computeQueue = DispatchQueue(label: "sdcluster.worker.compute")
    private let resultEndpoint: String
    private var resultsIn: ZMQSocket
    private var dealer: ZMQSocket?
    /// Watches the dealer's handshakes: a refused key is logged, not retried in silence.
    private var monitor: ZMQMonitor?
    /// When each kind of handshake failure was last logged (once a minute is enough).
    private var handshakeFailuresLogged: [String: Double] = [:]
    /// The flag `run` serves until: a reconnect back-off ends early when it is raised.
    private var stopFlag: StopFlag?
    /// One line per kind of refused message per 10 s.
    private var refusalLog = LogLimiter()
    private var liveness: PeerLiveness
    private var backoff: ReconnectBackoff
    /// Tasks handed to the compute thread whose replies have not been forwarded yet.
    private var running = 0
    private var draining = false
    /// Bumped on every reconnect: replies computed for an earlier connection are dropped.
    private var connection = 0

    /// `log` gets the worker's name as `worker` metadata on every record.
    public init(engine: WorkerEngine, options: WorkerOptions, context: ZMQContext, log: Logger = Logger(label: "worker")) throws {
        self.options = options
        self.context = context
        var log = log
        log[metadataKey: "worker"] = .string(options.name)
        self.log = log
        runner = TaskRunner(engine: engine, cacheCapacity: options.embeddingCacheSize)
        resultEndpoint = "inproc://sdcluster-worker-results-\(UInt64.random(in: 0...UInt64.max))"
        resultsIn = try context.socket(.pair)
        try resultsIn.bind(resultEndpoint)
        liveness = PeerLiveness(interval: options.heartbeatInterval, liveness: options.liveness, now: monotonicSeconds())
        backoff = ReconnectBackoff(initial: options.reconnectInitial, maximum: options.reconnectMaximum)
    }

    /// Serves until `stop` is raised (then drains) or the context is shut down.
    public func run(until stop: StopFlag) throws {
        stopFlag = stop
        let resultsOut = try context.socket(.pair)
        try resultsOut.connect(resultEndpoint)
        try connect()
        while true {
            if stop.isRaised && !draining {
                draining = true
                log.info("stopping: finishing \(running) running task(s), then DISCONNECT")
            }
            if draining && running == 0 {
                // Linger so that closing the socket waits (briefly) for the DISCONNECT to leave;
                // with the usual linger of 0 it could be dropped and the coordinator would only
                // notice the missing heartbeats seconds later.
                try? dealer?.set(.linger(milliseconds: 2000))
                try? dealer?.send(frames: WorkerToCoordinator.disconnect(Disconnect(reason: "worker stopping")).encode(), dontWait: true)
                log.info("drained; bye")
                return
            }
            try pollOnce(resultsOut: resultsOut)
            try keepAlive()
        }
    }

    private func pollOnce(resultsOut: ZMQSocket) throws {
        guard let dealer else { return }
        let poller = ZMQPoller()
        poller.add(dealer)
        poller.add(resultsIn)
        if let monitor { poller.add(monitor.pair) }
        let ready: [ZMQPollEvents]
        do {
            ready = try poller.poll(timeoutMilliseconds: Int(max(10, options.heartbeatInterval * 250)))
        } catch ZMQError.interrupted {
            return
        }
        if ready.count > 2, ready[2].contains(.readable) { reportHandshakes() }
        if ready[1].contains(.readable) { try forwardResults() }
        if ready[0].contains(.readable) { try receiveFromCoordinator(resultsOut: resultsOut) }
    }

    /// Sends the compute thread's finished replies to the coordinator.
    private func forwardResults() throws {
        while let frames = try? resultsIn.receiveMessage(dontWait: true) {
            running -= 1
            guard frames.count >= 1, let tag = frames.first, tag == Self.connectionTag(connection) else { continue }
            try send(Array(frames.dropFirst()))
        }
    }

    private func receiveFromCoordinator(resultsOut: ZMQSocket) throws {
        guard let dealer else { return }
        while let frames = try? dealer.receiveMessage(dontWait: true) {
            liveness.heard(at: monotonicSeconds())
            backoff.reset()
            let message: CoordinatorToWorker
            do {
                message = try CoordinatorToWorker.decode(frames)
            } catch let error as ProtocolError {
                let admitted = refusalLog.admit("\(error.code)", at: monotonicSeconds())
                if admitted.log { log.warning("refused a message from the coordinator: \(error)\(LogLimiter.suffix(admitted.held))") }
                // Naming the task makes the refusal a failed attempt at once (the image fails
                // after a bounded number), instead of a task re-sent at every deadline.
                var reply = ErrorReply(error, inReplyTo: MessageType.peek(frames))
                reply.taskId = CoordinatorToWorker.taskId(ofRefused: frames)
                try send(WorkerToCoordinator.error(reply).encode())
                continue
            }
            switch message {
            case .textEncodeTask, .unetTask, .vaeDecodeTask:
                if draining { continue }   // the coordinator re-sends it after our DISCONNECT
                log.debug("task \(message.taskId ?? "?") received", metadata: message.taskId.map { ["task": .string($0)] })
                start(message, resultsOut: resultsOut)
            case .heartbeat:
                break
            case .disconnect(let d):
                log.info("coordinator said DISCONNECT (\(d.reason ?? "no reason")); reconnecting")
                try reconnect(after: backoff.nextDelay())
                return
            case .error(let e):
                if e.code == .notReady {
                    log.info("coordinator does not know us (it restarted?): sending READY again")
                    try sendReady()
                } else {
                    log.warning("coordinator error \(e.code): \(e.message)")
                }
            }
        }
    }

    /// Hands a task to the compute thread; its reply comes back through the inproc pair,
    /// tagged with the connection it was asked on.
    private func start(_ task: CoordinatorToWorker, resultsOut: ZMQSocket) {
        running += 1
        let tag = Self.connectionTag(connection)
        let runner = self.runner
        let threads = options.threads
        computeQueue.async {
            // OpenMP's thread count is per calling thread: set it on whichever thread runs this.
            Threads.setCount(threads)
            let reply = runner.run(task)
            let frames = [tag] + (reply?.encode() ?? [])
            try? resultsOut.send(frames: frames)
        }
    }

    private func keepAlive() throws {
        let now = monotonicSeconds()
        if !liveness.isAlive(at: now) {
            let delay = backoff.nextDelay()
            log.warning("coordinator silent for \(String(format: "%.1f", now - liveness.lastHeard)) s; reconnecting in \(String(format: "%.1f", delay)) s")
            try reconnect(after: delay)
        } else if liveness.heartbeatDue(at: now) {
            try send(WorkerToCoordinator.heartbeat.encode())
        }
    }

    /// Logs failed handshakes: libzmq keeps retrying them (a key may be added to the allow-list
    /// and the coordinator sent SIGHUP), but the operator must hear why nothing happens.
    private func reportHandshakes() {
        guard let monitor else { return }
        for event in monitor.pending() where event.isFailure {
            let why = event.explanation(curve: options.credentials != nil, role: .workers)
            let now = monotonicSeconds()
            if let last = handshakeFailuresLogged[why], now - last < 60 { continue }
            handshakeFailuresLogged[why] = now
            log.error("cannot join the coordinator at \(options.coordinator): \(why); retrying")
        }
    }

    private func reconnect(after delay: Double) throws {
        monitor?.close()
        monitor = nil
        dealer?.close()
        dealer = nil
        connection += 1
        let until = monotonicSeconds() + delay
        while monotonicSeconds() < until && stopFlag?.isRaised != true {
            // Keep taking finished replies off the pair (they are stale now) while waiting.
            Thread.sleep(forTimeInterval: min(0.05, max(0, until - monotonicSeconds())))
            while (try? resultsIn.receiveMessage(dontWait: true)) != nil { running -= 1 }
        }
        try connect()
    }

    private func connect() throws {
        let socket = try context.socket(.dealer)
        try socket.set(.maxMessageSize(bytes: ProtocolLimits.standard.socketMaxMessageSize))
        try socket.set(.reconnectInterval(milliseconds: 100))
        try socket.set(.reconnectIntervalMax(milliseconds: 5000))
        try options.credentials?.apply(to: socket)
        monitor = try ZMQMonitor(watching: socket)
        try socket.connect(options.coordinator)
        dealer = socket
        liveness = PeerLiveness(interval: options.heartbeatInterval, liveness: options.liveness, now: monotonicSeconds())
        try sendReady()
        log.info("connected to \(options.coordinator) as \(options.name); READY sent")
    }

    private func sendReady() throws {
        let ready = WorkerReady(name: options.name, models: runner.engine.models, threads: options.threads,
                                maxBatch: options.maxBatch, engine: runner.engine.fingerprint,
                                loras: runner.engine.loras.isEmpty ? nil : runner.engine.loras)
        try send(WorkerToCoordinator.ready(ready).encode())
    }

    private func send(_ frames: [[UInt8]]) throws {
        guard let dealer else { return }
        do {
            try dealer.send(frames: frames, dontWait: true)
            liveness.sent(at: monotonicSeconds())
        } catch ZMQError.again {
            // Not connected yet or the queue is full: the message is dropped; the coordinator's
            // deadline re-sends the task if this was a result.
        }
    }

    static func connectionTag(_ n: Int) -> [UInt8] { Array(String(n).utf8) }
}
