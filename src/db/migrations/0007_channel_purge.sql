-- A channel with many messages is deleted in two steps, so the writer is never held for
-- long: at once it loses its members, its id and its direct key (free for reuse) and is
-- marked deleted; then a background task deletes its messages a chunk at a time, and
-- the row last (`db::channels::purge_step`).
ALTER TABLE channels ADD COLUMN deleted_at INTEGER;
CREATE INDEX channels_deleted ON channels(deleted_at) WHERE deleted_at IS NOT NULL;
