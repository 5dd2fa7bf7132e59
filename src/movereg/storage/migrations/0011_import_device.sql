-- movereg schema: a pending import keeps the device id it was started with, so a server
-- that stopped (or was killed) mid-import runs it again exactly as first called.
-- The band sync, a relay's upload and a file upload with a device pass the band's (or the
-- given) device id; its salted hash names the device of the stored import
-- (sources.serial_hash). Before this column a resumed import fell back to the serial in
-- the file itself. NULL: no device given (the file's own serial names it) - also every row
-- from before this migration, which resume exactly as they did. Kept only while the import
-- is pending or running: set to NULL when it is stored, fails or is cancelled (the record
-- keeps only the hash). Depends only on 0005 (sources).
ALTER TABLE sources ADD COLUMN import_device TEXT;
