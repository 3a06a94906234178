-- Memberships and subadmin rows hold the stored spelling of the group and the user.
-- Older versions wrote whatever case the request used ("Admin" for "admin"): such a
-- row gave rights that lookups of the stored spelling did not see. Rewrite them.
INSERT OR IGNORE INTO memberships (gid, uid)
    SELECT g.gid, u.uid FROM memberships m
    JOIN groups g ON g.gid = m.gid JOIN users u ON u.uid = m.uid;
DELETE FROM memberships
    WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.gid = memberships.gid COLLATE BINARY)
       OR NOT EXISTS (SELECT 1 FROM users u WHERE u.uid = memberships.uid COLLATE BINARY);
INSERT OR IGNORE INTO subadmins (gid, uid)
    SELECT g.gid, u.uid FROM subadmins s
    JOIN groups g ON g.gid = s.gid JOIN users u ON u.uid = s.uid;
DELETE FROM subadmins
    WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.gid = subadmins.gid COLLATE BINARY)
       OR NOT EXISTS (SELECT 1 FROM users u WHERE u.uid = subadmins.uid COLLATE BINARY);
UPDATE app_passwords SET uid = (SELECT u.uid FROM users u WHERE u.uid = app_passwords.uid);
UPDATE password_tokens SET uid = (SELECT u.uid FROM users u WHERE u.uid = password_tokens.uid);
UPDATE verifiers SET uid = (SELECT u.uid FROM users u WHERE u.uid = verifiers.uid);
CREATE INDEX IF NOT EXISTS login_failures_last ON login_failures(last_failure);
CREATE INDEX IF NOT EXISTS password_tokens_uid ON password_tokens(uid);
