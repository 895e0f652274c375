-- Token revocation: a REST token carries the generation it was issued under; bumping it
-- revokes every earlier token at once, on every server sharing this database, even
-- within the same second.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
-- A deleted user keeps their row (their messages point to it) but loses their id and data.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
-- Key rotation: the old key keeps working until then.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
