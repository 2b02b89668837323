import Foundation
import StableDiffusion

/// Messages from workers: READY, liveness, results, refusals.
extension Coordinator {
    func handleWorkerMessage(_ received: [[UInt8]]) {
        guard let routed = try? RoutedFrames(received: received) else { return }
        let identity = routed.identity
        let message: WorkerToCoordinator
        do {
            message = try WorkerToCoordinator.decode(routed.frames)
        } catch let error as ProtocolError {
            let type = MessageType.peek(routed.frames)
            log.warning("refused a message from worker \(workers[identity]?.name ?? "(unknown)"): \(error)")
            send(.error(ErrorReply(error, inReplyTo: type)), to: identity)
            // A refused answer to a task (a tensor with NaN, a frame of the wrong size, a bad
            // field) is a failed attempt of that task when its header still names it: settled
            // and re-sent now, not left to its deadline.
            if let worker = workers[identity], let type, WorkerToCoordinator.taskAnswerTypes.contains(type) {
                worker.liveness.heard(at: monotonicSeconds())
                refused(WorkerToCoordinator.answeredTaskId(routed.frames).flatMap { take($0, from: worker) }, from: worker,
                        reason: "worker \(worker.name) sent a \(type.rawValue) that the coordinator refused: \(error)")
            }
            return
        } catch {
            return
        }
        if case .ready(let ready) = message {
            register(identity, ready)
            return
        }
        guard let worker = workers[identity] else {
            if case .disconnect = message { return }
            send(.error(ErrorReply(code: .notReady, message: "send READY first (the coordinator does not know this connection; it may have restarted)")),
                 to: identity)
            return
        }
        worker.liveness.heard(at: monotonicSeconds())
        switch message {
        case .ready, .heartbeat:
            break
        case .disconnect(let d):
            removeWorker(worker, reason: "said DISCONNECT (\(d.reason ?? "no reason"))")
        case .textEncodeResult(let r):
            receivedText(r, from: worker)
        case .unetResult(let r):
            receivedUNet(r, from: worker)
        case .vaeDecodeResult(let r):
            receivedImage(r, from: worker)
        case .missingEmbedding(let m):
            resendWithEmbeddings(m, worker: worker)
        case .error(let e):
            if let taskId = e.taskId {
                taskFailed(taskId, worker: worker, message: "\(e.code): \(e.message)")
            } else {
                log.warning("worker \(worker.name) sent ERROR \(e.code): \(e.message)")
            }
        }
    }

    private func register(_ identity: [UInt8], _ ready: WorkerReady) {
        let retired = workers[identity]?.retired
        if let old = workers[identity] { removeWorker(old, reason: "sent READY again") }
        let record = WorkerRecord(identity: identity, ready: ready,
                                  liveness: PeerLiveness(interval: options.heartbeatInterval, liveness: options.liveness,
                                                         now: monotonicSeconds()))
        // READY again on the same connection does not lift a retirement.
        record.retired = retired
        workers[identity] = record
        for model in ready.models {
            guard let info = model.info else {
                log.warning("worker \(ready.name) announced model \(model.name) without its sampling info; not used for it")
                continue
            }
            if let known = models[model.name] {
                if known.contentHash != model.contentHash {
                    log.warning("worker \(ready.name) hosts a different copy of \(model.name) (hash \(model.contentHash), cluster uses \(known.contentHash)); not used for it")
                }
            } else {
                models[model.name] = KnownModel(name: model.name, contentHash: model.contentHash, info: info)
            }
        }
        log.info("worker \(ready.name) ready: \(ready.models.map(\.name).joined(separator: ", ")), \(ready.threads) thread(s), batches up to \(ready.maxBatch); \(workers.count) worker(s)")
    }

    /// Forgets a worker and re-sends everything it had.
    func removeWorker(_ worker: WorkerRecord, reason: String) {
        guard workers[worker.identity] === worker else { return }
        workers[worker.identity] = nil
        let lost = worker.tasks.compactMap { tasks.removeValue(forKey: $0) }
        for record in lost { requeue(record) }
        log.info("worker \(worker.name) gone: \(reason); \(lost.count) task(s) re-queued; \(workers.count) worker(s) left")
    }

    /// Puts a task's work back in the queue (unless it was answered or cancelled meanwhile).
    func requeue(_ record: TaskRecord) {
        switch record.work {
        case .text(let key):
            if let job = jobs[key], job.phase == .encoding(taskId: record.id) { job.phase = .needsText }
        case .vae(let key):
            if let job = jobs[key], job.phase == .decoding(taskId: record.id) { job.phase = .needsDecode }
        case .unet(_, let items):
            for item in items {
                guard let job = jobs[item.key], job.phase == .sampling, job.state?.stepIndex == item.step else { continue }
                job.assigned.remove(item.slot)
            }
        }
    }

