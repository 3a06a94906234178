-- POSIX ids for the NSS module: one sequence for users and groups (a user's
-- private group has the user's number, so the two can never collide), handed out
-- by a trigger on every insert path and never reused (the counter only grows).
ALTER TABLE users ADD COLUMN id_number INTEGER;
ALTER TABLE groups ADD COLUMN id_number INTEGER;
CREATE TABLE id_allocator (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    min  INTEGER NOT NULL,
    max  INTEGER NOT NULL,
    next INTEGER NOT NULL
);
INSERT INTO id_allocator VALUES (1, 200000, 299999, 200000);
UPDATE users SET id_number = 200000 + (SELECT count(*) FROM users u WHERE u.rowid < users.rowid);
UPDATE groups SET id_number = 200000 + (SELECT count(*) FROM users)
    + (SELECT count(*) FROM groups g WHERE g.rowid < groups.rowid);
UPDATE id_allocator SET next = 200000 + (SELECT count(*) FROM users) + (SELECT count(*) FROM groups);
CREATE UNIQUE INDEX users_id_number ON users(id_number);
CREATE UNIQUE INDEX groups_id_number ON groups(id_number);
CREATE TRIGGER users_id_number AFTER INSERT ON users WHEN NEW.id_number IS NULL
BEGIN
    UPDATE id_allocator SET next = max(next, min) + 1;
    SELECT RAISE(ABORT, 'authbridge: id range exhausted') FROM id_allocator WHERE next - 1 > max;
    UPDATE users SET id_number = (SELECT next - 1 FROM id_allocator) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER groups_id_number AFTER INSERT ON groups WHEN NEW.id_number IS NULL
BEGIN
    UPDATE id_allocator SET next = max(next, min) + 1;
    SELECT RAISE(ABORT, 'authbridge: id range exhausted') FROM id_allocator WHERE next - 1 > max;
    UPDATE groups SET id_number = (SELECT next - 1 FROM id_allocator) WHERE rowid = NEW.rowid;
END;

-- Brute-force throttling: failures per (login, source), kept across restarts.
CREATE TABLE login_failures (
    login        TEXT NOT NULL,
    source       TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (login, source)
);

-- Verifiers of external passwords for the daemon's cache and offline logins.
-- Gone with the user, and dropped on a password reset or a disable.
CREATE TABLE verifiers (
    login                TEXT PRIMARY KEY COLLATE NOCASE,
    uid                  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    verifier             TEXT NOT NULL,
    verified_online      INTEGER NOT NULL,
    offline_failures     INTEGER NOT NULL DEFAULT 0,
    last_offline_failure INTEGER
);
CREATE INDEX verifiers_uid ON verifiers(uid);
