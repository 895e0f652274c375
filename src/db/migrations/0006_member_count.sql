-- A channel's member count, kept by triggers rather than counted per view (a count(*)
-- walks every member: milliseconds for a channel of 100,000, paid per view and per
-- member added). Triggers keep it right whichever build writes, so a rollback to a build
-- without this column leaves nothing to repair.
ALTER TABLE channels ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET member_count = (SELECT count(*) FROM members WHERE channel_pk = channels.pk);
CREATE TRIGGER members_count_in AFTER INSERT ON members BEGIN
    UPDATE channels SET member_count = member_count + 1 WHERE pk = NEW.channel_pk;
END;
CREATE TRIGGER members_count_out AFTER DELETE ON members BEGIN
    UPDATE channels SET member_count = member_count - 1 WHERE pk = OLD.channel_pk;
END;