    /// Takes a task's record off the books when its answer arrives; nil for an unknown or
    /// superseded task (a late duplicate: ignored).
    private func settle(_ taskId: String, worker: WorkerRecord, computeSeconds: Double) -> TaskRecord? {
        guard let record = take(taskId, from: worker) else {
            log.info("ignored a late or unknown result for task \(taskId) from \(worker.name)")
            return nil
        }
        return record
    }

    /// Removes a task out at this worker from the books; nil when it is not (any more).
    private func take(_ taskId: String, from worker: WorkerRecord) -> TaskRecord? {
        worker.tasks.remove(taskId)
        guard let record = tasks[taskId], record.worker == worker.identity else { return nil }
        tasks[taskId] = nil
        return record
    }

    /// The coordinator refused a worker's answer: its task (when still current) is a failed
    /// attempt of its images (re-sent now; an image fails after `maxFailures`), and a worker
    /// refused `maxRefusedResults` times in a row is retired.
    private func refused(_ record: TaskRecord?, from worker: WorkerRecord, reason: String) {
        worker.refusedInARow += 1
        if let record { taskFailed(record, worker: worker, message: reason) }
        if worker.isUsable, worker.refusedInARow >= options.maxRefusedResults {
            retire(worker, reason: "\(worker.refusedInARow) results in a row refused, the last: \(reason)")
        }
    }

    /// Gives a worker no more tasks (it stays connected, heartbeats, and is listed in STATUS as
    /// retired) and re-sends what it had. A new connection (a restarted worker) starts afresh.
    private func retire(_ worker: WorkerRecord, reason: String) {
        worker.retired = reason
        let lost = worker.tasks.compactMap { tasks.removeValue(forKey: $0) }
        worker.tasks = []
        for record in lost { requeue(record) }
        log.warning("worker \(worker.name) retired: \(reason); it gets no more tasks until it reconnects (\(lost.count) task(s) re-queued)")
        send(.error(ErrorReply(code: .workerRetired,
                               message: "the coordinator gives this worker no more tasks: \(reason); fix it and restart it")),
             to: worker.identity)
    }

    private func receivedText(_ result: TextEncodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .text(let key) = record.work, let job = jobs[key], job.phase == .encoding(taskId: record.id) else { return }
        if let problem = Self.textProblem(result, needed: job.slotsNeeded) {
            return refused(record, from: worker, reason: "worker \(worker.name) \(problem)")
        }
        worker.refusedInARow = 0
        for entry in result.embeddings {
            job.embeddings[entry.slot] = entry.embedding.tensor
            worker.knownEmbeddings.insert(entry.embeddingId)
        }
        job.noteWorker(worker)
        do {
            try store.markRunning(key)
            try job.beginStep()
        } catch {
            imageFailed(job, error: "\(error)")
        }
    }

    private func receivedUNet(_ result: UNetEvalResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .unet(let task, let items) = record.work else { return }
        // Checked before anything is used, so a refused answer changes no image.
        if let problem = Self.unetProblem(result, task: task) {
            return refused(record, from: worker, reason: "worker \(worker.name) \(problem)")
        }
        worker.refusedInARow = 0
        worker.measured(seconds: result.computeSeconds, evaluations: items.count)
        worker.evaluationsDone += items.count
        recentEvaluations.append((monotonicSeconds(), items.count))
        var touched: [ImageJob] = []
        for (item, answer) in zip(items, result.items) {
            guard let job = jobs[item.key], job.phase == .sampling, job.state?.stepIndex == item.step,
                  job.assigned.contains(item.slot) else { continue }
            job.assigned.remove(item.slot)
            job.predictions[item.slot] = answer.prediction.tensor
            job.noteWorker(worker)
            if !touched.contains(where: { $0 === job }) { touched.append(job) }
        }
        for job in touched where job.predictions.count == job.pending.count { advance(job) }
    }

    /// Runs the state machine one step with the predictions in hand and checkpoints it.
    /// When the step cannot be taken, the job stays at it with its predictions dropped, so the
    /// next dispatch sends the step's evaluations again; after `maxFailures` the image fails.
    private func advance(_ job: ImageJob) {
        guard let state = job.state else { return }
        do {
            try job.enter(try Sampler.advance(state, predictions: job.predictions))
            unsavedCheckpoints.insert(job.key)
        } catch {
            job.failures += 1
            job.predictions = [:]
            log.warning("image \(job.imageId): step \(state.stepIndex) refused: \(error); attempt \(job.failures) of \(options.maxFailures)")
            if job.failures >= options.maxFailures { imageFailed(job, error: "step \(state.stepIndex) could not be taken: \(error)") }
        }
    }

