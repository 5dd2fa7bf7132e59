-- movereg schema v1. Times are UTC nanoseconds since the Unix epoch (INTEGER).
-- Applied once, in a transaction, by movereg.storage._db.migrate (PRAGMA user_version).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Children: a random pseudonymous code; the display name lives in its own table so
-- exports and research queries never touch it.
CREATE TABLE children (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    age_band    TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE child_names (
    child_id      INTEGER PRIMARY KEY REFERENCES children(id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL
);

CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,          -- BLE address or sim-N (an identifier: hashed in exports)
    family      TEXT,
    label       TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE assignments (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(device_id),
    child_id    INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER,                   -- NULL = still assigned
    CHECK (end_ns IS NULL OR end_ns >= start_ns)
);
CREATE INDEX assignments_child ON assignments(child_id, start_ns);
CREATE INDEX assignments_device ON assignments(device_id, start_ns);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    child_id    INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('therapy', 'wear')),
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    device_id   TEXT REFERENCES devices(device_id),
    created_by  INTEGER REFERENCES users(id),
    note        TEXT NOT NULL DEFAULT '',
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX sessions_child ON sessions(child_id, started_at);

-- Raw samples: float32 little-endian (n, 3) in g, zlib-compressed; lossless.
CREATE TABLE raw_blocks (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(device_id),
    t0_ns       INTEGER NOT NULL,
    fs_hz       REAL NOT NULL,
    n           INTEGER NOT NULL CHECK (n >= 0),
    data        BLOB NOT NULL,
    UNIQUE (device_id, t0_ns)
);

CREATE TABLE epochs (
    device_id         TEXT NOT NULL REFERENCES devices(device_id),
    epoch_start       INTEGER NOT NULL,
    epoch_s           REAL NOT NULL,
    coverage          REAL,
    counts_x          INTEGER,
    counts_y          INTEGER,
    counts_z          INTEGER,
    counts_vm         REAL,
    enmo_mg           REAL,
    mad_mg            REAL,
    zone              INTEGER,
    nonwear           INTEGER,
    rhythm_strength   REAL,
    rhythm_hz         REAL,
    rhythmic_fraction REAL,
    flap_share        REAL,
    impacts           INTEGER,
    hard_impacts      INTEGER,
    jerk_g_s          REAL,
    jerk_p95_g_s      REAL,
    z_angle_deg       REAL,
    posture_changes   INTEGER,
    clipped           INTEGER,
    UNIQUE (device_id, epoch_start, epoch_s)
);

CREATE TABLE gaps (
    id               INTEGER PRIMARY KEY,
    device_id        TEXT NOT NULL REFERENCES devices(device_id),
    start_ns         INTEGER NOT NULL,
    end_ns           INTEGER NOT NULL,
    samples_missing  INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    UNIQUE (device_id, start_ns, reason)
);

-- Strategy catalogue, editable per clinic (seeded from strategies_default.yaml).
CREATE TABLE strategies (
    key              TEXT PRIMARY KEY,
    label            TEXT NOT NULL,
    category         TEXT NOT NULL,
    systems          TEXT NOT NULL DEFAULT '[]',   -- JSON list
    intended_effect  TEXT NOT NULL DEFAULT 'varies',
    expected_motion  TEXT NOT NULL DEFAULT '[]',   -- JSON list
    caution          TEXT NOT NULL DEFAULT '',
    setting          TEXT NOT NULL DEFAULT '[]',   -- JSON list
    active           INTEGER NOT NULL DEFAULT 1,
    custom           INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'therapist', 'parent', 'researcher')),
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

-- Caseload (therapist) and guardian (parent) links.
CREATE TABLE user_children (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    child_id  INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, child_id)
);

-- Strategy events: never edited in place. A correction voids the old row (reason kept)
-- and inserts a new row whose replaces_id points at it.
CREATE TABLE strategy_events (
    id            INTEGER PRIMARY KEY,
    child_id      INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    session_id    INTEGER REFERENCES sessions(id),
    strategy      TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    logged_by     INTEGER REFERENCES users(id),
    logged_at     INTEGER NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    initiated_by  TEXT CHECK (initiated_by IN ('child', 'adult')),
    planned       INTEGER,
    voided        INTEGER NOT NULL DEFAULT 0,
    void_reason   TEXT,
    voided_by     INTEGER REFERENCES users(id),
    voided_at     INTEGER,
    replaces_id   INTEGER REFERENCES strategy_events(id),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX strategy_events_child ON strategy_events(child_id, started_at);

-- Content columns are immutable; only voiding and closing an open span are allowed.
CREATE TRIGGER strategy_events_no_edit
BEFORE UPDATE ON strategy_events
WHEN OLD.voided = 1
  OR NEW.strategy IS NOT OLD.strategy OR NEW.started_at IS NOT OLD.started_at
  OR NEW.child_id IS NOT OLD.child_id OR NEW.note IS NOT OLD.note
  OR NEW.logged_by IS NOT OLD.logged_by OR NEW.logged_at IS NOT OLD.logged_at
  OR NEW.replaces_id IS NOT OLD.replaces_id
  OR (OLD.ended_at IS NOT NULL AND NEW.ended_at IS NOT OLD.ended_at)
BEGIN
    SELECT RAISE(ABORT, 'strategy events are never edited in place; void and re-create');
END;

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,              -- sha256 of the secret; the secret is never stored
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('session', 'bearer')),
    csrf        TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);

-- Append-only, hash-chained audit log.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    ts_ns      INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    child_id   INTEGER,
    detail     TEXT NOT NULL DEFAULT '{}',
    outcome    TEXT NOT NULL DEFAULT 'ok',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
