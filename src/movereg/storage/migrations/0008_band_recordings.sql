-- Bands that record on their own (#23): per band, its on-band recording setting and what
-- it last told about itself; per recording a band held, its way from the band into a
-- child's record (on_band -> downloaded -> imported -> removed, or failed with a reason in
-- words). The child is the band's assignment at the time of recording (assignments
-- start/end), not at sync time. Times UTC ns. Depends on 0001 (and sources, 0005, for the
-- import a recording became). IF NOT EXISTS: a database re-migrated from an older
-- user_version (as a test does) applies it again harmlessly.
CREATE TABLE IF NOT EXISTS band_recorders (
    device_id          TEXT PRIMARY KEY REFERENCES devices(device_id),
    family             TEXT,
    recording          INTEGER NOT NULL DEFAULT 0,   -- 1 while the band records on its own
    rate_hz            REAL,                         -- the running (or last) recording's rate
    started_at         INTEGER,
    started_by         TEXT,
    stopped_at         INTEGER,
    stopped_by         TEXT,
    free_bytes         INTEGER,
    total_bytes        INTEGER,
    battery_pct        INTEGER,
    bytes_per_hour     REAL,                         -- memory one hour takes at ...
    bph_rate_hz        REAL,                         -- ... this rate, Hz (linear in rate)
    status_at          INTEGER,                      -- when the band last told its status
    last_sync_at       INTEGER,
    last_sync_ok       INTEGER,                      -- 1 ok, 0 not (see the message)
    last_sync_message  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS band_recordings (
    id             INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices(device_id),
    recording_id   TEXT NOT NULL,                    -- the band's own id, never reused
    started_ns     INTEGER,                          -- first sample (or the band's word)
    end_ns         INTEGER,
    size_bytes     INTEGER,
    sha256         TEXT,                             -- of the downloaded file
    state          TEXT NOT NULL CHECK (state IN ('on_band', 'downloaded', 'imported',
                                                  'removed', 'failed')),
    reason         TEXT NOT NULL DEFAULT '',         -- why failed (or waiting), in words
    attempts       INTEGER NOT NULL DEFAULT 0,
    child_id       INTEGER REFERENCES children(id) ON DELETE SET NULL,
    source_id      INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    first_seen_at  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (device_id, recording_id)
);
CREATE INDEX IF NOT EXISTS band_recordings_state ON band_recordings(device_id, state);
CREATE UNIQUE INDEX IF NOT EXISTS band_recordings_sha ON band_recordings(device_id, sha256)
    WHERE sha256 IS NOT NULL;
