//! The directory (NSS) lookups on SQLite.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::SqliteStore;
use crate::{Directory, IdRange, PosixGroup, PosixUser, Result, StoreError};

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PosixUser> {
    Ok(PosixUser {
        name: r.get(0)?,
        id: r.get(1)?,
        display_name: r.get(2)?,
    })
}

const USER: &str = "SELECT uid, id_number, display_name FROM users";

impl SqliteStore {
    fn group_with_members(&self, found: Option<(String, u32)>) -> Result<Option<PosixGroup>> {
        let Some((name, id)) = found else {
            return Ok(None);
        };
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT uid FROM memberships WHERE gid = ?1 ORDER BY uid")?;
        let members = stmt
            .query_map([&name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(PosixGroup { name, id, members }))
    }

    fn one_group(&self, sql: &str, key: impl rusqlite::ToSql) -> Result<Option<PosixGroup>> {
        let found = self
            .lock()
            .cached_row(sql, [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        self.group_with_members(found)
    }
}

impl Directory for SqliteStore {
    fn set_id_range(&self, range: IdRange) -> Result<()> {
        if range.min == 0 || range.min > range.max {
            return Err(StoreError::InvalidIdRange(range.min, range.max));
        }
        let current: (u32, u32) =
            self.lock()
                .query_row("SELECT min, max FROM id_allocator", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        if current == (range.min, range.max) {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute(
                "UPDATE id_allocator SET min = ?1, max = ?2",
                params![range.min, range.max],
            )?;
            Ok(())
        })
    }

    fn id_range(&self) -> Result<IdRange> {
        Ok(self
            .lock()
            .query_row("SELECT min, max FROM id_allocator", [], |r| {
                Ok(IdRange {
                    min: r.get(0)?,
                    max: r.get(1)?,
                })
            })?)
    }

    fn posix_user(&self, name: &str) -> Result<Option<PosixUser>> {
        Ok(self
            .lock()
            .cached_row(&format!("{USER} WHERE uid = ?1"), [name], user_row)
            .optional()?)
    }

    fn posix_user_by_id(&self, id: u32) -> Result<Option<PosixUser>> {
        Ok(self
            .lock()
            .cached_row(&format!("{USER} WHERE id_number = ?1"), [id], user_row)
            .optional()?)
    }

    fn posix_users(&self) -> Result<Vec<PosixUser>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("{USER} ORDER BY id_number"))?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn posix_group(&self, name: &str) -> Result<Option<PosixGroup>> {
        self.one_group("SELECT gid, id_number FROM groups WHERE gid = ?1", name)
    }

    fn posix_group_by_id(&self, id: u32) -> Result<Option<PosixGroup>> {
        self.one_group("SELECT gid, id_number FROM groups WHERE id_number = ?1", id)
    }

    fn posix_groups(&self) -> Result<Vec<PosixGroup>> {
        let names: Vec<(String, u32)> = {
            let conn = self.lock();
            let mut stmt =
                conn.prepare_cached("SELECT gid, id_number FROM groups ORDER BY id_number")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut groups = Vec::with_capacity(names.len());
        for found in names {
            groups.extend(self.group_with_members(Some(found))?);
        }
        Ok(groups)
    }

    fn posix_groups_of(&self, name: &str) -> Result<Vec<(String, u32)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT g.gid, g.id_number FROM memberships m
             JOIN groups g ON g.gid = m.gid JOIN users u ON u.uid = m.uid
             WHERE u.uid = ?1 ORDER BY g.id_number",
        )?;
        let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn directory_generation(&self) -> Result<u64> {
        Ok(self
            .lock()
            .cached_row("SELECT value FROM directory_generation", [], |r| r.get(0))?)
    }
}
