import Foundation
import StableDiffusion

/// Per-image state changes and the queries the coordinator resumes from.
extension JobStore {
    /// Marks a queued image as running. Returns false (and changes nothing) when it is not
    /// queued any more (running, finished or cancelled).
    @discardableResult
    func markRunning(_ key: ImageKey) throws -> Bool {
        let changed = try storeCall {
            try db.prepare("UPDATE images SET state = 'running', updated = ? WHERE batch_id = ? AND idx = ? AND state = 'queued'")
                .run([.real(Date().timeIntervalSince1970), .text(key.batchId), .integer(Int64(key.index))])
            return db.changes == 1
        }
        if !changed { try requireImage(key) }
        return changed
    }

    /// Saves an unfinished image's sampling state (opaque bytes), its work so far and the
    /// engine class it was computed on, so that a restarted coordinator resumes from here, on
    /// that class. Returns false when the image is finished or cancelled (the caller should
    /// stop working on it).
    @discardableResult
    func saveCheckpoint(_ key: ImageKey, checkpoint: [UInt8], unetEvaluations: Int, workers: [String],
                        engineClass: String? = nil, engineRestarts: [EngineRestart] = []) throws -> Bool {
        let entry = CheckpointEntry(key: key, checkpoint: checkpoint, unetEvaluations: unetEvaluations, workers: workers,
                                    engineClass: engineClass, engineRestarts: engineRestarts)
        let changed = try storeCall {
            try Self.checkpointUpdate(db).run(Self.checkpointValues(entry, now: Date().timeIntervalSince1970))
            return db.changes == 1
        }
        if !changed { try requireImage(key) }
        return changed
    }

    /// Saves several checkpoints in one transaction (one commit instead of one per image step:
    /// what lets one coordinator step hundreds of images a second). Images that are finished
    /// or cancelled meanwhile are left alone.
    func saveCheckpoints(_ entries: [CheckpointEntry]) throws {
        guard !entries.isEmpty else { return }
        try storeCall {
            try db.transaction {
                let update = try Self.checkpointUpdate(db)
                let now = Date().timeIntervalSince1970
                for entry in entries { try update.run(Self.checkpointValues(entry, now: now)) }
            }
        }
    }

    private static func checkpointUpdate(_ db: SQLiteDatabase) throws -> SQLiteStatement {
        try db.prepare("""
            UPDATE images SET state = 'running', checkpoint = ?, unet_evaluations = ?, workers = ?, engine_class = ?,
                engine_restarts = ?, updated = ?
            WHERE batch_id = ? AND idx = ? AND state IN ('queued', 'running')
            """)
    }

    private static func checkpointValues(_ e: CheckpointEntry, now: Double) -> [SQLiteValue] {
        [.blob(e.checkpoint), .integer(Int64(e.unetEvaluations)), .text(json(e.workers)),
         e.engineClass.map { .text($0) } ?? .null, .text(StoredJSON.text(e.engineRestarts)),
         .real(now), .text(e.key.batchId), .integer(Int64(e.key.index))]
    }

    /// Drops an unfinished image's checkpoint, class and work so far (it starts again from its
    /// first step on another engine class) and records its restarts. Returns false when the
    /// image is finished or cancelled.
    @discardableResult
    func restartImage(_ key: ImageKey, engineRestarts: [EngineRestart]) throws -> Bool {
        let changed = try storeCall {
            try db.prepare("""
                UPDATE images SET checkpoint = NULL, engine_class = NULL, unet_evaluations = 0, workers = '[]',
                    engine_restarts = ?, updated = ?
                WHERE batch_id = ? AND idx = ? AND state IN ('queued', 'running')
                """)
                .run([.text(StoredJSON.text(engineRestarts)), .real(Date().timeIntervalSince1970),
                      .text(key.batchId), .integer(Int64(key.index))])
            return db.changes == 1
        }
        if !changed { try requireImage(key) }
        return changed
    }

    /// Records a finished image durably. Returns its finishing sequence number in the batch, or
    /// nil when it was already finished or cancelled (a late duplicate: ignore it).
    @discardableResult
    func markDone(_ key: ImageKey, outcome: ImageOutcome) throws -> Int? {
        try finish(key, state: .done, file: outcome.fileName, manifestLine: outcome.manifestLine, error: nil,
                   unetEvaluations: outcome.unetEvaluations, workers: outcome.workers)
    }

    /// Records that an image was given up on. Same return value as `markDone`.
    @discardableResult
    func markFailed(_ key: ImageKey, error: String, unetEvaluations: Int = 0, workers: [String] = []) throws -> Int? {
        try finish(key, state: .failed, file: nil, manifestLine: nil, error: error,
                   unetEvaluations: unetEvaluations, workers: workers)
    }

