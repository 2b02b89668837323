import Foundation
import StableDiffusion

/// Messages from clients: SUBMIT, STATUS, CANCEL, FETCH.
extension Coordinator {
    /// Most RESULT messages in one answer to FETCH (the client asks again for the rest).
    static let resultsPerFetch = 16

    /// `userId`: what the ZAP handler admitted the connection as (its CURVE key); nil without CURVE.
    func handleClientMessage(_ received: [[UInt8]], userId: String? = nil) {
        guard let routed = try? RoutedFrames(received: received) else { return }
        let client = routed.identity
        guard let sender = sender(userId: userId, on: .clients) else {
            send(.error(ErrorReply(code: .notAuthorized, message: "this client's key is no longer in the coordinator's allow-list",
                                   inReplyTo: MessageType.peek(routed.frames)?.rawValue)), toClient: client)
            return
        }
        let message: ClientToCoordinator
        do {
            message = try ClientToCoordinator.decode(routed.frames, limits: clientLimits)
        } catch let error as ProtocolError {
            let admitted = refusalLog.admit("client \(error.code)", at: now())
            if admitted.log { log.warning("refused a client message: \(error)\(LogLimiter.suffix(admitted.held))") }
            send(.error(ErrorReply(error, inReplyTo: MessageType.peek(routed.frames))), toClient: client)
            return
        } catch {
            return
        }
        do {
            switch message {
            case .submit(let s): try submit(s, client: client, sender: sender)
            case .status(let q): send(.statusReply(try statusReply(q, sender: sender)), toClient: client)
            case .cancel(let c): try cancel(c, client: client, sender: sender)
            case .fetch(let f): try fetch(f, client: client, sender: sender)
            }
        } catch let error as JobStoreError {
            let code: ErrorCode = switch error {
            case .unknownBatch: .unknownBatch
            case .submissionIdTaken: .invalidRequest
            default: .storeFailure
            }
            send(.error(ErrorReply(code: code, message: error.description, inReplyTo: message.type.rawValue)), toClient: client)
        } catch let reply as ErrorReply {
            send(.error(reply), toClient: client)
        } catch {
            send(.error(ErrorReply(code: .internal, message: "\(error)", inReplyTo: message.type.rawValue)), toClient: client)
        }
    }

    private func submit(_ submission: SubmitBatch, client: [UInt8], sender: Sender) throws {
        if let existing = try store.batchId(forSubmission: submission.submissionId, owner: sender.owner) {
            return send(.accepted(BatchAccepted(batchId: existing, clientBatchName: submission.clientBatchName,
                                                submissionId: submission.submissionId, count: submission.requests.count)),
                        toClient: client)
        }
        try checkQuota(submission.requests.count, sender: sender)
        let requests = try submission.requests.enumerated().map { try routable($0.element, index: $0.offset) }
        let outcome = try store.submit(clientName: submission.clientBatchName, submissionId: submission.submissionId,
                                       requests: requests, outputDirectory: options.outputDirectory, owner: sender.owner)
        for (index, request) in requests.enumerated() {
            let key = ImageKey(batchId: outcome.batchId, index: index)
            enqueue(ImageJob(key: key, request: request, outputDirectory: writer.batchDirectory(key.batchId),
                             checkpoint: nil, workers: []))
        }
        log.info("batch \(outcome.batchId) accepted: \(requests.count) image(s) from '\(submission.clientBatchName)'",
                 metadata: .about(batch: outcome.batchId))
        send(.accepted(BatchAccepted(batchId: outcome.batchId, clientBatchName: submission.clientBatchName,
                                     submissionId: submission.submissionId, count: requests.count)), toClient: client)
    }

    /// What a client message may hold: the protocol's bounds with `--max-message-mb` for the
    /// SUBMIT request list (libzmq's per-frame bound stays at the protocol's, so a larger
    /// list is answered with a clear ERROR instead of a dropped connection).
    var clientLimits: ProtocolLimits {
        var limits = ProtocolLimits.standard
        limits.maxBlobBytes = options.maxClientMessageBytes
        return limits
    }

