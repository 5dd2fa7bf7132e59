-- movereg schema v2: per-child research-use consent (privacy by default).
-- A child without a current, consented, not-withdrawn record is never in a researcher's
-- export. Records are never edited: recording consent (or a refusal) inserts a row; a
-- withdrawal stamps withdrawn_at / withdrawn_by on the current row, once.
-- scope: 'features' = epoch features, movement breaks and strategy events;
--        'features+raw' = also the raw acceleration samples.

CREATE TABLE research_consent (
    id            INTEGER PRIMARY KEY,
    child_id      INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    consented     INTEGER NOT NULL CHECK (consented IN (0, 1)),
    scope         TEXT NOT NULL CHECK (scope IN ('features', 'features+raw')),
    recorded_at   INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    withdrawn_at  INTEGER,
    withdrawn_by  TEXT,
    CHECK (withdrawn_at IS NULL OR withdrawn_at >= recorded_at)
);
CREATE INDEX research_consent_child ON research_consent(child_id, id);

CREATE TRIGGER research_consent_no_edit
BEFORE UPDATE ON research_consent
WHEN OLD.withdrawn_at IS NOT NULL
  OR NEW.child_id IS NOT OLD.child_id OR NEW.consented IS NOT OLD.consented
  OR NEW.scope IS NOT OLD.scope OR NEW.recorded_at IS NOT OLD.recorded_at
  OR NEW.recorded_by IS NOT OLD.recorded_by
BEGIN
    SELECT RAISE(ABORT, 'consent records are never edited; record a new one');
END;

CREATE TRIGGER research_consent_no_delete
BEFORE DELETE ON research_consent
WHEN (SELECT COUNT(*) FROM children WHERE id = OLD.child_id) > 0
BEGIN
    SELECT RAISE(ABORT, 'consent history is kept; withdraw instead of deleting');
END;
