//! The crash-consistency harness: the real `heliograph` binary under concurrent senders,
//! killed with SIGKILL at random moments, restarted on the same data folder, and checked after
//! every restart. Used by `tests/crash.rs` (a short run) and `examples/crashloop.rs` (`--long`).
//!
//! What each check proves (durable acknowledgement, idempotent sends, gapless order, gapless
//! sync; ARCHITECTURE.md, Invariants 1-4):
//! - every acknowledged send is in its chat exactly once, with the id it was acknowledged with;
//! - every chat's ids run 1, 2, 3, … with no gap;
//! - a send that was in flight at the kill, retried with its `random_id`, exists exactly once
//!   (the original if it had committed, a new message otherwise);
//! - each user's update log, read with `updates.get_difference` from where that client last
//!   stopped, has strictly increasing `pts`, ends at `updates.get_state`, and announces exactly
//!   the messages of that user's chats.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use heliograph_testkit::{Binary, Server};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The nth test phone number and its code (the same rule as `common::test_phone`).
pub fn phone(n: u32) -> (String, String) {
    let x = 1 + n % 9;
    (format!("+99966{x}{:04}", n), x.to_string().repeat(5))
}

/// How the crash-consistency tests run the binary: `--dev`, the rate limits lifted (the
/// senders go as fast as the server answers).
pub fn heliograph() -> Binary {
    Binary::new().dev().lift_limits()
}

/// A raw protocol connection.
pub struct Conn {
    pub ws: Ws,
    next: u64,
}

impl Conn {
    pub async fn open(port: u16) -> Option<Conn> {
        let ws = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.ok()?.0;
        Some(Conn { ws, next: 1 })
    }

    /// Calls a method; `None` when the connection broke before the answer.
    pub async fn call(&mut self, method: &str, params: Value) -> Option<Value> {
        let id = self.next;
        self.next += 1;
        self.ws.send(Message::Text(json!({"id": id, "method": method, "params": params}).to_string().into())).await.ok()?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.ws.next()).await.ok()??.ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).ok()?;
                if v["id"] == json!(id) {
                    return Some(v);
                }
            }
        }
    }

    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        let v = self.call(method, params.clone()).await.unwrap_or_else(|| panic!("{method} got no answer"));
        assert_eq!(v["type"], "result", "{method} {params}: {v}");
        v["result"].clone()
    }
}

/// A send as the client made it.
#[derive(Clone)]
struct Attempt {
    user: usize,
    random_id: i64,
    chat: i64,
    text: String,
}

/// Acknowledged sends: (user, random_id) -> (chat, message id, text).
type Acked = HashMap<(usize, i64), (i64, i64, String)>;

/// What one client knows of its own log, kept across restarts like a real client's.
#[derive(Default)]
struct ClientLog {
    pts: i64,
    /// (chat, message id) of every `new_message` seen.
    messages: BTreeSet<(i64, i64)>,
}

/// Figures of a run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub kills: u32,
    pub acknowledged: usize,
    /// Sends in flight at a kill, retried after the restart.
    pub retried: usize,
    /// Of those, how many had committed before the kill (the retry returned the original).
    pub retried_committed: usize,
    pub stored: usize,
    pub sending: Duration,
    pub restarting: Duration,
    pub verifying: Duration,
}

/// The run: one server (its data folder and port kept across restarts), four users, one
/// group and three private chats.
pub struct Harness {
    pub server: Server,
    port: u16,
    tokens: Vec<String>,
    /// chats[0] is the group of all; chats[n] the private chat of user 0 and user n.
    chats: Vec<i64>,
    acked: Arc<Mutex<Acked>>,
    attempted: Arc<Mutex<Vec<Attempt>>>,
    logs: Vec<ClientLog>,
    pub report: Report,
}

pub const USERS: usize = 4;

/// Signs in `USERS` people (test phones from `first_phone`) and makes a group of all of them
/// titled `title` and a private chat of person 0 with each other: their tokens, and the chats
/// (`chats[0]` the group, `chats[n]` the private chat of person 0 and person n).
pub async fn four_people(port: u16, first_phone: u32, title: &str) -> (Vec<String>, Vec<i64>) {
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for n in 0..USERS {
        let mut c = Conn::open(port).await.expect("connect");
        let (phone, code) = phone(first_phone + n as u32);
        c.ok("auth.send_code", json!({"phone": phone})).await;
        let auth = c.ok("auth.sign_in", json!({"phone": phone, "code": code, "name": format!("{title} {n}")})).await;
        tokens.push(auth["token"].as_str().expect("token").to_string());
        ids.push(auth["user"]["id"].as_i64().expect("id"));
    }
    let mut admin = Conn::open(port).await.expect("connect");
    admin.ok("auth.authorize", json!({"token": tokens[0]})).await;
    let group = admin.ok("chats.create_group", json!({"title": title, "user_ids": ids[1..]})).await["id"].as_i64().expect("group id");
    let mut chats = vec![group];
    for &peer in &ids[1..] {
        chats.push(admin.ok("chats.open_private", json!({"user_id": peer})).await["id"].as_i64().expect("chat id"));
    }
    (tokens, chats)
}

