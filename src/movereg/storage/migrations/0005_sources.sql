-- Sources: every arrival of movement data is a source with its provenance (DESIGN.md §2).
-- kind 'live': one per band that streamed (rows reach a child through assignments);
-- kind 'file': one per imported recording file, its epochs stored under its own device
-- id ('import-<id>') and assigned to the child over the recording's span.
-- Depends only on 0001.
CREATE TABLE sources (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('live', 'file')),
    device_id        TEXT NOT NULL,           -- the device id its rows are stored under
    child_id         INTEGER REFERENCES children(id) ON DELETE CASCADE,  -- file sources
    file_name        TEXT,
    size_bytes       INTEGER,
    sha256           TEXT,
    device_type      TEXT,                    -- e.g. AX3, GT3X, GENEActiv, CSV
    serial_hash      TEXT,                    -- salted hash of the device serial
    fs_hz            REAL,                    -- configured rate, Hz
    measured_fs_hz   REAL,                    -- rate measured from the device clock, Hz
    tz               TEXT,
    first_sample_ns  INTEGER,                 -- UTC ns
    last_sample_ns   INTEGER,                 -- UTC ns
    samples_read     INTEGER,
    samples_skipped  INTEGER,
    damage           TEXT NOT NULL DEFAULT '[]',   -- JSON [{reason, message, blocks, samples}]
    n_epochs         INTEGER,
    n_gaps           INTEGER,
    imported_by      TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('live', 'pending', 'running', 'done',
                                                     'failed', 'cancelled', 'removed')),
    progress         REAL NOT NULL DEFAULT 0,  -- 0..1
    message          TEXT NOT NULL DEFAULT '',
    removed_reason   TEXT,
    removed_by       TEXT,
    removed_at       INTEGER
);
CREATE UNIQUE INDEX sources_live ON sources(device_id) WHERE kind = 'live';
-- the same file once per child while it is pending, running or held
CREATE UNIQUE INDEX sources_sha ON sources(child_id, sha256)
    WHERE kind = 'file' AND status IN ('pending', 'running', 'done');
CREATE INDEX sources_child ON sources(child_id, status);

ALTER TABLE epochs ADD COLUMN source_id INTEGER REFERENCES sources(id);
ALTER TABLE gaps ADD COLUMN source_id INTEGER REFERENCES sources(id);

-- existing data is live data: one live source per band that has any
INSERT INTO sources(kind, device_id, created_at, status)
    SELECT 'live', device_id, created_at, 'live' FROM devices
    WHERE device_id IN (SELECT device_id FROM epochs UNION SELECT device_id FROM gaps);
UPDATE epochs SET source_id = (SELECT s.id FROM sources s WHERE s.kind = 'live'
                               AND s.device_id = epochs.device_id);
UPDATE gaps SET source_id = (SELECT s.id FROM sources s WHERE s.kind = 'live'
                             AND s.device_id = gaps.device_id);

-- rows written without a source (the live pipeline) belong to their band's live source
CREATE TRIGGER epochs_live_source AFTER INSERT ON epochs WHEN NEW.source_id IS NULL
BEGIN
    INSERT OR IGNORE INTO sources(kind, device_id, created_at, status)
        VALUES ('live', NEW.device_id, NEW.epoch_start, 'live');
    UPDATE epochs SET source_id = (SELECT id FROM sources WHERE kind = 'live'
                                   AND device_id = NEW.device_id) WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER gaps_live_source AFTER INSERT ON gaps WHEN NEW.source_id IS NULL
BEGIN
    INSERT OR IGNORE INTO sources(kind, device_id, created_at, status)
        VALUES ('live', NEW.device_id, NEW.start_ns, 'live');
    UPDATE gaps SET source_id = (SELECT id FROM sources WHERE kind = 'live'
                                 AND device_id = NEW.device_id) WHERE id = NEW.id;
END;