    private func finish(_ key: ImageKey, state: ImageStatus, file: String?, manifestLine: String?, error: String?,
                        unetEvaluations: Int, workers: [String]) throws -> Int? {
        try durably {
            guard let current = try imageStatus(key) else { throw JobStoreError.unknownImage(key) }
            guard current.isUnfinished else { return nil }
            let next = try db.prepare("SELECT COALESCE(MAX(finish_seq) + 1, 0) FROM images WHERE batch_id = ?")
            _ = try next.bind([.text(key.batchId)]).step()
            let sequence = next.int(0)
            try db.prepare("""
                UPDATE images SET state = ?, result_file = ?, manifest_line = ?, error = ?, unet_evaluations = ?,
                    workers = ?, checkpoint = NULL, finish_seq = ?, updated = ?
                WHERE batch_id = ? AND idx = ?
                """)
                .run([.text(state.rawValue), file.map { .text($0) } ?? .null, manifestLine.map { .text($0) } ?? .null,
                      error.map { .text($0) } ?? .null, .integer(Int64(unetEvaluations)), .text(Self.json(workers)),
                      .integer(Int64(sequence)), .real(Date().timeIntervalSince1970), .text(key.batchId), .integer(Int64(key.index))])
            try db.prepare("""
                UPDATE batches SET state = 'finished' WHERE id = ?1 AND state = 'active'
                AND NOT EXISTS (SELECT 1 FROM images WHERE batch_id = ?1 AND state IN ('queued', 'running'))
                """).run([.text(key.batchId)])
            return sequence
        }
    }

    /// The status of one image, or nil when there is no such image.
    func imageStatus(_ key: ImageKey) throws -> ImageStatus? {
        try storeCall {
            let q = try db.prepare("SELECT state FROM images WHERE batch_id = ? AND idx = ?")
            guard try q.bind([.text(key.batchId), .integer(Int64(key.index))]).step() else { return nil }
            return q.text(0).flatMap(ImageStatus.init(rawValue:))
        }
    }

    /// Every queued or running image of active batches, oldest batch first, in index order:
    /// what a (re)started coordinator has to do. Finished images never appear here.
    func unfinishedImages() throws -> [StoredImage] {
        try storeCall {
            let q = try db.prepare("""
                SELECT i.batch_id, i.idx, i.request_json, i.state, b.output_dir, i.checkpoint, i.unet_evaluations, i.workers,
                    i.engine_class, i.engine_restarts
                FROM images i JOIN batches b ON b.id = i.batch_id
                WHERE i.state IN ('queued', 'running') AND b.state = 'active'
                ORDER BY b.created, b.rowid, i.idx
                """)
            try q.bind([])
            var images: [StoredImage] = []
            while try q.step() {
                let key = ImageKey(batchId: q.text(0) ?? "", index: q.int(1))
                images.append(StoredImage(key: key, request: try Self.request(q.text(2) ?? "", key),
                                          state: ImageStatus(rawValue: q.text(3) ?? "") ?? .queued,
                                          outputDirectory: q.text(4) ?? "", checkpoint: q.blob(5), unetEvaluations: q.int(6),
                                          workers: Self.names(q.text(7) ?? "[]"), engineClass: q.text(8),
                                          engineRestarts: try Self.restarts(q.text(9) ?? "[]", key)))
            }
            return images
        }
    }

    /// Finished (done or failed) images of a batch whose sequence number is >= `since`, in
    /// finishing order, at most `limit` of them.
    func resultsSince(batchId: String, since: Int, limit: Int = 1000) throws -> [StoredResult] {
        if try batch(batchId) == nil { throw JobStoreError.unknownBatch(batchId) }
        return try storeCall {
            let q = try db.prepare("""
                SELECT idx, finish_seq, state, result_file, manifest_line, error, unet_evaluations, workers FROM images
                WHERE batch_id = ? AND finish_seq >= ? ORDER BY finish_seq LIMIT ?
                """)
            try q.bind([.text(batchId), .integer(Int64(since)), .integer(Int64(limit))])
            var out: [StoredResult] = []
            while try q.step() {
                out.append(StoredResult(key: ImageKey(batchId: batchId, index: q.int(0)), sequence: q.int(1),
                                        state: ImageStatus(rawValue: q.text(2) ?? "") ?? .failed, fileName: q.text(3),
                                        manifestLine: q.text(4), error: q.text(5), unetEvaluations: q.int(6),
                                        workers: Self.names(q.text(7) ?? "[]")))
            }
            return out
        }
    }

    private func requireImage(_ key: ImageKey) throws {
        if try imageStatus(key) == nil { throw JobStoreError.unknownImage(key) }
    }

    static func json(_ names: [String]) -> String { StoredJSON.text(names) }

    static func names(_ json: String) -> [String] {
        (try? StoredJSON.value([String].self, from: json)) ?? []
    }

    static func restarts(_ json: String, _ key: ImageKey) throws -> [EngineRestart] {
        do {
            return try StoredJSON.value([EngineRestart].self, from: json)
        } catch {
            throw JobStoreError.corruptRecord("engine restarts of image \(key): \(error)")
        }
    }

    static func request(_ json: String, _ key: ImageKey) throws -> GenerationRequest {
        do {
            return try StoredJSON.value(GenerationRequest.self, from: json)
        } catch {
            throw JobStoreError.corruptRecord("request of image \(key): \(error)")
        }
    }
}
