-- authbridge's store on PostgreSQL: the same tables, rules and triggers as
-- the SQLite store at its schema 8, for several daemons on one database.
-- The functions keep the search path they were made with: a schema someone
-- else can write, earlier in a session's path, cannot stand in for a table.

-- Ids are unique regardless of ASCII case, as SQLite's NOCASE compares them:
-- only A-Z fold, whatever the database's locale (lower() would fold more).
CREATE FUNCTION ab_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

CREATE TABLE users (
    uid             TEXT PRIMARY KEY,
    display_name    TEXT,
    email           TEXT,
    backend         TEXT NOT NULL,
    password_hash   TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    first_seen      BIGINT,
    last_seen       BIGINT,
    quota           TEXT,
    language        TEXT,
    welcome_pending BOOLEAN NOT NULL DEFAULT false,
    created         BIGINT NOT NULL,
    id_number       BIGINT UNIQUE
);
CREATE UNIQUE INDEX users_uid_fold ON users (ab_fold(uid));
CREATE INDEX users_backend ON users (backend);

CREATE TABLE groups (
    gid       TEXT PRIMARY KEY,
    created   BIGINT NOT NULL,
    id_number BIGINT UNIQUE
);
CREATE UNIQUE INDEX groups_gid_fold ON groups (ab_fold(gid));

-- Rows that name a user or a group hold its stored spelling (the callers
-- resolve it first), so the foreign keys compare exactly.
CREATE TABLE memberships (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE ON UPDATE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE INDEX memberships_uid ON memberships (uid);

CREATE TABLE subadmins (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE ON UPDATE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE INDEX subadmins_uid ON subadmins (uid);

CREATE TABLE app_passwords (
    id            BIGSERIAL PRIMARY KEY,
    uid           TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    name          TEXT NOT NULL,
    hash          BYTEA NOT NULL UNIQUE,
    created       BIGINT NOT NULL,
    last_activity BIGINT NOT NULL
);
CREATE INDEX app_passwords_uid ON app_passwords (uid);

CREATE TABLE settings (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    app   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, app, key)
);

CREATE TABLE profile (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, field)
);

-- POSIX ids for the NSS module: one sequence for users and groups, handed out
-- to every new row and never reused (the counter only grows). A row lock on the
-- one allocator row makes two nodes' inserts take turns.
CREATE TABLE id_allocator (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    min  BIGINT NOT NULL,
    max  BIGINT NOT NULL,
    next BIGINT NOT NULL
);
INSERT INTO id_allocator VALUES (1, 200000, 299999, 200000);

CREATE FUNCTION ab_next_id() RETURNS bigint LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    id bigint;
    last bigint;
BEGIN
    UPDATE id_allocator SET next = greatest(next, min) + 1 RETURNING next - 1, max INTO id, last;
    IF id > last THEN
        RAISE EXCEPTION 'authbridge: id range exhausted';
    END IF;
    RETURN id;
END $$;

-- After the insert, as SQLite's triggers do: an insert that a conflict turned
-- into nothing uses up no id.
CREATE FUNCTION ab_assign_user_id() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE users SET id_number = ab_next_id() WHERE uid = NEW.uid;
    RETURN NULL;
END $$;
CREATE TRIGGER users_id_number AFTER INSERT ON users
    FOR EACH ROW WHEN (NEW.id_number IS NULL) EXECUTE FUNCTION ab_assign_user_id();

CREATE FUNCTION ab_assign_group_id() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE groups SET id_number = ab_next_id() WHERE gid = NEW.gid;
    RETURN NULL;
END $$;
CREATE TRIGGER groups_id_number AFTER INSERT ON groups
    FOR EACH ROW WHEN (NEW.id_number IS NULL) EXECUTE FUNCTION ab_assign_group_id();

-- Brute-force throttling: failures per (login, source), shared by every node.
CREATE TABLE login_failures (
    login        TEXT NOT NULL,
    source       TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    PRIMARY KEY (login, source)
);
CREATE INDEX login_failures_last ON login_failures (last_failure);

