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
            log.warning("refused a message from worker \(workers[identity]?.name ?? "(unknown)"): \(error)")
            send(.error(ErrorReply(error, inReplyTo: MessageType.peek(routed.frames))), to: identity)
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
        if let old = workers[identity] { removeWorker(old, reason: "sent READY again") }
        let record = WorkerRecord(identity: identity, ready: ready,
                                  liveness: PeerLiveness(interval: options.heartbeatInterval, liveness: options.liveness,
                                                         now: monotonicSeconds()))
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
        worker.tasks.remove(taskId)
        guard let record = tasks[taskId], record.worker == worker.identity else {
            log.info("ignored a late or unknown result for task \(taskId) from \(worker.name)")
            return nil
        }
        tasks[taskId] = nil
        return record
    }

    private func receivedText(_ result: TextEncodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .text(let key) = record.work, let job = jobs[key], job.phase == .encoding(taskId: record.id) else { return }
        for entry in result.embeddings {
            job.embeddings[entry.slot] = entry.embedding.tensor
            worker.knownEmbeddings.insert(entry.embeddingId)
        }
        guard job.slotsNeeded.allSatisfy({ job.embeddings[$0] != nil }) else {
            return imageFailed(job, error: "the worker's text result lacked an embedding")
        }
        job.noteWorker(worker.name)
        do {
            try store.markRunning(key)
            try job.beginStep()
        } catch {
            imageFailed(job, error: "\(error)")
        }
    }

    private func receivedUNet(_ result: UNetEvalResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .unet(_, let items) = record.work else { return }
        worker.measured(seconds: result.computeSeconds, evaluations: items.count)
        worker.evaluationsDone += items.count
        recentEvaluations.append((monotonicSeconds(), items.count))
        guard result.items.count == items.count else {
            return taskFailed(record, worker: worker, message: "answered \(result.items.count) of \(items.count) evaluations")
        }
        var touched: [ImageJob] = []
        for (item, answer) in zip(items, result.items) {
            guard answer.imageId == ImageJob.imageId(item.key), answer.step == item.step, answer.slot == item.slot else {
                return taskFailed(record, worker: worker, message: "answers are not in the order of the task's items")
            }
            guard let job = jobs[item.key], job.phase == .sampling, job.state?.stepIndex == item.step,
                  job.assigned.contains(item.slot) else { continue }
            job.assigned.remove(item.slot)
            job.predictions[item.slot] = answer.prediction.tensor
            job.noteWorker(worker.name)
            if !touched.contains(where: { $0 === job }) { touched.append(job) }
        }
        for job in touched where job.predictions.count == job.pending.count { advance(job) }
    }

    /// Runs the state machine one step with the predictions in hand and checkpoints it.
    private func advance(_ job: ImageJob) {
        guard let state = job.state else { return }
        do {
            let next = try Sampler.advance(state, predictions: job.predictions)
            job.state = next
            unsavedCheckpoints.insert(job.key)
            try job.beginStep()
        } catch {
            job.failures += 1
            job.predictions = [:]
            log.warning("image \(job.imageId): step \(state.stepIndex) refused: \(error)")
            if job.failures >= options.maxFailures { imageFailed(job, error: "\(error)") }
        }
    }

    private func receivedImage(_ result: VAEDecodeResult, from worker: WorkerRecord) {
        guard let record = settle(result.taskId, worker: worker, computeSeconds: result.computeSeconds),
              case .vae(let key) = record.work, let job = jobs[key], job.phase == .decoding(taskId: record.id) else { return }
        job.noteWorker(worker.name)
        let shape = result.image.tensor.shape
        guard let expected = job.state?.imageShape, shape == expected else {
            return taskFailed(record, worker: worker, message: "decoded image is \(shape), expected \(job.state?.imageShape ?? [])")
        }
        finish(job, image: result.image.tensor)
    }

    /// Answers MISSING-EMBEDDING: the same task again, this time carrying every embedding its
    /// items use (not only the missing ones: the worker's cache may be too small for them all).
    private func resendWithEmbeddings(_ missing: MissingEmbedding, worker: WorkerRecord) {
        guard let record = tasks[missing.taskId], record.worker == worker.identity,
              case .unet(var task, let items) = record.work else { return }
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
        worker.tasks.remove(taskId)
        guard let record = tasks[taskId], record.worker == worker.identity else { return }
        tasks[taskId] = nil
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
