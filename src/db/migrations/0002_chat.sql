-- Chat: channels, members, messages, reactions, and the outbox of realtime events.
-- `pk` columns are the ASCII surrogate keys used in Centrifugo channel names
-- (`chat:<channels.pk>`, `personal:<users.pk>`); caller-chosen ids never reach them.
-- AUTOINCREMENT: a deleted channel's pk (and so its realtime name) is never reused.

CREATE TABLE channels (
    pk            INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id        TEXT NOT NULL REFERENCES apps(id),
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('group', 'direct')),
    -- For direct channels: "<smaller user pk>:<larger user pk>", one channel per pair.
    direct_key    TEXT,
    name          TEXT,
    custom        TEXT NOT NULL DEFAULT '{}',
    created_by    INTEGER REFERENCES users(pk),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    -- Newest activity (creation or last message): the order of channel lists.
    activity_at   INTEGER NOT NULL,
    UNIQUE (app_id, id),
    UNIQUE (app_id, direct_key)
) STRICT;

CREATE TABLE members (
    channel_pk  INTEGER NOT NULL REFERENCES channels(pk) ON DELETE CASCADE,
    user_pk     INTEGER NOT NULL REFERENCES users(pk),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    read_seq    INTEGER NOT NULL DEFAULT 0,
    joined_at   INTEGER NOT NULL,
    PRIMARY KEY (channel_pk, user_pk)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user_pk, channel_pk);

CREATE TABLE messages (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    channel_pk     INTEGER NOT NULL REFERENCES channels(pk) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    -- NULL: a system message sent by the app's backend without a userId.
    user_pk        INTEGER REFERENCES users(pk),
    text           TEXT,
    custom         TEXT NOT NULL DEFAULT '{}',
    parent_id      TEXT,
    client_msg_id  TEXT,
    created_at     INTEGER NOT NULL,
    edited_at      INTEGER,
    deleted_at     INTEGER,
    UNIQUE (channel_pk, seq)
) STRICT;
CREATE INDEX messages_by_client_id ON messages(channel_pk, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE reactions (
    message_pk  INTEGER NOT NULL REFERENCES messages(pk) ON DELETE CASCADE,
    user_pk     INTEGER NOT NULL REFERENCES users(pk),
    emoji       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (message_pk, emoji, user_pk)
) STRICT, WITHOUT ROWID;

-- Realtime events written in the same transaction as the change they describe;
-- the relay publishes them to Centrifugo in `pk` order and deletes them.
CREATE TABLE outbox (
    pk          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    command     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) STRICT;
