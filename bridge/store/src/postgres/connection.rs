//! Connections: a bounded pool, each connection's socket driven by the store's
//! own runtime, and [`Db`], through which a call's statements run and wait.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement, Transaction};

use super::settings::{PostgresSettings, describe};
use crate::{Result, StoreError};

/// How long a failed connection attempt keeps the next ones from trying: while
/// the database is down, calls answer "unavailable" at once instead of each
/// waiting for its own connect to fail.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Attempts of a transaction that a deadlock or a serialization failure
/// aborted (the database chose it as the victim; running it again is safe).
const WRITE_ATTEMPTS: usize = 5;

/// One connection and the statements prepared on it.
struct Session {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

pub(super) struct Pool {
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Drives the connections' sockets; calls only wait on it. Taken on drop.
    runtime: Option<tokio::runtime::Runtime>,
    size: usize,
    timeout: Duration,
    /// For messages: the URL without its password.
    described: String,
    idle: Mutex<Idle>,
    returned: Condvar,
    /// Milliseconds since `epoch` before which no new connection is tried.
    retry_at_ms: AtomicU64,
    epoch: Instant,
}

struct Idle {
    sessions: Vec<Session>,
    /// Connections open or being opened, idle ones included.
    open: usize,
    last_error: Option<String>,
}

impl Pool {
    pub(super) fn new(settings: &PostgresSettings) -> Result<Pool> {
        let config = settings
            .config()
            .map_err(|e| StoreError::Settings(e.to_string()))?;
        let tls = settings
            .tls()
            .map_err(|e| StoreError::Settings(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("authbridge-pg")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                path: "the PostgreSQL runtime".into(),
                source,
            })?;
        Ok(Pool {
            config,
            tls,
            runtime: Some(runtime),
            size: settings.pool_size,
            timeout: settings.timeout,
            described: describe(&settings.url),
            idle: Mutex::new(Idle {
                sessions: Vec::new(),
                open: 0,
                last_error: None,
            }),
            returned: Condvar::new(),
            retry_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    pub(super) fn read<T>(&self, f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        blocking(|| self.read_here(f))
    }

    pub(super) fn write<T>(&self, f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        blocking(|| self.write_here(f))
    }

    fn read_here<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let deadline = Instant::now() + self.timeout;
        let mut lease = self.lease(deadline)?;
        let result = {
            let session = lease.session();
            let mut db = Db {
                conn: Conn::Client(&session.client),
                statements: &mut session.statements,
                pool: self,
                deadline,
            };
            f(&mut db)
        };
        // Reads run no transaction a deadlock could abort; should one come, it
        // is the database's trouble, not the caller's.
        let result = result.map_err(|e| match e {
            StoreError::Retry(e) => StoreError::Unavailable(e),
            e => e,
        });
        lease.keep_unless_broken(&result);
        result
    }

    fn write_here<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let deadline = Instant::now() + self.timeout;
        let mut lease = self.lease(deadline)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.transaction(lease.session(), deadline, &mut f);
            match result {
                Err(StoreError::Retry(_)) if attempt < WRITE_ATTEMPTS => {
                    // Both sides of a deadlock may retry: step apart a little.
                    std::thread::sleep(Duration::from_millis(2 * attempt as u64));
                    continue;
                }
                Err(StoreError::Retry(e)) => {
                    return Err(StoreError::Unavailable(format!(
                        "PostgreSQL aborted the change {WRITE_ATTEMPTS} times: {e}"
                    )));
                }
                result => {
                    lease.keep_unless_broken(&result);
                    return result;
                }
            }
        }
    }

