//! The conformance suite against the PostgreSQL engine, plus PostgreSQL-only checks.
//!
//! The switch is `HELIOGRAPH_TEST_POSTGRES`, an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/test`, read when the tests are compiled (`build.rs`)
//! and when they run. Unset, this binary holds the one test `postgres_suite_needs_switch`,
//! which says the suite did not run. Set, every test creates its own empty database
//! (`heliograph_test_<random>`) through that URL, drops it afterwards, and fails loudly when the
//! server cannot be reached.
#![cfg_attr(not(heliograph_test_postgres), allow(dead_code, unused_imports))]

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use heliograph_core::*;
use heliograph_store::conformance::phone;
use heliograph_store::conformance::Harness;
use heliograph_store::postgres::{Options, PostgresStore};
use heliograph_store::{Draft, Event, Limits, Store};
use tokio_postgres::NoTls;

const SWITCH: &str = "HELIOGRAPH_TEST_POSTGRES";

/// Without the switch, say so in the test list instead of passing a suite that never ran.
#[cfg(not(heliograph_test_postgres))]
#[test]
fn postgres_suite_needs_switch() {
    println!("{SWITCH} not set: PostgreSQL suite not run");
}

/// One fresh database on the server named by the switch, dropped when this is dropped.
struct Postgres {
    admin: String,
    name: String,
    url: String,
}

impl Postgres {
    async fn new() -> Postgres {
        let admin = std::env::var(SWITCH).unwrap_or_else(|_| panic!("{SWITCH} must name a PostgreSQL admin URL to run this suite"));
        let name = format!("heliograph_test_{:016x}", rand::random::<u64>());
        admin_client(&admin)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e:?}"));
        let url = with_dbname(&admin, &name);
        Postgres { admin, name, url }
    }

    async fn connect(&self, options: Options) -> PostgresStore {
        PostgresStore::connect(&self.url, options).await.unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }

    /// A plain connection to the test database, for looking behind the store's back.
    async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Best effort, on a runtime of its own: the test's runtime may be shutting down.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        });
        let _ = dropped.join();
    }
}

#[async_trait]
impl Harness for Postgres {
    async fn open(&mut self, limits: Limits) -> Arc<dyn Store> {
        Arc::new(self.connect(Options { limits, pool_size: 8, ..Options::default() }).await)
    }
}

/// Connects, or fails the test loudly: a set switch with no server behind it is a failure.
async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{SWITCH} is set but PostgreSQL at {url} cannot be reached: {e:?}"));
    tokio::spawn(conn);
    client
}

/// `url` with its database name replaced by `name`.
fn with_dbname(url: &str, name: &str) -> String {
    tokio_postgres::Config::from_str(url).unwrap_or_else(|e| panic!("{SWITCH} is not a PostgreSQL URL: {e}"));
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or_else(|| panic!("{SWITCH} must be a postgres:// URL"));
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(heliograph_test_postgres)]
mod conformance {
    use super::*;

    heliograph_store::conformance_tests!(|| async { Postgres::new().await });
}

/// A database whose schema is newer than this build is refused with a clear error.
#[cfg(heliograph_test_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn newer_schema_is_refused() {
    newer_schema(Postgres::new().await).await;
}

