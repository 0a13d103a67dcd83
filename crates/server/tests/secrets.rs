//! Secrets hygiene: canaries through every path of the real `heliograph` binary, then the
//! logs and every stored column are searched for them.
//!
//! The server runs as a separate process with `RUST_LOG=debug` (override with
//! `HELIOGRAPH_SECRETS_LOG`, e.g. `trace`); its stdout and stderr are captured whole by the test
//! kit, which is everything its `tracing` subscriber writes (the `log` records of dependencies
//! included).
//! Login codes go through the `http` code provider to a mock SMS gateway this test runs (the
//! `log` provider writes codes to the log by design, and `--dev` test numbers have fixed codes),
//! with a canary bearer key for the gateway.
//!
//! Secrets (login codes, session tokens, bot tokens and their secret part, the gateway key,
//! and phone numbers: the store keeps only their keyed hash and a sealed copy, see
//! `docs/accountability.md`) must appear in no log line, and in the database only hashed (the SHA-256 of each live token
//! is found, never the token). Private content (message text, an edited text, a caption, a
//! bot's message, file names) must appear in no log line; message text only in the `messages`
//! table, file names only in `files` and `messages`. The raw database files (WAL included)
//! and the upload folder hold no token and no key either.
//!
//! SQLite always; PostgreSQL too when `HELIOGRAPH_TEST_POSTGRES` names a server (a database of
//! its own is created and dropped, `heliograph_testkit::postgres::Database`), scanning every column of `information_schema.columns`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use heliograph_client::proto::method::Direction;
use heliograph_client::proto::MediaKind;
use heliograph_client::{Client, Config as ClientConfig};
use heliograph_testkit::{Binary, Server};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use heliograph_testkit::postgres::{connect as pg, Database, POSTGRES};
const GATEWAY_KEY: &str = "canary-gateway-key-7Qm2Zx9";

/// What the scenario sent, by kind.
struct Canaries {
    /// Must appear nowhere but hashed.
    secrets: Vec<String>,
    /// Five-digit login codes: must appear nowhere as a number of their own.
    codes: Vec<String>,
    /// Tokens whose SHA-256 must be stored (the live sessions and the bot's secret).
    hashed: Vec<String>,
    /// Message content: never logged; stored only in `messages`.
    texts: Vec<String>,
    /// File names: never logged; stored only in `files` and `messages`.
    names: Vec<String>,
}

