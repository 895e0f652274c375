-- Events Centrifugo refused for good (unknown channel, bad request, …), kept with the
-- reason instead of blocking the events behind them.
CREATE TABLE outbox_failed (
    pk          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    command     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    failed_at   INTEGER NOT NULL,
    code        INTEGER,
    reason      TEXT NOT NULL
) STRICT;
