//! Which store to open: the SQLite file in the data directory (the default),
//! another SQLite file, or a PostgreSQL database shared by several hosts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{PostgresSettings, PostgresStore, Result, SharedStore, SqliteStore, StoreError};

#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// The URL as given (it may hold a password: see [`StoreLocation::describe`]).
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreLocation {
    /// `postgresql://…` (or `postgres://…`), `sqlite:PATH`, or a plain path
    /// to a SQLite file.
    pub fn parse(text: &str) -> Result<StoreLocation> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Settings("the store location is empty".into()));
        }
        if let Some(rest) = text
            .strip_prefix("postgresql://")
            .or_else(|| text.strip_prefix("postgres://"))
        {
            return Ok(StoreLocation::Postgres(format!("postgresql://{rest}")));
        }
        let path = match text.strip_prefix("sqlite:") {
            Some(path) => path,
            // libpq's "host=… password=…" form is not a file name (and must
            // not become one, password and all).
            None if text.contains('=') || text.contains(char::is_whitespace) => {
                return Err(StoreError::Settings(
                    "a store is a postgresql:// URL or sqlite:PATH (keyword=value connection strings are not read)".into(),
                ));
            }
            None => text,
        };
        if path.is_empty() {
            return Err(StoreError::Settings("sqlite: names no file".into()));
        }
        if let Some((scheme, _)) = path.split_once("://") {
            // The rest may hold a password: only the scheme is shown.
            return Err(StoreError::Settings(format!(
                "a {scheme}:// store is neither postgresql:// nor a SQLite file"
            )));
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(path)))
    }

    /// The embedded default: `authbridge.sqlite` in the data directory.
    pub fn in_data_dir(store_path: &Path) -> StoreLocation {
        StoreLocation::Sqlite(store_path.to_owned())
    }

    /// For messages and logs: a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => format!("sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => crate::postgres::describe(url),
        }
    }

    /// Opens the store (migrating its schema). `postgres` holds the pool,
    /// TLS and time settings; its URL is replaced by this location's.
    pub fn open(&self, postgres: &PostgresSettings) -> Result<SharedStore> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
            StoreLocation::Postgres(url) => Arc::new(PostgresStore::open(&PostgresSettings {
                url: url.clone(),
                ..postgres.clone()
            })?),
        })
    }
}

impl StoreLocation {
    /// The schema version found and the one this build knows, read without
    /// writing anything.
    pub fn schema(&self, postgres: &PostgresSettings) -> Result<(i64, i64)> {
        match self {
            StoreLocation::Sqlite(path) => SqliteStore::schema_of(path),
            StoreLocation::Postgres(url) => PostgresStore::schema_of(&PostgresSettings {
                url: url.clone(),
                ..postgres.clone()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_told_apart() {
        assert_eq!(
            StoreLocation::parse("postgres://u@db/ab").unwrap(),
            StoreLocation::Postgres("postgresql://u@db/ab".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:/var/lib/x.sqlite").unwrap(),
            StoreLocation::Sqlite("/var/lib/x.sqlite".into())
        );
        assert_eq!(
            StoreLocation::parse("/tmp/a.sqlite").unwrap(),
            StoreLocation::Sqlite("/tmp/a.sqlite".into())
        );
        for bad in [
            "",
            "sqlite:",
            "mysql://db/ab",
            "host=db user=ab password=s3cret dbname=auth",
        ] {
            if let Err(e) = StoreLocation::parse(bad) {
                assert!(!e.to_string().contains("s3cret"), "{e}");
            }
            assert!(StoreLocation::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            StoreLocation::parse("postgresql://u:pw@db/ab")
                .unwrap()
                .describe(),
            "postgresql://u@db:5432/ab"
        );
    }
}
