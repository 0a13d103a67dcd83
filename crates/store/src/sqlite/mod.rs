//! The embedded SQLite engine.
//!
//! One writer thread owns the only writing connection. Write commands queue up on a bounded
//! channel; the writer takes as many as are waiting (up to `max_batch`), runs each inside its
//! own savepoint of one transaction, commits once, and only then answers each caller. That is
//! group commit: one fsync for the whole batch, and no caller is acknowledged before the data
//! is durable. A command that fails rolls back its savepoint alone.
//!
//! Reads run on a small pool of read-only connections (WAL lets them proceed while the writer
//! commits).
//!
//! The commands themselves are `commands/`, shared with PostgreSQL; `tx.rs` is how their
//! statements run here (synchronously, through each connection's statement cache).

mod seed;
mod tx;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, Semaphore};

use self::tx::SqliteTx;
use crate::engine::{BoxFuture, Engine};
use crate::{model::*, CommitFeed, Error, Limits, Result};

pub use seed::{seed_channel, seed_phone, ChannelSeed, SeededChannel};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("0002_files.sql"),
    include_str!("0003_bots.sql"),
    include_str!("0004_privacy.sql"),
    // daily use (#18)
    include_str!("0005_daily.sql"),
    // account (#16): sealed phones, reports, moderation, the audit log.
    include_str!("0006_accountability.sql"),
    // search (#17)
    include_str!("0007_search.sql"),
    // secret chats (#15)
    include_str!("0008_mls.sql"),
    // Bot API breadth (#19): bot profiles
    include_str!("0009_bot_api.sql"),
    // accountability (#16): the transparency log.
    include_str!("0010_transparency.sql"),
];

/// How hard a commit works to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives a process crash and a power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power
    /// loss.
    Normal,
}

/// Called after each group commit with the number of commands and the time it took.
pub type CommitObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    pub limits: Limits,
    pub durability: Durability,
    /// Most commands in one group commit.
    pub max_batch: usize,
    /// Read connections kept open.
    pub readers: usize,
    pub on_commit: Option<CommitObserver>,
}

impl Default for Options {
    fn default() -> Self {
        Options { limits: Limits::default(), durability: Durability::Full, max_batch: 512, readers: 4, on_commit: None }
    }
}

type Finish = Box<dyn FnOnce(Result<()>) + Send>;
type Job = Box<dyn FnOnce(&mut Connection, &mut Vec<Logged>) -> (bool, Finish) + Send>;

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
    path: PathBuf,
    limits: Arc<Limits>,
    feed: Mutex<Option<CommitFeed>>,
    /// Set once the feed is taken: until then the writer never waits on it.
    feed_taken: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies migrations, and starts the
    /// writer thread. Refuses a database whose schema is newer than this build.
    pub fn open(path: &Path, options: Options) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        configure(&conn, options.durability)?;
        migrate(&conn)?;
        let (jobs, rx) = mpsc::channel::<Job>(options.max_batch.max(1) * 4);
        let (feed_tx, feed_rx) = mpsc::channel(4096);
        let limits = Arc::new(options.limits.clone());
        let max_batch = options.max_batch.max(1);
        let on_commit = options.on_commit.clone();
        let feed_taken = Arc::new(AtomicBool::new(false));
        let taken = feed_taken.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, rx, feed_tx, taken, max_batch, on_commit))
            .map_err(|e| Error::Internal(crate::error::Failure::caused_by(format!("cannot start the writer thread: {e}"), e)))?;
        Ok(SqliteStore {
            jobs,
            readers: Arc::new(Mutex::new(Vec::new())),
            reader_slots: Arc::new(Semaphore::new(options.readers.max(1))),
            path: path.to_path_buf(),
            limits,
            feed: Mutex::new(Some(feed_rx)),
            feed_taken,
        })
    }
}

/// The schema version this build writes (`PRAGMA user_version` after the migrations).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Copies the database at `db` into a new file `dest`, online: `VACUUM INTO` on a read-only
/// connection of its own reads one snapshot (a WAL read transaction), so a server may keep
/// committing meanwhile; every commit that finished before the snapshot began is in the copy,
/// none after it. The copy is a self-contained database (no WAL), compacted. Returns the
/// copy's schema version.
pub fn backup(db: &Path, dest: &Path) -> Result<i64> {
    if dest.exists() {
        return Err(Error::Invalid(format!("{} exists; a backup never overwrites", dest.display())));
    }
    let dest_text = dest.to_str().ok_or_else(|| Error::Invalid("the backup path is not UTF-8".into()))?;
    let conn = open_reader(db)?;
    conn.execute("VACUUM INTO ?1", [dest_text])?;
    drop(conn);
    std::fs::File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::Internal(crate::error::Failure::caused_by(format!("cannot sync the backup: {e}"), e)))?;
    inspect(dest)
}

