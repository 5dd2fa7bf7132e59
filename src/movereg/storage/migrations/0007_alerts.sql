-- movereg schema: device and data-health alerts (issue #14), kept across restarts.
-- One row per alert: raised (kind, device, child, start time, text), acknowledged (who,
-- when: also audit-logged), cleared (when its condition ended). Alerts describe bands
-- and storage, never a child's state; a child's alerts go with the child (erasure).
-- kind:       movereg.pipeline.alerts.ALERT_KINDS (battery_low, band_disconnected, ...)
-- source:     'check' (the hub's own checks raise and clear it) or 'raised' (raised and
--             cleared by other code through Hub.raise_alert / Hub.clear_alert)
-- started_ns: when the condition began, ns since the Unix epoch (UTC)
-- ended_ns:   when it ended (cleared); NULL while the alert is active
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'check' CHECK (source IN ('check', 'raised')),
    device_id   TEXT,
    child_id    INTEGER REFERENCES children(id) ON DELETE CASCADE,
    session_id  INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    started_ns  INTEGER NOT NULL,
    text        TEXT NOT NULL,
    ended_ns    INTEGER,
    acked_by    TEXT,
    acked_ns    INTEGER
);
-- at most one active alert per kind and device (device '' for storage)
CREATE UNIQUE INDEX IF NOT EXISTS alerts_active ON alerts(kind, COALESCE(device_id, ''))
    WHERE ended_ns IS NULL;
CREATE INDEX IF NOT EXISTS alerts_child ON alerts(child_id, id);
