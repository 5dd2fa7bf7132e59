-- movereg schema: families at home (issue 19). Self-contained: depends on 0001 only.
-- child_settings: per-child family settings (IANA time zone, check-ins on/off).
-- home_plan: the therapist's home plan ("sensory diet"): which strategy, when, how often,
--   on which weekdays; retired rows stay as history. What was done is read from the
--   strategy events of that strategy on that local day (a tick logs an event).
-- checkins: optional neutral 1-5 "how was this part of the day" and a free note; never
--   aggregated into a score.
-- deleted_children: a child's erasure leaves only its id and pseudonymous code here (the
--   audit log holds the tombstone entry with who, when and row counts).

CREATE TABLE child_settings (
    child_id          INTEGER PRIMARY KEY REFERENCES children(id) ON DELETE CASCADE,
    tz                TEXT,
    checkins_enabled  INTEGER NOT NULL DEFAULT 0 CHECK (checkins_enabled IN (0, 1)),
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT NOT NULL DEFAULT ''
);

CREATE TABLE home_plan (
    id             INTEGER PRIMARY KEY,
    child_id       INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    strategy       TEXT NOT NULL,
    when_text      TEXT NOT NULL DEFAULT '',
    times_per_day  INTEGER NOT NULL DEFAULT 1 CHECK (times_per_day BETWEEN 1 AND 12),
    weekdays       TEXT NOT NULL DEFAULT '0123456',
    position       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    retired_at     INTEGER,
    retired_by     TEXT
);
CREATE INDEX home_plan_child ON home_plan(child_id, retired_at, position);

CREATE TABLE checkins (
    id          INTEGER PRIMARY KEY,
    child_id    INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    at_ns       INTEGER NOT NULL,
    part        TEXT NOT NULL DEFAULT '',
    rating      INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    note        TEXT NOT NULL DEFAULT '',
    logged_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    logged_at   INTEGER NOT NULL
);
CREATE INDEX checkins_child ON checkins(child_id, at_ns);

CREATE TABLE deleted_children (
    child_id    INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    deleted_at  INTEGER NOT NULL
);