/// Checks that `path` is a whole Heliograph database this build can open (integrity check,
/// schema version 1 to [`SCHEMA_VERSION`], the core tables present); returns its version.
pub fn inspect(path: &Path) -> Result<i64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(Error::Invalid(format!("{} fails SQLite's integrity check: {check}", path.display())));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(Error::Invalid(format!(
            "{} has schema version {version}; this build knows versions 1 to {SCHEMA_VERSION}",
            path.display()
        )));
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'chats', 'messages', 'user_updates')",
        [],
        |r| r.get(0),
    )?;
    if tables != 4 {
        return Err(Error::Invalid(format!("{} is not a Heliograph database", path.display())));
    }
    Ok(version)
}

/// Whether a process (a running server) has the database at `path` open. Every connection
/// to a WAL database holds a shared lock on the file for as long as it is open, so an
/// exclusive lock is granted only when no other connection exists.
pub fn in_use(path: &Path) -> Result<bool> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;")?;
    match conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        Ok(()) => Ok(false),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prepared statements kept per connection: a send alone runs about 15 different ones, and
/// rusqlite's default of 16 made the writer re-parse statements it had just evicted. Every
/// statement of every command goes through the cache (about 100 today), so all of them fit.
const STATEMENT_CACHE: usize = 256;

/// Settings of the writing connection. Checkpoints stay SQLite's automatic ones, run by the
/// writer after a commit once the WAL holds 1,000 pages: a checkpoint thread beside the writer
/// was tried and measured (p99 at half of peak 50 ms instead of 10 ms): its database fsyncs
/// delayed the writer's WAL fsyncs (one filesystem journal).
fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=5000;
         PRAGMA cache_size=-{WRITER_CACHE_KIB};"
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    add_functions(conn)
}

/// `heliograph_words(text)`: the folded words of a text, space-separated (directory search;
/// PostgreSQL spells the same function in SQL, `postgres/migrations/0007_search.sql`).
fn add_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function("heliograph_words", 1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let text: Option<String> = ctx.get(0)?;
        Ok(text.map(|t| heliograph_core::words::words(&t).join(" ")))
    })?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch("PRAGMA busy_timeout=5000;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    add_functions(&conn)?;
    Ok(conn)
}

/// The writer's page cache. SQLite's default (2 MiB) is smaller than the pages a busy
/// minute touches (message, log and idempotency indexes), and every miss is a `pread`.
const WRITER_CACHE_KIB: u32 = 32 * 1024;

fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::internal(format!(
            "the database has schema version {version}, newer than this build knows ({known}); run a newer heliograph"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

fn writer(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    feed: mpsc::Sender<Vec<Logged>>,
    feed_taken: Arc<AtomicBool>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let size = batch.len();
        let mut finishes = Vec::with_capacity(size);
        let mut committed_events = Vec::new();
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = begun {
            // Never run a job outside a transaction: each statement would commit on its own
            // and the caller, told it failed, would find it half done. Dropping a job answers
            // its caller with an error.
            tracing::error!(error = %e, commands = size, "could not begin a group commit; its commands were refused");
            batch.clear();
            continue;
        }
        let mut failed = false;
        for job in batch.drain(..) {
            let mut events = Vec::new();
            // A failed savepoint inside an open transaction means the connection is broken:
            // the whole batch is rolled back below.
            failed |= statement(&conn, "SAVEPOINT job").is_err();
            let (ok, finish) = run_job(&mut conn, job, &mut events);
            if ok {
                failed |= statement(&conn, "RELEASE job").is_err();
                committed_events.extend(events);
            } else {
                failed |= statement(&conn, "ROLLBACK TO job").and_then(|()| statement(&conn, "RELEASE job")).is_err();
            }
            finishes.push(finish);
        }
        let commit = if failed {
            Err(Error::internal("a group commit failed and was rolled back"))
        } else {
            conn.execute_batch("COMMIT").map_err(Error::from)
        };
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            committed_events.clear();
        }
        if let Some(observe) = &on_commit {
            observe(size, started.elapsed());
        }
        if !committed_events.is_empty() {
            if feed_taken.load(Ordering::Acquire) {
                // Blocks the writer when the fan-out falls behind: back-pressure, not memory.
                let _ = feed.blocking_send(committed_events);
            } else {
                // Nobody took the feed (yet): keep what fits for a late taker, never wait for
                // one. The update logs, not the feed, are the record.
                let _ = feed.try_send(committed_events);
            }
        }
        for finish in finishes {
            finish(commit.clone());
        }
    }
    tracing::info!("sqlite writer stopped: every queued commit finished");
}

