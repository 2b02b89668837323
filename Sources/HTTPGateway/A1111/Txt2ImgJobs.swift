import Foundation

/// The txt2img calls this gateway is answering, for `/sdapi/v1/progress` (A1111 reports one job;
/// a cluster runs many, so progress is over all of them together) and `/sdapi/v1/interrupt`
/// (which cancels every one of them, as A1111's stops the one it runs).
actor Txt2ImgJobs {
    struct Job {
        var batchId: String?
        var images: Int
        var finished = 0
        var started: Double
        var interrupted = false
    }

    private var jobs: [UUID: Job] = [:]
    /// When the first of the running jobs began (A1111's `job_timestamp`).
    private(set) var earliestStart: Date?

    func begin(images: Int) -> UUID {
        let id = UUID()
        jobs[id] = Job(images: images, started: Date().timeIntervalSince1970)
        if earliestStart == nil { earliestStart = Date() }
        return id
    }

    /// Records the batch a job submitted; false when an interrupt came first (cancel it then).
    func submitted(_ id: UUID, batchId: String) -> Bool {
        jobs[id]?.batchId = batchId
        return jobs[id]?.interrupted == false
    }

    func progress(_ id: UUID, finished: Int) { jobs[id]?.finished = finished }

    func end(_ id: UUID) {
        jobs[id] = nil
        if jobs.isEmpty { earliestStart = nil }
    }

    /// Marks every job interrupted and returns the batches to cancel.
    func interruptAll() -> [String] {
        for id in jobs.keys { jobs[id]?.interrupted = true }
        return jobs.values.compactMap(\.batchId)
    }

    func isInterrupted(_ id: UUID) -> Bool { jobs[id]?.interrupted ?? false }

    /// Progress 0...1 over every running job, seconds left at the rate so far, and the counts
    /// A1111's `state` carries.
    struct Snapshot {
        var progress: Double
        var etaSeconds: Double
        var jobCount: Int
        var jobsDone: Int
        var interrupted: Bool
        var started: Date?
    }

    func snapshot() -> Snapshot {
        let images = jobs.values.reduce(0) { $0 + $1.images }
        let finished = jobs.values.reduce(0) { $0 + $1.finished }
        guard images > 0 else { return Snapshot(progress: 0, etaSeconds: 0, jobCount: 0, jobsDone: 0, interrupted: false, started: nil) }
        // A1111 starts at 0.01 so that the ETA is defined before the first image.
        let progress = min(1, 0.01 + Double(finished) / Double(images))
        let elapsed = Date().timeIntervalSince1970 - (jobs.values.map(\.started).min() ?? 0)
        return Snapshot(progress: progress, etaSeconds: max(0, elapsed / progress - elapsed), jobCount: images, jobsDone: finished,
                        interrupted: jobs.values.contains { $0.interrupted }, started: earliestStart)
    }
}
