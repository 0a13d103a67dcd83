//! The PostgreSQL engine: the store for several stateless nodes sharing one database.
//!
//! Built on `tokio-postgres` with `deadpool-postgres` for pooling, not `sqlx`: the commands
//! (`commands/`) own their SQL, written once for both dialects, so a query builder would buy
//! little, and tokio-postgres is a much lighter build (no macros, no compile-time database,
//! no second SQLite driver). Only plain TCP (`NoTls`) connections for now. This module is the
//! engine around the commands: the pool, transactions, retries, the commit feed; `tx.rs` is
//! how a command's statements run here.
//!
//! # Transactions
//! Every write command runs in one READ COMMITTED transaction on a pooled connection, in its
//! own task (a caller that goes away does not cut a transaction in half). Sequencing rests on
//! row locks held until COMMIT, taken in one order (the chat's row, then users' rows by
//! ascending id; see `commands/mod.rs`, `# Locks`), so message ids stay gapless and each log's pts rises by one
//! under any number of concurrent writers on any number of nodes. A deadlock, serialization
//! failure or unique-key collision (two nodes racing on the same key) rolls the transaction
//! back and runs the whole command again, a few times, from scratch: the rerun sees what the
//! winner committed (an idempotent retry then answers the original message). Reads run in a
//! read-only REPEATABLE READ transaction: one snapshot, so a difference never sees half of a
//! commit.
//!
//! # Durability
//! A write answers only after its COMMIT returned, with PostgreSQL's default
//! `synchronous_commit = on`: the commit record is flushed to disk first. Group commit is
//! PostgreSQL's own business: concurrent transactions' commit records share WAL flushes
//! (tunable with `commit_delay` / `commit_siblings`), so throughput grows with concurrent
//! writers, which the pool provides, without weakening durability. Never run Heliograph
//! against a server with `synchronous_commit = off` or `fsync = off`.
//!
//! # Commit feed
//! Each transaction that logged events takes a ticket just before its COMMIT, while it still
//! holds every row lock it took; a transaction touching the same logs can take its ticket only
//! after this one committed, so ticket order is commit order wherever order matters. After
//! COMMIT (or its failure) the ticket is settled, and one feeder task passes the committed
//! events on in ticket order. As with SQLite, an untaken feed never stalls writes (the feeder
//! keeps what fits and drops the rest); a taken feed that falls behind pushes back on writers.
//! The feed carries this node's commits only: other nodes' reach their clients through the
//! bus, and the update logs, not the feed, are the record.
//!
//! # Migrations
//! Versioned files in `migrations/`, recorded in a `schema_version` table, applied at connect
//! in one transaction under an advisory lock (several nodes may start at once). A database
//! whose version is newer than this build knows is refused.

mod tx;

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

use self::tx::PgTx;
use crate::engine::{BoxFuture, Engine};
pub use crate::sqlite::CommitObserver;
use crate::{model::*, CommitFeed, Error, Limits, Result};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_files.sql"),
    include_str!("migrations/0003_bots.sql"),
    include_str!("migrations/0004_privacy.sql"),
    // daily use (#18)
    include_str!("migrations/0005_daily.sql"),
    // account (#16): sealed phones, reports, moderation, the audit log.
    include_str!("migrations/0006_accountability.sql"),
    // search (#17)
    include_str!("migrations/0007_search.sql"),
    // secret chats (#15)
    include_str!("migrations/0008_mls.sql"),
    // Bot API breadth (#19): bot profiles
    include_str!("migrations/0009_bot_api.sql"),
    // accountability (#16): the transparency log.
    include_str!("migrations/0010_transparency.sql"),
];

/// The advisory lock key that serializes migrations across nodes ("Heliogra").
const MIGRATION_LOCK: i64 = 0x4865_6c69_6f67_7261;

#[derive(Clone)]
pub struct Options {
    pub limits: Limits,
    /// Connections kept by this node; each runs one command at a time.
    pub pool_size: usize,
    /// How often a command that lost a race (deadlock, serialization failure, duplicate key)
    /// is run again before its caller gets an error.
    pub retries: u32,
    /// Called after each committed write with 1 (PostgreSQL batches the WAL flushes of
    /// concurrent commits itself, out of sight) and the time the transaction took.
    pub on_commit: Option<CommitObserver>,
}

impl Default for Options {
    fn default() -> Self {
        Options { limits: Limits::default(), pool_size: 16, retries: 10, on_commit: None }
    }
}

/// A committed (or failed) transaction's events, by ticket.
type Settled = (u64, Option<Vec<Logged>>);