/// Runs one statement through the connection's statement cache (the writer's savepoints run
/// twice per command; `execute_batch` would parse them every time).
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_job(conn: &mut Connection, job: Job, events: &mut Vec<Logged>) -> (bool, Finish) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn, events))) {
        Ok(done) => done,
        Err(_) => {
            events.clear();
            (false, Box::new(|_| {}))
        }
    }
}

impl Engine for SqliteStore {
    type Tx<'t> = SqliteTx<'t>;

    /// Runs `command` on a read connection.
    async fn read<A, T, C>(&self, args: A, command: C) -> Result<T>
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(SqliteTx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static,
    {
        let _slot = self.reader_slots.acquire().await.map_err(|_| Error::internal("store closed"))?;
        let (readers, path, limits) = (self.readers.clone(), self.path.clone(), self.limits.clone());
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map_err(|_| Error::internal("reader pool poisoned"))?.pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => open_reader(&path)?,
            };
            let mut unused = Vec::new();
            let result = tx::finish(command(SqliteTx::new(&mut conn, &limits, &mut unused), &args));
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::internal(format!("read task failed: {e}")))?
    }

    /// Runs `command` inside the next group commit; answers after the commit is durable.
    fn write<A, T, C>(&self, args: A, command: C) -> impl Future<Output = Result<T>> + Send
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(SqliteTx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let limits = self.limits.clone();
        let job: Job = Box::new(move |conn, events| {
            let result = tx::finish(command(SqliteTx::new(conn, &limits, events), &args));
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit: Result<()>| {
                let _ = tx.send(commit.and(result));
            });
            (ok, finish)
        });
        async move {
            self.jobs.send(job).await.map_err(|_| Error::internal("the store is shut down"))?;
            rx.await.map_err(|_| Error::internal("the write was not committed: the writer could not begin a transaction, or stopped"))?
        }
    }

    fn take_commit_feed(&self) -> Option<CommitFeed> {
        let feed = self.feed.lock().ok()?.take();
        if feed.is_some() {
            self.feed_taken.store(true, Ordering::Release);
        }
        feed
    }

    /// `VACUUM` on a connection of its own (it cannot run inside the writer's transactions),
    /// with `secure_delete` so freed pages are zeroed, then the WAL checkpointed and truncated:
    /// afterwards neither file holds a value that was overwritten or deleted.
    async fn compact(&self) -> Result<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let conn = Connection::open(&path)?;
            conn.execute_batch("PRAGMA busy_timeout=5000; PRAGMA secure_delete=ON; VACUUM;")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .map_err(|e| Error::internal(format!("compact task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use heliograph_core::*;

    use super::*;
    use crate::Store;

    /// Nothing can change or remove an audit log entry, not even SQL behind the store's back.
    #[tokio::test]
    async fn audit_log_is_append_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.db");
        let store = SqliteStore::open(&path, Options::default()).expect("open");
        let (phone, name) = (SealedPhone { hash: PhoneHash([1; 32]), sealed: vec![1] }, DisplayName::parse("Op").expect("name"));
        let op = store.create_user(&phone, &name).await.expect("user").id;
        let action = Action {
            operator: op,
            kind: ModerationAction::Restrict,
            report: None,
            user: Some(op),
            chat: None,
            message: None,
            until: None,
            reason: "test".into(),
            notice: None,
        };
        store.moderate(action).await.expect("moderate");
        let conn = Connection::open(&path).expect("second connection");
        for sql in ["UPDATE audit_log SET reason = 'nothing'", "DELETE FROM audit_log"] {
            let err = conn.execute_batch(sql).expect_err(sql);
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(store.audit_log(0, 10).await.expect("audit_log")[0].reason, "test");
    }

    /// A database of schema 4 (before sealed phones) keeps its numbers in clear until the
    /// server seals them; after sealing and `compact`, no byte of either file holds one.
    #[tokio::test]
    async fn version_4_numbers_sealed_and_scrubbed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v4.db");
        {
            let conn = Connection::open(&path).expect("open");
            configure(&conn, Durability::Full).expect("configure");
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).expect("old migration");
            }
            conn.execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO users (id, phone, name, created, find_by_phone) VALUES (1, '+15557770001', 'Alice', 10, 2);
                 INSERT INTO login_codes (phone, salt, hash, expires) VALUES ('+15557770002', x'00', x'00', 99);",
            )
            .expect("old rows");
        }
        let store = SqliteStore::open(&path, Options::default()).expect("upgrade");
        assert_eq!(store.phones_to_seal(10).await.expect("phones_to_seal"), vec![(UserId(1), "+15557770001".to_string())]);
        let sealed = SealedPhone { hash: PhoneHash([7; 32]), sealed: vec![7; 48] };
        store.seal_phone(UserId(1), &sealed).await.expect("seal_phone");
        Store::compact(&store).await.expect("compact");
        assert_eq!(store.user_by_phone(PhoneHash([7; 32])).await.expect("user_by_phone").map(|u| u.id), Some(UserId(1)));
        assert_eq!(store.phone_privacy(UserId(1)).await.expect("privacy"), PhonePrivacy::Nobody, "settings survive");
        for file in ["v4.db", "v4.db-wal"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
            for number in ["15557770001", "15557770002"] {
                assert!(!bytes.windows(number.len()).any(|w| w == number.as_bytes()), "{number} is still in {file}");
            }
        }
    }

    /// A database made by the build before bots (schema version 2) upgrades in place: people
    /// and their messages stay, phones stay unique, and bots (no phone) can be made.
    #[tokio::test]
    async fn version_2_upgrades_to_bots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v2.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).expect("old migration");
            }
            conn.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO users (id, phone, name, username, bio, created, pts) VALUES (1, '+15550000001', 'Alice', 'alice', 'hi', 10, 3);
                 INSERT INTO users (id, phone, name, created) VALUES (2, '+15550000002', 'Bob', 11);
                 INSERT INTO usernames (key, user_id) VALUES ('alice', 1);
                 INSERT INTO chats (id, kind, title, creator, member_count, top_message, created, activity, pair)
                     VALUES (1, 'private', '', 1, 2, 1, 12, 12, '1:2');
                 INSERT INTO members (chat_id, user_id, role, joined) VALUES (1, 1, 'member', 12), (1, 2, 'member', 12);
                 INSERT INTO messages (chat_id, id, from_id, date, kind, text) VALUES (1, 1, 1, 13, 'text', 'before bots');",
            )
            .expect("old rows");
        }
        let store = SqliteStore::open(&path, Options::default()).expect("upgrade");
        let alice = store.users(&[UserId(1)]).await.expect("users").remove(0);
        assert_eq!(
            (alice.name.as_str(), alice.username.as_deref(), alice.bio.as_str(), alice.bot_owner),
            ("Alice", Some("alice"), "hi", None)
        );
        assert_eq!(store.state(UserId(1)).await.expect("state"), 3, "the log position survives the rebuild");
        let history = store.history(UserId(2), ChatId(1), Page::Newer { after: None, limit: 10 }).await.expect("history");
        assert_eq!((history.len(), history[0].entities.len(), history[0].keyboard.is_none()), (1, 0, true));
        let name = |s: &str| DisplayName::parse(s).expect("name");
        let username = |s: &str| Username::parse(s).expect("username");
        let b1 = store.create_bot(UserId(1), &name("One"), &username("one_bot"), &[1; 32]).await.expect("bot");
        let b2 = store.create_bot(UserId(1), &name("Two"), &username("two_bot"), &[2; 32]).await.expect("a second phoneless user");
        assert!(b1.id.0 > 2 && b2.id.0 > b1.id.0, "new ids follow the old ones");
        assert_eq!(store.sealed_phone(b1.id).await.expect("sealed_phone"), None, "a bot has no phone");
        // Schema 6: the clear numbers wait to be sealed; once sealed they stay unique.
        let waiting = store.phones_to_seal(10).await.expect("phones_to_seal");
        assert_eq!(waiting, vec![(UserId(1), "+15550000001".to_string()), (UserId(2), "+15550000002".to_string())]);
        let sealed = |n: u8| SealedPhone { hash: PhoneHash([n; 32]), sealed: vec![n] };
        for (user, _) in &waiting {
            store.seal_phone(*user, &sealed(user.0 as u8)).await.expect("seal_phone");
        }
        assert_eq!(store.phones_to_seal(10).await.expect("phones_to_seal"), vec![]);
        assert_eq!(store.create_user(&sealed(2), &name("Bob again")).await.expect("create_user").id, UserId(2), "phones stay unique");
        // The new member column is filled for members added from now on.
        let chat = store.create_chat(UserId(1), ChatKind::Channel, &Title::parse("C").expect("title"), None, &[b1.id]).await.expect("chat");
        let before = store.state(b1.id).await.expect("state");
        store.send(UserId(1), chat.id, 1, Draft::text(MessageText::parse("post".into()).expect("text"))).await.expect("post");
        assert_eq!(store.state(b1.id).await.expect("state"), before + 1, "the bot member follows the channel");
    }
}