    fn transaction<T>(
        &self,
        session: &mut Session,
        deadline: Instant,
        f: &mut impl FnMut(&mut Db<'_>) -> Result<T>,
    ) -> Result<T> {
        let Session { client, statements } = session;
        let tx = self.block(deadline, client.transaction())??;
        let mut db = Db {
            conn: Conn::Transaction(tx),
            statements,
            pool: self,
            deadline,
        };
        // An error drops the transaction, which rolls it back.
        let value = f(&mut db)?;
        let Conn::Transaction(tx) = db.conn else {
            unreachable!("a write runs in a transaction")
        };
        self.block(deadline, tx.commit())??;
        Ok(value)
    }

    /// Waits for `future` on this thread, until `deadline` at most. The
    /// store's runtime is entered so that the timer (and a connect) work from
    /// any thread, the daemon's async ones included.
    fn block<F: Future>(&self, deadline: Instant, future: F) -> Result<F::Output> {
        let _entered = self.runtime().enter();
        let left = deadline.saturating_duration_since(Instant::now());
        futures_executor::block_on(tokio::time::timeout(left, future)).map_err(|_| {
            StoreError::Unavailable(format!(
                "PostgreSQL did not answer within {:?}",
                self.timeout
            ))
        })
    }

    fn lease(&self, deadline: Instant) -> Result<Lease<'_>> {
        let mut idle = self.lock_idle();
        loop {
            while let Some(session) = idle.sessions.pop() {
                if !session.client.is_closed() {
                    return Ok(Lease {
                        pool: self,
                        session: Some(session),
                    });
                }
                // The server went away since: this one is done.
                idle.open -= 1;
            }
            if idle.open < self.size {
                if self.now_ms() < self.retry_at_ms.load(Ordering::Relaxed) {
                    let last = idle.last_error.clone().unwrap_or_default();
                    return Err(StoreError::Unavailable(last));
                }
                idle.open += 1;
                drop(idle);
                return match self.connect(deadline) {
                    Ok(session) => Ok(Lease {
                        pool: self,
                        session: Some(session),
                    }),
                    Err(e) => {
                        let mut idle = self.lock_idle();
                        idle.open -= 1;
                        idle.last_error = Some(e.to_string());
                        self.retry_at_ms.store(
                            self.now_ms() + RETRY_AFTER.as_millis() as u64,
                            Ordering::Relaxed,
                        );
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "all {} connections to PostgreSQL stayed busy for {:?}",
                    self.size, self.timeout
                )));
            }
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Session> {
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let connecting = self
            .runtime()
            .spawn(async move { config.connect(tls).await });
        let (client, connection) = self
            .block(deadline, connecting)?
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.described)))?
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot connect to {}: {}",
                    self.described,
                    with_causes(&e)
                ))
            })?;
        // The connection ends when the client is dropped or the server goes.
        self.runtime().spawn(connection);
        Ok(Session {
            client,
            statements: HashMap::new(),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the pool")
    }

    fn lock_idle(&self) -> MutexGuard<'_, Idle> {
        // Nothing a panic could leave half-done is kept under this lock.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(super) fn describe(&self) -> String {
        self.described.clone()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The last handle may go on one of the daemon's async threads, where a
        // runtime may not block to shut down: its threads are told to stop
        // and left to it. The connections close with their clients.
        self.lock_idle().sessions.clear();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `f`, which waits for the database (for a connection, for answers,
/// between attempts). On a worker of the daemon's multi-threaded runtime,
/// tokio is told that this thread blocks and moves its other tasks to another
/// thread meanwhile: a slow database holds up only the requests waiting for it.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A connection taken from the pool: given back when dropped, unless a failure
/// left it in doubt (then it is closed and a new one is made when needed).
struct Lease<'p> {
    pool: &'p Pool,
    session: Option<Session>,
}

impl Lease<'_> {
    fn session(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }

    fn keep_unless_broken<T>(&mut self, result: &Result<T>) {
        if let Err(StoreError::Unavailable(_)) = result {
            // A statement cut off by the time limit may still run or hold a
            // transaction: closing the connection ends both.
            self.session = None;
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.lock_idle();
        match self.session.take() {
            Some(session) if !session.client.is_closed() => idle.sessions.push(session),
            _ => idle.open -= 1,
        }
        self.pool.returned.notify_one();
    }
}

enum Conn<'a> {
    Client(&'a Client),
    Transaction(Transaction<'a>),
}

/// Where a store call's statements run: the connection, or its transaction
/// for a write. Each statement is prepared once per connection and waits at
/// most until the call's deadline.
pub struct Db<'a> {
    conn: Conn<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
    pool: &'a Pool,
    deadline: Instant,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Db<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let prepared = match &self.conn {
            Conn::Client(c) => self.pool.block(self.deadline, c.prepare(sql))?,
            Conn::Transaction(t) => self.pool.block(self.deadline, t.prepare(sql))?,
        }?;
        self.statements.insert(sql, prepared.clone());
        Ok(prepared)
    }

    pub fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(match &self.conn {
            Conn::Client(c) => self
                .pool
                .block(self.deadline, c.query(&statement, params))?,
            Conn::Transaction(t) => self
                .pool
                .block(self.deadline, t.query(&statement, params))?,
        }?)
    }

    pub fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params)?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(StoreError::Unexpected(format!(
                "{n} rows where one at most was expected"
            ))),
        }
    }

    pub fn query_one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Unexpected("no row where one was expected".into()))
    }

    /// Rows changed.
    pub fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(match &self.conn {
            Conn::Client(c) => self
                .pool
                .block(self.deadline, c.execute(&statement, params))?,
            Conn::Transaction(t) => self
                .pool
                .block(self.deadline, t.execute(&statement, params))?,
        }?)
    }

    /// A statement made at run time (the copy's, from the table list):
    /// prepared for this one use.
    pub fn query_once(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        Ok(match &self.conn {
            Conn::Client(c) => self.pool.block(self.deadline, c.query(sql, params))?,
            Conn::Transaction(t) => self.pool.block(self.deadline, t.query(sql, params))?,
        }?)
    }

    pub fn execute_once(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        Ok(match &self.conn {
            Conn::Client(c) => self.pool.block(self.deadline, c.execute(sql, params))?,
            Conn::Transaction(t) => self.pool.block(self.deadline, t.execute(sql, params))?,
        }?)
    }

    /// Statements without parameters, in one round trip (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(match &self.conn {
            Conn::Client(c) => self.pool.block(self.deadline, c.batch_execute(sql))?,
            Conn::Transaction(t) => self.pool.block(self.deadline, t.batch_execute(sql))?,
        }?)
    }

    /// Whether a directory trigger ran in this transaction.
    pub(super) fn directory_changed(&mut self) -> Result<bool> {
        let row = self.query_one(
            "SELECT coalesce(current_setting('authbridge.directory_changed', true), '') = 'yes'",
            &[],
        )?;
        Ok(row.get(0))
    }

    /// The database, for messages (no password).
    pub(super) fn describe(&self) -> String {
        self.pool.describe()
    }
}

