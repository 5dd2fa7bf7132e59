-- movereg schema: per-device (band) calibration kept from earlier wear (#17).
-- A sphere fit (van Hees et al., J Appl Physiol 2014; GGIR g.calibrate) on the still
-- 10-s windows of a band's stored raw samples: calibrated = offset + scale * raw (g).
-- Every fit is kept (accepted or not, with the reason), so what was tried stays auditable;
-- the live pipeline applies the newest ACCEPTED fit of a band before every feature.
CREATE TABLE device_calibrations (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT NOT NULL REFERENCES devices(device_id),
    fitted_at       INTEGER NOT NULL,          -- UTC ns when the fit was made
    span_start_ns   INTEGER NOT NULL,          -- first stored sample the fit read (UTC ns)
    span_end_ns     INTEGER NOT NULL,          -- end of the last one (exclusive, UTC ns)
    n_samples       INTEGER NOT NULL CHECK (n_samples >= 0),
    n_windows       INTEGER NOT NULL CHECK (n_windows >= 0),   -- still windows (points) used
    error_before_mg REAL,                      -- mean | |window mean| - 1 g |, mg
    error_after_mg  REAL,
    offset_x REAL NOT NULL, offset_y REAL NOT NULL, offset_z REAL NOT NULL,   -- g
    scale_x  REAL NOT NULL, scale_y  REAL NOT NULL, scale_z  REAL NOT NULL,
    accepted        INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    reason          TEXT NOT NULL DEFAULT '',  -- why not accepted; '' when accepted
    method          TEXT NOT NULL,
    CHECK (span_end_ns >= span_start_ns)
);
CREATE INDEX device_calibrations_device ON device_calibrations(device_id, fitted_at);

-- Which calibration the live pipeline applied to a band's samples from when: one row each
-- time a band's feature engine starts (calibration_id NULL = none applied). The epochs of
-- a band at time t were computed with the row of the latest started_ns <= t.
CREATE TABLE device_calibration_uses (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT NOT NULL REFERENCES devices(device_id),
    started_ns      INTEGER NOT NULL,
    calibration_id  INTEGER REFERENCES device_calibrations(id)
);
CREATE INDEX device_calibration_uses_device ON device_calibration_uses(device_id, started_ns);