async fn newer_schema(h: Postgres) {
    drop(h.connect(Options::default()).await);
    let db = h.client().await;
    let known: i64 = db.query_one("SELECT version FROM schema_version", &[]).await.expect("read schema_version").get(0);
    assert!(known >= 1, "connecting applies the migrations and records the schema version");
    db.execute("UPDATE schema_version SET version = version + 1", &[]).await.expect("bump schema_version");
    let err = match PostgresStore::connect(&h.url, Options::default()).await {
        Ok(_) => panic!("a database with a newer schema must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&format!("schema version {}", known + 1)) && err.contains("newer"), "the error says why: {err}");
    // And several nodes starting at once on a fresh database agree on one schema.
    let fresh = Postgres::new().await;
    let mut starts = Vec::new();
    for _ in 0..4 {
        let url = fresh.url.clone();
        starts.push(tokio::spawn(
            async move { PostgresStore::connect(&url, Options { pool_size: 1, ..Options::default() }).await.map(|_| ()) },
        ));
    }
    for s in starts {
        s.await.expect("start task").expect("concurrent starts all succeed");
    }
}

/// Two nodes with 4 connections each, 8 writers into one group, readers marking it read at the
/// same time: ids stay 1..=N without gap, every member's log is gapless and in id order, and
/// retries of one random_id racing on both nodes make one message.
#[cfg(heliograph_test_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_keep_sequences_gapless() {
    two_nodes(Postgres::new().await).await;
}

async fn two_nodes(h: Postgres) {
    let options = Options { pool_size: 4, ..Options::default() };
    let nodes: [Arc<dyn Store>; 2] = [Arc::new(h.connect(options.clone()).await), Arc::new(h.connect(options).await)];
    let s = &*nodes[0];
    let name = DisplayName::parse("Member").expect("name");
    let mut members = Vec::new();
    for n in 1..=4 {
        members.push(s.create_user(&phone(n), &name).await.expect("create_user").id);
    }
    let chat = s
        .create_chat(members[0], ChatKind::Group, &Title::parse("Busy").expect("title"), None, &members[1..])
        .await
        .expect("create_chat")
        .id;
    // A second chat sharing members, so user-row locks of two chats interleave.
    let side = s.open_private(members[3], members[1]).await.expect("open_private").id;
    let before: Vec<i64> = {
        let mut v = Vec::new();
        for &m in &members {
            v.push(s.state(m).await.expect("state"));
        }
        v
    };

    let text = |s: &str| Content::Text(MessageText::parse(s.to_string()).expect("text"));
    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let node = nodes[t as usize % 2].clone();
        let who = members[t as usize % 4];
        let side_sender = if t % 2 == 0 { members[3] } else { members[1] };
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                node.send(who, chat, t * 1_000 + i, draft(text(&format!("{t}/{i}")))).await.expect("concurrent send");
                if i % 5 == 0 {
                    node.read(who, chat, None).await.expect("concurrent read");
                    node.send(side_sender, side, t * 1_000 + 500 + i, draft(text("side"))).await.expect("side send");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a sending task panicked");
    }
    let top = s.chat(members[0], chat).await.expect("chat").chat.top_message;
    assert_eq!(top, MessageId(320), "8 x 40 sends on two nodes take ids up to 320");
    let history = s.history(members[2], chat, heliograph_store::Page::Newer { after: None, limit: 10_000 }).await.expect("history");
    assert_eq!(history.iter().map(|m| m.id.0).collect::<Vec<_>>(), (1..=320).collect::<Vec<_>>(), "no gap, no duplicate");

    for (i, &m) in members.iter().enumerate() {
        let mut pts = before[i];
        let mut ids = Vec::new();
        loop {
            match s.difference(m, pts, 1_000).await.expect("difference") {
                heliograph_store::Difference::Empty { .. } => break,
                heliograph_store::Difference::Complete { events, pts: next }
                | heliograph_store::Difference::Slice { events, pts: next } => {
                    for e in &events {
                        assert_eq!(e.pts, pts + 1, "member {m}'s log is gapless");
                        pts = e.pts;
                        if let Event::NewMessage(msg) = &e.event {
                            if msg.chat == chat {
                                ids.push(msg.id.0);
                            }
                        }
                    }
                    assert_eq!(pts, next);
                }
                other => panic!("difference: {other:?}"),
            }
        }
        assert_eq!(ids, (1..=320).collect::<Vec<_>>(), "member {m}'s log holds every message in id order");
    }

    let side_top_before = s.chat(members[1], side).await.expect("chat").chat.top_message;
    let mut retries = Vec::new();
    for k in 0..8 {
        let node = nodes[k % 2].clone();
        let who = members[1];
        retries.push(tokio::spawn(async move { node.send(who, chat, 777_777, draft(text("only once"))).await.expect("retry") }));
    }
    let mut answers = Vec::new();
    for r in retries {
        answers.push(r.await.expect("a retrying task panicked"));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "every racing retry answers the same message");
    assert_eq!(answers[0].message.id, MessageId(321));
    assert_eq!(s.chat(members[0], chat).await.expect("chat").chat.top_message, MessageId(321), "racing retries make one message");

    // The same random_id racing into two chats: one send wins, the rest answer it (the losers
    // collide on the idempotency key, roll back and run again).
    let mut racing = Vec::new();
    for k in 0..8 {
        let node = nodes[k % 2].clone();
        let (to, who) = (if k % 2 == 0 { chat } else { side }, members[1]);
        racing.push(tokio::spawn(async move { node.send(who, to, 888_888, draft(text("one of two"))).await.expect("racing send") }));
    }
    let mut answers = Vec::new();
    for r in racing {
        answers.push(r.await.expect("a racing task panicked"));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "every racing send answers the one message that won: {answers:?}");
    let tops =
        (s.chat(members[1], chat).await.expect("chat").chat.top_message, s.chat(members[1], side).await.expect("chat").chat.top_message);
    let won = answers[0].message.id;
    assert!(
        (answers[0].message.chat == chat && tops.0 == won) || (answers[0].message.chat == side && tops.1 == won),
        "the winner is the top of its chat"
    );
    assert_eq!(tops.0 .0 + tops.1 .0, 321 + side_top_before.0 + 1, "exactly one message was made between the two chats");
}

/// A row that does not decode (a column altered behind the store's back to a type its
/// decoder does not read, a NULL where a value must be) is an error naming the table and the
/// column, not a panic, and the store keeps answering everything else.
#[cfg(heliograph_test_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undecodable_row_is_an_error() {
    undecodable_rows(Postgres::new().await).await;
}