pub struct PostgresStore {
    pool: Pool,
    limits: Arc<Limits>,
    retries: u32,
    on_commit: Option<CommitObserver>,
    sequencer: Arc<Sequencer>,
    feed: Mutex<Option<CommitFeed>>,
    /// Set once the feed is taken: until then the feeder never waits on it.
    feed_taken: Arc<AtomicBool>,
}

/// Hands out tickets in commit order and collects them for the feeder.
struct Sequencer {
    next: AtomicU64,
    settled: mpsc::Sender<Settled>,
}

impl Sequencer {
    fn ticket(&self) -> Ticket {
        Ticket { number: self.next.fetch_add(1, Ordering::SeqCst), settled: Some(self.settled.clone()) }
    }
}

/// A place in the feed's order. It must be settled exactly once, or the feed would wait for
/// it forever: dropping an unsettled ticket settles it empty.
struct Ticket {
    number: u64,
    settled: Option<mpsc::Sender<Settled>>,
}

impl Ticket {
    async fn settle(mut self, events: Option<Vec<Logged>>) {
        if let Some(tx) = self.settled.take() {
            let _ = tx.send((self.number, events)).await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(tx) = self.settled.take() else { return };
        let number = self.number;
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send((number, None)) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tx.send((number, None)).await;
                });
            }
        }
    }
}

/// Passes settled tickets' events to the feed in ticket order.
async fn feeder(mut settled: mpsc::Receiver<Settled>, feed: mpsc::Sender<Vec<Logged>>, feed_taken: Arc<AtomicBool>) {
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, Option<Vec<Logged>>> = BTreeMap::new();
    while let Some((number, events)) = settled.recv().await {
        waiting.insert(number, events);
        while let Some(events) = waiting.remove(&next) {
            next += 1;
            let Some(events) = events else { continue };
            if feed_taken.load(Ordering::Acquire) {
                // Waits when the fan-out falls behind: back-pressure on writers, not memory.
                let _ = feed.send(events).await;
            } else {
                // Nobody took the feed (yet): keep what fits for a late taker, never wait.
                let _ = feed.try_send(events);
            }
        }
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => Error::from(e),
        other => Error::Internal(crate::error::Failure::caused_by(format!("cannot reach PostgreSQL: {other}"), other)),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/dbname`), applies
    /// migrations, and starts the commit feed. Refuses a database whose schema is newer than
    /// this build, and fails when the server cannot be reached.
    pub async fn connect(url: &str, options: Options) -> Result<PostgresStore> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| Error::Invalid(format!("not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .build()
            .map_err(|e| Error::Internal(crate::error::Failure::caused_by(format!("cannot build the PostgreSQL pool: {e}"), e)))?;
        {
            let mut conn = pool.get().await.map_err(pool_error)?;
            migrate(&mut conn).await?;
        }
        let (settled_tx, settled_rx) = mpsc::channel(1024);
        let (feed_tx, feed_rx) = mpsc::channel(4096);
        let feed_taken = Arc::new(AtomicBool::new(false));
        tokio::spawn(feeder(settled_rx, feed_tx, feed_taken.clone()));
        Ok(PostgresStore {
            pool,
            limits: Arc::new(options.limits),
            retries: options.retries,
            on_commit: options.on_commit,
            sequencer: Arc::new(Sequencer { next: AtomicU64::new(0), settled: settled_tx }),
            feed: Mutex::new(Some(feed_rx)),
            feed_taken,
        })
    }
}

/// A pooled connection on loan to one transaction. It goes back to the pool only when the
/// transaction finished cleanly; otherwise (a panic, a failed ROLLBACK) it is closed, and
/// PostgreSQL rolls back whatever was left open: a half-done transaction must never be
/// continued by the connection's next user.
struct Lease {
    conn: Option<Object>,
    finished: bool,
}

impl Lease {
    fn new(conn: Object) -> Lease {
        Lease { conn: Some(conn), finished: false }
    }

    fn conn(&mut self) -> &mut Object {
        self.conn.as_mut().expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.finished {
                drop(Object::take(conn));
            }
        }
    }
}

/// One try of a write command. Also answers whether the connection is still fit for the pool.
async fn attempt_write<A, T, C>(conn: &mut Object, limits: &Limits, sequencer: &Sequencer, args: &A, command: &C) -> (Result<T>, bool)
where
    C: for<'t> Fn(PgTx<'t>, &'t A) -> BoxFuture<'t, Result<T>>,
{
    if let Err(e) = conn.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await {
        return (Err(e.into()), !conn.is_closed());
    }
    let mut events = Vec::new();
    let value = match command(PgTx::new(conn, limits, &mut events), args).await {
        Ok(value) => value,
        Err(e) => {
            let healthy = conn.batch_execute("ROLLBACK").await.is_ok();
            return (Err(e), healthy);
        }
    };
    // Taken while every row lock of this transaction is still held: see `# Commit feed`.
    let ticket = (!events.is_empty()).then(|| sequencer.ticket());
    match conn.batch_execute("COMMIT").await {
        Ok(()) => {
            if let Some(ticket) = ticket {
                ticket.settle(Some(events)).await;
            }
            (Ok(value), true)
        }
        Err(e) => {
            // The outcome of a COMMIT that failed on the wire is unknown; the caller is told it
            // failed, and a retried send is idempotent.
            if let Some(ticket) = ticket {
                ticket.settle(None).await;
            }
            (Err(e.into()), false)
        }
    }
}

async fn migrate(conn: &mut Object) -> Result<()> {
    let tx = conn.transaction().await.map_err(Error::from)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(Error::from)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)").await.map_err(Error::from)?;
    let version: i64 = tx.query_one("SELECT max(version) FROM schema_version", &[]).await?.try_get::<_, Option<i64>>(0)?.unwrap_or(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::internal(format!(
            "the database has schema version {version}, newer than this build knows ({known}); run a newer heliograph"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).await.map_err(Error::from)?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    if version < known {
        tx.execute("DELETE FROM schema_version", &[]).await.map_err(Error::from)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known]).await.map_err(Error::from)?;
    }
    tx.commit().await.map_err(Error::from)
}

