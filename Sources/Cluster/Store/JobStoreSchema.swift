/// The job store's tables. `PRAGMA user_version` holds the schema version; an older file is
/// brought up to `version` when it is opened (`migrations`), a newer one is refused.
enum JobStoreSchema {
    static let version = 2

    /// A new file: every table at the current version.
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
        engine_class     TEXT,
        engine_restarts  TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (batch_id, idx)
    );
    CREATE INDEX images_unfinished ON images(batch_id, idx) WHERE state IN ('queued', 'running');
    CREATE INDEX images_finished ON images(batch_id, finish_seq) WHERE finish_seq IS NOT NULL;
    PRAGMA user_version = \(version);
    """

    /// The step from each older version to the next, by the version it starts from; each sets
    /// `user_version` to the version it makes.
    static let migrations: [Int: String] = [
        // 1 -> 2: a batch's owner (the submitting client's CURVE public key; NULL on an open
        // cluster), the engine class an image's checkpoint was computed on, and its restarts on
        // another class (a JSON array of `EngineRestart`). Existing checkpoints have no class:
        // they are pinned to the class of their next placement.
        1: """
        ALTER TABLE batches ADD COLUMN owner TEXT;
        ALTER TABLE images ADD COLUMN engine_class TEXT;
        ALTER TABLE images ADD COLUMN engine_restarts TEXT NOT NULL DEFAULT '[]';
        PRAGMA user_version = 2;
        """,
    ]
}
