//! The copy's reading and writing on SQLite.

use rusqlite::types::{ToSqlOutput, Value};

use super::SqliteStore;
use crate::copy::{
    Cell, Kind, Snapshot, TABLES, Transfer, holds_data_sql, insert_sql, select_sql, update_sql,
};
use crate::{Result, StoreError};

fn cell(row: &rusqlite::Row<'_>, i: usize, kind: Kind) -> rusqlite::Result<Cell> {
    Ok(match kind {
        Kind::Int => row.get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int),
        Kind::Bool => row
            .get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, Cell::Bool),
        Kind::Text => row
            .get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text),
        Kind::Bytes => row
            .get::<_, Option<Vec<u8>>>(i)?
            .map_or(Cell::Null, Cell::Bytes),
    })
}

fn value(cell: &Cell) -> ToSqlOutput<'_> {
    ToSqlOutput::Owned(match cell {
        Cell::Null => Value::Null,
        Cell::Int(n) => Value::Integer(*n),
        Cell::Bool(b) => Value::Integer(i64::from(*b)),
        Cell::Text(t) => Value::Text(t.clone()),
        Cell::Bytes(b) => Value::Blob(b.clone()),
    })
}

impl Transfer for SqliteStore {
    fn export(&self) -> Result<Snapshot> {
        // One read transaction: every table from the same moment.
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let mut stmt = tx.prepare(&select_sql(table, "rowid"))?;
            let rows = stmt.query_map([], |r| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| cell(r, i, *kind))
                    .collect::<rusqlite::Result<Vec<Cell>>>()
            })?;
            tables.push(rows.collect::<rusqlite::Result<_>>()?);
        }
        Ok(Snapshot { tables })
    }

    fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<()> {
        if snapshot.tables.len() != TABLES.len() {
            return Err(StoreError::Unexpected("a snapshot of other tables".into()));
        }
        self.write(|tx| {
            let holds: bool = tx.query_row(&holds_data_sql(), [], |r| r.get(0))?;
            if !replace && holds {
                return Err(StoreError::TargetNotEmpty);
            }
            // The ids the target gave out so far: never handed out again.
            let given: i64 = tx.query_row("SELECT next FROM id_allocator", [], |r| r.get(0))?;
            for table in TABLES.iter().rev().filter(|t| !t.singleton) {
                tx.execute(&format!("DELETE FROM {}", table.name), [])?;
            }
            for (table, rows) in TABLES.iter().zip(&snapshot.tables) {
                let sql = match table.singleton {
                    true => update_sql(table, |i| format!("?{i}")),
                    false => insert_sql(table, |i| format!("?{i}")),
                };
                let mut stmt = tx.prepare(&sql)?;
                for row in rows {
                    if row.len() != table.columns.len() {
                        return Err(StoreError::Unexpected(format!(
                            "a row of {} values for {}",
                            row.len(),
                            table.name
                        )));
                    }
                    stmt.execute(rusqlite::params_from_iter(row.iter().map(value)))?;
                }
            }
            tx.execute("UPDATE directory_generation SET value = value + 1", [])?;
            tx.execute("UPDATE id_allocator SET next = max(next, ?1)", [given])?;
            Ok(())
        })
    }
}
