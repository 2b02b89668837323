import XCTest
import StableDiffusion
@testable import Cluster

/// The engine class kept with an image's checkpoint (schema version 2): across a reopen, when
/// a restart drops it, and in a store written by schema version 1.
final class JobStoreEngineClassTests: XCTestCase {
    private func storePath() throws -> String {
        try temporaryFolder(self).appendingPathComponent("jobs.sqlite").path
    }

    func testTheClassAndTheRestartsOfACheckpointSurviveAReopen() throws {
        let path = try storePath()
        var store: JobStore? = try JobStore(path: path)
        let batch = try store!.submit(clientName: "c", requests: requests(2), outputDirectory: "/o").batchId
        let key = ImageKey(batchId: batch, index: 1)
        let restarts = [EngineRestart(from: "oneDNN 3.2.0 avx2 avx2 fp32", to: "unknown", atStep: 4)]
        XCTAssertTrue(try store!.saveCheckpoint(key, checkpoint: [5, 6], unetEvaluations: 3, workers: ["b1"],
                                                engineClass: "unknown", engineRestarts: restarts))
        try store!.close()
        store = nil

        let reopened = try JobStore(path: path)
        let images = try reopened.unfinishedImages()
        let image = try XCTUnwrap(images.first { $0.key == key })
        XCTAssertEqual(image.checkpoint, [5, 6])
        XCTAssertEqual(image.engineClass, "unknown")
        XCTAssertEqual(image.engineRestarts, restarts)
        let untouched = try XCTUnwrap(images.first { $0.key.index == 0 })
        XCTAssertNil(untouched.engineClass, "an image never checkpointed has no class")
        XCTAssertEqual(untouched.engineRestarts, [])
    }

    func testARestartDropsTheCheckpointClassAndWorkAndKeepsTheRestarts() throws {
        let path = try storePath()
        let store = try JobStore(path: path)
        let batch = try store.submit(clientName: "c", requests: requests(1), outputDirectory: "/o").batchId
        let key = ImageKey(batchId: batch, index: 0)
        try store.saveCheckpoint(key, checkpoint: [1], unetEvaluations: 8, workers: ["a1", "a2"], engineClass: "class-a")
        let restarts = [EngineRestart(from: "class-a", to: nil, atStep: 4)]
        XCTAssertTrue(try store.restartImage(key, engineRestarts: restarts))
        try store.close()

        let image = try XCTUnwrap(try JobStore(path: path).unfinishedImages().first)
        XCTAssertNil(image.checkpoint)
        XCTAssertNil(image.engineClass)
        XCTAssertEqual(image.unetEvaluations, 0)
        XCTAssertEqual(image.workers, [])
        XCTAssertEqual(image.engineRestarts, restarts)
        XCTAssertEqual(StoredJSON.text(restarts), #"[{"at_step":4,"from":"class-a"}]"#, "the stored form (and the manifest's)")
    }

    func testAVersion1StoreIsMigratedAndItsCheckpointsHaveNoClass() throws {
        let path = try storePath()
        // A store as schema version 1 made it: the images table without the class columns.
        let raw = try SQLiteDatabase(path: path)
        try raw.execute("""
            CREATE TABLE batches (
                id TEXT PRIMARY KEY, client_name TEXT NOT NULL, submission_id TEXT UNIQUE, created REAL NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('active', 'finished', 'cancelled')), output_dir TEXT NOT NULL,
                image_count INTEGER NOT NULL);
            CREATE TABLE images (
                batch_id TEXT NOT NULL REFERENCES batches(id), idx INTEGER NOT NULL, request_json TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
                result_file TEXT, manifest_line TEXT, error TEXT, unet_evaluations INTEGER NOT NULL DEFAULT 0,
                workers TEXT NOT NULL DEFAULT '[]', checkpoint BLOB, finish_seq INTEGER, updated REAL NOT NULL,
                PRIMARY KEY (batch_id, idx));
            CREATE INDEX images_unfinished ON images(batch_id, idx) WHERE state IN ('queued', 'running');
            CREATE INDEX images_finished ON images(batch_id, finish_seq) WHERE finish_seq IS NOT NULL;
            PRAGMA user_version = 1;
            """)
        try raw.execute("""
            INSERT INTO batches (id, client_name, created, state, output_dir, image_count) VALUES ('b1', 'c', 1, 'active', '/o', 1);
            INSERT INTO images (batch_id, idx, request_json, state, checkpoint, updated)
                VALUES ('b1', 0, '\(StoredJSON.text(requests(1)[0]))', 'running', x'0102', 1);
            """)
        XCTAssertThrowsError(try raw.execute("SELECT engine_class FROM images"), "the version 1 table has no class column")
        try raw.close()

        let store = try JobStore(path: path)
        XCTAssertEqual(try store.db.scalarText("PRAGMA user_version"), "2")
        let image = try XCTUnwrap(try store.unfinishedImages().first)
        XCTAssertEqual(image.checkpoint, [1, 2], "the old checkpoint is kept")
        XCTAssertNil(image.engineClass)
        XCTAssertEqual(image.engineRestarts, [])
        try store.saveCheckpoint(image.key, checkpoint: [3], unetEvaluations: 1, workers: [], engineClass: "class-a")
        try store.close()
        XCTAssertEqual(try JobStore(path: path).unfinishedImages().first?.engineClass, "class-a")
    }
}