async fn undecodable_rows(h: Postgres) {
    let store = h.connect(Options::default()).await;
    let name = |s: &str| DisplayName::parse(s).expect("name");
    let alice = store.create_user(&phone(1), &name("Alice")).await.expect("user").id;
    let bob = store.create_user(&phone(2), &name("Bob")).await.expect("user").id;
    let chat = store.create_chat(alice, ChatKind::Group, &Title::parse("G").expect("title"), None, &[bob]).await.expect("chat").id;
    drop(store);
    let db = h.client().await;
    db.batch_execute(&format!(
        "ALTER TABLE chats ALTER COLUMN member_count TYPE INTEGER;
         ALTER TABLE users ALTER COLUMN name DROP NOT NULL; UPDATE users SET name = NULL WHERE id = {}",
        bob.0
    ))
    .await
    .expect("change the tables behind the store's back");
    // A new store: the old one's prepared statements describe the old columns.
    let store = h.connect(Options::default()).await;
    let chat_info = store.chat_info(chat).await.map(|_| ());
    let users = store.users(&[bob]).await.map(|_| ());
    for (what, result, table, column) in [("chat_info", chat_info, "chats", "member_count"), ("users", users, "users", "name")] {
        let err = result.expect_err(what);
        let text = err.to_string();
        assert!(matches!(err, heliograph_store::Error::Internal(_)), "{what}: a storage failure, not a refusal: {err:?}");
        assert!(text.contains(&format!("`{table}`")) && text.contains(&format!("`{column}`")), "{what}: names table and column: {text}");
    }
    // Everything else still works, reads and writes.
    assert_eq!(store.users(&[alice]).await.expect("users").len(), 1, "other rows still read");
    let renamed = store.update_profile(alice, Some(name("Alice B")), None).await.expect("a write after the failures");
    assert_eq!(renamed.name, "Alice B");
}

/// A store whose commit feed nobody took keeps committing: the unread feed must not stall writes.
#[cfg(heliograph_test_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untaken_feed_does_not_stall_writes() {
    untaken_feed(Postgres::new().await).await;
}

