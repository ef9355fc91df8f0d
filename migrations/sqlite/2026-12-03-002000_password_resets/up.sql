-- Where an account's password is checked: 'local' (its hash here) or
-- 'directory' (an LDAP bind; the hash here matches nothing).
ALTER TABLE users ADD COLUMN auth_source TEXT NOT NULL DEFAULT 'local';

-- One-time password reset links: only the SHA-256 of the token is kept, so a
-- copy of the database opens no account.
CREATE TABLE password_resets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets(user_id);
