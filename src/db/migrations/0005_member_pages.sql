-- Member lists are paged in join order: this index serves each page by a seek, not a
-- sort of the whole channel's members. Older builds ignore it, so a rollback stays safe.
CREATE INDEX members_by_join ON members(channel_pk, joined_at, user_pk);
