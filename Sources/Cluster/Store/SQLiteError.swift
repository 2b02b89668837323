import CSQLite

/// A failed SQLite call: the result code, `sqlite3_errmsg`'s text and what was being done.
struct SQLiteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The (extended) SQLite result code, e.g. 19 (SQLITE_CONSTRAINT) or 5 (SQLITE_BUSY).
    let code: Int32
    let message: String
    /// The operation or SQL that failed.
    let context: String

    /// The error the connection reports right after a failed call.
    static func last(_ db: OpaquePointer?, code: Int32, context: String) -> SQLiteError {
        let text = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
        return SQLiteError(code: code, message: text, context: context)
    }

    /// The primary result code (the low byte of the extended code).
    var primaryCode: Int32 { code & 0xFF }

    var description: String {
        "SQLite error \(code) (\(message)) while \(context)" + (advice.map { ": \($0)" } ?? "")
    }

    /// What the operator can do about the common environmental failures.
    var advice: String? {
        switch primaryCode {
        case SQLITE_FULL: return "the store's disk is full; free space there (nothing already accepted is lost)"
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM: return "the store's folder or file is not writable by this user"
        case SQLITE_IOERR: return "the store's disk failed to read or write (full, removed, or failing)"
        default: return nil
        }
    }
}
