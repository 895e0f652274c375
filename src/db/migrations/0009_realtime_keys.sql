-- Realtime names that are never handed out twice. A restore from backup rewinds the pk
-- sequences, so a pk alone (`chat:<pk>`, `personal:<pk>`) can come back for a new row,
-- maybe of another app, while Centrifugo and clients still hold the lost row's name.
-- Rows made from now on get 64 random bits (16 lowercase hex characters), and their
-- names carry them (`chat:<pk>.<key>`). Rows already here keep NULL and their names.
ALTER TABLE channels ADD COLUMN realtime_key TEXT;
ALTER TABLE users ADD COLUMN realtime_key TEXT;
