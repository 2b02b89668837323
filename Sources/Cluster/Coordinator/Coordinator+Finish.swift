import Compute
import Foundation
import StableDiffusion

/// Finishing images: the PNG, its manifest line, the durable record, waking FETCHes.
extension Coordinator {
    /// Writes the image (PNG first, then the durable record, then the manifest line: a crash in
    /// between only makes the image be redone, with the same bytes).
    func finish(_ job: ImageJob, image: RGBPixels) {
        guard let state = job.state else { return }
        let fileName = ImageWriter.fileName(index: job.key.index, seed: job.request.seed)
        do {
            // The state's request: it holds what the model filled in (guidance scale, size).
            try writer.writePNG(rgb: image.rgb, width: image.width, height: image.height, request: state.request, unetEvaluations: state.evaluationsUsed,
                                engine: job.engineDescription, batchId: job.key.batchId, fileName: fileName)
            let line = try ImageWriter.manifestLine(key: job.key, request: state.request, fileName: fileName,
                                                    unetEvaluations: state.evaluationsUsed,
                                                    plainGuidanceEvaluations: state.plan.plainGuidanceEvaluations,
                                                    workers: job.workers, engine: job.engineDescription,
                                                    engineRestarts: job.engineRestarts)
            let outcome = ImageOutcome(fileName: fileName, manifestLine: line, unetEvaluations: state.evaluationsUsed,
                                       workers: job.workers)
            if try store.markDone(job.key, outcome: outcome) != nil {
                try writer.appendManifest(line, batchId: job.key.batchId)
            }
            log.info("image \(job.imageId) done: \(fileName), \(state.evaluationsUsed) UNet evaluations on \(job.workers.joined(separator: ", "))",
                     metadata: .about(batch: job.key.batchId, image: job.imageId))
        } catch {
            log.error("image \(job.imageId): could not write its result: \(error)", metadata: .about(batch: job.key.batchId, image: job.imageId))
            return imageFailed(job, error: "writing the result failed: \(error)")
        }
        forget(job)
    }

    /// Gives up on an image, durably, and tells waiting clients.
    func imageFailed(_ job: ImageJob, error: String) {
        log.warning("image \(job.imageId) failed: \(error)", metadata: .about(batch: job.key.batchId, image: job.imageId))
        do {
            try store.markFailed(job.key, error: error, unetEvaluations: job.state?.evaluationsUsed ?? 0, workers: job.workers)
        } catch {
            log.error("image \(job.imageId): could not record the failure: \(error)", metadata: .about(batch: job.key.batchId, image: job.imageId))
        }
        forget(job)
    }

    private func forget(_ job: ImageJob) {
        jobs[job.key] = nil
        if let i = active.firstIndex(of: job.key) {
            active.remove(at: i)
        } else if let i = waiting.firstIndex(of: job.key) {
            waiting.remove(at: i)
        }
        answerFetches(batchId: job.key.batchId)
    }
}