/// A stand-in SMS gateway: answers 204 and hands over each `(authorization, body)`.
async fn gateway() -> (String, mpsc::UnboundedReceiver<(Option<String>, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/sms",
        post(move |headers: HeaderMap, Json(body): Json<Value>| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let _ = tx.send((auth, body));
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/sms", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// The binary on `data` (its log there too), codes sent through `gateway`, logging at
/// `HELIOGRAPH_SECRETS_LOG` (default `debug`).
async fn start(data: &Path, database: Option<&str>, gateway: &str) -> Server {
    let level = std::env::var("HELIOGRAPH_SECRETS_LOG").unwrap_or_else(|_| "debug".into());
    let mut binary = Binary::new()
        .data(data)
        .env("RUST_LOG", level)
        .env("HELIOGRAPH_CODE_PROVIDER__KIND", "http")
        .env("HELIOGRAPH_CODE_PROVIDER__URL", gateway)
        .env("HELIOGRAPH_CODE_PROVIDER__BEARER_TOKEN", GATEWAY_KEY);
    if let Some(url) = database {
        binary = binary.database(url);
    }
    binary.start().await.expect("heliograph starts")
}

/// SIGTERM, as an operator stops it; returns everything it logged.
async fn stop(mut server: Server) -> String {
    server.stop().await;
    server.log()
}

/// Signs `phone` in with the code the gateway received; returns the client and its token.
async fn sign_in(
    port: u16,
    phone: &str,
    name: &str,
    sms: &mut mpsc::UnboundedReceiver<(Option<String>, Value)>,
    codes: &mut Vec<String>,
) -> (Client, i64, String) {
    let (client, _updates) = Client::connect(ClientConfig::new(format!("ws://127.0.0.1:{port}/ws"))).await.expect("SDK connects");
    client.send_code(phone).await.expect("send_code");
    let (auth, body) = tokio::time::timeout(Duration::from_secs(10), sms.recv()).await.expect("an SMS").expect("gateway");
    assert_eq!(auth.as_deref(), Some(format!("Bearer {GATEWAY_KEY}").as_str()));
    assert_eq!(body["phone"], phone);
    let code = body["code"].as_str().expect("code").to_string();
    codes.push(code.clone());
    let signed = client.sign_in(phone, &code, Some(name), Some("secrets test")).await.expect("sign_in");
    (client, signed.user.id, signed.token)
}

/// Sends a canary through every path a secret or private content takes.
async fn scenario(port: u16, sms: &mut mpsc::UnboundedReceiver<(Option<String>, Value)>) -> Canaries {
    let tag = format!("{:08x}", rand::random::<u32>());
    let mut codes = Vec::new();
    let (alice, alice_id, alice_token) = sign_in(port, "+15550100001", "Alice", sms, &mut codes).await;
    let (bob, bob_id, bob_token) = sign_in(port, "+15550100002", "Bob", sms, &mut codes).await;
    // A second session for Alice, then one that is ended.
    let (_alice2, _, alice_token2) = sign_in(port, "+15550100001", "Alice", sms, &mut codes).await;
    let (ended, _, ended_token) = sign_in(port, "+15550100002", "Bob", sms, &mut codes).await;
    ended.log_out().await.expect("log out");

    // Message text, an edit, a caption.
    let chat = alice.open_private(bob_id).await.expect("open").id;
    let text = format!("canary-text-{tag}");
    let first = alice.send_message(chat, &text, None).await.expect("send");
    let original = format!("canary-original-{tag}");
    let edited = format!("canary-edited-{tag}");
    let second = alice.send_message(chat, &original, None).await.expect("send");
    alice.edit_message(chat, second.message.id, &edited).await.expect("edit");
    let _ = first;

    // A file with a canary name, uploaded over HTTP with the session token in the header.
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let file_name = format!("canary-file-{tag}.txt");
    let content = vec![b'x'; 1234];
    let r = http
        .put(format!("{base}/files/uploads/canary-{tag}/parts/0"))
        .bearer_auth(&alice_token)
        .body(content.clone())
        .send()
        .await
        .expect("put part");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let sha = hex::encode(Sha256::digest(&content));
    let file: Value = http
        .post(format!("{base}/files/uploads/canary-{tag}/complete"))
        .bearer_auth(&alice_token)
        .json(&json!({"size": content.len(), "sha256": sha, "name": file_name, "mime": "text/plain"}))
        .send()
        .await
        .expect("complete")
        .json()
        .await
        .expect("file");
    let file_id = file["id"].as_i64().unwrap_or_else(|| panic!("{file}"));
    let caption = format!("canary-caption-{tag}");
    alice.send_media(chat, rand::random(), file_id, MediaKind::Document, Some(&caption)).await.expect("send_media");
    let got = http.get(format!("{base}/files/{file_id}")).bearer_auth(&bob_token).send().await.expect("download");
    assert!(got.status().is_success());
    bob.history(chat, None, Direction::Older, Some(50)).await.expect("history");

    // A bot: made through the SDK, its token in Bot API URLs.
    let created = alice.create_bot("Canary Bot", &format!("canary{tag}bot")).await.expect("bots.create");
    let old_token = created.token.clone();
    let me: Value = http.get(format!("{base}/bot{old_token}/getMe")).send().await.expect("getMe").json().await.expect("json");
    assert_eq!(me["ok"], true, "{me}");
    let bot_chat = alice.open_private(created.bot.id).await.expect("open bot chat").id;
    alice.send_message(bot_chat, "/start", None).await.expect("start");
    let bot_text = format!("canary-bot-text-{tag}");
    let sent: Value = http
        .post(format!("{base}/bot{old_token}/sendMessage"))
        .json(&json!({"chat_id": alice_id, "text": bot_text}))
        .send()
        .await
        .expect("sendMessage")
        .json()
        .await
        .expect("json");
    assert_eq!(sent["ok"], true, "{sent}");
    let bot_file = format!("canary-bot-file-{tag}.bin");
    let form = reqwest::multipart::Form::new()
        .text("chat_id", alice_id.to_string())
        .part("document", reqwest::multipart::Part::bytes(vec![7u8; 999]).file_name(bot_file.clone()));
    let doc: Value = http
        .post(format!("{base}/bot{old_token}/sendDocument"))
        .multipart(form)
        .send()
        .await
        .expect("sendDocument")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["ok"], true, "{doc}");
    let got: Value = http
        .get(format!("{base}/bot{old_token}/getFile?file_id={}", doc["result"]["document"]["file_id"].as_str().expect("file_id")))
        .send()
        .await
        .expect("getFile")
        .json()
        .await
        .expect("json");
    let path = got["result"]["file_path"].as_str().unwrap_or_else(|| panic!("{got}"));
    assert!(http.get(format!("{base}/file/bot{old_token}/{path}")).send().await.expect("file").status().is_success());
    // Wrong and unknown: a method that does not exist, a secret that is not the bot's.
    let _ = http.get(format!("{base}/bot{old_token}/noSuchMethod")).send().await.expect("request");
    let wrong = format!("{}:canarywrongsecret{tag}", created.bot.id);
    assert_eq!(http.get(format!("{base}/bot{wrong}/getMe")).send().await.expect("request").status().as_u16(), 401);
    let _ = http.get(format!("{base}/bot{old_token}/getUpdates?timeout=0")).send().await.expect("getUpdates");
    // A new token: the old one, in a URL again, stops working at once.
    let new_token = alice.revoke_bot_token(created.bot.id).await.expect("revoke").token;
    assert_eq!(http.get(format!("{base}/bot{old_token}/getMe")).send().await.expect("request").status().as_u16(), 401);
    let me: Value = http.get(format!("{base}/bot{new_token}/getMe")).send().await.expect("getMe").json().await.expect("json");
    assert_eq!(me["ok"], true);
    // An unknown session token over the WebSocket and over HTTP.
    let bogus = format!("canarybogustoken{tag}");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.expect("connects");
    let frame = json!({"id": 1, "method": "auth.authorize", "params": {"token": bogus}}).to_string();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(frame.into())).await.expect("send");
    let answer = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an answer").expect("a frame").expect("ok");
    assert!(answer.to_string().contains("SESSION_REVOKED") || answer.to_string().contains("AUTH"), "{answer}");
    let _ = http.get(format!("{base}/files/{file_id}")).bearer_auth(&bogus).send().await;

    let secret_part = |t: &str| t.split_once(':').expect("bot token").1.to_string();
    Canaries {
        secrets: vec![
            alice_token.clone(),
            bob_token.clone(),
            alice_token2.clone(),
            ended_token,
            old_token.clone(),
            secret_part(&old_token),
            new_token.clone(),
            secret_part(&new_token),
            secret_part(&wrong),
            bogus,
            GATEWAY_KEY.to_string(),
            // The phone canary (account, #16): digits alone, so no spelling of them passes.
            "15550100001".to_string(),
            "15550100002".to_string(),
        ],
        codes,
        // A bot's token is stored as the SHA-256 of its secret part.
        hashed: vec![alice_token, bob_token, alice_token2, secret_part(&new_token)],
        texts: vec![text, edited, caption, bot_text, original],
        names: vec![file_name, bot_file],
    }
}

/// Where `needle` occurs in `hay` with no digit just before or after it.
fn standalone(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back().is_some_and(|c| c.is_ascii_digit());
        let after = hay[i + needle.len()..].chars().next().is_some_and(|c| c.is_ascii_digit());
        !before && !after
    })
}

