/// Why a job-store operation failed.
enum JobStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// SQLite itself failed (disk full, file locked, corrupt file...).
    case sqlite(SQLiteError)
    /// No batch with this id is stored.
    case unknownBatch(String)
    /// No image with this batch id and index is stored.
    case unknownImage(ImageKey)
    /// A batch with no images was submitted.
    case emptyBatch
    /// The file was written by a newer sdcluster whose schema this build does not know.
    case schemaTooNew(found: Int, supported: Int)
    /// A stored request could not be read back as a `GenerationRequest`.
    case corruptRecord(String)
    /// Another client's batch already has this submission id.
    case submissionIdTaken(String)

    var description: String {
        switch self {
        case .sqlite(let e): return "job store: \(e)"
        case .unknownBatch(let id): return "job store: no batch \"\(id)\"; `sdcluster status` lists the batches"
        case .unknownImage(let key): return "job store: no image \(key.index) in batch \"\(key.batchId)\""
        case .emptyBatch: return "job store: a batch needs at least one image"
        case .schemaTooNew(let found, let supported):
            return "job store: schema version \(found) is newer than this build's \(supported); use a newer sdcluster or another --store"
        case .corruptRecord(let what): return "job store: unreadable record: \(what)"
        case .submissionIdTaken(let id): return "submission id \(id) belongs to another client's batch; submit with a fresh id"
        }
    }
}

/// Runs SQLite work, wrapping its errors as `JobStoreError.sqlite`.
func storeCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SQLiteError {
        throw JobStoreError.sqlite(error)
    }
}
