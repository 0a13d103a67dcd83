//! Durability through a real crash: the `heliograph` binary is killed with SIGKILL while
//! several clients send, restarted on the same data folder, and every acknowledged message
//! must be there exactly once, in a gapless sequence, reachable by `get_difference`.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::test_phone;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Node {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn start(data: &std::path::Path, port: u16) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_heliograph"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        // The senders go as fast as the server answers: lift the per-session rate limit.
        .env("HELIOGRAPH_LIMITS__REQUESTS_PER_SECOND", "1000000")
        .env("HELIOGRAPH_LIMITS__REQUESTS_BURST", "1000000")
        .env("HELIOGRAPH_LIMITS__REQUESTS_PER_ADDRESS_PER_SECOND", "100000000")
        .env("HELIOGRAPH_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("heliograph starts");
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
            if r.status().is_success() {
                return Node { child, port };
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("heliograph did not become healthy");
}

impl Node {
    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

struct Conn {
    ws: Ws,
    next: u64,
}

impl Conn {
    async fn open(port: u16) -> Option<Conn> {
        let ws = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.ok()?.0;
        Some(Conn { ws, next: 1 })
    }

    /// Calls a method; `None` when the connection broke before the answer.
    async fn call(&mut self, method: &str, params: Value) -> Option<Value> {
        let id = self.next;
        self.next += 1;
        self.ws.send(Message::Text(json!({"id": id, "method": method, "params": params}).to_string().into())).await.ok()?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next()).await.ok()??.ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).ok()?;
                if v["id"] == json!(id) {
                    return Some(v);
                }
            }
        }
    }

    async fn ok(&mut self, method: &str, params: Value) -> Value {
        let v = self.call(method, params.clone()).await.unwrap_or_else(|| panic!("{method} got no answer"));
        assert_eq!(v["type"], "result", "{method} {params}: {v}");
        v["result"].clone()
    }
}

/// Acknowledged sends: (user index, random_id) -> (chat id, message id, text).
type Acked = Arc<Mutex<HashMap<(usize, i64), (i64, i64, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_message() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut node = start(data.path(), port).await;

    // Four users; everyone in one group, and user 0 in a private chat with each other.
    const USERS: usize = 4;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for n in 0..USERS {
        let mut c = Conn::open(port).await.expect("connect");
        let (phone, code) = test_phone(100 + n as u32);
        c.ok("auth.send_code", json!({"phone": phone})).await;
        let auth = c.ok("auth.sign_in", json!({"phone": phone, "code": code, "name": format!("Sender {n}")})).await;
        tokens.push(auth["token"].as_str().expect("token").to_string());
        ids.push(auth["user"]["id"].as_i64().expect("id"));
    }
    let mut admin = Conn::open(port).await.expect("connect");
    admin.ok("auth.authorize", json!({"token": tokens[0]})).await;
    let group = admin.ok("chats.create_group", json!({"title": "crash test", "user_ids": ids[1..]})).await["id"].as_i64().expect("group id");
    let mut chats = vec![group];
    for &peer in &ids[1..] {
        chats.push(admin.ok("chats.open_private", json!({"user_id": peer})).await["id"].as_i64().expect("chat id"));
    }
    drop(admin);

    let acked: Acked = Arc::default();
    let attempted: Arc<Mutex<Vec<(usize, i64, i64, String)>>> = Arc::default();
    for round in 0..3u32 {
        // Senders run until the server dies under them.
        let mut senders = Vec::new();
        for (n, token) in tokens.iter().enumerate() {
            let (token, acked, attempted) = (token.clone(), acked.clone(), attempted.clone());
            let targets: Vec<i64> = if n == 0 { chats.clone() } else { vec![group, chats[n]] };
            senders.push(tokio::spawn(async move {
                let Some(mut c) = Conn::open(port).await else { return };
                if c.call("auth.authorize", json!({"token": token})).await.is_none() {
                    return;
                }
                for i in 0.. {
                    let chat = targets[i % targets.len()];
                    let random_id: i64 = rand::random();
                    let text = format!("r{round}-u{n}-{i}");
                    attempted.lock().expect("lock").push((n, random_id, chat, text.clone()));
                    match c.call("messages.send", json!({"chat_id": chat, "random_id": random_id, "text": text})).await {
                        Some(v) if v["type"] == "result" => {
                            let id = v["result"]["message"]["id"].as_i64().expect("message id");
                            acked.lock().expect("lock").insert((n, random_id), (chat, id, text));
                        }
                        Some(v) => panic!("send refused: {v}"),
                        None => return,
                    }
                }
            }));
        }
        let delay = 150 + rand::random_range(0..600);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        node.kill9();
        for s in senders {
            s.await.expect("sender task");
        }
        node = start(data.path(), port).await;
        verify(port, &tokens, &ids, &chats, &acked, &attempted).await;
    }
    assert!(acked.lock().expect("lock").len() > 50, "the senders got some messages acknowledged");
}

