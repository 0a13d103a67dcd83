//! `heliograph bench-seed`, the benchmarks' bulk path: the accounts, sessions and channel
//! membership it writes offline are the rows sign-in, `channels.create` and a join by username
//! write, so a server started on the folder treats them as real; and it is reachable only
//! offline, on a new database.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{InProcess, Person};
use heliograph_client::proto::UpdateKind;
use heliograph_client::{Client, Config as ClientConfig, Event, Updates};
use heliograph_testkit::Binary;
use rusqlite::{params, Connection};
use serde_json::Value;

const SUBSCRIBERS: u64 = 50;
const ONLINE: u64 = 5;

fn heliograph(args: &[&str]) -> Output {
    Binary::new().command(args).env_remove("RUST_LOG").output().expect("heliograph runs")
}

fn seed(data: &Path) -> Output {
    let data = data.to_str().expect("utf-8 path");
    heliograph(&[
        "bench-seed",
        "--data",
        data,
        "--subscribers",
        &SUBSCRIBERS.to_string(),
        "--online",
        &ONLINE.to_string(),
        "--channel",
        "seeded",
        "--batch",
        "7",
    ])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each row of `sql` (one id bound) as text, columns joined by `|`.
fn rows(db: &Connection, sql: &str, id: i64) -> Vec<String> {
    let mut st = db.prepare(sql).expect("query");
    let n = st.column_count();
    let rows = st
        .query_map([id], |r| {
            (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect::<rusqlite::Result<Vec<_>>>()
        })
        .expect("rows");
    rows.map(|r| r.expect("row").join("|")).collect()
}

/// Everything stored about `user` and their membership of `chat`, without what differs between
/// any two accounts (ids, phone hash and sealed copy, name, times, token hash, device name).
fn account(db: &Connection, chat: i64, user: i64) -> Vec<String> {
    let mut out = rows(db, "SELECT username, bio, pts, bot_owner FROM users WHERE id = ?1", user);
    out.extend(rows(db, "SELECT 'sessions', count(*) FROM sessions WHERE user_id = ?1", user));
    out.extend(rows(
        db,
        "SELECT chat_id = (SELECT max(id) FROM chats), role, read_inbox, read_outbox, bot FROM members WHERE user_id = ?1",
        user,
    ));
    out.extend(rows(
        db,
        "SELECT pts, kind, chat_id = (SELECT max(id) FROM chats), a, b, ids FROM user_updates WHERE user_id = ?1 ORDER BY pts",
        user,
    ));
    for table in ["contacts", "blocks", "hidden", "sends", "login_codes", "bots", "files"] {
        let column = match table {
            "contacts" | "blocks" | "files" | "bots" => "owner",
            "login_codes" => "phone_hash",
            _ => "user_id",
        };
        let key = if table == "login_codes" { "(SELECT phone_hash FROM users WHERE id = ?1)" } else { "?1" };
        out.extend(rows(db, &format!("SELECT '{table}', count(*) FROM {table} WHERE {column} = {key}"), user));
    }
    assert!(rows(db, "SELECT 1 FROM members WHERE chat_id = ?1", chat).len() > 1, "chat {chat} has members");
    out
}

/// The chat's row without its id, name, times and member count.
fn channel(db: &Connection, chat: i64) -> Vec<String> {
    let mut out = rows(db, "SELECT kind, title, pinned, own_log, pts, top_message, invite, pair FROM chats WHERE id = ?1", chat);
    out.extend(rows(db, "SELECT 'chat_updates', count(*) FROM chat_updates WHERE chat_id = ?1", chat));
    out.extend(rows(db, "SELECT 'usernames', count(*) FROM usernames WHERE chat_id = ?1", chat));
    out
}

fn member_count(db: &Connection, chat: i64) -> (i64, i64) {
    db.query_row("SELECT member_count, (SELECT count(*) FROM members WHERE chat_id = ?1) FROM chats WHERE id = ?1", params![chat], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .expect("chat row")
}

/// A client of the seeded server, signed in with a token `bench-seed` printed.
async fn connect(url: &str, token: &str) -> (Client, Updates) {
    let mut config = ClientConfig::new(url);
    config.token = Some(token.to_string());
    let (client, mut updates) = Client::connect(config).await.expect("connects with a seeded token");
    match tokio::time::timeout(Duration::from_secs(10), updates.recv()).await {
        Ok(Some(Event::Connected)) => {}
        other => panic!("a seeded token should sign in, got {other:?}"),
    }
    (client, updates)
}

async fn expect_post(updates: &mut Updates, chat: i64, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Some(Event::Update(u))) => {
                if let UpdateKind::NewMessage { message } = u.kind {
                    if message.chat_id == chat && message.content.text() == Some(text) {
                        return;
                    }
                }
            }
            Ok(Some(_)) => {}
            other => panic!("the post never arrived: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_accounts_are_real_and_the_path_is_offline_only() {
    // The reference: the same channel made the ordinary way, through the SDK.
    let mut reference = InProcess::start().await;
    let owner = Person::sign_in(&reference, 0).await;
    let reference_chat = owner.client.create_channel("bench", Some("refchan")).await.expect("create_channel").id;
    let subscriber = Person::sign_in(&reference, 1).await;
    subscriber.client.join_by_username("refchan").await.expect("join");
    let (owner_id, subscriber_id) = (owner.id(), subscriber.id());
    drop((owner, subscriber));
    reference.stop().await;
    let reference_db = Connection::open(reference.data().join("heliograph.db")).expect("reference db");

    // The bulk path.
    let data = tempfile::tempdir().expect("temp dir");
    let out = seed(data.path());
    assert!(out.status.success(), "bench-seed failed: {}", stderr(&out));
    let seeded: Value = serde_json::from_slice(&out.stdout).expect("bench-seed prints JSON");
    let chat = seeded["chat_id"].as_i64().expect("chat_id");
    let online = seeded["online"].as_array().expect("online").clone();
    assert_eq!(online.len() as u64, ONLINE);
    let db = Connection::open(data.path().join("heliograph.db")).expect("seeded db");
    assert_eq!(member_count(&db, chat), (SUBSCRIBERS as i64 + 1, SUBSCRIBERS as i64 + 1), "member_count counts every member");
    assert_eq!(channel(&db, chat), channel(&reference_db, reference_chat), "the channel row is the one channels.create writes");
    let seeded_owner = seeded["owner"]["user_id"].as_i64().expect("owner");
    assert_eq!(account(&db, chat, seeded_owner), account(&reference_db, reference_chat, owner_id), "the owner's rows");
    let expected = account(&reference_db, reference_chat, subscriber_id);
    let first = online[0]["user_id"].as_i64().expect("user_id");
    assert_eq!(account(&db, chat, first), expected, "an online subscriber has the rows of one who signed in and joined");
    let mut no_session = expected.clone();
    no_session[1] = no_session[1].replace("Integer(1)", "Integer(0)");
    let last: i64 = db.query_row("SELECT max(id) FROM users", [], |r| r.get(0)).expect("users");
    assert_eq!(account(&db, chat, last), no_session, "an offline subscriber has the same rows but no session");
    let users: i64 = db.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).expect("users");
    let sessions: i64 = db.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).expect("sessions");
    assert_eq!((users, sessions), (SUBSCRIBERS as i64 + 1, ONLINE as i64 + 1));
    drop(db);

    // The real binary serving the seeded folder takes the tokens, and a post reaches the online subscribers.
    let mut server = Binary::new().dev().lift_limits().data(data.path()).start().await.expect("heliograph starts on the seeded folder");
    let url = server.url();
    let (owner, owner_updates) = connect(&url, seeded["owner"]["token"].as_str().expect("token")).await;
    let mut subscribers = Vec::new();
    for s in &online {
        let (client, updates) = connect(&url, s["token"].as_str().expect("token")).await;
        assert_eq!(client.get_me().await.expect("get_me").id, s["user_id"].as_i64().expect("id"), "the token is this subscriber's");
        subscribers.push((client, updates));
    }
    let seen = owner.get_chat(chat).await.expect("the owner sees the channel");
    assert_eq!(seen.member_count, SUBSCRIBERS + 1);
    owner.send_message(chat, "to every seeded subscriber", None).await.expect("the owner posts");
    for (_, updates) in &mut subscribers {
        expect_post(updates, chat, "to every seeded subscriber").await;
    }

    // Offline only: refused while the server has the database open, and on any database that
    // holds accounts; and not listed among the commands operators see.
    let again = seed(data.path());
    assert!(!again.status.success() && stderr(&again).contains("open in another process"), "{}", stderr(&again));
    drop((owner, owner_updates, subscribers));
    server.kill().await;
    let again = seed(data.path());
    assert!(!again.status.success() && stderr(&again).contains("seeding writes only into a new database"), "{}", stderr(&again));
    let help = String::from_utf8_lossy(&heliograph(&["--help"]).stdout).into_owned();
    assert!(help.contains("serve") && !help.contains("bench-seed"), "{help}");
    let help = String::from_utf8_lossy(&heliograph(&["bench-seed", "--help"]).stdout).into_owned();
    assert!(help.contains("Benchmarks only"), "{help}");
    let pg = heliograph(&[
        "bench-seed",
        "--database",
        "postgres://nobody@127.0.0.1:1/none",
        "--subscribers",
        "1",
        "--online",
        "0",
        "--channel",
        "seeded",
    ]);
    assert!(!pg.status.success() && stderr(&pg).contains("embedded SQLite database only"), "{}", stderr(&pg));
}
