DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN auth_source;
