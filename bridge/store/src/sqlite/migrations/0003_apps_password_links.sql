-- authbridge's optional modules, switched on and off through the OCS apps API.
CREATE TABLE apps (
    id      TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL
);
-- Single-use links to set a password (welcome and reset mails): only a hash of
-- the token is kept.
CREATE TABLE password_tokens (
    hash    BLOB PRIMARY KEY,
    uid     TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    expires INTEGER NOT NULL
);
CREATE INDEX subadmins_uid ON subadmins(uid);
