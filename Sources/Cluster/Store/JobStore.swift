import Foundation
import StableDiffusion

/// The coordinator's durable record of batches and images (Titanic-style: a batch is on disk
/// before the client hears ACCEPTED). SQLite in WAL mode; state changes that someone is told
/// about (submit, finish, cancel) commit with `synchronous=FULL`, frequent bookkeeping
/// (running, checkpoints) with `NORMAL`, which in WAL mode is consistent after a crash but may
/// lose the last commits on power loss (they are then redone, which determinism makes safe).
///
/// One connection, one thread: the coordinator's loop owns it.
final class JobStore {
    let db: SQLiteDatabase
    /// The journal mode SQLite actually chose ("wal" unless the file system cannot do it).
    private(set) var journalMode = ""

    /// Opens or creates the store at `path` (a file; its folder must exist).
    init(path: String) throws {
        db = try storeCall { try SQLiteDatabase(path: path) }
        try storeCall {
            try db.execute("PRAGMA busy_timeout = 5000")
            journalMode = try db.scalarText("PRAGMA journal_mode = WAL") ?? ""
            try db.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
        }
        let version = try storeCall { Int(try db.scalarText("PRAGMA user_version") ?? "0") ?? 0 }
        if version == 0 {
            try storeCall { try db.transaction { try db.execute(JobStoreSchema.create) } }
        } else if version > JobStoreSchema.version {
            throw JobStoreError.schemaTooNew(found: version, supported: JobStoreSchema.version)
        } else if version < JobStoreSchema.version {
            try migrate(from: version)
        }
    }

    /// Brings a file of an older schema version up to the current one, one version at a time,
    /// all in one transaction (a failure leaves the file as it was).
    private func migrate(from version: Int) throws {
        try storeCall {
            try db.transaction {
                for step in version..<JobStoreSchema.version {
                    guard let sql = JobStoreSchema.migrations[step] else {
                        throw JobStoreError.corruptRecord("schema version \(step) has no migration to \(step + 1)")
                    }
                    try db.execute(sql)
                }
            }
        }
    }

    /// Closes the connection, folding the WAL into the main file.
    func close() throws {
        try storeCall { try db.close() }
    }

    /// Runs a transaction whose commit is fsynced before this returns (`synchronous=FULL`).
    func durably<T>(_ body: () throws -> T) throws -> T {
        try storeCall {
            try db.execute("PRAGMA synchronous = FULL")
            defer { try? db.execute("PRAGMA synchronous = NORMAL") }
            return try db.transaction(body)
        }
    }

    // MARK: Batches

    /// Stores a batch and all its images as queued, in one durable transaction, and returns its
    /// id. A `submissionId` seen before returns the earlier batch (`isNew == false`) so that a
    /// client's retry after a lost ACCEPTED does not make the images twice.
    /// `owner` is the submitting client's key (nil on an open cluster); a submission id is
    /// matched only among the owner's own batches.
    func submit(clientName: String, submissionId: String? = nil, requests: [GenerationRequest],
                outputDirectory: String, owner: String? = nil, now: Double = Date().timeIntervalSince1970) throws -> SubmitOutcome {
        guard !requests.isEmpty else { throw JobStoreError.emptyBatch }
        return try durably {
            if let submissionId {
                let existing = try db.prepare("SELECT id, owner IS ? FROM batches WHERE submission_id = ?")
                if try existing.bind([owner.map { .text($0) } ?? .null, .text(submissionId)]).step(), let id = existing.text(0) {
                    guard existing.int(1) == 1 else { throw JobStoreError.submissionIdTaken(submissionId) }
                    return SubmitOutcome(batchId: id, isNew: false)
                }
            }
            let id = Self.newBatchId(now: now)
            try db.prepare("INSERT INTO batches (id, client_name, submission_id, created, state, output_dir, image_count, owner) VALUES (?, ?, ?, ?, 'active', ?, ?, ?)")
                .run([.text(id), .text(clientName), submissionId.map { .text($0) } ?? .null, .real(now),
                      .text(outputDirectory), .integer(Int64(requests.count)), owner.map { .text($0) } ?? .null])
            let insert = try db.prepare("INSERT INTO images (batch_id, idx, request_json, state, updated) VALUES (?, ?, ?, 'queued', ?)")
            for (i, request) in requests.enumerated() {
                let json = StoredJSON.text(request)
                try insert.run([.text(id), .integer(Int64(i)), .text(json), .real(now)])
            }
            return SubmitOutcome(batchId: id, isNew: true)
        }
    }

