//! Search through the real binary: `heliograph reindex` rebuilds the embedded index while the
//! server serves, and the server switches to it without losing what was sent meanwhile.
//! (Crash recovery of the index is checked after every SIGKILL in `tests/crash.rs`.)

#[allow(dead_code)]
#[path = "common/crash.rs"]
mod crash;

use std::collections::BTreeSet;

use crash::Conn;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_while_serving_switches_without_losing_a_message() {
    let mut server = crash::heliograph().start().await.expect("heliograph starts");
    let (tokens, chats) = crash::four_people(server.port(), 700, "reindex").await;
    let mut alice = Conn::open(server.port()).await.expect("connect");
    alice.ok("auth.authorize", json!({"token": tokens[0]})).await;
    let mut sent = BTreeSet::new();
    let send = async |alice: &mut Conn, i: usize| {
        let chat = chats[i % chats.len()];
        let m = alice.ok("messages.send", json!({"chat_id": chat, "random_id": 1000 + i, "text": format!("orchard note {i}")})).await;
        (chat, m["message"]["id"].as_i64().expect("id"))
    };
    for i in 0..60 {
        sent.insert(send(&mut alice, i).await);
    }
    let found = |all: Vec<((i64, i64), String)>| all.into_iter().map(|(k, _)| k).collect::<BTreeSet<_>>();
    assert_eq!(found(crash::search_all(&mut alice, "orchard").await), sent, "before the rebuild");

    let out = crash::heliograph().command(["reindex", "--data"]).arg(server.data()).output().expect("heliograph reindex runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "reindex failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("reindexed "), "{stdout}");
    let count: u64 = stdout.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a count");
    assert!(count >= 60, "every message is in the new index: {stdout}");
    assert_eq!(std::fs::read_to_string(server.data().join("search/CURRENT")).expect("pointer").trim(), "1", "the new index is current");

    // Sent after the rebuild: the server follows the new index from the rebuild's position.
    for i in 60..70 {
        sent.insert(send(&mut alice, i).await);
    }
    assert_eq!(found(crash::search_all(&mut alice, "orchard").await), sent, "after the switch");
    let phrase = crash::search_all(&mut alice, "\"orchard note 65\"").await;
    assert_eq!(phrase.len(), 1, "{phrase:?}");
    server.stop().await;
}
