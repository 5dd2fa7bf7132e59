-- movereg: a therapist's clinic day (issue 15; planned as migration 0006, renumber on merge).
-- Self-contained: depends only on 0001.
--
-- 1. Never-lost logging: the client-made Idempotency-Key of the request that created an
--    event. A repeated key answers with the first event instead of adding a second.
ALTER TABLE strategy_events ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX strategy_events_idempotency
    ON strategy_events(idempotency_key) WHERE idempotency_key IS NOT NULL;

-- 2. Group sessions: sessions started together share group_id (the first one's id).
ALTER TABLE sessions ADD COLUMN group_id INTEGER REFERENCES sessions(id);
CREATE INDEX sessions_group ON sessions(group_id) WHERE group_id IS NOT NULL;

-- 3. Per-child pinned favourite strategies, in the order the therapist set (never
--    reordered by use).
CREATE TABLE child_favourites (
    child_id  INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    strategy  TEXT NOT NULL,
    PRIMARY KEY (child_id, strategy)
);