    /// Refuses a batch larger than `--max-batch-images`, or one that would take the sender's
    /// unfinished images past `--max-queued-per-client`.
    private func checkQuota(_ count: Int, sender: Sender) throws {
        if count > options.maxImagesPerBatch {
            throw ErrorReply(code: .limitExceeded,
                             message: "the batch has \(count) images; this coordinator takes at most \(options.maxImagesPerBatch) in one (--max-batch-images): split the prompt file",
                             inReplyTo: MessageType.submit.rawValue)
        }
        let queued = try store.unfinishedCount(owner: sender.owner)
        if queued + count > options.maxQueuedImagesPerClient {
            throw ErrorReply(code: .limitExceeded,
                             message: "\(queued) of this client's images are still queued or running; \(count) more would pass the \(options.maxQueuedImagesPerClient) allowed (--max-queued-per-client): wait for some to finish",
                             inReplyTo: MessageType.submit.rawValue)
        }
    }

    /// The request with its model named, checked against what the connected workers host and
    /// against the model (`GenerationRequest.validated(for:)`).
    private func routable(_ request: GenerationRequest, index: Int) throws -> GenerationRequest {
        var request = request
        let hosted = Set(workers.values.filter(\.isUsable).flatMap { $0.ready.models.map(\.name) }).sorted()
        guard let name = resolvedModel(request.model) else {
            throw ErrorReply(code: .noWorkerForModel, message: "no worker is connected (or every connected one is retired), so no model can be served; start a worker (sdcluster worker --coordinator ... --model DIR) and submit again",
                             inReplyTo: MessageType.submit.rawValue)
        }
        guard hosted.contains(name), let known = models[name] else {
            throw ErrorReply(code: .noWorkerForModel,
                             message: "request \(index): no connected worker hosts model '\(name)' (connected workers host: \(hosted.isEmpty ? "nothing" : hosted.joined(separator: ", "))); start a worker with that model or name one of those",
                             inReplyTo: MessageType.submit.rawValue)
        }
        do { _ = try LoRASet.references(for: request) } catch {
            throw ErrorReply(code: .invalidRequest, message: "request \(index): \(error)", inReplyTo: MessageType.submit.rawValue)
        }
        if let problem = loraProblem(request, model: name, hash: known.contentHash) {
            throw ErrorReply(code: .noWorkerForModel, message: "request \(index): \(problem)", inReplyTo: MessageType.submit.rawValue)
        }
        request.model = name
        // Checked with the model's rules and completed with its defaults (size, guidance scale)
        // here: stored jobs and the decoded-image check need the size before any worker samples.
        do {
            return try request.validated(for: known.info, limits: options.requestLimits)
        } catch let invalid as InvalidRequest {
            throw ErrorReply(code: .invalidRequest, message: "request \(index): \(invalid)", inReplyTo: MessageType.submit.rawValue)
        }
    }

    /// A batch the sender may see and act on. Another client's batch is answered as unknown, so
    /// its existence is not given away.
    private func ownBatch(_ id: String, sender: Sender) throws -> StoredBatch {
        guard let batch = try store.batch(id), sender.mayAccess(owner: batch.owner) else { throw JobStoreError.unknownBatch(id) }
        return batch
    }

    func statusReply(_ query: StatusQuery, sender: Sender) throws -> StatusReply {
        let batches = try query.batchId.map { [try ownBatch($0, sender: sender)] }
            ?? store.batches().filter { sender.mayAccess(owner: $0.owner) }
        let summaries = try batches.map {
            BatchSummary(batchId: $0.id, clientBatchName: $0.clientName, state: $0.state.rawValue, counts: try store.counts(batchId: $0.id))
        }
        let time = now()
        let workerSummaries = workers.values.sorted { $0.name < $1.name }.map { w in
            WorkerSummary(name: w.name, models: w.ready.models.map(\.name), liveness: w.liveness.remaining(at: time),
                          inFlight: ledger.evaluations(of: w.identity), evaluationsDone: w.evaluationsDone,
                          retired: w.retired, engine: w.engineClass)
        }
        let window = min(60, max(1, time - startedAt))
        let rate = Double(recentEvaluations.reduce(0) { $0 + $1.count }) / window
        let held = jobs.values.filter { $0.phase == .writing }.count
        let problems = outputTrouble.map { trouble in
            ["since \(Int(time - trouble.since)) s, \(held) finished image(s) held in memory because writing fails: \(trouble.message)"]
        }
        return StatusReply(batches: summaries, workers: workerSummaries, evaluationsPerSecond: rate, problems: problems,
                           counters: counters)
    }

