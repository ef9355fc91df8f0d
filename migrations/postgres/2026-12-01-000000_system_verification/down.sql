ALTER TABLE systems DROP COLUMN verified;
