import Foundation
import StableDiffusion

/// Messages from clients: SUBMIT, STATUS, CANCEL, FETCH.
extension Coordinator {
    /// Most RESULT messages in one answer to FETCH (the client asks again for the rest).
    static let resultsPerFetch = 16

    func handleClientMessage(_ received: [[UInt8]]) {
        guard let routed = try? RoutedFrames(received: received) else { return }
        let client = routed.identity
        let message: ClientToCoordinator
        do {
            message = try ClientToCoordinator.decode(routed.frames)
        } catch let error as ProtocolError {
            log.warning("refused a client message: \(error)")
            send(.error(ErrorReply(error, inReplyTo: MessageType.peek(routed.frames))), toClient: client)
            return
        } catch {
            return
        }
        do {
            switch message {
            case .submit(let s): try submit(s, client: client)
            case .status(let q): send(.statusReply(try statusReply(q)), toClient: client)
            case .cancel(let c): try cancel(c, client: client)
            case .fetch(let f): try fetch(f, client: client)
            }
        } catch let error as JobStoreError {
            let code: ErrorCode = if case .unknownBatch = error { .unknownBatch } else { .storeFailure }
            send(.error(ErrorReply(code: code, message: error.description, inReplyTo: message.type.rawValue)), toClient: client)
        } catch let reply as ErrorReply {
            send(.error(reply), toClient: client)
        } catch {
            send(.error(ErrorReply(code: .internal, message: "\(error)", inReplyTo: message.type.rawValue)), toClient: client)
        }
    }

    private func submit(_ submission: SubmitBatch, client: [UInt8]) throws {
        if let existing = try store.batchId(forSubmission: submission.submissionId) {
            return send(.accepted(BatchAccepted(batchId: existing, clientBatchName: submission.clientBatchName,
                                                submissionId: submission.submissionId, count: submission.requests.count)),
                        toClient: client)
        }
        let requests = try submission.requests.enumerated().map { try routable($0.element, index: $0.offset) }
        let outcome = try store.submit(clientName: submission.clientBatchName, submissionId: submission.submissionId,
                                       requests: requests, outputDirectory: options.outputDirectory)
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
        request.model = name
        // Checked with the model's rules and completed with its defaults (size, guidance scale)
        // here: stored jobs and the decoded-image check need the size before any worker samples.
        do {
            return try request.validated(for: known.info)
        } catch let invalid as InvalidRequest {
            throw ErrorReply(code: .invalidRequest, message: "request \(index): \(invalid)", inReplyTo: MessageType.submit.rawValue)
        }
    }

    func statusReply(_ query: StatusQuery) throws -> StatusReply {
        let batches = try query.batchId.map { id -> [StoredBatch] in
            guard let batch = try store.batch(id) else { throw JobStoreError.unknownBatch(id) }
            return [batch]
        } ?? store.batches()
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
        return StatusReply(batches: summaries, workers: workerSummaries, evaluationsPerSecond: rate)
    }

    private func cancel(_ request: CancelBatch, client: [UInt8]) throws {
        let cancelled = try store.cancel(batchId: request.batchId)
        for key in waiting + active where key.batchId == request.batchId { jobs[key] = nil }
        waiting.removeAll { $0.batchId == request.batchId }
        active.removeAll { $0.batchId == request.batchId }
        log.info("batch \(request.batchId) cancelled: \(cancelled) unfinished image(s) dropped", metadata: .about(batch: request.batchId))
        answerFetches(batchId: request.batchId)
        send(.progress(BatchProgress(batchId: request.batchId, counts: try store.counts(batchId: request.batchId),
                                     nextSince: 0)), toClient: client)
    }

    private func fetch(_ request: FetchResults, client: [UInt8]) throws {
        guard let batch = try store.batch(request.batchId) else { throw JobStoreError.unknownBatch(request.batchId) }
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
        let results = try store.resultsSince(batchId: request.batchId, since: request.since, limit: Self.resultsPerFetch)
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
