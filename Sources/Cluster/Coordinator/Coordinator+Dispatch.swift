import Foundation
import StableDiffusion

/// Giving idle workers work: VAE decodes first (they finish images), then text encodings, then
/// UNet evaluations of several images per task, placed by the policy.
extension Coordinator {
    /// How many images are prepared (latents in memory) at once: enough to fill every worker's
    /// tasks in flight twice over (while half of them wait a round trip for their next step, the
    /// other half keeps the workers busy), so a huge batch does not hold all its latents in memory.
    var activeWindow: Int {
        max(8, 2 * options.tasksInFlight * workers.values.filter(\.isUsable).reduce(0) { $0 + $1.ready.maxBatch })
    }

    func dispatch() {
        prepareWaitingJobs()
        // After preparing, so an image resumed with a class no worker has is timed from now.
        if restartImagesOfMissingClasses(now: now()) { prepareWaitingJobs() }
        // Idle workers first; then, while work is left, a worker may get more tasks up to
        // `tasksInFlight`: it starts the next one the moment it sends a result, so a slow link's
        // round trip is hidden behind compute instead of idling the worker.
        for depth in 0..<options.tasksInFlight {
            var ready = workers.values.filter { $0.isUsable && load($0) == depth && depth < room($0) }.sorted { $0.name < $1.name }
            while !ready.isEmpty {
                let worker = ready.removeFirst()
                // Its share of the waiting work is spread over the workers of its class that can
                // take some now: only they can take the rest of what it may take.
                let alike = ready.filter { $0.engineClass == worker.engineClass }.count
                if let (message, work) = nextTask(for: worker, idleWorkers: alike + 1) {
                    start(message, work: work, on: worker)
                }
            }
        }
    }

    /// Tasks a worker is busy with: those out at it and those past their deadline it still computes.
    func load(_ worker: WorkerRecord) -> Int { ledger.tasks(of: worker.identity).count + worker.overdue.count }

    /// Tasks it may have at once: one until it has answered a task (a worker that has not
    /// answered yet may be slow or stuck), then `tasksInFlight`.
    private func room(_ worker: WorkerRecord) -> Int { worker.tasksAnswered == 0 ? 1 : options.tasksInFlight }

    /// Whether it may get a UNet task now: until its UNet speed is measured it holds one at a
    /// time (deadlines are guesses until then, and a slow worker would have them all re-sent),
    /// while cheap text and VAE tasks may fill the rest of its room.
    private func mayTakeUNet(_ worker: WorkerRecord) -> Bool {
        worker.secondsPerEvaluation != nil || !ledger.tasks(of: worker.identity).contains { if case .unet = $0.work { return true } else { return false } }
    }

    /// Prepares waiting images (in order) whose model is known, until the active window is full.
    private func prepareWaitingJobs() {
        let window = activeWindow
        guard active.count < window, !waiting.isEmpty else { return }
        var kept: [ImageKey] = []
        kept.reserveCapacity(waiting.count)
        for key in waiting {
            guard let job = jobs[key] else { continue }
            guard active.count < window, let known = knownModel(job.request) else {
                kept.append(key)
                continue
            }
            do {
                try job.prepare(model: known.info, modelHash: known.contentHash)
                active.append(key)
            } catch {
                jobs[key] = nil
                _ = try? store.markFailed(key, error: "cannot start sampling: \(error)")
                log.warning("image \(job.imageId) failed: cannot start sampling: \(error)",
                            metadata: .about(batch: key.batchId, image: job.imageId))
                answerFetches(batchId: key.batchId)
            }
        }
        waiting = kept
    }

    /// The model a request names, or the default one.
    func resolvedModel(_ name: String?) -> String? {
        name ?? options.defaultModel ?? workers.values.filter(\.isUsable).flatMap { $0.ready.models.map(\.name) }.min()
    }


    /// A worker's next task. Work of the LoRA set it holds now (or of the plain model) comes
    /// first: each other set costs it a model build (about 5 s for SD 1.5, docs/weights.md).
    private func nextTask(for worker: WorkerRecord, idleWorkers: Int) -> (CoordinatorToWorker, TaskRecord.Work)? {
        // VAE decoding runs on the plain model's VAE (no LoRA changes it): always cheap.
        let cheap = nextTask(for: worker, idleWorkers: idleWorkers) { job in
            let key = self.modelKey(job.request)
            return job.phase == .needsDecode || key == worker.loadedVariant || key == self.resolvedModel(job.request.model)
        }
        if let cheap { return cheap }
        // Its set's images still need text or steps (their work is out, answers come soon):
        // waiting a round trip costs less than building another set and coming back.
        if let loaded = worker.loadedVariant, active.contains(where: { key in
            guard let job = jobs[key], [.needsText, .sampling].contains(job.phase) || { if case .encoding = job.phase { return true } else { return false } }() else { return false }
            return modelKey(job.request) == loaded && job.accepts(worker.engineClass) && serves(worker, job)
        }) {
            return nil
        }
        guard let (message, work) = nextTask(for: worker, idleWorkers: idleWorkers, where: { _ in true }) else { return nil }
        let model: String?
        switch message {
        case .textEncodeTask(let task): model = task.model
        case .unetTask(let task): model = task.model
        default: model = nil
        }
        if let model, model.contains(" <lora:") { worker.loadedVariant = model }
        return (message, work)
    }