fn check_log(log: &str, c: &Canaries) {
    assert!(log.contains("listening"), "the server's log was not captured: {log}");
    for s in c.secrets.iter().chain(&c.texts).chain(&c.names) {
        let line = log.lines().find(|l| l.contains(s.as_str()));
        assert!(line.is_none(), "{s:?} is in the server log: {line:?}");
    }
    for code in &c.codes {
        let line = log.lines().find(|l| standalone(l, code));
        assert!(line.is_none(), "login code {code} is in the server log: {line:?}");
    }
}

/// One stored value: table, column, and the value as text (blobs as hex and as lossy text).
struct Cell {
    table: String,
    column: String,
    text: String,
}

fn check_cells(cells: &[Cell], c: &Canaries, engine: &str) {
    assert!(cells.len() > 50, "{engine}: only {} cells scanned", cells.len());
    for cell in cells {
        for s in &c.secrets {
            assert!(!cell.text.contains(s.as_str()), "{engine}: {s:?} stored in {}.{}", cell.table, cell.column);
        }
        for code in &c.codes {
            assert!(!standalone(&cell.text, code), "{engine}: login code {code} stored in {}.{}: {:?}", cell.table, cell.column, cell.text);
        }
    }
    for token in &c.hashed {
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        assert!(cells.iter().any(|cell| cell.text.contains(&hash)), "{engine}: the SHA-256 of a live token is not stored");
    }
    let only_in = |needle: &str, allowed: &[&str], must: bool| {
        let tables: BTreeSet<&str> = cells.iter().filter(|cell| cell.text.contains(needle)).map(|cell| cell.table.as_str()).collect();
        assert!(tables.iter().all(|t| allowed.contains(t)), "{engine}: {needle:?} stored in {tables:?}, not only in {allowed:?}");
        if must {
            assert!(!tables.is_empty(), "{engine}: {needle:?} not found at all (is the scan reading everything?)");
        }
    };
    // The text as first sent was replaced by the edit: it may remain nowhere but `messages`.
    for (i, text) in c.texts.iter().enumerate() {
        only_in(text, &["messages"], i + 1 < c.texts.len());
    }
    for name in &c.names {
        only_in(name, &["files", "messages"], true);
    }
}