    private func cancel(_ request: CancelBatch, client: [UInt8], sender: Sender) throws {
        _ = try ownBatch(request.batchId, sender: sender)
        let cancelled = try store.cancel(batchId: request.batchId)
        for key in waiting + active where key.batchId == request.batchId { jobs[key] = nil; queuedAt[key] = nil }
        waiting.removeAll { $0.batchId == request.batchId }
        active.removeAll { $0.batchId == request.batchId }
        // Their workers are free for other work at once; STATUS shows nothing of them in flight.
        _ = ledger.closeAbandoned { $0.batchId == request.batchId }
        log.info("batch \(request.batchId) cancelled: \(cancelled) unfinished image(s) dropped", metadata: .about(batch: request.batchId))
        answerFetches(batchId: request.batchId)
        send(.progress(BatchProgress(batchId: request.batchId, counts: try store.counts(batchId: request.batchId),
                                     nextSince: 0)), toClient: client)
    }

    private func fetch(_ request: FetchResults, client: [UInt8], sender: Sender) throws {
        let batch = try ownBatch(request.batchId, sender: sender)
        let results = try store.resultsSince(batchId: request.batchId, since: request.since, limit: 1)
        if results.isEmpty && request.waitMilliseconds > 0 && batch.state == .active {
            fetches.append(PendingFetch(client: client, request: request,
                                        expires: now() + Double(request.waitMilliseconds) / 1000))
            return
        }
        try answer(request, client: client)
    }

    /// RESULT messages from the cursor on (a bounded number), then PROGRESS with the next cursor.
    private func answer(_ request: FetchResults, client: [UInt8]) throws {
        let results = try store.resultsSince(batchId: request.batchId, since: request.since,
                                             limit: min(Self.resultsPerFetch, request.limit ?? Self.resultsPerFetch))
        for result in results {
            var png: [UInt8]?
            var error = result.error
            if result.state == .done, let file = result.fileName {
                png = writer.readPNG(batchId: request.batchId, fileName: file)
                if png == nil { error = "the PNG \(file) is missing from the coordinator's output folder" }
            }
            send(.result(FinishedImage(batchId: request.batchId, index: result.key.index, sequence: result.sequence,
                                       state: result.state, fileName: result.fileName, manifestLine: result.manifestLine ?? "",
                                       error: error, png: png)), toClient: client)
        }
        let next = results.last.map { $0.sequence + 1 } ?? request.since
        send(.progress(BatchProgress(batchId: request.batchId, counts: try store.counts(batchId: request.batchId), nextSince: next)),
             toClient: client)
    }

    /// Answers the held FETCHes of a batch (something finished or it was cancelled).
    func answerFetches(batchId: String) {
        let waiting = fetches.filter { $0.request.batchId == batchId }
        guard !waiting.isEmpty else { return }
        fetches.removeAll { $0.request.batchId == batchId }
        for pending in waiting { try? answer(pending.request, client: pending.client) }
    }

    func expireFetches(now: Double) {
        let expired = fetches.filter { $0.expires <= now }
        guard !expired.isEmpty else { return }
        fetches.removeAll { $0.expires <= now }
        for pending in expired { try? answer(pending.request, client: pending.client) }
    }
}

extension ClientToCoordinator {
    var type: MessageType {
        switch self {
        case .submit: return .submit
        case .status: return .status
        case .cancel: return .cancel
        case .fetch: return .fetch
        }
    }
}
