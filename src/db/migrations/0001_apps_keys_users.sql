-- Apps, their API keys (hash only) and their users. Times are Unix milliseconds.
CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id),
    name          TEXT,
    key_hash      BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX api_keys_by_app ON api_keys(app_id);

-- `pk` is the ASCII surrogate key for anything that must name a user in Centrifugo
-- channel names; `id` is the customer's own id, any characters. AUTOINCREMENT, so
-- a deleted user's personal channel name never passes to another user.
CREATE TABLE users (
    pk          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      TEXT NOT NULL REFERENCES apps(id),
    id          TEXT NOT NULL,
    name        TEXT,
    image       TEXT,
    email       TEXT,
    custom      TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (app_id, id)
) STRICT;
