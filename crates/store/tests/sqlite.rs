//! The conformance suite against the embedded SQLite engine, plus SQLite-only checks.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use heliograph_store::conformance::phone;
use heliograph_store::conformance::Harness;
use heliograph_store::sqlite::{Options, SqliteStore};
use heliograph_store::{Draft, Limits, Store};
use tempfile::TempDir;

/// A temporary directory holding one database file, deleted after the test.
struct Sqlite {
    dir: TempDir,
}

impl Sqlite {
    fn new() -> Sqlite {
        Sqlite { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("heliograph.db")
    }
}

#[async_trait]
impl Harness for Sqlite {
    async fn open(&mut self, limits: Limits) -> Arc<dyn Store> {
        let store = SqliteStore::open(&self.path(), Options { limits, ..Options::default() }).expect("open the SQLite store");
        Arc::new(store)
    }
}

mod conformance {
    use super::*;

    heliograph_store::conformance_tests!(|| async { Sqlite::new() });
}

/// A database whose schema is newer than this build is refused with a clear error.
#[test]
fn newer_schema_is_refused() {
    let h = Sqlite::new();
    drop(SqliteStore::open(&h.path(), Options::default()).expect("create the database"));
    let known: i64 = {
        let conn = rusqlite::Connection::open(h.path()).expect("open with rusqlite");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("read user_version");
        conn.execute_batch(&format!("PRAGMA user_version = {}", v + 1)).expect("bump user_version");
        v
    };
    assert!(known >= 1, "opening applies the migrations and records the schema version");
    let err = match SqliteStore::open(&h.path(), Options::default()) {
        Ok(_) => panic!("a database with a newer schema must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&format!("schema version {}", known + 1)) && err.contains("newer"), "the error says why: {err}");
}

/// A store whose commit feed nobody took keeps committing: the unread feed must not stall the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untaken_feed_does_not_stall_writes() {
    use heliograph_core::*;
    let h = Sqlite::new();
    let options = Options { durability: heliograph_store::sqlite::Durability::Normal, ..Options::default() };
    let store = SqliteStore::open(&h.path(), options).expect("open");
    let alice = store.create_user(&phone(1), &DisplayName::parse("A").expect("name")).await.expect("user").id;
    let bob = store.create_user(&phone(2), &DisplayName::parse("B").expect("name")).await.expect("user").id;
    let chat = store.open_private(alice, bob).await.expect("chat").id;
    let text = Content::Text(MessageText::parse("x".into()).expect("text"));
    // Each awaited send is its own group commit with events: more commits than the feed holds.
    let all = async {
        for i in 0..5_000 {
            store
                .send(alice, chat, i, Draft { content: text.clone(), entities: vec![], keyboard: None, reply_to: None })
                .await
                .expect("send");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), all)
        .await
        .expect("5000 sequential sends finish: the writer must not block on an untaken feed");
}

/// A write refused because the database stayed locked (BEGIN failed) leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_refused_when_locked_leaves_nothing() {
    use heliograph_core::*;
    let h = Sqlite::new();
    let store = SqliteStore::open(&h.path(), Options::default()).expect("open");
    let phone = phone(9);
    // Another process holds the write lock past the writer's busy timeout (5 s), then lets go.
    let path = h.path();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("second connection");
        conn.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(std::time::Duration::from_millis(6_000));
        conn.execute_batch("ROLLBACK").expect("release the write lock");
    });
    locked_rx.recv().expect("the lock is held");
    let result = store.create_user(&phone, &DisplayName::parse("Ghost").expect("name")).await;
    locker.join().expect("locker thread");
    assert!(result.is_err(), "the write could not begin, so it must be refused: {result:?}");
    assert_eq!(store.user_by_phone(phone.hash).await.expect("user_by_phone"), None, "a refused write must leave nothing behind");
    // And the store works again once the lock is gone.
    store.create_user(&phone, &DisplayName::parse("Real").expect("name")).await.expect("create_user after the lock");
}
