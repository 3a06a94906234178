//! The copy's reading and writing on PostgreSQL.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Db, PostgresStore};
use crate::copy::{
    Cell, Kind, Snapshot, TABLES, Transfer, holds_data_sql, insert_sql, select_sql, update_sql,
};
use crate::{Result, StoreError};

fn cell(row: &Row, i: usize, kind: Kind) -> Cell {
    match kind {
        Kind::Int => row.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
        Kind::Bool => row.get::<_, Option<bool>>(i).map_or(Cell::Null, Cell::Bool),
        Kind::Text => row
            .get::<_, Option<String>>(i)
            .map_or(Cell::Null, Cell::Text),
        Kind::Bytes => row
            .get::<_, Option<Vec<u8>>>(i)
            .map_or(Cell::Null, Cell::Bytes),
    }
}

/// A cell as a parameter of the column's type (a NULL is typed too).
fn param(cell: &Cell, kind: Kind) -> Result<Box<dyn ToSql + Sync + Send>> {
    Ok(match (cell, kind) {
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Int(n), Kind::Int) => Box::new(*n),
        (Cell::Bool(b), Kind::Bool) => Box::new(*b),
        (Cell::Text(t), Kind::Text) => Box::new(t.clone()),
        (Cell::Bytes(b), Kind::Bytes) => Box::new(b.clone()),
        (cell, kind) => {
            return Err(StoreError::Unexpected(format!(
                "a {cell:?} for a column of {kind:?}"
            )));
        }
    })
}

fn holds_data(db: &mut Db<'_>) -> Result<bool> {
    Ok(db.query_once(&holds_data_sql(), &[])?[0].get(0))
}

impl Transfer for PostgresStore {
    fn export(&self) -> Result<Snapshot> {
        // One transaction: every table from the same moment.
        self.write(|db| {
            db.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let mut tables = Vec::with_capacity(TABLES.len());
            for table in TABLES {
                let order = match table.name {
                    "twofactor_enforcement_groups" => "position",
                    _ => "1",
                };
                let rows = db.query_once(&select_sql(table, order), &[])?;
                tables.push(
                    rows.iter()
                        .map(|r| {
                            table
                                .columns
                                .iter()
                                .enumerate()
                                .map(|(i, (_, kind))| cell(r, i, *kind))
                                .collect()
                        })
                        .collect(),
                );
            }
            Ok(Snapshot { tables })
        })
    }

    fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<()> {
        if snapshot.tables.len() != TABLES.len() {
            return Err(StoreError::Unexpected("a snapshot of other tables".into()));
        }
        self.write(|db| {
            // Nobody else writes while the copy runs.
            db.batch("LOCK TABLE users, groups, app_passwords IN EXCLUSIVE MODE")?;
            if !replace && holds_data(db)? {
                return Err(StoreError::TargetNotEmpty);
            }
            // The ids the target gave out so far: never handed out again.
            let given: i64 = db.query_one("SELECT next FROM id_allocator", &[])?.get(0);
            for table in TABLES.iter().rev().filter(|t| !t.singleton) {
                db.execute_once(&format!("DELETE FROM {}", table.name), &[])?;
            }
            for (table, rows) in TABLES.iter().zip(&snapshot.tables) {
                let sql = match table.singleton {
                    true => update_sql(table, |i| format!("${i}")),
                    false => insert_sql(table, |i| format!("${i}")),
                };
                for row in rows {
                    let params = row
                        .iter()
                        .zip(table.columns)
                        .map(|(cell, (_, kind))| param(cell, *kind))
                        .collect::<Result<Vec<_>>>()?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
                    db.execute_once(&sql, &refs)?;
                }
            }
            // Ids given from now on follow the copied ones and never go back
            // to ones the target gave before (a revoked one stays unused).
            db.batch(
                "SELECT setval('app_passwords_id_seq',
                               GREATEST(coalesce((SELECT max(id) FROM app_passwords), 0),
                                        (SELECT last_value FROM app_passwords_id_seq), 1));
                 UPDATE directory_generation SET value = value + 1;",
            )?;
            db.execute(
                "UPDATE id_allocator SET next = GREATEST(next, $1)",
                &[&given],
            )?;
            Ok(())
        })
    }
}
