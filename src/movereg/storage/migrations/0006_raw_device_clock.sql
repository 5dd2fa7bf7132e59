-- movereg schema: raw blocks keep the device's own clock and the frame sequence number
-- next to the UTC time movereg assigned (t0_ns), so clock mapping and gap decisions can
-- be audited later. NULL where the protocol carries none (or for blocks stored before).
-- device_time_ns: the device clock of the block's LAST sample, ns since the Unix epoch
--                 as the device states it (models.RawBlock.device_time_ns).
-- frame_seq:      the protocol's sequence number of the notification (RawBlock.seq).
ALTER TABLE raw_blocks ADD COLUMN device_time_ns INTEGER;
ALTER TABLE raw_blocks ADD COLUMN frame_seq INTEGER;
