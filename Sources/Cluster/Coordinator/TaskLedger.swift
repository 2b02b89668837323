import StableDiffusion

/// A task out at a worker: what it covers, so it can be re-sent elsewhere if the worker is lost.
struct TaskRecord {
    enum Work {
        case text(ImageKey)
        case unet(UNetEvalTask, items: [(key: ImageKey, step: Int, slot: TextSlot)])
        case vae(ImageKey)
    }

    let id: String
    let worker: [UInt8]
    var work: Work
    let sentAt: Double
    let deadline: Double

    var evaluationCount: Int {
        if case .unet(_, let items) = work { return items.count }
        return 0
    }

    /// The images the task works on, each once, in task order.
    var imageKeys: [ImageKey] { work.imageKeys }
}

extension TaskRecord.Work {
    /// The images this work is for, each once, in task order.
    var imageKeys: [ImageKey] {
        switch self {
        case .text(let key), .vae(let key): return [key]
        case .unet(_, let items):
            var keys: [ImageKey] = []
            for item in items where !keys.contains(item.key) { keys.append(item.key) }
            return keys
        }
    }
}

/// The coordinator's one record of which tasks are out at which worker. A task is opened when
/// it is sent and closed exactly once: by its answer (or refusal), by its deadline, or by its
/// worker leaving or being retired. Whatever closed it, a later answer to it finds nothing
/// here and is ignored (a late duplicate), so the work it covered is never counted twice.
struct TaskLedger {
    private var records: [String: TaskRecord] = [:]
    private var byWorker: [[UInt8]: Set<String>] = [:]

    /// Tasks out now.
    var count: Int { records.count }

    /// Books a task sent to `record.worker`.
    mutating func open(_ record: TaskRecord) {
        precondition(records[record.id] == nil, "task \(record.id) opened twice")
        records[record.id] = record
        byWorker[record.worker, default: []].insert(record.id)
    }

    /// The record of a task out at `worker`; nil when it is unknown, closed, or out at another.
    func record(_ taskId: String, at worker: [UInt8]) -> TaskRecord? {
        guard let record = records[taskId], record.worker == worker else { return nil }
        return record
    }

    /// Takes a task out at `worker` off the books (its answer came, or it failed); nil when it
    /// is not out there (any more): the caller ignores that answer.
    mutating func close(_ taskId: String, from worker: [UInt8]) -> TaskRecord? {
        guard let record = record(taskId, at: worker) else { return nil }
        remove(record)
        return record
    }

    /// Replaces what an open task covers (the same task sent again with more attached).
    mutating func update(_ taskId: String, work: TaskRecord.Work) {
        records[taskId]?.work = work
    }

    /// Closes every task out at a worker (it left, went silent, or was retired), oldest first.
    mutating func dropWorker(_ worker: [UInt8]) -> [TaskRecord] {
        let dropped = tasks(of: worker)
        for record in dropped { remove(record) }
        byWorker[worker] = nil
        return dropped
    }

    /// Closes and returns every task that only works for images matching `abandoned` (their
    /// batch was cancelled): the worker's answer will find nothing, and it is free for more.
    mutating func closeAbandoned(_ abandoned: (ImageKey) -> Bool) -> [TaskRecord] {
        let closing = records.values.filter { !$0.imageKeys.isEmpty && $0.imageKeys.allSatisfy(abandoned) }.sorted(by: Self.oldestFirst)
        for record in closing { remove(record) }
        return closing
    }

    /// Closes and returns the tasks whose deadline is before `now`, oldest first.
    mutating func closeOverdue(at now: Double) -> [TaskRecord] {
        let late = overdue(at: now)
        for record in late { remove(record) }
        return late
    }

    /// The open tasks whose deadline is before `now`, oldest first.
    func overdue(at now: Double) -> [TaskRecord] {
        records.values.filter { now > $0.deadline }.sorted(by: Self.oldestFirst)
    }

    /// The tasks out at a worker, oldest first.
    func tasks(of worker: [UInt8]) -> [TaskRecord] {
        (byWorker[worker] ?? []).compactMap { records[$0] }.sorted(by: Self.oldestFirst)
    }

    /// Whether nothing is out at the worker.
    func isIdle(_ worker: [UInt8]) -> Bool { byWorker[worker]?.isEmpty ?? true }

    /// UNet evaluations out at the worker (STATUS's `inFlight`).
    func evaluations(of worker: [UInt8]) -> Int {
        (byWorker[worker] ?? []).reduce(0) { $0 + (records[$1]?.evaluationCount ?? 0) }
    }

    private mutating func remove(_ record: TaskRecord) {
        records[record.id] = nil
        byWorker[record.worker]?.remove(record.id)
        if byWorker[record.worker]?.isEmpty == true { byWorker[record.worker] = nil }
    }

    private static func oldestFirst(_ a: TaskRecord, _ b: TaskRecord) -> Bool {
        (a.sentAt, a.id) < (b.sentAt, b.id)
    }
}
