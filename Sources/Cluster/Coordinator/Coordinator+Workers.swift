import Compute
import Foundation
import Logging
import StableDiffusion

/// Messages from workers: READY, liveness, results, refusals.
extension Coordinator {
    /// `userId`: what the ZAP handler admitted the connection as (its CURVE key); nil without CURVE.
    func handleWorkerMessage(_ received: [[UInt8]], userId: String? = nil) {
        guard let routed = try? RoutedFrames(received: received) else { return }
        let identity = routed.identity
        guard let sender = sender(userId: userId, on: .workers) else {
            // Its key was removed from the allow-list since it connected: nothing it sends counts.
            if let worker = workers[identity] { removeWorker(worker, reason: "its key is no longer in the worker allow-list") }
            return
        }
        let message: WorkerToCoordinator
        do {
            message = try WorkerToCoordinator.decode(routed.frames)
        } catch let error as ProtocolError {
            let type = MessageType.peek(routed.frames)
            let name = workers[identity]?.name
            let admitted = refusalLog.admit("worker \(name ?? "?") \(error.code)", at: now())
            if admitted.log {
                log.warning("refused a message from worker \(name ?? "(unknown)"): \(error)\(LogLimiter.suffix(admitted.held))",
                            metadata: .about(worker: name))
            }
            send(.error(ErrorReply(error, inReplyTo: type)), to: identity)
            // A refused answer to a task (a tensor with NaN, a frame of the wrong size, a bad
            // field) is a failed attempt of that task when its header still names it: settled
            // and re-sent now, not left to its deadline.
            if let worker = workers[identity], let type, WorkerToCoordinator.taskAnswerTypes.contains(type) {
                worker.liveness.heard(at: now())
                refused(WorkerToCoordinator.answeredTaskId(routed.frames).flatMap { ledger.close($0, from: identity) }, from: worker,
                        reason: "worker \(worker.name) sent a \(type.rawValue) that the coordinator refused: \(error)")
            }
            return
        } catch {
            return
        }
        if case .ready(let ready) = message {
            register(identity, ready, key: sender.key)
            return
        }
        guard let worker = workers[identity] else {
            if case .disconnect = message { return }
            send(.error(ErrorReply(code: .notReady, message: "send READY first (the coordinator does not know this connection; it may have restarted)")),
                 to: identity)
            return
        }
        worker.liveness.heard(at: now())
        if let taskId = message.answeredTaskId { worker.overdue[taskId] = nil }
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
                log.warning("worker \(worker.name) sent ERROR \(e.code): \(e.message)", metadata: .about(worker: worker.name))
            }
        }
    }

    private func register(_ identity: [UInt8], _ ready: WorkerReady, key: CurveKey?) {
        // The same READY again on a registered connection: after a restart of this coordinator
        // the worker answers each ERROR not-ready (one per heartbeat it queued meanwhile) with
        // a READY. Nothing about it changed: it keeps its record and its tasks.
        if let known = workers[identity], known.ready == ready, known.key == key {
            known.liveness.heard(at: now())
            log.debug("worker \(ready.name) sent the same READY again; nothing changes", metadata: .about(worker: ready.name))
            return
        }
        let retired = workers[identity]?.retired
        if let old = workers[identity] { removeWorker(old, reason: "sent READY again") }
        // The same worker on a new connection (it reconnected after a silence): its old record is a
        // ghost. Only one already silent for a heartbeat interval, so two workers misconfigured with
        // one name do not push each other out.
        let time = now()
        for old in Array(workers.values) where old.name == ready.name && old.key == key
            && time - old.liveness.lastHeard >= options.heartbeatInterval {
            removeWorker(old, reason: "reconnected as a new connection")
        }
        let record = WorkerRecord(identity: identity, ready: ready,
                                  liveness: PeerLiveness(interval: options.heartbeatInterval, liveness: options.liveness,
                                                         now: now()))
        record.key = key
        // READY again on the same connection does not lift a retirement.
        record.retired = retired
        workers[identity] = record
        for model in ready.models {
            guard let info = model.info else {
                log.warning("worker \(ready.name) announced model \(model.name) without its sampling info; not used for it",
                            metadata: .about(worker: ready.name))
                continue
            }
            if let known = models[model.name] {
                if known.contentHash != model.contentHash {
                    log.warning("worker \(ready.name) hosts a different copy of \(model.name) (hash \(model.contentHash), cluster uses \(known.contentHash)); not used for it",
                                metadata: .about(worker: ready.name))
                }
            } else {
                models[model.name] = KnownModel(name: model.name, contentHash: model.contentHash, info: info, vae: model.vae)
            }
        }
        for lora in ready.loras ?? [] {
            if let known = knownLoRAs[lora.name], known != lora.contentHash {
                log.warning("worker \(ready.name) has a different copy of LoRA \(lora.name) (hash \(lora.contentHash), cluster uses \(known)); not used for it",
                            metadata: .about(worker: ready.name))
            } else {
                knownLoRAs[lora.name] = lora.contentHash
                if let short = lora.shortHash { loraShortHashes[lora.name] = short }
            }
        }
        log.info("worker \(ready.name) ready: \(ready.models.map(\.name).joined(separator: ", ")), \(ready.threads) thread(s), batches up to \(ready.maxBatch); \(workers.count) worker(s)",
                 metadata: .about(worker: ready.name))
    }

    /// Forgets a worker and re-sends everything it had.
    func removeWorker(_ worker: WorkerRecord, reason: String) {
        guard workers[worker.identity] === worker else { return }
        workers[worker.identity] = nil
        let lost = ledger.dropWorker(worker.identity)
        for record in lost { requeue(record) }
        log.notice("worker \(worker.name) gone: \(reason); \(lost.count) task(s) re-queued; \(workers.count) worker(s) left",
                   metadata: .about(worker: worker.name))
    }

    /// Puts a task's work back in the queue (unless it was answered or cancelled meanwhile).
    func requeue(_ record: TaskRecord) {
        counters.tasksResent += 1
        switch record.work {
        case .text(let key):
            jobs[key]?.requeueText(taskId: record.id)
        case .vae(let key):
            jobs[key]?.requeueDecode(taskId: record.id)
        case .unet(_, let items):
            for item in items { jobs[item.key]?.requeueEvaluation(item.slot, step: item.step) }
        }
    }

    /// Takes a task's record off the books when its answer arrives; nil for an unknown or
    /// superseded task (a late duplicate: ignored).
    private func settle(_ taskId: String, worker: WorkerRecord) -> TaskRecord? {
        guard let record = ledger.close(taskId, from: worker.identity) else {
            log.debug("ignored a late or unknown result for task \(taskId) from \(worker.name)",
                      metadata: .about(task: taskId, worker: worker.name))
            return nil
        }
        return record
    }

    /// The worker's answer to a task passed the checks and is used: its refusals in a row end,
    /// and a UNet task's compute time feeds its measured speed (and so its next deadlines).
    private func accepted(_ record: TaskRecord, from worker: WorkerRecord, computeSeconds: Double) {
        worker.refusedInARow = 0
        worker.tasksAnswered += 1
        if record.evaluationCount > 0 {
            worker.measured(seconds: computeSeconds, evaluations: record.evaluationCount)
            worker.evaluationsDone += record.evaluationCount
            counters.unetTaskSeconds.observe(now() - record.sentAt)
            recentEvaluations.append((now(), record.evaluationCount))
        }
        log.debug("task \(record.id) answered by \(worker.name) in \(String(format: "%.3f", computeSeconds)) s: \(record.work.summary)",
                  metadata: .about(task: record.id, worker: worker.name))
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
        let lost = ledger.dropWorker(worker.identity)
        for record in lost { requeue(record) }
        log.warning("worker \(worker.name) retired: \(reason); it gets no more tasks until it reconnects (\(lost.count) task(s) re-queued)",
                    metadata: .about(worker: worker.name))
        send(.error(ErrorReply(code: .workerRetired,
                               message: "the coordinator gives this worker no more tasks: \(reason); fix it and restart it")),
             to: worker.identity)
    }

    private func receivedText(_ result: TextEncodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker),
              case .text(let key) = record.work, let job = jobs[key], job.isEncoding(record.id) else { return }
        if let problem = Self.textProblem(result, needed: job.slotsNeeded) {
            return refused(record, from: worker, reason: "worker \(worker.name) \(problem)")
        }
        accepted(record, from: worker, computeSeconds: result.computeSeconds)
        var embeddings: [TextSlot: TextConditioning] = [:]
        for entry in result.embeddings {
            embeddings[entry.slot] = entry.conditioning.conditioning
            worker.knownEmbeddings.insert(entry.embeddingId)
        }
        job.noteWorker(worker)
        do {
            try store.markRunning(key)
            try job.textArrived(embeddings, taskId: record.id)
        } catch {
            imageFailed(job, error: "\(error)")
        }
    }

    private func receivedUNet(_ result: UNetEvalResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker),
              case .unet(let task, let items) = record.work else { return }
        // Checked before anything is used, so a refused answer changes no image.
        if let problem = Self.unetProblem(result, task: task) {
            return refused(record, from: worker, reason: "worker \(worker.name) \(problem)")
        }
        accepted(record, from: worker, computeSeconds: result.computeSeconds)
        var touched: [ImageJob] = []
        for (item, answer) in zip(items, result.items) {
            guard let job = jobs[item.key], job.predictionArrived(answer.prediction.tensor, slot: item.slot, step: item.step) else {
                continue
            }
            job.noteWorker(worker)
            if !touched.contains(where: { $0 === job }) { touched.append(job) }
        }
        for job in touched where job.stepAnswered { advance(job) }
    }

    /// Runs the state machine one step with the predictions in hand and checkpoints it.
    /// When the step cannot be taken, the job stays at it with its predictions dropped, so the
    /// next dispatch sends the step's evaluations again; after `maxFailures` the image fails.
    private func advance(_ job: ImageJob) {
        guard let step = job.state?.stepIndex else { return }
        do {
            try job.advance()
            unsavedCheckpoints.insert(job.key)
        } catch {
            let failures = job.attemptFailed()
            log.warning("image \(job.imageId): step \(step) refused: \(error); attempt \(failures) of \(options.maxFailures)",
                        metadata: .about(batch: job.key.batchId, image: job.imageId))
            if failures >= options.maxFailures { imageFailed(job, error: "step \(step) could not be taken: \(error)") }
        }
    }

    private func receivedImage(_ result: VAEDecodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker),
              case .vae(let key) = record.work, let job = jobs[key], job.isDecoding(record.id) else { return }
        let shape = result.image.imageShape
        guard let expected = job.state?.imageShape, shape == expected else {
            return refused(record, from: worker,
                           reason: "worker \(worker.name) returned a decoded image of shape \(shape), expected \(job.state?.imageShape ?? [])")
        }
        accepted(record, from: worker, computeSeconds: result.computeSeconds)
        job.noteWorker(worker)
        finish(job, image: result.image)
    }

    /// Answers MISSING-EMBEDDING: the same task again, this time carrying every embedding its
    /// items use (not only the missing ones: the worker's cache may be too small for them all).
    private func resendWithEmbeddings(_ missing: MissingEmbedding, worker: WorkerRecord) {
        guard let record = ledger.record(missing.taskId, at: worker.identity),
              case .unet(var task, let items) = record.work else { return }
        // Lacking what the task carried is no cache miss: sending it again would loop.
        let carried = Set(task.embeddings.map(\.embeddingId))
        if missing.embeddingIds.allSatisfy(carried.contains) {
            return refused(ledger.close(record.id, from: worker.identity), from: worker,
                           reason: "worker \(worker.name) said it lacks embeddings \(missing.embeddingIds) that task \(record.id) carried")
        }
        worker.knownEmbeddings.subtract(missing.embeddingIds)
        var attached: [AttachedEmbedding] = []
        for item in items {
            guard let job = jobs[item.key], let conditioning = job.embeddings[item.slot] else {
                _ = ledger.close(record.id, from: worker.identity)
                return requeue(record)
            }
            let id = job.embeddingId(item.slot)
            if !attached.contains(where: { $0.embeddingId == id }) {
                attached.append(AttachedEmbedding(embeddingId: id, conditioning: WireConditioning(conditioning)))
            }
        }
        task.embeddings = attached
        ledger.update(record.id, work: .unet(task, items: items))
        log.debug("re-sent task \(record.id) to \(worker.name) with the \(attached.count) embedding(s) it uses (it lacked \(missing.embeddingIds.count))",
                  metadata: .about(task: record.id, worker: worker.name))
        send(.unetTask(task), to: worker.identity)
    }

    private func taskFailed(_ taskId: String, worker: WorkerRecord, message: String) {
        guard let record = ledger.close(taskId, from: worker.identity) else { return }
        taskFailed(record, worker: worker, message: message)
    }

    /// A worker could not run a task: count it against its images and send the work again.
    func taskFailed(_ record: TaskRecord, worker: WorkerRecord, message: String) {
        log.warning("task \(record.id) failed on \(worker.name): \(message)", metadata: .about(task: record.id, worker: worker.name))
        requeue(record)
        for key in record.imageKeys {
            guard let job = jobs[key] else { continue }
            if job.attemptFailed() >= options.maxFailures { imageFailed(job, error: message) }
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

    /// Every slot the image needs, each once, as `[1, tokens, width]` of one width (the token
    /// counts may differ: a long prompt has 77 k tokens, its negative prompt may have 77), and
    /// pooled embeddings (SDXL) with all of them or none, of one width.
    static func textProblem(_ result: TextEncodeResult, needed: [TextSlot]) -> String? {
        let slots = result.embeddings.map(\.slot)
        guard Set(slots).count == slots.count, needed.allSatisfy(slots.contains) else {
            return "returned text embeddings for \(slots.map(\.rawValue)), the image needs \(needed.map(\.rawValue))"
        }
        let shapes = result.embeddings.map(\.conditioning.embedding.tensor.shape)
        guard let first = shapes.first,
              shapes.allSatisfy({ $0.count == 3 && $0[0] == 1 && $0[1] >= 1 && $0[2] == first[2] }) else {
            return "returned text embeddings of shapes \(shapes), expected [1, tokens, width] each, of one width"
        }
        let pooled = result.embeddings.compactMap { $0.conditioning.pooled?.tensor.shape }
        guard pooled.isEmpty || (pooled.count == shapes.count && Set(pooled).count == 1) else {
            return "returned pooled text embeddings of shapes \(pooled) for \(shapes.count) texts, expected one [1, width] per text or none"
        }
        return nil
    }
}

extension WorkerToCoordinator {
    /// The task this message answers, if it answers one.
    var answeredTaskId: String? {
        switch self {
        case .textEncodeResult(let r): return r.taskId
        case .unetResult(let r): return r.taskId
        case .vaeDecodeResult(let r): return r.taskId
        case .missingEmbedding(let m): return m.taskId
        case .error(let e): return e.taskId
        case .ready, .heartbeat, .disconnect: return nil
        }
    }
}