async fn verify(port: u16, tokens: &[String], _ids: &[i64], chats: &[i64], acked: &Acked, attempted: &Arc<Mutex<Vec<(usize, i64, i64, String)>>>) {
    let mut c = Conn::open(port).await.expect("connect after restart");
    c.ok("auth.authorize", json!({"token": tokens[0]})).await;
    // Every chat's history: ids 1..=top with no gap, each text at most once.
    let mut texts: HashMap<String, (i64, i64)> = HashMap::new();
    for &chat in chats {
        let mut after = 0;
        let mut expect = 1;
        loop {
            let page = c.ok("messages.history", json!({"chat_id": chat, "from_id": after, "direction": "newer", "limit": 1000})).await;
            let page = page.as_array().expect("list").clone();
            if page.is_empty() {
                break;
            }
            for m in page {
                let id = m["id"].as_i64().expect("id");
                assert_eq!(id, expect, "chat {chat}: sequence has a gap or disorder");
                expect += 1;
                after = id;
                let text = m["content"]["text"].as_str().expect("text").to_string();
                assert!(texts.insert(text.clone(), (chat, id)).is_none(), "message {text} stored twice");
            }
        }
    }
    for ((_, _), (chat, id, text)) in acked.lock().expect("lock").iter() {
        assert_eq!(texts.get(text), Some(&(*chat, *id)), "acknowledged message {text} lost or moved");
    }
    // Retrying every unacknowledged send makes each exist exactly once.
    let pending: Vec<_> = attempted.lock().expect("lock").iter().filter(|(n, r, _, _)| !acked.lock().expect("lock").contains_key(&(*n, *r))).cloned().collect();
    let mut conns: Vec<Conn> = Vec::new();
    for token in tokens {
        let mut u = Conn::open(port).await.expect("connect");
        u.ok("auth.authorize", json!({"token": token})).await;
        conns.push(u);
    }
    for (n, random_id, chat, text) in pending {
        let v = conns[n].ok("messages.send", json!({"chat_id": chat, "random_id": random_id, "text": text})).await;
        let id = v["message"]["id"].as_i64().expect("id");
        if let Some(&(c0, i0)) = texts.get(&text) {
            assert_eq!((c0, i0), (chat, id), "a retry of a committed send returned a different message");
        }
        acked.lock().expect("lock").insert((n, random_id), (chat, id, text));
    }
    // Each user's log replays to a consistent state: complete, with strictly increasing pts.
    for u in conns.iter_mut() {
        let mut pts = 0;
        let mut seen = HashSet::new();
        loop {
            let d = u.ok("updates.get_difference", json!({"pts": pts})).await;
            let mut last = pts;
            for up in d["updates"].as_array().cloned().unwrap_or_default() {
                let p = up["pts"].as_i64().expect("pts");
                assert!(p > last, "pts not increasing");
                last = p;
                assert!(seen.insert(p), "pts {p} twice");
            }
            pts = d["pts"].as_i64().expect("pts");
            match d["type"].as_str() {
                Some("slice") => continue,
                Some("complete") | Some("empty") => break,
                other => panic!("unexpected difference {other:?}"),
            }
        }
        let state = u.ok("updates.get_state", json!({})).await;
        assert_eq!(state["pts"].as_i64(), Some(pts), "difference reaches the current state");
    }
}

/// SIGTERM: the server stops accepting, answers what is in flight, closes connections with
/// 1001, and exits 0; everything acknowledged is there after a restart.
#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut node = start(data.path(), port).await;
    let mut c = Conn::open(port).await.expect("connect");
    let (phone, code) = test_phone(200);
    c.ok("auth.send_code", json!({"phone": phone})).await;
    let auth = c.ok("auth.sign_in", json!({"phone": phone, "code": code, "name": "Term"})).await;
    let token = auth["token"].as_str().expect("token").to_string();
    let chat = c.ok("chats.create_group", json!({"title": "t"})).await["id"].as_i64().expect("id");
    // Fire a batch of sends without waiting, then SIGTERM.
    for i in 0..20 {
        let frame = json!({"id": 1000 + i, "method": "messages.send", "params": {"chat_id": chat, "random_id": i, "text": format!("t{i}")}});
        c.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }
    let status = Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let mut answered = 0;
    let mut close = None;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), c.ws.next()).await;
        let Ok(Some(Ok(msg))) = next else {
            eprintln!("stream ended: {next:?}");
            break;
        };
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["type"] == "result" {
                    answered += 1;
                }
            }
            Message::Close(frame) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(close, Some(1001), "closed with 'going away'");
    let exit = tokio::task::spawn_blocking(move || {
        let status = node.child.wait().expect("wait");
        (node, status)
    })
    .await
    .expect("join");
    assert!(exit.1.success(), "exit status {:?}", exit.1);
    drop(exit.0);
    // Restart: every answered send is stored.
    let _node = start(data.path(), port).await;
    let mut c = Conn::open(port).await.expect("reconnect");
    c.ok("auth.authorize", json!({"token": token})).await;
    let history = c.ok("messages.history", json!({"chat_id": chat, "limit": 100})).await;
    assert!(history.as_array().expect("list").len() >= answered, "answered {answered}, stored {history}");
}
