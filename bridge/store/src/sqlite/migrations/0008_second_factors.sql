-- Second factors. A TOTP secret is kept sealed (encrypted under a key derived
-- from the data directory's key); it counts once confirmed by a first code.
-- last_step is the newest time step a code was accepted for: no older or equal
-- step is accepted again (no replay).
CREATE TABLE IF NOT EXISTS twofactor_totp (
    uid       TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    secret    BLOB NOT NULL,
    confirmed INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    created   INTEGER NOT NULL
);
-- Backup codes: single use, only a keyed hash of each is kept.
CREATE TABLE IF NOT EXISTS twofactor_backup_codes (
    uid  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    hash BLOB NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (uid, hash)
);
-- Wrong second-factor codes per user, whatever the source: a right password
-- does not clear them, only an accepted code does (a stolen password must not
-- buy endless code guesses from many addresses).
CREATE TABLE IF NOT EXISTS twofactor_failures (
    uid          TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
);
-- occ twofactorauth:enforce: on or off, and the groups it names.
CREATE TABLE IF NOT EXISTS twofactor_enforcement (
    only     INTEGER PRIMARY KEY CHECK (only = 1),
    enforced INTEGER NOT NULL
);
INSERT OR IGNORE INTO twofactor_enforcement VALUES (1, 0);
CREATE TABLE IF NOT EXISTS twofactor_enforcement_groups (
    gid      TEXT NOT NULL COLLATE NOCASE,
    excluded INTEGER NOT NULL,
    PRIMARY KEY (gid, excluded)
);
