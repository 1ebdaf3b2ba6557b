DROP TABLE group_invites;
ALTER TABLE users DROP COLUMN privacy_groups;
