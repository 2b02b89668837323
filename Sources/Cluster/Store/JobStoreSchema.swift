/// The job store's tables. `PRAGMA user_version` holds the schema version; older stores are
/// migrated in place when opened.
enum JobStoreSchema {
    static let version = 2

    static let create = """
    CREATE TABLE batches (
        id            TEXT PRIMARY KEY,
        client_name   TEXT NOT NULL,
        submission_id TEXT UNIQUE,
        created       REAL NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('active', 'finished', 'cancelled')),
        output_dir    TEXT NOT NULL,
        image_count   INTEGER NOT NULL,
        owner         TEXT
    );
    CREATE TABLE images (
        batch_id         TEXT NOT NULL REFERENCES batches(id),
        idx              INTEGER NOT NULL,
        request_json     TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        result_file      TEXT,
        manifest_line    TEXT,
        error            TEXT,
        unet_evaluations INTEGER NOT NULL DEFAULT 0,
        workers          TEXT NOT NULL DEFAULT '[]',
        checkpoint       BLOB,
        finish_seq       INTEGER,
        updated          REAL NOT NULL,
        PRIMARY KEY (batch_id, idx)
    );
    CREATE INDEX images_unfinished ON images(batch_id, idx) WHERE state IN ('queued', 'running');
    CREATE INDEX images_finished ON images(batch_id, finish_seq) WHERE finish_seq IS NOT NULL;
    PRAGMA user_version = 2;
    """

    /// What brings a store of version `from` to `from + 1` (run in one transaction each).
    static let migrations: [Int: String] = [
        // 2: a batch's owner (the submitting client's public key with CURVE on; NULL otherwise).
        1: "ALTER TABLE batches ADD COLUMN owner TEXT; PRAGMA user_version = 2;",
    ]
}
