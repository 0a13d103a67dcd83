//! Online backup and restore of the real `heliograph` binary.
//!
//! Four users send as fast as the server answers (five connections: a group of all four and
//! three private chats). While they keep sending, `heliograph backup PATH` runs as a separate
//! process. Every send acknowledged before the backup process was started is recorded. Then the
//! server is stopped, `heliograph restore PATH` puts the backup into a fresh data folder (and
//! refuses while a server holds the database), a server starts on it, and every one of those
//! messages is there exactly once, with the id it was acknowledged with, and every chat's ids
//! run 1, 2, 3, … with no gap. (The backup may also hold sends acknowledged while it ran: it
//! is a snapshot taken at some moment after it started.)

#[allow(dead_code)]
#[path = "common/crash.rs"]
mod crash;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crash::Conn;
use serde_json::json;

/// Acknowledged sends: text -> (chat, id), with the moment of the acknowledgement.
type Acked = Arc<Mutex<HashMap<String, (i64, i64, Instant)>>>;

fn heliograph(args: &[&str], data: &Path) -> std::process::Output {
    crash::heliograph().command(args).arg("--data").arg(data).output().expect("heliograph runs")
}

/// Every message of `chats`, read through the protocol: (chat, id) -> text, checking each
/// chat's ids run 1, 2, 3, … with no gap.
async fn history(conn: &mut Conn, chats: &[i64]) -> BTreeMap<(i64, i64), String> {
    let mut all = BTreeMap::new();
    for &chat in chats {
        let (mut after, mut expect) = (0, 1);
        loop {
            let page = conn.ok("messages.history", json!({"chat_id": chat, "from_id": after, "direction": "newer", "limit": 1000})).await;
            let page = page.as_array().expect("list").clone();
            if page.is_empty() {
                break;
            }
            for m in page {
                let id = m["id"].as_i64().expect("id");
                assert_eq!(id, expect, "chat {chat}: the ids have a gap or are out of order after the restore");
                expect += 1;
                after = id;
                all.insert((chat, id), m["content"]["text"].as_str().expect("text").to_string());
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_message_acknowledged_before_it() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut server = crash::heliograph().data(data.path()).start().await.expect("heliograph starts");
    let port = server.port();

    // Four users, a group of all four and three private chats.
    let (tokens, chats) = crash::four_people(port, 500, "backup test").await;

    // Senders: user 0 on two connections (group and its private chats), the others in the
    // group and their private chat with user 0.
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (n, token) in tokens.iter().enumerate().chain([(0, &tokens[0])]) {
        let mut conn = Conn::open(port).await.expect("connect");
        conn.ok("auth.authorize", json!({"token": token})).await;
        let my_chats = if n == 0 { chats.clone() } else { vec![chats[0], chats[n]] };
        let (acked, stop) = (acked.clone(), stop.clone());
        let lane = senders.len();
        senders.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let chat = my_chats[i as usize % my_chats.len()];
                let text = format!("lane {lane} message {i}");
                let v = conn.ok("messages.send", json!({"chat_id": chat, "random_id": rand::random::<i64>(), "text": text})).await;
                let id = v["message"]["id"].as_i64().expect("id");
                acked.lock().expect("lock").insert(text, (chat, id, Instant::now()));
                i += 1;
            }
        }));
    }

    // Let the load build up, then back up while it goes on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup = data.path().join("backup.db");
    let before = acked.lock().expect("lock").len();
    let started = Instant::now();
    let output = tokio::task::spawn_blocking({
        let (backup, dir) = (backup.clone(), data.path().to_path_buf());
        move || heliograph(&["backup", backup.to_str().expect("utf-8")], &dir)
    })
    .await
    .expect("backup task");
    let took = started.elapsed();
    assert!(output.status.success(), "backup failed: {}", String::from_utf8_lossy(&output.stderr));
    let during = acked.lock().expect("lock").len() - before;
    // The load goes on a little after the backup, then stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.expect("sender");
    }
    let total = acked.lock().expect("lock").len();
    let must_have: HashMap<String, (i64, i64)> =
        acked.lock().expect("lock").iter().filter(|(_, (_, _, at))| *at < started).map(|(t, (c, i, _))| (t.clone(), (*c, *i))).collect();
    assert!(during > 0, "the senders were blocked while the backup ran");

    // Restore refuses while a server holds the database.
    let refused = heliograph(&["restore", backup.to_str().expect("utf-8")], data.path());
    assert!(!refused.status.success(), "restore over a running server's database must refuse");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it before restoring"), "{}", String::from_utf8_lossy(&refused.stderr));
    // A second backup to the same path refuses too (never overwrites).
    assert!(!heliograph(&["backup", backup.to_str().expect("utf-8")], data.path()).status.success());

    // Stop the server (SIGTERM: the way an operator stops it), restore into a fresh folder.
    server.stop().await;
    let fresh = tempfile::tempdir().expect("temp dir");
    let restored = heliograph(&["restore", backup.to_str().expect("utf-8")], fresh.path());
    assert!(restored.status.success(), "restore failed: {}", String::from_utf8_lossy(&restored.stderr));
    let garbage = data.path().join("not-a-backup");
    std::fs::write(&garbage, b"not a database").expect("write");
    let other = tempfile::tempdir().expect("temp dir");
    assert!(!heliograph(&["restore", garbage.to_str().expect("utf-8")], other.path()).status.success(), "a non-database is refused");

    // A server on the restored data has every message acknowledged before the backup began,
    // exactly once and with its id; every chat's ids are gapless.
    // The phone key is kept apart from the database (a dump alone cannot be checked against
    // numbers): without it the restored data refuses to serve, and says why.
    let keyless = crash::heliograph().data(fresh.path()).start().await.map(|_| ()).expect_err("no phone key, no serving");
    assert!(keyless.to_string().contains("the phone key in use is not the one"), "{keyless}");
    for key in ["phone.key", "disclosure.pub"] {
        std::fs::copy(data.path().join(key), fresh.path().join(key)).expect("the operator copies the keys kept with the backup");
    }
    let restored_server = crash::heliograph().data(fresh.path()).start().await.expect("heliograph starts on the restored data");
    let mut reader = Conn::open(restored_server.port()).await.expect("connect");
    reader.ok("auth.authorize", json!({"token": tokens[0]})).await;
    let restored = history(&mut reader, &chats).await;
    let mut where_is: HashMap<&str, (i64, i64)> = HashMap::new();
    for (&(chat, id), text) in &restored {
        assert!(where_is.insert(text.as_str(), (chat, id)).is_none(), "{text} restored twice");
    }
    for (text, at) in &must_have {
        assert_eq!(where_is.get(text.as_str()), Some(at), "{text}, acknowledged before the backup began, is not in the restored data");
    }
    // Whatever else the backup holds was acknowledged too (a snapshot taken during the run).
    let all: HashMap<String, (i64, i64)> = acked.lock().expect("lock").iter().map(|(t, (c, i, _))| (t.clone(), (*c, *i))).collect();
    for (text, at) in &where_is {
        assert_eq!(all.get(*text), Some(at), "{text} in the backup was never acknowledged with that id");
    }
    eprintln!(
        "backup under load: {} messages acknowledged before the backup began, {during} acknowledged while it ran ({} ms), \
         {total} in all; the restored data holds {} ({} of those sent during or after it)",
        must_have.len(),
        took.as_millis(),
        restored.len(),
        restored.len() - must_have.len()
    );
}