impl Harness {
    pub async fn new(binary: Binary) -> Harness {
        let server = binary.start().await.expect("heliograph starts");
        let port = server.port();
        let (tokens, chats) = four_people(port, 300, "crash test").await;
        Harness {
            server,
            port,
            tokens,
            chats,
            acked: Arc::default(),
            attempted: Arc::default(),
            logs: (0..USERS).map(|_| ClientLog::default()).collect(),
            report: Report::default(),
        }
    }

    /// The chats user `n` is in.
    fn chats_of(&self, n: usize) -> Vec<i64> {
        if n == 0 {
            self.chats.clone()
        } else {
            vec![self.chats[0], self.chats[n]]
        }
    }

    /// One round: every user sends as fast as the server answers (one connection each, plus a
    /// second pipelining connection for user 0), the server is killed with SIGKILL after
    /// `kill_after`, restarted, and everything is checked.
    pub async fn round(&mut self, kill_after: Duration) {
        let round = self.report.kills;
        let started = Instant::now();
        let mut senders = Vec::new();
        for n in 0..USERS + 1 {
            let user = n % USERS;
            let (token, acked, attempted, port) = (self.tokens[user].clone(), self.acked.clone(), self.attempted.clone(), self.port);
            let targets = self.chats_of(user);
            senders.push(tokio::spawn(async move {
                let Some(mut c) = Conn::open(port).await else { return };
                if c.call("auth.authorize", json!({"token": token})).await.is_none() {
                    return;
                }
                for i in 0.. {
                    let chat = targets[i % targets.len()];
                    let attempt = Attempt { user, random_id: rand::random(), chat, text: format!("k{round}-s{n}-{i}") };
                    attempted.lock().expect("lock").push(attempt.clone());
                    let params = json!({"chat_id": chat, "random_id": attempt.random_id, "text": attempt.text});
                    match c.call("messages.send", params).await {
                        Some(v) if v["type"] == "result" => {
                            let id = v["result"]["message"]["id"].as_i64().expect("message id");
                            acked.lock().expect("lock").insert((user, attempt.random_id), (chat, id, attempt.text));
                        }
                        Some(v) => panic!("send refused: {v}"),
                        None => return,
                    }
                }
            }));
        }
        tokio::time::sleep(kill_after).await;
        self.server.kill().await;
        self.report.kills += 1;
        for s in senders {
            s.await.expect("sender task");
        }
        self.report.sending += started.elapsed();
        let restarted = Instant::now();
        self.server.restart().await.expect("heliograph restarts on its data");
        self.report.restarting += restarted.elapsed();
        let verifying = Instant::now();
        self.verify().await;
        self.report.verifying += verifying.elapsed();
    }