/// An error and what caused it ("error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer"): the driver's own text stops at the first.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Errors the database may send once: a transaction it aborted to break a
/// deadlock or a serialization conflict.
const RETRYABLE: [&str; 2] = ["40001", "40P01"];

/// The database is going away or cannot take us now: "unavailable", not a
/// fault of the request. Class 08 is connection exceptions.
/// Class 53 (insufficient resources) and 58 (system error) too, and 25006: a
/// write sent to a standby (a fail-over in progress).
const UNAVAILABLE: [&str; 6] = ["57P01", "57P02", "57P03", "57014", "55P03", "25006"];

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // No answer from the server: the socket, TLS or the connection.
            return StoreError::Unavailable(with_causes(&e));
        };
        let code = db.code().code();
        if db.message().contains("authbridge: id range exhausted") {
            StoreError::IdRangeExhausted
        } else if RETRYABLE.contains(&code) {
            StoreError::Retry(e.to_string())
        } else if ["08", "53", "58"]
            .iter()
            .any(|class| code.starts_with(class))
            || UNAVAILABLE.contains(&code)
        {
            StoreError::Unavailable(format!("PostgreSQL: {}", db.message()))
        } else {
            if !code.starts_with("23") {
                // Constraint conflicts are answers ("already exists"); anything
                // else is an error worth counting.
                crate::count_error();
            }
            StoreError::Postgres(format!("{}: {}", code, db.message()))
        }
    }
}
