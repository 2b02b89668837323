import CSQLite

/// One SQLite connection (system libsqlite3). Not thread-safe as a Swift object: use it from
/// one thread at a time.
final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?
    /// The file it was opened on.
    let path: String

    /// Opens (and by default creates) a database file.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | (create && !readOnly ? SQLITE_OPEN_CREATE : 0)
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let error = SQLiteError.last(db, code: rc, context: "opening \(path)")
            sqlite3_close_v2(db)
            throw error
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        if let db = handle { sqlite3_close_v2(db) }
    }

    /// Closes the connection (checkpointing the WAL if it is the last one). Later calls fail.
    func close() throws {
        guard let db = handle else { return }
        let rc = sqlite3_close_v2(db)
        handle = nil
        guard rc == SQLITE_OK else { throw SQLiteError.last(nil, code: rc, context: "closing \(path)") }
    }

    func live(_ context: String) throws -> OpaquePointer {
        guard let db = handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "database is closed", context: context)
        }
        return db
    }

    /// Runs one or more SQL statements that return no rows needed by the caller.
    func execute(_ sql: String) throws {
        let db = try live(sql)
        var errorText: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorText)
        defer { sqlite3_free(errorText) }
        guard rc == SQLITE_OK else {
            let message = errorText.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            throw SQLiteError(code: rc, message: message, context: sql)
        }
    }

    /// Compiles one statement.
    func prepare(_ sql: String) throws -> SQLiteStatement {
        let db = try live(sql)
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw SQLiteError.last(db, code: rc, context: sql) }
        return SQLiteStatement(statement, database: self, sql: sql)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// `immediate` takes the write lock at once, so a read-then-write body cannot fail halfway
    /// with SQLITE_BUSY.
    func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// The rowid of the last INSERT.
    var lastInsertRowId: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// The text value of a PRAGMA or any one-value query, nil when it returns no row.
    func scalarText(_ sql: String) throws -> String? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.text(0) : nil
    }
}
