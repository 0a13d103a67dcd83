//! The public transparency log (#16) at its boundaries: the HTTP resources an auditor reads,
//! and `heliograph audit verify` (the real binary) against a running server: it accepts the
//! log as the server keeps it, follows it from a saved checkpoint, and catches an entry
//! rewritten in the database and a history rewritten behind a saved checkpoint.

mod common;

use std::path::Path;
use std::process::Output;

use common::{InProcess, Person};
use heliograph_client::ModerationTarget;
use heliograph_testkit::Binary;

fn verify(url: &str, args: &[&str]) -> Output {
    let out = Binary::new().command(["audit", "verify", url]).args(args).output().expect("heliograph audit verify runs");
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

async fn restrict(op: &Person, who: i64) {
    let target = ModerationTarget { user_id: Some(who), ..Default::default() };
    op.client.moderate("restrict", "spam waves", target).await.expect("restrict");
}

/// Statements an attacker with the database would run (after dropping the triggers that
/// keep the log append-only).
fn tamper(data: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(data.join("heliograph.db")).expect("open the database");
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS tlog_entries_no_update; DROP TRIGGER IF EXISTS tlog_entries_no_delete;
         DROP TRIGGER IF EXISTS tlog_hashes_no_update; DROP TRIGGER IF EXISTS tlog_hashes_no_delete;",
    )
    .expect("drop the triggers");
    conn.execute_batch(sql).expect("tamper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_verifies_the_log_and_catches_rewrites() {
    let server = InProcess::start_with(|c| c.accountability.operators = vec![1]).await;
    let url = server.url();
    let op = Person::sign_in(&server, 1).await;
    let mut people = Vec::new();
    for n in 2..6 {
        people.push(Person::sign_in(&server, n).await);
    }
    let http = reqwest::Client::new();
    let key = http.get(format!("{url}/transparency/key")).send().await.expect("key").text().await.expect("key text");
    let empty = http.get(format!("{url}/transparency/checkpoint")).send().await.expect("checkpoint").text().await.expect("text");
    assert!(empty.starts_with("localhost/transparency\n0\n"), "an empty log's checkpoint: {empty}");

    for p in &people[..3] {
        restrict(&op, p.id()).await;
    }
    let report: serde_json::Value =
        http.get(format!("{url}/transparency/report")).send().await.expect("report").json().await.expect("json");
    assert_eq!(report["entries"], 3);
    let month = report["months"].as_object().expect("months").values().next().expect("a month").clone();
    assert_eq!(month["moderation.restrict"], 3, "{report}");
    let tile = http.get(format!("{url}/transparency/tile/8/data/000.p/3")).send().await.expect("tile");
    assert_eq!(tile.status(), 200);
    assert_eq!(http.get(format!("{url}/transparency/tile/8/data/000.p/4")).send().await.expect("tile").status(), 404, "beyond the tree");
    assert_eq!(
        http.get(format!("{url}/transparency/tile/8/0/000")).send().await.expect("tile").status(),
        404,
        "a full tile of a tree of 3"
    );

    // The log as kept verifies, with the key pinned; the checkpoint is saved for next time.
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.checkpoint");
    let out = verify(&url, &["--key", key.trim(), "--save", first.to_str().expect("path")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 entries"), "{}", text(&out));
    // A wrong key does not.
    let other = heliograph_server::transparency::keys_from_seed("localhost/transparency", [9; 32]).1;
    let out = verify(&url, &["--key", &other]);
    assert!(!out.status.success(), "another key must not verify: {}", text(&out));

    // It grows; the new checkpoint extends the saved one.
    restrict(&op, people[3].id()).await;
    let second = dir.path().join("second.checkpoint");
    let out = verify(&url, &["--key", key.trim(), "--previous", first.to_str().expect("path"), "--save", second.to_str().expect("path")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("extends the previous checkpoint of 3 entries"), "{}", text(&out));

    // An entry rewritten in place: the entries no longer hash to the signed root.
    tamper(server.data(), "UPDATE tlog_entries SET data = CAST(replace(CAST(data AS TEXT), 'restrict', 'dismiss') AS BLOB) WHERE n = 1");
    let out = verify(&url, &["--key", key.trim()]);
    assert!(!out.status.success(), "a rewritten entry must be caught");
    assert!(text(&out).contains("an entry was rewritten"), "{}", text(&out));

    // History rewritten from entry 1 on and rebuilt (hashes and all) so that the tree is
    // consistent again: only a saved checkpoint shows it.
    tamper(server.data(), "DELETE FROM tlog_entries WHERE n >= 1; DELETE FROM tlog_hashes WHERE idx >= 1;");
    for p in &people[1..4] {
        restrict(&op, p.id()).await;
    }
    let out = verify(&url, &["--key", key.trim()]);
    assert!(out.status.success(), "the rebuilt log is consistent by itself: {}", text(&out));
    let out = verify(&url, &["--key", key.trim(), "--previous", second.to_str().expect("path")]);
    assert!(!out.status.success(), "a rewritten history must be caught against a saved checkpoint");
    assert!(text(&out).contains("history was rewritten"), "{}", text(&out));
}