fn sqlite_cells(db: &Path) -> Vec<Cell> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open the database");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert!(tables.iter().any(|t| t == "messages") && tables.len() >= 10, "{tables:?}");
    let mut cells = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            for (i, column) in columns.iter().enumerate() {
                use rusqlite::types::ValueRef;
                let text = match row.get_ref(i).expect("value") {
                    ValueRef::Null => continue,
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(f) => f.to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    ValueRef::Blob(b) => format!("{} {}", hex::encode(b), String::from_utf8_lossy(b)),
                };
                cells.push(Cell { table: table.clone(), column: column.clone(), text });
            }
        }
    }
    cells
}

/// Every file under `dir` (database, WAL, uploads, stored objects) holds no secret as bytes.
fn check_raw_files(dir: &Path, c: &Canaries) {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).expect("read");
            for s in &c.secrets {
                assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s:?} is in {}", path.display());
            }
        }
    }
    assert!(files >= 2, "only {files} files under {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_and_only_hashes_in_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, mut sms) = gateway().await;
    let data = dir.path().join("data");
    let server = start(&data, None, &url).await;
    let canaries = scenario(server.port(), &mut sms).await;
    let log = stop(server).await;
    check_log(&log, &canaries);
    let cells = sqlite_cells(&data.join("heliograph.db"));
    check_cells(&cells, &canaries, "SQLite");
    check_raw_files(&data, &canaries);
    eprintln!(
        "SQLite: {} log lines and {} stored values searched for {} secrets, {} login codes, {} texts and {} file names",
        log.lines().count(),
        cells.len(),
        canaries.secrets.len(),
        canaries.codes.len(),
        canaries.texts.len(),
        canaries.names.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_and_only_hashes_in_postgres() {
    let Some(admin) = std::env::var(POSTGRES).ok().filter(|v| !v.is_empty()) else {
        println!("{POSTGRES} not set: the PostgreSQL variant did not run");
        return;
    };
    let db = Database::create(&admin).await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let (gw, mut sms) = gateway().await;
    let data = dir.path().join("data");
    let server = start(&data, Some(url), &gw).await;
    let canaries = scenario(server.port(), &mut sms).await;
    let log = stop(server).await;
    check_log(&log, &canaries);
    let client = pg(url).await;
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .expect("columns");
    let mut cells = Vec::new();
    let mut tables = HashMap::new();
    for row in columns {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        *tables.entry(table.clone()).or_insert(0) += 1;
        let rows = client
            .query(&format!("SELECT \"{column}\"::text FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"), &[])
            .await
            .unwrap_or_else(|e| panic!("{table}.{column}: {e:?}"));
        for r in rows {
            // bytea reads as \x followed by hex.
            let text: String = r.get(0);
            cells.push(Cell { table: table.clone(), column: column.clone(), text: text.trim_start_matches("\\x").to_string() });
        }
    }
    assert!(tables.contains_key("messages"), "{tables:?}");
    check_cells(&cells, &canaries, "PostgreSQL");
    check_raw_files(&data, &canaries);
    eprintln!("PostgreSQL: {} log lines and {} stored values in {} tables searched", log.lines().count(), cells.len(), tables.len());
}