    /// The batch a submission id made, or nil when the id is new (lets the coordinator answer
    /// a client's retry before checking the requests again).
    /// - Throws: `submissionIdTaken` when another owner's batch has that id.
    func batchId(forSubmission submissionId: String, owner: String? = nil) throws -> String? {
        try storeCall {
            let q = try db.prepare("SELECT id, owner IS ? FROM batches WHERE submission_id = ?")
            guard try q.bind([owner.map { .text($0) } ?? .null, .text(submissionId)]).step() else { return nil }
            guard q.int(1) == 1 else { throw JobStoreError.submissionIdTaken(submissionId) }
            return q.text(0)
        }
    }

    /// Cancels a batch: its queued and running images become cancelled (done and failed ones
    /// stay). Returns how many images were cancelled.
    @discardableResult
    func cancel(batchId: String) throws -> Int {
        try durably {
            guard try batch(batchId) != nil else { throw JobStoreError.unknownBatch(batchId) }
            try db.prepare("UPDATE images SET state = 'cancelled', checkpoint = NULL, updated = ? WHERE batch_id = ? AND state IN ('queued', 'running')")
                .run([.real(Date().timeIntervalSince1970), .text(batchId)])
            let cancelled = db.changes
            try db.prepare("UPDATE batches SET state = 'cancelled' WHERE id = ? AND state = 'active'").run([.text(batchId)])
            return cancelled
        }
    }

    /// One batch, or nil.
    func batch(_ id: String) throws -> StoredBatch? {
        try storeCall {
            let q = try db.prepare("SELECT id, client_name, submission_id, created, state, output_dir, image_count, owner FROM batches WHERE id = ?")
            return try q.bind([.text(id)]).step() ? try Self.readBatch(q) : nil
        }
    }

    /// All batches, oldest first.
    func batches() throws -> [StoredBatch] {
        try storeCall {
            let q = try db.prepare("SELECT id, client_name, submission_id, created, state, output_dir, image_count, owner FROM batches ORDER BY created, rowid")
            try q.bind([])
            var out: [StoredBatch] = []
            while try q.step() { out.append(try Self.readBatch(q)) }
            return out
        }
    }

    /// Queued and running images of one owner's batches (nil: the batches without an owner).
    func unfinishedCount(owner: String?) throws -> Int {
        try storeCall {
            let q = try db.prepare("""
                SELECT COUNT(*) FROM images i JOIN batches b ON b.id = i.batch_id
                WHERE b.owner IS ? AND i.state IN ('queued', 'running')
                """)
            guard try q.bind([owner.map { .text($0) } ?? .null]).step() else { return 0 }
            return q.int(0)
        }
    }

    /// Image counts per state, for one batch or (nil) for the whole store.
    func counts(batchId: String? = nil) throws -> ImageCounts {
        if let batchId, try batch(batchId) == nil { throw JobStoreError.unknownBatch(batchId) }
        return try storeCall {
            let q = try db.prepare("SELECT state, COUNT(*) FROM images WHERE ?1 IS NULL OR batch_id = ?1 GROUP BY state")
            try q.bind([batchId.map { .text($0) } ?? .null])
            var counts = ImageCounts()
            while try q.step() {
                guard let state = q.text(0).flatMap(ImageStatus.init(rawValue:)) else { continue }
                counts[state] = q.int(1)
            }
            return counts
        }
    }

    private static func readBatch(_ q: SQLiteStatement) throws -> StoredBatch {
        guard let state = q.text(4).flatMap(BatchState.init(rawValue:)) else {
            throw JobStoreError.corruptRecord("batch \(q.text(0) ?? "?") has state \(q.text(4) ?? "NULL")")
        }
        return StoredBatch(id: q.text(0) ?? "", clientName: q.text(1) ?? "", submissionId: q.text(2), created: q.double(3),
                           state: state, outputDirectory: q.text(5) ?? "", imageCount: q.int(6), owner: q.text(7))
    }

    /// A sortable, folder-safe id: UTC time of submission and 24 random bits, e.g.
    /// `20261128-135700-3fa2c1`.
    static func newBatchId(now: Double) -> String {
        var seconds = time_t(now)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let date = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        let time = "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
        let random = String(UInt32.random(in: 0..<(1 << 24)), radix: 16)
        return "\(date)-\(time)-\(String(repeating: "0", count: 6 - random.count))\(random)"
    }
}