    private func receivedImage(_ result: VAEDecodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .vae(let key) = record.work, let job = jobs[key], job.phase == .decoding(taskId: record.id) else { return }
        let shape = result.image.tensor.shape
        guard let expected = job.state?.imageShape, shape == expected else {
            return refused(record, from: worker,
                           reason: "worker \(worker.name) returned a decoded image of shape \(shape), expected \(job.state?.imageShape ?? [])")
        }
        worker.refusedInARow = 0
        job.noteWorker(worker)
        finish(job, image: result.image.tensor)
    }

    /// Answers MISSING-EMBEDDING: the same task again, this time carrying every embedding its
    /// items use (not only the missing ones: the worker's cache may be too small for them all).
    private func resendWithEmbeddings(_ missing: MissingEmbedding, worker: WorkerRecord) {
        guard let record = tasks[missing.taskId], record.worker == worker.identity,
              case .unet(var task, let items) = record.work else { return }
        // Lacking what the task carried is no cache miss: sending it again would loop.
        let carried = Set(task.embeddings.map(\.embeddingId))
        if missing.embeddingIds.allSatisfy(carried.contains) {
            return refused(take(record.id, from: worker), from: worker,
                           reason: "worker \(worker.name) said it lacks embeddings \(missing.embeddingIds) that task \(record.id) carried")
        }
        worker.knownEmbeddings.subtract(missing.embeddingIds)
        var attached: [AttachedEmbedding] = []
        for item in items {
            guard let job = jobs[item.key], let tensor = job.embeddings[item.slot] else {
                worker.tasks.remove(record.id)
                tasks[record.id] = nil
                return requeue(record)
            }
            let id = job.embeddingId(item.slot)
            if !attached.contains(where: { $0.embeddingId == id }) {
                attached.append(AttachedEmbedding(embeddingId: id, embedding: WireTensor(tensor)))
            }
        }
        task.embeddings = attached
        tasks[record.id] = TaskRecord(id: record.id, worker: record.worker, work: .unet(task, items: items),
                                      sentAt: record.sentAt, deadline: record.deadline)
        log.info("re-sent task \(record.id) to \(worker.name) with the \(attached.count) embedding(s) it uses (it lacked \(missing.embeddingIds.count))")
        send(.unetTask(task), to: worker.identity)
    }

    private func taskFailed(_ taskId: String, worker: WorkerRecord, message: String) {
        guard let record = take(taskId, from: worker) else { return }
        taskFailed(record, worker: worker, message: message)
    }

    /// A worker could not run a task: count it against its images and send the work again.
    private func taskFailed(_ record: TaskRecord, worker: WorkerRecord, message: String) {
        log.warning("task \(record.id) failed on \(worker.name): \(message)")
        requeue(record)
        for key in record.imageKeys {
            guard let job = jobs[key] else { continue }
            job.failures += 1
            if job.failures >= options.maxFailures { imageFailed(job, error: message) }
        }
    }
}

/// The checks of a result against its task, before anything of it is used: a description of
/// what is wrong (after "worker NAME"), or nil when it fits.
extension Coordinator {
    static func unetProblem(_ result: UNetEvalResult, task: UNetEvalTask) -> String? {
        guard result.items.count == task.items.count else {
            return "answered \(result.items.count) of the \(task.items.count) evaluations of task \(task.taskId)"
        }
        for (i, (item, answer)) in zip(task.items, result.items).enumerated() {
            guard answer.imageId == item.imageId, answer.step == item.step, answer.slot == item.slot else {
                return "answered item \(i) of task \(task.taskId) with \(answer.imageId) step \(answer.step) \(answer.slot.rawValue), not \(item.imageId) step \(item.step) \(item.slot.rawValue)"
            }
            let shape = answer.prediction.tensor.shape, expected = item.latent.tensor.shape
            guard shape == expected else {
                return "returned a prediction of shape \(shape) for a latent of shape \(expected) (image \(item.imageId), step \(item.step), \(item.slot.rawValue))"
            }
        }
        return nil
    }

    /// Every slot the image needs, each once, as `[1, tokens, width]`, all of one shape.
    static func textProblem(_ result: TextEncodeResult, needed: [TextSlot]) -> String? {
        let slots = result.embeddings.map(\.slot)
        guard Set(slots).count == slots.count, needed.allSatisfy(slots.contains) else {
            return "returned text embeddings for \(slots.map(\.rawValue)), the image needs \(needed.map(\.rawValue))"
        }
        let shapes = result.embeddings.map(\.embedding.tensor.shape)
        guard let first = shapes.first, first.count == 3, first[0] == 1, shapes.allSatisfy({ $0 == first }) else {
            return "returned text embeddings of shapes \(shapes), expected [1, tokens, width] each, alike"
        }
        return nil
    }
}

extension TaskRecord {
    var imageKeys: [ImageKey] {
        switch work {
        case .text(let key), .vae(let key): return [key]
        case .unet(_, let items):
            var keys: [ImageKey] = []
            for item in items where !keys.contains(item.key) { keys.append(item.key) }
            return keys
        }
    }
}