async fn untaken_feed(h: Postgres) {
    let store = Arc::new(h.connect(Options::default()).await);
    let name = DisplayName::parse("A").expect("name");
    let alice = store.create_user(&phone(1), &name).await.expect("user").id;
    let bob = store.create_user(&phone(2), &name).await.expect("user").id;
    let chat = store.open_private(alice, bob).await.expect("chat").id;
    // More committed transactions with events than the feed holds (4096).
    let all = async {
        let mut tasks = Vec::new();
        for t in 0..10i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..500 {
                    let text = Content::Text(MessageText::parse("x".into()).expect("text"));
                    store.send(alice, chat, t * 10_000 + i, draft(text)).await.expect("send");
                }
            }));
        }
        for t in tasks {
            t.await.expect("a sending task panicked");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), all)
        .await
        .expect("5000 sends finish: writes must not block on an untaken feed");
    assert_eq!(store.chat(alice, chat).await.expect("chat").chat.top_message, MessageId(5_000));
}

fn draft(content: Content) -> Draft {
    Draft { content, entities: vec![], keyboard: None, reply_to: None }
}

/// account (#16): a database of schema 4 (clear numbers) upgrades in place: the numbers wait
/// to be sealed, and once sealed and compacted no row of `users` holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn version_4_numbers_phone() {
    let h = Postgres::new().await;
    let db = h.client().await;
    for sql in [
        include_str!("../src/postgres/migrations/0001_initial.sql"),
        include_str!("../src/postgres/migrations/0002_files.sql"),
        include_str!("../src/postgres/migrations/0003_bots.sql"),
        include_str!("../src/postgres/migrations/0004_privacy.sql"),
    ] {
        db.batch_execute(sql).await.expect("old migration");
    }
    db.batch_execute(
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (4);
         INSERT INTO users (id, phone, name, created, find_by_phone) VALUES (1, '+15557770001', 'Alice', 10, 1);
         INSERT INTO login_codes (phone, salt, hash, expires) VALUES ('+15557770002', '\\x00', '\\x00', 99);",
    )
    .await
    .expect("old rows");
    let store = h.connect(Options::default()).await;
    assert_eq!(store.phones_to_seal(10).await.expect("phones_to_seal"), vec![(heliograph_core::UserId(1), "+15557770001".to_string())]);
    store.seal_phone(heliograph_core::UserId(1), &phone(7)).await.expect("seal_phone");
    store.compact().await.expect("compact");
    assert_eq!(store.user_by_phone(phone(7).hash).await.expect("user_by_phone").map(|u| u.name), Some("Alice".to_string()));
    assert_eq!(store.phone_privacy(heliograph_core::UserId(1)).await.expect("privacy"), heliograph_core::PhonePrivacy::Contacts);
    for (table, number) in [("users", "5557770001"), ("login_codes", "5557770002")] {
        let row = db.query_one(&format!("SELECT count(*) FROM {table} t WHERE t::text LIKE '%{number}%'"), &[]).await.expect("search");
        assert_eq!(row.get::<_, i64>(0), 0, "{number} is still in {table}");
    }
}

/// account (#16): nothing can change or remove an audit log entry, not even SQL behind the
/// store's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_log_is_append_only() {
    let h = Postgres::new().await;
    let store = h.connect(Options::default()).await;
    let op = store.create_user(&phone(1), &heliograph_core::DisplayName::parse("Op").expect("name")).await.expect("user").id;
    let action = heliograph_store::Action {
        operator: op,
        kind: heliograph_core::ModerationAction::Restrict,
        report: None,
        user: Some(op),
        chat: None,
        message: None,
        until: None,
        reason: "test".into(),
        notice: None,
    };
    store.moderate(action).await.expect("moderate");
    let db = h.client().await;
    for sql in ["UPDATE audit_log SET reason = 'nothing'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = db.batch_execute(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    assert_eq!(store.audit_log(0, 10).await.expect("audit_log")[0].reason, "test");
}
