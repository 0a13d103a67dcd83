//! The search conformance suite against both engines: the embedded index over a SQLite
//! store (always), PostgreSQL's full-text search over a PostgreSQL store (when
//! `HELIOGRAPH_TEST_POSTGRES` names an admin URL; each test makes its own database and fails
//! loudly when the server cannot be reached), and checks of each engine alone.

use std::sync::Arc;

use async_trait::async_trait;
use heliograph_search::conformance::Harness;
use heliograph_search::embedded::Embedded;
use heliograph_search::Index;
use heliograph_store::sqlite::{Options, SqliteStore};
use heliograph_store::Store;

struct Sqlite {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for Sqlite {
    async fn open(&mut self) -> (Arc<dyn Store>, Arc<dyn Index>) {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&self.dir.path().join("db.sqlite"), Options::default()).expect("open store"));
        let index = Embedded::open(store.clone(), &self.dir.path().join("search")).expect("open index");
        (store, Arc::new(index))
    }
}

mod embedded {
    use super::*;
    heliograph_search::search_conformance_tests!(|| async { Sqlite { dir: tempfile::tempdir().expect("tempdir") } });
}

/// Without the switch, say so in the test list instead of passing a suite that never ran.
#[cfg(not(heliograph_test_postgres))]
#[test]
fn postgres_search_suite_needs_switch() {
    println!("HELIOGRAPH_TEST_POSTGRES not set: PostgreSQL search suite not run");
}

#[cfg(heliograph_test_postgres)]
mod postgres {
    use super::*;
    use heliograph_search::postgres::Postgres;
    use heliograph_store::postgres::PostgresStore;

    const SWITCH: &str = "HELIOGRAPH_TEST_POSTGRES";

    /// Databases live as long as the harness (the test).
    struct Pg {
        admin: String,
        name: String,
    }

    impl Pg {
        async fn new() -> Pg {
            let admin = std::env::var(SWITCH).unwrap_or_else(|_| panic!("{SWITCH} must name a PostgreSQL admin URL"));
            let name = format!("heliograph_search_{:016x}", std::process::id() as u64 * 1_000_003 + rand_suffix());
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{SWITCH} is set but PostgreSQL cannot be reached: {e}"));
            tokio::spawn(conn);
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
            Pg { admin, name }
        }
        fn url(&self) -> String {
            let (base, _) = self.admin.rsplit_once('/').expect("an admin URL with a database");
            format!("{base}/{}", self.name)
        }
    }

    fn rand_suffix() -> u64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64)
    }

    impl Drop for Pg {
        fn drop(&mut self) {
            let (admin, name) = (self.admin.clone(), self.name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.ok()?;
                    tokio::spawn(conn);
                    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
                })
            })
            .join();
        }
    }

    #[async_trait]
    impl Harness for Pg {
        async fn open(&mut self) -> (Arc<dyn Store>, Arc<dyn Index>) {
            let url = self.url();
            let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, Default::default()).await.expect("connect store"));
            (store, Arc::new(Postgres::connect(&url, 4).expect("connect search")))
        }
    }

    heliograph_search::search_conformance_tests!(|| async { Pg::new().await });

    /// `heliograph_words` in SQL cuts and folds as `heliograph_core::words` does in Rust.
    #[tokio::test]
    async fn sql_words_match_rust_words() {
        let pg = Pg::new().await;
        let url = pg.url();
        PostgresStore::connect(&url, Default::default()).await.expect("migrate");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        for text in [
            "Hello, WORLD!",
            "Café ÉTÉ naïve Ångström",
            "Привет, Ёлка! Їжак",
            "مَرْحَبًا بالعالم",
            "我住在東京都です カタカナ",
            "한국어 문장",
            "ﬁle Ａｂｃ ½",
            "example.com 3.14 don't e-mail",
            "Ελληνικά άλφα",
            "emoji 😀 here",
        ] {
            let row = client.query_one("SELECT heliograph_words($1)", &[&text]).await.expect("query");
            let sql: String = row.get(0);
            let sql_words: Vec<&str> = sql.split_whitespace().collect();
            assert_eq!(sql_words, heliograph_core::words::words(text), "{text}");
        }
    }
}