    private func nextTask(for worker: WorkerRecord, idleWorkers: Int,
                          where eligible: (ImageJob) -> Bool) -> (CoordinatorToWorker, TaskRecord.Work)? {
        var sampling: [ImageJob] = []
        var textJob: ImageJob?
        for key in active {
            guard let job = jobs[key], job.accepts(worker.engineClass), serves(worker, job), eligible(job) else { continue }
            switch job.phase {
            case .needsDecode:
                return vaeTask(job)
            case .needsText:
                if textJob == nil { textJob = job }
            case .sampling:
                if !job.waitingSlots.isEmpty { sampling.append(job) }
            default:
                break
            }
        }
        if let textJob { return textTask(textJob) }
        guard mayTakeUNet(worker) else { return nil }
        return unetTask(sampling, for: worker, idleWorkers: idleWorkers)
    }

    private func vaeTask(_ job: ImageJob) -> (CoordinatorToWorker, TaskRecord.Work)? {
        guard let latents = job.state?.finalLatents else { return nil }
        let id = nextTaskId()
        job.startDecoding(taskId: id)
        let task = VAEDecodeTask(taskId: id, imageId: job.imageId, model: resolvedModel(job.request.model),
                                 latent: WireTensor(latents))
        return (.vaeDecodeTask(task), .vae(job.key))
    }

    private func textTask(_ job: ImageJob) -> (CoordinatorToWorker, TaskRecord.Work) {
        let id = nextTaskId()
        job.startEncoding(taskId: id)
        let outputs = job.slotsNeeded.map { TextEncodeTask.TextOutput(slot: $0, embeddingId: job.embeddingId($0)) }
        let task = TextEncodeTask(taskId: id, imageId: job.imageId, model: modelKey(job.request),
                                  prompt: job.request.prompt, negativePrompt: job.request.negativePrompt, outputs: outputs,
                                  promptSyntax: job.request.promptSyntax, clipSkip: job.request.clipSkip)
        return (.textEncodeTask(task), .text(job.key))
    }

    private func unetTask(_ sampling: [ImageJob], for worker: WorkerRecord, idleWorkers: Int) -> (CoordinatorToWorker, TaskRecord.Work)? {
        guard let first = sampling.first else { return nil }
        // One UNet call takes one latent size and one model (LoRA set included): batch only
        // images like the first.
        let shape = first.state?.latentShape
        let model = modelKey(first.request)
        let alike = sampling.filter { $0.state?.latentShape == shape && modelKey($0.request) == model }
        let waiting = alike.enumerated().map { Placement.Waiting(image: $0.offset, slots: $0.element.waitingSlots) }
        let chosen = Placement.choose(waiting, policy: options.placement, idleWorkers: idleWorkers,
                                      maxBatch: worker.ready.maxBatch)
        guard !chosen.isEmpty else { return nil }
        var items: [UNetEvalItem] = []
        var covered: [(key: ImageKey, step: Int, slot: TextSlot)] = []
        var attached: [AttachedEmbedding] = []
        for pick in chosen {
            let job = alike[pick.image]
            guard let step = job.state?.stepIndex else { continue }
            for slot in pick.slots {
                guard let evaluation = job.pending.first(where: { $0.slot == slot }), let embedding = job.embeddings[slot] else { continue }
                let embeddingId = job.embeddingId(slot)
                if !worker.knownEmbeddings.contains(embeddingId), !attached.contains(where: { $0.embeddingId == embeddingId }) {
                    attached.append(AttachedEmbedding(embeddingId: embeddingId, conditioning: WireConditioning(embedding)))
                }
                items.append(UNetEvalItem(imageId: job.imageId, step: step, slot: slot, timestep: evaluation.timestep,
                                          embeddingId: embeddingId, latent: WireTensor(evaluation.latentInput),
                                          timeIds: job.timeIds(slot)))
                covered.append((job.key, step, slot))
                job.assign(slot)
            }
        }
        guard !items.isEmpty else { return nil }
        let task = UNetEvalTask(taskId: nextTaskId(), model: model, items: items, embeddings: attached)
        return (.unetTask(task), .unet(task, items: covered))
    }

    /// Sends a task and books it with a deadline from the worker's measured speed. The first
    /// task of an image pins it to the worker's engine class.
    private func start(_ message: CoordinatorToWorker, work: TaskRecord.Work, on worker: WorkerRecord) {
        guard let id = message.taskId else { return }
        for key in work.imageKeys {
            guard let job = jobs[key], let restart = job.pin(to: worker.engineClass) else { continue }
            log.notice("image \(job.imageId) restarted on engine class \(worker.engineClass) (its work on \(restart.from) up to step \(restart.atStep) was dropped)",
                       metadata: .about(batch: key.batchId, image: job.imageId, worker: worker.name))
        }
        let sentAt = now()
        var expected = options.minimumDeadline
        if case .unet(let task, let items) = work {
            for embedding in task.embeddings { worker.knownEmbeddings.insert(embedding.embeddingId) }
            if let perEvaluation = worker.secondsPerEvaluation {
                expected = max(options.minimumDeadline, options.deadlineFactor * perEvaluation * Double(items.count))
            } else {
                expected = options.minimumDeadline * Double(max(1, items.count))
            }
        }
        // A task queued behind others at the worker starts only when they are done.
        expected *= Double(load(worker) + 1)
        ledger.open(TaskRecord(id: id, worker: worker.identity, work: work, sentAt: sentAt, deadline: sentAt + expected))
        log.debug("sent task \(id) to \(worker.name): \(work.summary), deadline in \(String(format: "%.1f", expected)) s",
                  metadata: .about(task: id, worker: worker.name))
        send(message, to: worker.identity)
    }
}

extension TaskRecord.Work {
    /// What a task covers, for the debug log.
    var summary: String {
        switch self {
        case .text(let key): return "text of \(ImageJob.imageId(key))"
        case .vae(let key): return "VAE decoding of \(ImageJob.imageId(key))"
        case .unet(_, let items): return "\(items.count) UNet evaluation(s)"
        }
    }
}
