import Foundation

/// Keeping every evaluation of an image on workers of one engine class, and what happens when
/// that class leaves: the image waits `classGrace` seconds for a worker of it to come (back),
/// then starts again from its first step on a class that is connected.
extension Coordinator {
    /// Runs once per turn (in `dispatch`, before any task is given): notes which prepared images
    /// have no usable worker of their class hosting their model, and restarts those that have
    /// waited `classGrace` when a worker of another class can take them (queued again: true
    /// when there were any). An image no connected worker can take waits on.
    func restartImagesOfMissingClasses(now: Double) -> Bool {
        var classesByModel: [String: Set<String>] = [:]
        for worker in workers.values where worker.isUsable {
            for model in worker.ready.models where models[model.name]?.contentHash == model.contentHash {
                classesByModel[model.name, default: []].insert(worker.engineClass)
            }
        }
        var restarted: [ImageKey] = []
        for key in active {
            guard let job = jobs[key], let pinned = job.engineClass else { continue }
            let present = resolvedModel(job.request.model).flatMap { classesByModel[$0] } ?? []
            if present.contains(pinned) {
                job.classMissingSince = nil
                continue
            }
            let since = job.classMissingSince ?? now
            job.classMissingSince = since
            guard now - since >= options.classGrace, !present.isEmpty else { continue }
            restart(job, missingFor: now - since, present: present)
            restarted.append(key)
        }
        guard !restarted.isEmpty else { return false }
        // Queued again ahead of the images not yet started (they are older), in their order.
        active.removeAll { restarted.contains($0) }
        waiting.insert(contentsOf: restarted, at: 0)
        return true
    }

    /// Drops an image's work (in memory and in the store) so it starts again from its first step.
    private func restart(_ job: ImageJob, missingFor: Double, present: Set<String>) {
        let restart = job.restartFromFirstStep()
        unsavedCheckpoints.remove(job.key)
        do {
            try store.restartImage(job.key, engineRestarts: job.engineRestarts)
        } catch {
            log.error("image \(job.imageId): could not record its restart: \(error); a coordinator restart would resume its old checkpoint on its old class",
                      metadata: .about(batch: job.key.batchId, image: job.imageId))
        }
        log.warning("image \(job.imageId) restarts from its first step: no worker of its engine class \(restart.from) for \(String(format: "%.0f", missingFor)) s (grace \(String(format: "%.0f", options.classGrace)) s); its work up to step \(restart.atStep) is dropped; classes connected: \(present.sorted().joined(separator: ", "))",
                    metadata: .about(batch: job.key.batchId, image: job.imageId))
    }
}
