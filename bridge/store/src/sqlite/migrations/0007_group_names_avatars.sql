-- A group's display name (Nextcloud's; the id is shown when there is none), and
-- avatars users uploaded (generated ones are drawn on request, never kept).
-- Tables, not columns, so that the migration can run again.
CREATE TABLE IF NOT EXISTS group_names (
    gid          TEXT PRIMARY KEY COLLATE NOCASE
                 REFERENCES groups(gid) ON DELETE CASCADE ON UPDATE CASCADE,
    display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS avatars (
    uid     TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    image   BLOB NOT NULL,
    mime    TEXT NOT NULL,
    updated INTEGER NOT NULL
);
