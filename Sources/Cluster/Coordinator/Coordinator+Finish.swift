import Compute
import Foundation
import StableDiffusion

/// Finishing images: the PNG, its manifest line, the durable record, waking FETCHes.
extension Coordinator {
    /// Writes the image (PNG first, then the durable record, then the manifest line: a crash in
    /// between only makes the image be redone, with the same bytes). When the disk refuses (full,
    /// read-only, gone), the image is not failed: its pixels are held and written again every
    /// `writeRetryInterval` until it works, STATUS says what is wrong, and nothing computed is lost.
    func finish(_ job: ImageJob, image: RGBPixels) {
        guard let state = job.state else { return }
        let fileName = ImageWriter.fileName(index: job.key.index, seed: job.request.seed)
        let manifestFailed: Error?
        do {
            // The state's request: it holds what the model filled in (guidance scale, size).
            try writer.writePNG(rgb: image.rgb, width: image.width, height: image.height, request: state.request, unetEvaluations: state.evaluationsUsed,
                                engine: job.engineDescription, weightFields: weightFields(state.request),
                                batchId: job.key.batchId, fileName: fileName)
            let line = try ImageWriter.manifestLine(key: job.key, request: state.request, fileName: fileName,
                                                    unetEvaluations: state.evaluationsUsed,
                                                    plainGuidanceEvaluations: state.plan.plainGuidanceEvaluations,
                                                    workers: job.workers, engine: job.engineDescription,
                                                    engineRestarts: job.engineRestarts)
            let outcome = ImageOutcome(fileName: fileName, manifestLine: line, unetEvaluations: state.evaluationsUsed,
                                       workers: job.workers)
            if try store.markDone(job.key, outcome: outcome) != nil {
                manifestFailed = Result { try writer.appendManifest(line, batchId: job.key.batchId) }.failure
            } else {
                manifestFailed = nil
            }
            log.info("image \(job.imageId) done: \(fileName), \(state.evaluationsUsed) UNet evaluations on \(job.workers.joined(separator: ", "))",
                     metadata: .about(batch: job.key.batchId, image: job.imageId))
        } catch {
            job.holdUnwritten(image)
            return outputFailed("image \(job.imageId) is computed but could not be written: \(error)")
        }
        if let queued = queuedAt[job.key] { counters.imageSeconds.observe(now() - queued) }
        forget(job)
        if let manifestFailed {
            // The image is durable; the manifest is rebuilt from the store once writing works.
            manifestsStale = true
            outputFailed("the manifest line of image \(job.imageId) could not be written: \(manifestFailed)")
        } else if outputTrouble != nil, !jobs.values.contains(where: { $0.phase == .writing }) {
            outputRecovered()
        }
    }

    /// How long held images wait before the next try.
    static let writeRetryInterval = 5.0

    /// Remembers that the disk refused (for STATUS and the retry timer); logs once a minute.
    func outputFailed(_ what: String) {
        let time = now()
        if outputTrouble == nil || time - (outputTrouble?.logged ?? 0) >= 60 {
            log.error("\(what); held in memory, retrying every \(Int(Self.writeRetryInterval)) s (free space on the output or store disk, or make the folder writable)")
            outputTrouble = OutputTrouble(message: what, since: outputTrouble?.since ?? time, logged: time, nextTry: time + Self.writeRetryInterval)
        } else {
            outputTrouble?.message = what
            outputTrouble?.nextTry = time + Self.writeRetryInterval
        }
    }

    private func outputRecovered() {
        if manifestsStale {
            do {
                try writer.rebuildManifests(store)
                manifestsStale = false
            } catch {
                return outputFailed("the manifests could not be rebuilt: \(error)")
            }
        }
        if let trouble = outputTrouble {
            log.notice("writing works again after \(Int(now() - trouble.since)) s; every held image is written")
        }
        outputTrouble = nil
    }

    /// Writes the held images again once their retry time has come.
    func retryUnwritten(now: Double) {
        guard let trouble = outputTrouble, now >= trouble.nextTry else { return }
        let held = jobs.values.filter { $0.phase == .writing }
        for job in held.sorted(by: { ($0.key.batchId, $0.key.index) < ($1.key.batchId, $1.key.index) }) {
            if let failure = job.unrecordedFailure {
                imageFailed(job, error: failure)
            } else if let image = job.unwritten {
                finish(job, image: image)
            }
            if jobs[job.key] != nil { return }   // still refused: wait for the next try
        }
        if outputTrouble != nil, !jobs.values.contains(where: { $0.phase == .writing }) { outputRecovered() }
    }

    /// Gives up on an image, durably, and tells waiting clients.
    func imageFailed(_ job: ImageJob, error: String) {
        do {
            try store.markFailed(job.key, error: error, unetEvaluations: job.state?.evaluationsUsed ?? 0, workers: job.workers)
            log.warning("image \(job.imageId) failed: \(error)", metadata: .about(batch: job.key.batchId, image: job.imageId))
        } catch let storeError {
            // Forgetting it now would leave it "running" in the store and its batch never ending:
            // held, and recorded once the store takes writes again.
            job.holdFailure(error)
            return outputFailed("the failure of image \(job.imageId) could not be recorded: \(storeError)")
        }
        forget(job)
    }

    private func forget(_ job: ImageJob) {
        jobs[job.key] = nil
        queuedAt[job.key] = nil
        if let i = active.firstIndex(of: job.key) {
            active.remove(at: i)
        } else if let i = waiting.firstIndex(of: job.key) {
            waiting.remove(at: i)
        }
        answerFetches(batchId: job.key.batchId)
    }
}

/// The disk refused a result: what, since when, and when to try again.
struct OutputTrouble {
    var message: String
    let since: Double
    var logged: Double
    var nextTry: Double
}

extension Result where Failure == Error {
    var failure: Error? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
