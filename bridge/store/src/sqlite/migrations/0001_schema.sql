CREATE TABLE users (
    uid             TEXT PRIMARY KEY COLLATE NOCASE,
    display_name    TEXT,
    email           TEXT,
    backend         TEXT NOT NULL,
    password_hash   TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    first_seen      INTEGER,
    last_seen       INTEGER,
    quota           TEXT,
    language        TEXT,
    welcome_pending INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL
);
CREATE INDEX users_backend ON users(backend);
CREATE TABLE groups (
    gid     TEXT PRIMARY KEY COLLATE NOCASE,
    created INTEGER NOT NULL
);
CREATE TABLE memberships (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE INDEX memberships_uid ON memberships(uid);
CREATE TABLE subadmins (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE TABLE app_passwords (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    hash          BLOB NOT NULL UNIQUE,
    created       INTEGER NOT NULL,
    last_activity INTEGER NOT NULL
);
CREATE INDEX app_passwords_uid ON app_passwords(uid);
CREATE TABLE settings (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    app   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, app, key)
);
CREATE TABLE profile (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, field)
);
INSERT INTO groups (gid, created) VALUES ('admin', 0);