/// A SQLite store in a new folder with A and B in a private chat: (folder, store, A, chat).
async fn two_people() -> (tempfile::TempDir, Arc<dyn Store>, heliograph_core::UserId, heliograph_core::ChatId) {
    use heliograph_core::DisplayName;
    use heliograph_store::conformance::phone;
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite"), Options::default()).expect("store"));
    let a = store.create_user(&phone(1), &DisplayName::parse("A").expect("name")).await.expect("user").id;
    let b = store.create_user(&phone(2), &DisplayName::parse("B").expect("name")).await.expect("user").id;
    let chat = store.open_private(a, b).await.expect("chat").id;
    (dir, store, a, chat)
}

/// The embedded index keeps its position in its commit: reopened, it resumes from there and
/// applies the rest of the log, and a rebuild while it runs is switched to.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_resumes_and_rebuilds() {
    use heliograph_core::*;
    use heliograph_search::{search, Query};
    let (dir, store, a, chat) = two_people().await;
    let root = dir.path().join("search");
    let send = |n: i64| {
        let store = store.clone();
        async move {
            let draft = heliograph_store::Draft {
                content: Content::Text(MessageText::parse(format!("note number{n}")).expect("text")),
                entities: vec![],
                keyboard: None,
                reply_to: None,
            };
            store.send(a, chat, n, draft).await.expect("send")
        }
    };
    let count = |index: Arc<dyn Index>| {
        let store = store.clone();
        async move { search(&*store, &*index, a, &Query { text: "note".into(), limit: 100, ..Query::default() }).await.expect("search").len() }
    };
    let first = Embedded::open(store.clone(), &root).expect("open");
    for n in 0..10 {
        send(n).await;
    }
    let first: Arc<dyn Index> = Arc::new(first);
    assert_eq!(count(first.clone()).await, 10);
    drop(first);
    for n in 10..15 {
        send(n).await;
    }
    let second = Arc::new(Embedded::open(store.clone(), &root).expect("reopen"));
    assert!(second.position() >= 10, "resumed from its committed position, not from zero");
    assert_eq!(count(second.clone()).await, 15, "caught up with what was sent while closed");
    let rebuilt = heliograph_search::embedded::rebuild(&*store, &root).await.expect("rebuild");
    assert_eq!(rebuilt, 15);
    for n in 15..20 {
        send(n).await;
    }
    // The follower switches to the rebuilt index within a second and applies what followed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let names: Vec<_> = std::fs::read_dir(&root).expect("dir").flatten().map(|e| e.file_name()).collect();
        if !names.iter().any(|n| n == "0") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the old index was never replaced: {names:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(second.clone()).await, 20);
    // The follower switched, so it took the rebuild's marker away, and it trims the log it
    // has applied (keeping the newest entry, which tells the position).
    assert!(!root.join("REBUILDING").exists(), "the finished rebuild's marker is gone");
    let deadline = std::time::Instant::now() + heliograph_search::embedded::TRIM_EVERY * 3;
    loop {
        let left = store.search_log(0, 100).await.expect("log");
        if left.len() == 1 {
            assert_eq!(left[0].seq, store.search_log_head().await.expect("head"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the log was never trimmed: {} entries left", left.len());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    send(20).await;
    assert_eq!(count(second.clone()).await, 21, "indexing goes on after a trim");
}

/// A rebuild under way keeps the log whole: the follower trims nothing while the marker
/// names a folder it does not follow yet, and a dead rebuild's marker stops nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_under_way_stops_trimming() {
    use heliograph_core::*;
    let (dir, store, a, chat) = two_people().await;
    let root = dir.path().join("search");
    let index = Embedded::open(store.clone(), &root).expect("open");
    // A rebuild into folder 1 has started (its folder exists) and not finished.
    std::fs::create_dir_all(root.join("1")).expect("folder");
    std::fs::write(root.join("REBUILDING"), "1").expect("marker");
    for n in 0..5 {
        let text = MessageText::parse(format!("kept {n}")).expect("text");
        let draft = heliograph_store::Draft { content: Content::Text(text), entities: vec![], keyboard: None, reply_to: None };
        store.send(a, chat, n, draft).await.expect("send");
    }
    assert!(index.catch_up(std::time::Duration::from_secs(10)).await.expect("catch up"));
    // Proving that nothing happens takes waiting: two trim periods, then the log is whole.
    tokio::time::sleep(heliograph_search::embedded::TRIM_EVERY * 2).await;
    assert_eq!(store.search_log(0, 100).await.expect("log").len(), 5, "nothing trimmed while a rebuild needs it");
    assert!(root.join("REBUILDING").exists());
}
