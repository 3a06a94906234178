//! The directory (NSS) lookups on PostgreSQL.

use tokio_postgres::Row;

use super::{Db, PostgresStore};
use crate::{Directory, IdRange, PosixGroup, PosixUser, Result, StoreError};

fn id(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::Unexpected(format!("POSIX id {n} out of range")))
}

fn posix_user(r: &Row) -> Result<PosixUser> {
    Ok(PosixUser {
        name: r.get(0),
        id: id(r.get(1))?,
        display_name: r.get(2),
    })
}

/// A group with its members, from one row of the `GROUPS` queries.
fn posix_group(r: &Row) -> Result<PosixGroup> {
    Ok(PosixGroup {
        name: r.get(0),
        id: id(r.get(1))?,
        members: r.get(2),
    })
}

// Members in byte order, as SQLite orders them.
const GROUP_BY_NAME: &str = "SELECT g.gid, g.id_number,
        coalesce(array_agg(m.uid ORDER BY m.uid COLLATE \"C\") FILTER (WHERE m.uid IS NOT NULL), '{}')
     FROM groups g LEFT JOIN memberships m ON m.gid = g.gid
     WHERE ab_fold(g.gid) = ab_fold($1) GROUP BY g.gid";
const GROUP_BY_ID: &str = "SELECT g.gid, g.id_number,
        coalesce(array_agg(m.uid ORDER BY m.uid COLLATE \"C\") FILTER (WHERE m.uid IS NOT NULL), '{}')
     FROM groups g LEFT JOIN memberships m ON m.gid = g.gid
     WHERE g.id_number = $1 GROUP BY g.gid";
const ALL_GROUPS: &str = "SELECT g.gid, g.id_number,
        coalesce(array_agg(m.uid ORDER BY m.uid COLLATE \"C\") FILTER (WHERE m.uid IS NOT NULL), '{}')
     FROM groups g LEFT JOIN memberships m ON m.gid = g.gid
     GROUP BY g.gid ORDER BY g.id_number";

fn one_group(
    db: &mut Db<'_>,
    sql: &'static str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<PosixGroup>> {
    db.query_opt(sql, &[key])?
        .as_ref()
        .map(posix_group)
        .transpose()
}

impl Directory for PostgresStore {
    fn set_id_range(&self, range: IdRange) -> Result<()> {
        if range.min == 0 || range.min > range.max {
            return Err(StoreError::InvalidIdRange(range.min, range.max));
        }
        let (min, max) = (i64::from(range.min), i64::from(range.max));
        let current = self.read(|db| {
            let row = db.query_one("SELECT min, max FROM id_allocator", &[])?;
            Ok((row.get::<_, i64>(0), row.get::<_, i64>(1)))
        })?;
        if current == (min, max) {
            return Ok(());
        }
        self.write(|db| {
            db.execute("UPDATE id_allocator SET min = $1, max = $2", &[&min, &max])?;
            Ok(())
        })
    }

    fn id_range(&self) -> Result<IdRange> {
        self.read(|db| {
            let row = db.query_one("SELECT min, max FROM id_allocator", &[])?;
            Ok(IdRange {
                min: id(row.get(0))?,
                max: id(row.get(1))?,
            })
        })
    }

    fn posix_user(&self, name: &str) -> Result<Option<PosixUser>> {
        self.read(|db| {
            db.query_opt(
                "SELECT uid, id_number, display_name FROM users WHERE ab_fold(uid) = ab_fold($1)",
                &[&name],
            )?
            .as_ref()
            .map(posix_user)
            .transpose()
        })
    }

    fn posix_user_by_id(&self, number: u32) -> Result<Option<PosixUser>> {
        let number = i64::from(number);
        self.read(|db| {
            db.query_opt(
                "SELECT uid, id_number, display_name FROM users WHERE id_number = $1",
                &[&number],
            )?
            .as_ref()
            .map(posix_user)
            .transpose()
        })
    }

    fn posix_users(&self) -> Result<Vec<PosixUser>> {
        self.read(|db| {
            db.query(
                "SELECT uid, id_number, display_name FROM users ORDER BY id_number",
                &[],
            )?
            .iter()
            .map(posix_user)
            .collect()
        })
    }

    fn posix_group(&self, name: &str) -> Result<Option<PosixGroup>> {
        self.read(|db| one_group(db, GROUP_BY_NAME, &name))
    }

    fn posix_group_by_id(&self, number: u32) -> Result<Option<PosixGroup>> {
        let number = i64::from(number);
        self.read(|db| one_group(db, GROUP_BY_ID, &number))
    }

    fn posix_groups(&self) -> Result<Vec<PosixGroup>> {
        self.read(|db| db.query(ALL_GROUPS, &[])?.iter().map(posix_group).collect())
    }

    fn posix_groups_of(&self, name: &str) -> Result<Vec<(String, u32)>> {
        self.read(|db| {
            db.query(
                "SELECT g.gid, g.id_number FROM memberships m
                 JOIN groups g ON g.gid = m.gid JOIN users u ON u.uid = m.uid
                 WHERE ab_fold(u.uid) = ab_fold($1) ORDER BY g.id_number",
                &[&name],
            )?
            .iter()
            .map(|r| Ok((r.get(0), id(r.get(1))?)))
            .collect()
        })
    }

    fn directory_generation(&self) -> Result<u64> {
        self.read(|db| {
            let value: i64 = db
                .query_one("SELECT value FROM directory_generation", &[])?
                .get(0);
            Ok(u64::try_from(value).unwrap_or(0))
        })
    }
}