impl Engine for PostgresStore {
    type Tx<'t> = PgTx<'t>;

    /// Runs `command` in a read-only snapshot.
    fn read<A, T, C>(&self, args: A, command: C) -> impl Future<Output = Result<T>> + Send
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(PgTx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static,
    {
        let (pool, limits) = (self.pool.clone(), self.limits.clone());
        let task = tokio::spawn(async move {
            let mut lease = Lease::new(pool.get().await.map_err(pool_error)?);
            let conn = lease.conn();
            conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
            let mut unused = Vec::new();
            let result = command(PgTx::new(conn, &limits, &mut unused), &args).await;
            let end = conn.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" }).await;
            lease.finished = end.is_ok();
            drop(lease);
            let value = result?;
            end?;
            Ok(value)
        });
        async move { task.await.map_err(|e| Error::internal(format!("the read task failed: {e}")))? }
    }

    /// Runs `command` in its own transaction, again from scratch when it loses a race; answers
    /// after COMMIT returned.
    fn write<A, T, C>(&self, args: A, command: C) -> impl Future<Output = Result<T>> + Send
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(PgTx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static,
    {
        let (pool, limits, sequencer, retries) = (self.pool.clone(), self.limits.clone(), self.sequencer.clone(), self.retries);
        let on_commit = self.on_commit.clone();
        // Its own task: a caller that goes away does not cut a transaction in half.
        let task = tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                let mut lease = Lease::new(pool.get().await.map_err(pool_error)?);
                let started = Instant::now();
                let (result, healthy) = attempt_write(lease.conn(), &limits, &sequencer, &args, &command).await;
                lease.finished = healthy;
                drop(lease);
                if let (Ok(_), Some(observe)) = (&result, &on_commit) {
                    observe(1, started.elapsed());
                }
                match result {
                    Err(e) if e.lost_race() && attempt < retries => {
                        attempt += 1;
                        tracing::debug!(attempt, error = %e, "a write lost a race; running it again");
                        let jitter = rand::random_range(0..=(1u64 << attempt.min(6)));
                        tokio::time::sleep(Duration::from_millis(jitter)).await;
                    }
                    other => return other,
                }
            }
        });
        async move { task.await.map_err(|e| Error::internal(format!("the write task failed: {e}")))? }
    }

    fn take_commit_feed(&self) -> Option<CommitFeed> {
        let feed = self.feed.lock().ok()?.take();
        if feed.is_some() {
            self.feed_taken.store(true, Ordering::Release);
        }
        feed
    }

    /// `VACUUM FULL` (outside any transaction) of the tables that held clear numbers: their
    /// dead row versions are dropped and the tables rewritten. (Old WAL segments and base
    /// backups are the operator's to rotate; see `docs/accountability.md`.)
    async fn compact(&self) -> Result<()> {
        let conn = self.pool.get().await.map_err(pool_error)?;
        // One statement per call: several in one simple query run as one transaction block,
        // where VACUUM is refused.
        for table in ["users", "login_codes"] {
            conn.batch_execute(&format!("VACUUM FULL {table}")).await.map_err(Error::from)?;
        }
        Ok(())
    }
}
