import XCTest
@testable import Cluster

final class SQLiteDatabaseTests: XCTestCase {
    func testValuesOfEveryTypeRoundTripThroughBindAndColumns() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (a, b, c, d, e, f)")
        let blob: [UInt8] = [0, 1, 2, 255, 0]
        try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)")
            .run([.null, .integer(Int64.min), .real(-0.125), .text("naïve ✓ text"), .blob(blob), .blob([])])
        let q = try db.prepare("SELECT a, b, c, d, e, f FROM t")
        XCTAssertTrue(try q.bind([]).step())
        XCTAssertTrue(q.isNull(0))
        XCTAssertNil(q.text(0))
        XCTAssertEqual(q.int64(1), Int64.min)
        XCTAssertEqual(q.double(2), -0.125)
        XCTAssertEqual(q.text(3), "naïve ✓ text")
        XCTAssertEqual(q.blob(4), blob)
        XCTAssertEqual(q.blob(5), [])
        XCTAssertFalse(try q.step(), "one row only")
    }

    func testTransactionCommitsOnReturnAndRollsBackOnThrow() throws {
        struct Boom: Error {}
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (x INTEGER)")
        try db.transaction { try db.prepare("INSERT INTO t VALUES (1)").run() }
        XCTAssertThrowsError(try db.transaction {
            try db.prepare("INSERT INTO t VALUES (2)").run()
            throw Boom()
        })
        XCTAssertEqual(try db.scalarText("SELECT group_concat(x) FROM t"), "1")
    }

    func testErrorsCarrySQLitesMessageAndCode() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        XCTAssertThrowsError(try db.execute("CREATE TABLEX nope")) { error in
            let e = error as? SQLiteError
            XCTAssertTrue(e?.message.contains("syntax error") ?? false, "\(error)")
        }
        try db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        try db.prepare("INSERT INTO t VALUES (1)").run()
        XCTAssertThrowsError(try db.prepare("INSERT INTO t VALUES (1)").run()) { error in
            XCTAssertEqual((error as? SQLiteError)?.primaryCode, 19, "SQLITE_CONSTRAINT")
            XCTAssertTrue((error as? SQLiteError)?.message.contains("UNIQUE") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try db.prepare("SELECT * FROM missing_table"))
    }

    func testClosedDatabaseRefusesWork() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.close()
        XCTAssertThrowsError(try db.execute("SELECT 1")) { XCTAssertEqual(($0 as? SQLiteError)?.code, 21, "SQLITE_MISUSE") }
    }
}
