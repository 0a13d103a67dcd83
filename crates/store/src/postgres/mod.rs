//! The PostgreSQL engine: the store for several stateless nodes sharing one database.
//!
//! Built on `tokio-postgres` with `deadpool-postgres` for pooling, not `sqlx`: the SQLite
//! engine already owns its SQL (rusqlite), so a query builder spanning both dialects would buy
//! nothing, and tokio-postgres is a much lighter build (no macros, no compile-time database,
//! no second SQLite driver). Only plain TCP (`NoTls`) connections for now.
//!
//! # Transactions
//! Every write command runs in one READ COMMITTED transaction on a pooled connection, in its
//! own task (a caller that goes away does not cut a transaction in half). Sequencing rests on
//! row locks held until COMMIT, taken in one order (the chat's row, then users' rows by
//! ascending id; see `ops.rs`), so message ids stay gapless and each log's pts rises by one
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

mod ops;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use heliograph_core::*;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use self::ops::{Db, Fail};
pub use crate::sqlite::CommitObserver;
use crate::{model::*, CommitFeed, Error, Limits, Result, Store};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_files.sql"),
    include_str!("migrations/0003_bots.sql"),
    include_str!("migrations/0004_privacy.sql"),
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

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// A database error with PostgreSQL's own message, which `Display` alone leaves out.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn db_error(e: tokio_postgres::Error) -> Error {
    Error::Internal(format!("PostgreSQL: {}", describe(&e)))
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => Error::Internal(format!("cannot reach PostgreSQL: {}", describe(&e))),
        other => Error::Internal(format!("cannot reach PostgreSQL: {other}")),
    }
}

fn failed(f: Fail) -> Error {
    match f {
        Fail::Refused(e) => e,
        Fail::Db(e) => db_error(e),
    }
}

