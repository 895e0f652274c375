-- Outbox row ids are never reused (AUTOINCREMENT). Two `serve` processes on one database
-- (a rolling deploy) each relay the outbox and delete what they published by `pk`: with
-- reusable ids, a slower relay deleted rows written after the table had emptied, under
-- the ids of rows it had read, and those events were never published.
CREATE TABLE outbox_v8 (
    pk          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL,
    command     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) STRICT;
INSERT INTO outbox_v8 (pk, event_id, command, created_at, attempts, last_error)
    SELECT pk, event_id, command, created_at, attempts, last_error FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v8 RENAME TO outbox;
