-- A counter that moves with every change the NSS module can show (a user's name,
-- number, display name or state; groups; memberships), whoever wrote it — the
-- daemon or the CLI. The daemon republishes its NSS cache file when it moves.
CREATE TABLE IF NOT EXISTS directory_generation (
    only  INTEGER PRIMARY KEY CHECK (only = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO directory_generation VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS directory_users_insert AFTER INSERT ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_users_delete AFTER DELETE ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_users_update AFTER UPDATE OF uid, display_name, id_number, enabled ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_insert AFTER INSERT ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_delete AFTER DELETE ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_update AFTER UPDATE OF gid, id_number ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_insert AFTER INSERT ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_delete AFTER DELETE ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_update AFTER UPDATE ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