    async fn verify(&mut self) {
        let port = self.port;
        let mut conns: Vec<Conn> = Vec::new();
        for token in &self.tokens {
            let mut u = Conn::open(port).await.expect("connect after restart");
            u.ok("auth.authorize", json!({"token": token})).await;
            conns.push(u);
        }
        // Every chat's history: ids 1..=top with no gap, each text once.
        let mut stored: HashMap<String, (i64, i64)> = HashMap::new();
        let mut in_chat: HashMap<i64, BTreeSet<(i64, i64)>> = HashMap::new();
        for &chat in &self.chats {
            let (mut after, mut expect) = (0, 1);
            loop {
                let page =
                    conns[0].ok("messages.history", json!({"chat_id": chat, "from_id": after, "direction": "newer", "limit": 1000})).await;
                let page = page.as_array().expect("list").clone();
                if page.is_empty() {
                    break;
                }
                for m in page {
                    let id = m["id"].as_i64().expect("id");
                    assert_eq!(id, expect, "chat {chat}: the sequence has a gap or is out of order");
                    expect += 1;
                    after = id;
                    in_chat.entry(chat).or_default().insert((chat, id));
                    let text = m["content"]["text"].as_str().expect("text").to_string();
                    assert!(stored.insert(text.clone(), (chat, id)).is_none(), "message {text} stored twice");
                }
            }
        }
        let mut acked = self.acked.lock().expect("lock").clone();
        for (chat, id, text) in acked.values() {
            assert_eq!(stored.get(text), Some(&(*chat, *id)), "acknowledged message {text} lost or moved");
        }
        // Sends in flight at the kill: a retry with the same random_id yields one message.
        let pending: Vec<Attempt> =
            self.attempted.lock().expect("lock").drain(..).filter(|a| !acked.contains_key(&(a.user, a.random_id))).collect();
        for a in pending {
            let v = conns[a.user].ok("messages.send", json!({"chat_id": a.chat, "random_id": a.random_id, "text": a.text})).await;
            let id = v["message"]["id"].as_i64().expect("id");
            self.report.retried += 1;
            match stored.get(&a.text) {
                Some(&(c0, i0)) => {
                    assert_eq!((c0, i0), (a.chat, id), "a retry of a committed send returned a different message");
                    self.report.retried_committed += 1;
                }
                None => {
                    let expect = in_chat.get(&a.chat).map_or(0, |s| s.len() as i64) + 1;
                    assert_eq!(id, expect, "a retried send took an id out of sequence");
                    stored.insert(a.text.clone(), (a.chat, id));
                    in_chat.entry(a.chat).or_default().insert((a.chat, id));
                }
            }
            acked.insert((a.user, a.random_id), (a.chat, id, a.text));
        }
        self.report.acknowledged = acked.len();
        self.report.stored = stored.len();
        assert_eq!(stored.len(), acked.len(), "every stored message was acknowledged (or retried) once");
        *self.acked.lock().expect("lock") = acked;
        // Each client resumes its log from where it stopped: strictly increasing pts, ending
        // at the current state, announcing exactly the messages of its chats.
        for (n, u) in conns.iter_mut().enumerate() {
            let expect: BTreeSet<(i64, i64)> = self.chats_of(n).iter().flat_map(|c| in_chat.get(c).cloned().unwrap_or_default()).collect();
            let log = &mut self.logs[n];
            let mut seen = HashSet::new();
            loop {
                let d = u.ok("updates.get_difference", json!({"pts": log.pts})).await;
                for up in d["updates"].as_array().cloned().unwrap_or_default() {
                    let p = up["pts"].as_i64().expect("pts");
                    assert!(p > log.pts, "user {n}: pts {p} after {}", log.pts);
                    assert!(seen.insert(p), "user {n}: pts {p} twice");
                    log.pts = p;
                    if up["type"] == "new_message" {
                        let key = (up["message"]["chat_id"].as_i64().expect("chat"), up["message"]["id"].as_i64().expect("id"));
                        assert!(log.messages.insert(key), "user {n}: message {key:?} announced twice");
                    }
                }
                let to = d["pts"].as_i64().expect("pts");
                assert!(to >= log.pts, "difference went backwards");
                log.pts = to;
                match d["type"].as_str() {
                    Some("slice") => continue,
                    Some("complete") | Some("empty") => break,
                    other => panic!("user {n}: unexpected difference {other:?}: {d}"),
                }
            }
            let state = u.ok("updates.get_state", json!({})).await;
            assert_eq!(state["pts"].as_i64(), Some(log.pts), "user {n}: the difference reaches the current state");
            assert!(log.messages == expect, "user {n}: the log announces {} messages, the chats hold {}", log.messages.len(), expect.len());
        }
        // The search index (the embedded engine follows the store's log and resumes from its
        // last commit) finds exactly this round's stored messages: none missing, none extra.
        let round = format!("k{}-", self.report.kills - 1);
        let expect: BTreeSet<(i64, i64)> = stored.iter().filter(|(t, _)| t.starts_with(&round)).map(|(_, &key)| key).collect();
        let found: BTreeSet<(i64, i64)> = search_all(&mut conns[0], round.trim_end_matches('-'))
            .await
            .into_iter()
            .filter(|(_, t)| t.starts_with(&round))
            .map(|(k, _)| k)
            .collect();
        assert!(found == expect, "round {round}: search finds {} messages, the chats hold {}", found.len(), expect.len());
    }
}

/// Every result of `messages.search` for `q`, page by page: (chat, id) and text.
pub async fn search_all(conn: &mut Conn, q: &str) -> Vec<((i64, i64), String)> {
    let (mut all, mut offset) = (Vec::new(), 0);
    loop {
        let page = conn.ok("messages.search", json!({"q": q, "offset": offset, "limit": 100})).await;
        for r in page["results"].as_array().cloned().unwrap_or_default() {
            let m = &r["message"];
            let key = (m["chat_id"].as_i64().expect("chat"), m["id"].as_i64().expect("id"));
            all.push((key, m["content"]["text"].as_str().unwrap_or_default().to_string()));
        }
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => return all,
        }
    }
}
