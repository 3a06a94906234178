//! `authbridge store copy`: every table of one store into another, SQLite to
//! PostgreSQL or back, checked by row counts and a digest of the contents.
//!
//! The tables and their columns are listed once here ([`TABLES`]); each store
//! reads them out ([`Transfer::export`]) and writes them in, in one transaction
//! ([`Transfer::import`]). A digest is taken of what was read from the source
//! and of what the target holds afterwards: equal digests mean every row
//! arrived as it was.

use sha2::{Digest, Sha256};

use crate::{AccountStore, Result, StoreError};

/// One value, in the types both stores share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

/// A table as copied: its columns in order. A singleton table (one row of
/// settings) is updated in the target, not inserted.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    pub singleton: bool,
}

use Kind::{Bool, Bytes, Int, Text};

const fn table(name: &'static str, columns: &'static [(&'static str, Kind)]) -> Table {
    Table {
        name,
        columns,
        singleton: false,
    }
}

/// Every table that holds state, parents before the rows that name them. Left
/// out: the schema version (each store has its own), the search index (made
/// from `users` by triggers) and the directory generation (it moves forward
/// on the target, so that its daemons republish).
pub const TABLES: &[Table] = &[
    table(
        "users",
        &[
            ("uid", Text),
            ("display_name", Text),
            ("email", Text),
            ("backend", Text),
            ("password_hash", Text),
            ("enabled", Bool),
            ("first_seen", Int),
            ("last_seen", Int),
            ("quota", Text),
            ("language", Text),
            ("welcome_pending", Bool),
            ("created", Int),
            ("id_number", Int),
        ],
    ),
    table(
        "groups",
        &[("gid", Text), ("created", Int), ("id_number", Int)],
    ),
    table("memberships", &[("gid", Text), ("uid", Text)]),
    table("subadmins", &[("gid", Text), ("uid", Text)]),
    table(
        "app_passwords",
        &[
            ("id", Int),
            ("uid", Text),
            ("name", Text),
            ("hash", Bytes),
            ("created", Int),
            ("last_activity", Int),
        ],
    ),
    table(
        "settings",
        &[("uid", Text), ("app", Text), ("key", Text), ("value", Text)],
    ),
    table(
        "profile",
        &[("uid", Text), ("field", Text), ("value", Text)],
    ),
    Table {
        name: "id_allocator",
        columns: &[("min", Int), ("max", Int), ("next", Int)],
        singleton: true,
    },
    table(
        "login_failures",
        &[
            ("login", Text),
            ("source", Text),
            ("failures", Int),
            ("last_failure", Int),
        ],
    ),
    table(
        "verifiers",
        &[
            ("login", Text),
            ("uid", Text),
            ("verifier", Text),
            ("verified_online", Int),
            ("offline_failures", Int),
            ("last_offline_failure", Int),
        ],
    ),
    table("apps", &[("id", Text), ("enabled", Bool)]),
    table(
        "password_tokens",
        &[("hash", Bytes), ("uid", Text), ("expires", Int)],
    ),
    table("group_names", &[("gid", Text), ("display_name", Text)]),
    table(
        "avatars",
        &[
            ("uid", Text),
            ("image", Bytes),
            ("mime", Text),
            ("updated", Int),
        ],
    ),
    table(
        "twofactor_totp",
        &[
            ("uid", Text),
            ("secret", Bytes),
            ("confirmed", Bool),
            ("last_step", Int),
            ("created", Int),
        ],
    ),
    table(
        "twofactor_backup_codes",
        &[("uid", Text), ("hash", Bytes), ("used", Bool)],
    ),
    table(
        "twofactor_failures",
        &[("uid", Text), ("failures", Int), ("last_failure", Int)],
    ),
    Table {
        name: "twofactor_enforcement",
        columns: &[("enforced", Bool)],
        singleton: true,
    },
    // In the order the groups were named (it matters to the listing only).
    table(
        "twofactor_enforcement_groups",
        &[("gid", Text), ("excluded", Bool)],
    ),
];

/// Every table's rows, in [`TABLES`]' order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: Vec<Vec<Vec<Cell>>>,
}

impl Snapshot {
    /// Rows per table, by name.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        TABLES
            .iter()
            .zip(&self.tables)
            .map(|(t, rows)| (t.name, rows.len()))
            .collect()
    }

    /// SHA-256 over every table's rows, each table's rows sorted (the stores
    /// return them in different orders; the content is what is compared).
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for (table, rows) in TABLES.iter().zip(&self.tables) {
            hash.update(table.name.as_bytes());
            hash.update((rows.len() as u64).to_be_bytes());
            let mut sorted: Vec<&Vec<Cell>> = rows.iter().collect();
            sorted.sort();
            for row in sorted {
                // The allocator's next id is bookkeeping: a target keeps the
                // higher of its own and the source's (ids are never reused),
                // which `copy` checks apart.
                let cells = match table.name {
                    "id_allocator" => &row[..2],
                    _ => &row[..],
                };
                for cell in cells {
                    encode(cell, &mut hash);
                }
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// SQL that is true when a store holds anything a copy would overwrite: a row
/// in any table (the `admin` group aside, which every store has) or
/// enforcement switched on.
pub(crate) fn holds_data_sql() -> String {
    let rows: Vec<String> = TABLES
        .iter()
        .filter(|t| !t.singleton && t.name != "groups")
        .map(|t| format!("(SELECT count(*) FROM {})", t.name))
        .collect();
    format!(
        "SELECT ({}) > 0 OR (SELECT count(*) FROM groups) > 1
             OR (SELECT enforced FROM twofactor_enforcement)",
        rows.join(" + ")
    )
}

/// Length-prefixed and tagged, so that no two different rows encode alike.
fn encode(cell: &Cell, hash: &mut Sha256) {
    match cell {
        Cell::Null => hash.update([0]),
        Cell::Int(n) => {
            hash.update([1]);
            hash.update(n.to_be_bytes());
        }
        Cell::Bool(b) => hash.update([2, u8::from(*b)]),
        Cell::Text(t) => {
            hash.update([3]);
            hash.update((t.len() as u64).to_be_bytes());
            hash.update(t.as_bytes());
        }
        Cell::Bytes(b) => {
            hash.update([4]);
            hash.update((b.len() as u64).to_be_bytes());
            hash.update(b);
        }
    }
}

/// Reading out and writing in every table of [`TABLES`].
pub trait Transfer {
    fn export(&self) -> Result<Snapshot>;
    /// Writes `snapshot` in one transaction: all of it or nothing. With
    /// `replace`, the target's rows go first; without, the target must hold
    /// nothing a copy would overwrite (a row in any table besides the `admin`
    /// group, or enforcement switched on).
    fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<()>;
}

/// What a copy did.
#[derive(Debug)]
pub struct CopyReport {
    pub counts: Vec<(&'static str, usize)>,
    pub digest: String,
}

/// Copies `from` into `to` and reads the target back: its counts and digest
/// must be the source's.
pub fn copy(from: &dyn AccountStore, to: &dyn AccountStore, replace: bool) -> Result<CopyReport> {
    let snapshot = from.export()?;
    // The target says whether it holds anything, inside its transaction.
    to.import(&snapshot, replace)?;
    let copied = to.export()?;
    let (digest, arrived) = (snapshot.digest(), copied.digest());
    if digest != arrived
        || snapshot.counts() != copied.counts()
        || next_id(&copied) < next_id(&snapshot)
    {
        return Err(StoreError::CopyMismatch {
            expected: digest,
            found: arrived,
        });
    }
    Ok(CopyReport {
        counts: snapshot.counts(),
        digest,
    })
}

/// The id allocator's next id in a snapshot.
fn next_id(snapshot: &Snapshot) -> Option<i64> {
    let at = TABLES.iter().position(|t| t.name == "id_allocator")?;
    match snapshot.tables.get(at)?.first()?.get(2)? {
        Cell::Int(next) => Some(*next),
        _ => None,
    }
}

/// `INSERT INTO t (c1, c2) VALUES (p(1), p(2))` with the store's placeholders.
pub(crate) fn insert_sql(table: &Table, placeholder: impl Fn(usize) -> String) -> String {
    let names: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let values: Vec<String> = (1..=names.len()).map(placeholder).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        names.join(", "),
        values.join(", ")
    )
}

/// `UPDATE t SET c1 = p(1), c2 = p(2)` for a singleton table.
pub(crate) fn update_sql(table: &Table, placeholder: impl Fn(usize) -> String) -> String {
    let sets: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = {}", placeholder(i + 1)))
        .collect();
    format!("UPDATE {} SET {}", table.name, sets.join(", "))
}

/// `SELECT c1, c2 FROM t` in the order rows were made.
pub(crate) fn select_sql(table: &Table, order: &str) -> String {
    let names: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {order}",
        names.join(", "),
        table.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_ignores_row_order_and_sees_every_value() {
        let rows = |a: &str, b: i64| vec![vec![Cell::Text(a.into()), Cell::Int(b)]];
        let mut one = Snapshot {
            tables: TABLES.iter().map(|_| Vec::new()).collect(),
        };
        one.tables[0] = [rows("a", 1), rows("b", 2)].concat();
        let mut other = Snapshot {
            tables: TABLES.iter().map(|_| Vec::new()).collect(),
        };
        other.tables[0] = [rows("b", 2), rows("a", 1)].concat();
        assert_eq!(one.digest(), other.digest());
        other.tables[0][0][1] = Cell::Int(3);
        assert_ne!(one.digest(), other.digest());
        // "ab" + "c" is not "a" + "bc".
        let split = |x: &str, y: &str| Snapshot {
            tables: TABLES
                .iter()
                .enumerate()
                .map(|(i, _)| match i {
                    0 => vec![vec![Cell::Text(x.into()), Cell::Text(y.into())]],
                    _ => Vec::new(),
                })
                .collect(),
        };
        assert_ne!(split("ab", "c").digest(), split("a", "bc").digest());
    }

    #[test]
    fn every_table_is_listed_once() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
    }
}