/// Did the transaction lose a race that running it again can win?
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::UNIQUE_VIOLATION)
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
            .map_err(|e| Error::Internal(format!("cannot build the PostgreSQL pool: {e}")))?;
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

    /// Runs `op` in its own transaction, again from scratch when it loses a race; answers
    /// after COMMIT returned.
    async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a Db, &'a Limits, &'a mut Vec<Logged>) -> BoxFuture<'a, ops::R<T>> + Send + Sync + 'static,
    {
        let (pool, limits, sequencer, retries) = (self.pool.clone(), self.limits.clone(), self.sequencer.clone(), self.retries);
        let on_commit = self.on_commit.clone();
        let task = tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                let mut lease = Lease::new(pool.get().await.map_err(pool_error)?);
                let started = Instant::now();
                let (result, healthy) = attempt_write(lease.conn(), &limits, &sequencer, &op).await;
                lease.finished = healthy;
                drop(lease);
                if let (Ok(_), Some(observe)) = (&result, &on_commit) {
                    observe(1, started.elapsed());
                }
                match result {
                    Ok(value) => return Ok(value),
                    Err(Fail::Db(e)) if retryable(&e) && attempt < retries => {
                        attempt += 1;
                        tracing::debug!(attempt, error = %describe(&e), "a write lost a race; running it again");
                        let jitter = rand::random_range(0..=(1u64 << attempt.min(6)));
                        tokio::time::sleep(Duration::from_millis(jitter)).await;
                    }
                    Err(f) => return Err(failed(f)),
                }
            }
        });
        task.await.map_err(|e| Error::Internal(format!("the write task failed: {e}")))?
    }

    /// Runs `op` in a read-only snapshot.
    async fn query<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, &'a Limits) -> BoxFuture<'a, ops::R<T>> + Send + 'static,
    {
        let (pool, limits) = (self.pool.clone(), self.limits.clone());
        let task = tokio::spawn(async move {
            let mut lease = Lease::new(pool.get().await.map_err(pool_error)?);
            let conn = lease.conn();
            conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(db_error)?;
            let result = op(conn, &limits).await;
            let end = conn.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" }).await;
            lease.finished = end.is_ok();
            drop(lease);
            let value = result.map_err(failed)?;
            end.map_err(db_error)?;
            Ok(value)
        });
        task.await.map_err(|e| Error::Internal(format!("the read task failed: {e}")))?
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
async fn attempt_write<T, F>(conn: &mut Object, limits: &Limits, sequencer: &Sequencer, op: &F) -> (ops::R<T>, bool)
where
    F: for<'a> Fn(&'a Db, &'a Limits, &'a mut Vec<Logged>) -> BoxFuture<'a, ops::R<T>>,
{
    if let Err(e) = conn.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await {
        return (Err(e.into()), !conn.is_closed());
    }
    let mut events = Vec::new();
    let value = match op(conn, limits, &mut events).await {
        Ok(value) => value,
        Err(f) => {
            let healthy = conn.batch_execute("ROLLBACK").await.is_ok();
            return (Err(f), healthy);
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
    let tx = conn.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)").await.map_err(db_error)?;
    let version: i64 =
        tx.query_opt("SELECT max(version) FROM schema_version", &[]).await.map_err(db_error)?.and_then(|r| r.get(0)).unwrap_or(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::Internal(format!(
            "the database has schema version {version}, newer than this build knows ({known}); run a newer heliograph"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).await.map_err(db_error)?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    if version < known {
        tx.execute("DELETE FROM schema_version", &[]).await.map_err(db_error)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known]).await.map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}

#[async_trait]
impl Store for PostgresStore {
    fn take_commit_feed(&self) -> Option<CommitFeed> {
        let feed = self.feed.lock().ok()?.take();
        if feed.is_some() {
            self.feed_taken.store(true, Ordering::Release);
        }
        feed
    }

    async fn save_login_code(&self, phone: &Phone, code: LoginCodeHash) -> Result<()> {
        let phone = phone.clone();
        self.write(move |c, _, _| {
            let (phone, code) = (phone.clone(), code.clone());
            Box::pin(async move { ops::save_login_code(c, &phone, &code).await })
        })
        .await
    }
    async fn login_attempt(&self, phone: &Phone) -> Result<Option<LoginCodeHash>> {
        let phone = phone.clone();
        self.write(move |c, _, _| {
            let phone = phone.clone();
            Box::pin(async move { ops::login_attempt(c, &phone).await })
        })
        .await
    }
    async fn delete_login_code(&self, phone: &Phone) -> Result<()> {
        let phone = phone.clone();
        self.write(move |c, _, _| {
            let phone = phone.clone();
            Box::pin(async move { ops::delete_login_code(c, &phone).await })
        })
        .await
    }
    async fn user_by_phone(&self, phone: &Phone) -> Result<Option<User>> {
        let phone = phone.clone();
        self.query(move |c, _| Box::pin(async move { ops::user_by_phone(c, &phone).await })).await
    }
    async fn create_user(&self, phone: &Phone, name: &DisplayName) -> Result<User> {
        let (phone, name) = (phone.clone(), name.clone());
        self.write(move |c, _, _| {
            let (phone, name) = (phone.clone(), name.clone());
            Box::pin(async move { ops::create_user(c, &phone, &name).await })
        })
        .await
    }
    async fn create_session(&self, user: UserId, token_hash: &[u8], device: &str) -> Result<Session> {
        let (hash, device) = (token_hash.to_vec(), device.to_string());
        self.write(move |c, _, _| {
            let (hash, device) = (hash.clone(), device.clone());
            Box::pin(async move { ops::create_session(c, user, &hash, &device).await })
        })
        .await
    }
    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let hash = token_hash.to_vec();
        self.write(move |c, _, _| {
            let hash = hash.clone();
            Box::pin(async move { ops::session_by_token(c, &hash).await })
        })
        .await
    }
    async fn sessions(&self, user: UserId) -> Result<Vec<Session>> {
        self.query(move |c, _| Box::pin(ops::sessions(c, user))).await
    }
    async fn revoke_session(&self, user: UserId, session: SessionId) -> Result<bool> {
        self.write(move |c, _, _| Box::pin(ops::revoke_session(c, user, session))).await
    }
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let ids = ids.to_vec();
        self.query(move |c, _| Box::pin(async move { ops::users(c, &ids).await })).await
    }
    async fn relations(&self, viewer: UserId, others: &[UserId]) -> Result<Vec<Relation>> {
        let others = others.to_vec();
        self.query(move |c, _| Box::pin(async move { ops::relations(c, viewer, &others).await })).await
    }
    async fn resolve(&self, username: &Username) -> Result<Option<Resolved>> {
        let username = username.clone();
        self.query(move |c, _| Box::pin(async move { ops::resolve(c, &username).await })).await
    }
    async fn update_profile(&self, user: UserId, name: Option<DisplayName>, bio: Option<Bio>) -> Result<User> {
        self.write(move |c, _, _| {
            let (name, bio) = (name.clone(), bio.clone());
            Box::pin(async move { ops::update_profile(c, user, name.as_ref(), bio.as_ref()).await })
        })
        .await
    }
    async fn set_username(&self, user: UserId, username: Option<Username>) -> Result<User> {
        self.write(move |c, _, _| {
            let username = username.clone();
            Box::pin(async move { ops::set_username(c, user, username.as_ref()).await })
        })
        .await
    }
    async fn add_contact(&self, owner: UserId, contact: UserId) -> Result<()> {
        self.write(move |c, _, _| Box::pin(ops::add_contact(c, owner, contact))).await
    }
    async fn remove_contact(&self, owner: UserId, contact: UserId) -> Result<()> {
        self.write(move |c, _, _| Box::pin(ops::remove_contact(c, owner, contact))).await
    }
    async fn contacts(&self, owner: UserId) -> Result<Vec<User>> {
        self.query(move |c, _| Box::pin(ops::contacts(c, owner))).await
    }
    async fn set_blocked(&self, owner: UserId, target: UserId, blocked: bool) -> Result<()> {
        self.write(move |c, _, _| Box::pin(ops::set_blocked(c, owner, target, blocked))).await
    }
    async fn blocked(&self, owner: UserId) -> Result<Vec<User>> {
        self.query(move |c, _| Box::pin(ops::blocked(c, owner))).await
    }
    async fn phone_privacy(&self, user: UserId) -> Result<PhonePrivacy> {
        self.query(move |c, _| Box::pin(ops::phone_privacy(c, user))).await
    }
    async fn set_phone_privacy(&self, user: UserId, privacy: PhonePrivacy) -> Result<()> {
        self.write(move |c, _, _| Box::pin(ops::set_phone_privacy(c, user, privacy))).await
    }
    async fn open_private(&self, user: UserId, peer: UserId) -> Result<Chat> {
        self.write(move |c, _, _| Box::pin(ops::open_private(c, user, peer))).await
    }
    async fn create_chat(
        &self,
        creator: UserId,
        kind: ChatKind,
        title: &Title,
        username: Option<&Username>,
        members: &[UserId],
    ) -> Result<Chat> {
        let (title, username, members) = (title.clone(), username.cloned(), members.to_vec());
        self.write(move |c, l, ev| {
            let (title, username, members) = (title.clone(), username.clone(), members.clone());
            Box::pin(async move { ops::create_chat(c, l, ev, creator, kind, &title, username.as_ref(), &members).await })
        })
        .await
    }
    async fn chat_info(&self, chat: ChatId) -> Result<Option<Chat>> {
        self.query(move |c, _| Box::pin(ops::load_chat(c, chat))).await
    }
    async fn chat(&self, user: UserId, chat: ChatId) -> Result<View> {
        self.query(move |c, _| Box::pin(ops::view(c, user, chat))).await
    }
    async fn add_members(&self, actor: UserId, chat: ChatId, users: &[UserId]) -> Result<Chat> {
        let users = users.to_vec();
        self.write(move |c, l, ev| {
            let users = users.clone();
            Box::pin(async move { ops::add_members(c, l, ev, actor, chat, &users).await })
        })
        .await
    }
    async fn remove_member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<()> {
        self.write(move |c, _, ev| Box::pin(ops::remove_member(c, ev, actor, chat, user))).await
    }
    async fn set_title(&self, actor: UserId, chat: ChatId, title: &Title) -> Result<Chat> {
        let title = title.clone();
        self.write(move |c, _, ev| {
            let title = title.clone();
            Box::pin(async move { ops::set_title(c, ev, actor, chat, &title).await })
        })
        .await
    }
    async fn set_admin(&self, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> Result<()> {
        self.write(move |c, _, ev| Box::pin(ops::set_admin(c, ev, actor, chat, user, admin))).await
    }
    async fn members(&self, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> Result<Vec<Membership>> {
        self.query(move |c, _| Box::pin(ops::members(c, actor, chat, offset, limit))).await
    }
    async fn member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
        self.query(move |c, _| Box::pin(ops::member(c, actor, chat, user))).await
    }
    async fn find_private(&self, user: UserId, peer: UserId) -> Result<Option<Chat>> {
        self.query(move |c, _| Box::pin(ops::find_private(c, user, peer))).await
    }
    async fn export_invite(&self, actor: UserId, chat: ChatId) -> Result<String> {
        self.write(move |c, _, _| Box::pin(ops::export_invite(c, actor, chat))).await
    }
    async fn join(&self, user: UserId, how: JoinBy) -> Result<Chat> {
        self.write(move |c, l, ev| {
            let how = how.clone();
            Box::pin(async move { ops::join(c, l, ev, user, &how).await })
        })
        .await
    }
    async fn typing_audience(&self, actor: UserId, chat: ChatId) -> Result<Option<Vec<UserId>>> {
        self.query(move |c, _| Box::pin(ops::typing_audience(c, actor, chat))).await
    }
    async fn own_log_chats(&self, user: UserId) -> Result<Vec<(ChatId, Pts)>> {
        self.query(move |c, _| Box::pin(ops::own_log_chats(c, user))).await
    }
    async fn send(&self, actor: UserId, chat: ChatId, random_id: i64, draft: Draft) -> Result<Sent> {
        self.write(move |c, _, ev| {
            let draft = draft.clone();
            Box::pin(async move { ops::send(c, ev, actor, chat, random_id, &draft, None).await })
        })
        .await
    }
    async fn forward(&self, actor: UserId, from: ChatId, ids: &[MessageId], to: ChatId, random_ids: &[i64]) -> Result<Vec<Sent>> {
        let (ids, random_ids) = (ids.to_vec(), random_ids.to_vec());
        self.write(move |c, _, ev| {
            let (ids, random_ids) = (ids.clone(), random_ids.clone());
            Box::pin(async move { ops::forward(c, ev, actor, from, &ids, to, &random_ids).await })
        })
        .await
    }
    async fn edit(&self, actor: UserId, chat: ChatId, id: MessageId, edit: Edit) -> Result<Message> {
        self.write(move |c, _, ev| {
            let edit = edit.clone();
            Box::pin(async move { ops::edit(c, ev, actor, chat, id, &edit).await })
        })
        .await
    }
    async fn delete(&self, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> Result<()> {
        let ids = ids.to_vec();
        self.write(move |c, _, ev| {
            let ids = ids.clone();
            Box::pin(async move { ops::delete(c, ev, actor, chat, &ids, for_everyone).await })
        })
        .await
    }
    async fn pin(&self, actor: UserId, chat: ChatId, id: Option<MessageId>) -> Result<()> {
        self.write(move |c, _, ev| Box::pin(ops::pin(c, ev, actor, chat, id))).await
    }
    async fn read(&self, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> Result<()> {
        self.write(move |c, _, ev| Box::pin(ops::read(c, ev, actor, chat, max_id))).await
    }
    async fn history(&self, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>> {
        self.query(move |c, _| Box::pin(ops::history(c, actor, chat, page))).await
    }
    async fn dialogs(&self, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> Result<Vec<Dialog>> {
        self.query(move |c, _| Box::pin(ops::dialogs(c, user, before, limit))).await
    }
    async fn create_bot(&self, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> Result<User> {
        let (name, username, hash) = (name.clone(), username.clone(), token_hash.to_vec());
        self.write(move |c, _, _| {
            let (name, username, hash) = (name.clone(), username.clone(), hash.clone());
            Box::pin(async move { ops::create_bot(c, owner, &name, &username, &hash).await })
        })
        .await
    }
    async fn bots(&self, owner: UserId) -> Result<Vec<User>> {
        self.query(move |c, _| Box::pin(ops::bots(c, owner))).await
    }
    async fn replace_bot_token(&self, owner: UserId, bot: UserId, token_hash: &[u8]) -> Result<()> {
        let hash = token_hash.to_vec();
        self.write(move |c, _, _| {
            let hash = hash.clone();
            Box::pin(async move { ops::replace_bot_token(c, owner, bot, &hash).await })
        })
        .await
    }
    async fn bot(&self, bot: UserId) -> Result<Option<Bot>> {
        self.query(move |c, _| Box::pin(ops::bot(c, bot))).await
    }
    async fn webhook_bots(&self) -> Result<Vec<UserId>> {
        self.query(move |c, _| Box::pin(ops::webhook_bots(c))).await
    }
    async fn update_bot(&self, bot: UserId, change: BotChange) -> Result<Bot> {
        self.write(move |c, _, _| {
            let change = change.clone();
            Box::pin(async move { ops::update_bot(c, bot, &change).await })
        })
        .await
    }
    async fn press_button(&self, user: UserId, chat: ChatId, message: MessageId, data: &str) -> Result<(UserId, Pts)> {
        let data = data.to_string();
        self.write(move |c, _, ev| {
            let data = data.clone();
            Box::pin(async move { ops::press_button(c, ev, user, chat, message, &data).await })
        })
        .await
    }
    async fn create_file(&self, owner: UserId, file: NewFile, quota: u64) -> Result<File> {
        self.write(move |c, _, _| {
            let file = file.clone();
            Box::pin(async move { ops::create_file(c, owner, &file, quota).await })
        })
        .await
    }
    async fn file(&self, user: UserId, id: FileId) -> Result<File> {
        self.query(move |c, _| Box::pin(ops::file(c, user, id))).await
    }
    async fn file_usage(&self, user: UserId) -> Result<u64> {
        self.query(move |c, _| Box::pin(ops::file_usage(c, user))).await
    }
    async fn file_refs(&self, sha256: [u8; 32]) -> Result<u64> {
        self.query(move |c, _| Box::pin(async move { ops::file_refs(c, &sha256).await })).await
    }
    async fn state(&self, user: UserId) -> Result<Pts> {
        self.query(move |c, _| Box::pin(ops::state(c, user))).await
    }
    async fn difference(&self, user: UserId, pts: Pts, limit: u32) -> Result<Difference> {
        self.query(move |c, l| Box::pin(ops::difference(c, l, user, pts, limit))).await
    }
    async fn chat_difference(&self, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> Result<Difference> {
        self.query(move |c, l| Box::pin(ops::chat_difference(c, l, user, chat, pts, limit))).await
    }
}