-- Verifiers of external passwords for the credential cache and offline logins.
CREATE TABLE verifiers (
    login                TEXT PRIMARY KEY,
    uid                  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    verifier             TEXT NOT NULL,
    verified_online      BIGINT NOT NULL,
    offline_failures     BIGINT NOT NULL DEFAULT 0,
    last_offline_failure BIGINT
);
CREATE UNIQUE INDEX verifiers_login_fold ON verifiers (ab_fold(login));
CREATE INDEX verifiers_uid ON verifiers (uid);

-- authbridge's optional modules, switched on and off through the OCS apps API.
CREATE TABLE apps (
    id      TEXT PRIMARY KEY,
    enabled BOOLEAN NOT NULL
);

-- Single-use links to set a password: only a hash of the token is kept.
CREATE TABLE password_tokens (
    hash    BYTEA PRIMARY KEY,
    uid     TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    expires BIGINT NOT NULL
);
CREATE INDEX password_tokens_uid ON password_tokens (uid);

-- A counter that moves with every change the NSS module can show, whichever
-- node made it: every daemon republishes its NSS cache file when it moves. The
-- trigger also marks the transaction, so that the node that made the change
-- can tell its own NSS cache at once.
CREATE TABLE directory_generation (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    value BIGINT NOT NULL
);
INSERT INTO directory_generation VALUES (1, 0);

CREATE FUNCTION ab_directory_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE directory_generation SET value = value + 1;
    PERFORM set_config('authbridge.directory_changed', 'yes', true);
    RETURN NULL;
END $$;
CREATE TRIGGER directory_users AFTER INSERT OR DELETE OR UPDATE OF uid, display_name, id_number, enabled
    ON users FOR EACH ROW EXECUTE FUNCTION ab_directory_changed();
CREATE TRIGGER directory_groups AFTER INSERT OR DELETE OR UPDATE OF gid, id_number
    ON groups FOR EACH ROW EXECUTE FUNCTION ab_directory_changed();
CREATE TRIGGER directory_memberships AFTER INSERT OR DELETE OR UPDATE
    ON memberships FOR EACH ROW EXECUTE FUNCTION ab_directory_changed();

-- A group's display name (Nextcloud's; the id is shown when there is none), and
-- avatars users uploaded.
CREATE TABLE group_names (
    gid          TEXT PRIMARY KEY REFERENCES groups(gid) ON DELETE CASCADE ON UPDATE CASCADE,
    display_name TEXT NOT NULL
);
CREATE TABLE avatars (
    uid     TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    image   BYTEA NOT NULL,
    mime    TEXT NOT NULL,
    updated BIGINT NOT NULL
);

-- Second factors: a sealed TOTP secret with the newest step accepted (no
-- replay), single-use backup codes (keyed hashes), wrong codes per user, and
-- the enforcement of twofactorauth:enforce.
CREATE TABLE twofactor_totp (
    uid       TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    secret    BYTEA NOT NULL,
    confirmed BOOLEAN NOT NULL,
    last_step BIGINT NOT NULL,
    created   BIGINT NOT NULL
);
CREATE TABLE twofactor_backup_codes (
    uid  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    hash BYTEA NOT NULL,
    used BOOLEAN NOT NULL,
    PRIMARY KEY (uid, hash)
);
CREATE TABLE twofactor_failures (
    uid          TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE ON UPDATE CASCADE,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
CREATE TABLE twofactor_enforcement (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    enforced BOOLEAN NOT NULL
);
INSERT INTO twofactor_enforcement VALUES (1, false);
-- position keeps the order the groups were named in (SQLite's rowid order).
CREATE TABLE twofactor_enforcement_groups (
    position BIGSERIAL,
    gid      TEXT NOT NULL,
    excluded BOOLEAN NOT NULL,
    PRIMARY KEY (gid, excluded)
);
CREATE UNIQUE INDEX twofactor_enforcement_groups_fold ON twofactor_enforcement_groups (ab_fold(gid), excluded);

INSERT INTO groups (gid, created) VALUES ('admin', 0);
