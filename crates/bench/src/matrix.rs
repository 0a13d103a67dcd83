//! The Matrix adapter: the client-server API over HTTP (for Synapse).
//!
//! Accounts register with `m.login.dummy` (open registration, bench configuration) or log in
//! if they exist. Each pair's sender creates a private room inviting its partner, who joins.
//! A send is `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`: its 200 (with
//! the event id, after the event is persisted) is the durable acknowledgement. The receiver
//! long-polls `/sync` with a filter whose timeline limit (10,000) is far above what arrives
//! between two polls, so `limited: true` (a truncated timeline) should never happen; it is
//! counted anyway. A group is a public room every member joins; an idle client keeps one
//! long-poll `/sync` outstanding; a returning client syncs from its old `since` token and
//! pages back through `/messages` where a timeline is `limited`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Timelines that came back `limited` (messages the receiver would have had to page for).
pub static LIMITED: AtomicU64 = AtomicU64::new(0);

pub fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().pool_max_idle_per_host(4096).tcp_nodelay(true).timeout(Duration::from_secs(120)).build()?)
}

#[derive(Clone)]
pub struct User {
    http: reqwest::Client,
    base: String,
    token: String,
    pub user_id: String,
    txn: Arc<AtomicU64>,
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value)> {
    let mut req = http.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, v))
}

/// Registers `username` (or logs in if it exists).
pub async fn user(http: &reqwest::Client, base: &str, username: &str, password: &str) -> Result<User> {
    let url = format!("{base}/_matrix/client/v3/register");
    let mut body =
        json!({"username": username, "password": password, "auth": {"type": "m.login.dummy"}, "initial_device_display_name": "bench"});
    let (mut status, mut v) = post(http, &url, None, &body).await?;
    if status == 401 {
        if let Some(session) = v["session"].as_str() {
            body["auth"]["session"] = json!(session);
            (status, v) = post(http, &url, None, &body).await?;
        }
    }
    if status != 200 && v["errcode"] == "M_USER_IN_USE" {
        return login(http, base, username, password).await;
    }
    if status != 200 {
        bail!("registering {username}: {status} {v}");
    }
    User::signed_in(http, base, &v)
}

/// Logs an existing account in with its password (a new device and access token).
pub async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> Result<User> {
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": username}, "password": password});
    let (status, v) = post(http, &format!("{base}/_matrix/client/v3/login"), None, &login).await?;
    if status != 200 {
        bail!("logging in {username}: {status} {v}");
    }
    User::signed_in(http, base, &v)
}

/// A sync filter: only `m.room.message` timelines (of `rooms`, or all), at most `limit`
/// events per room and sync, lazy-loaded members, no presence, ephemeral or account data.
fn filter(rooms: Option<&[String]>, limit: u32) -> String {
    let mut room = json!({
        "timeline": {"limit": limit, "types": ["m.room.message"]},
        "state": {"lazy_load_members": true, "types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []}
    });
    if let Some(rooms) = rooms {
        room["rooms"] = json!(rooms);
    }
    json!({"presence": {"types": []}, "account_data": {"types": []}, "room": room}).to_string()
}

/// A Matrix client's poll task (`receive`, `stay_online`), ended when dropped.
pub struct PollTask(pub tokio::task::JoinHandle<()>);

impl Drop for PollTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl User {
    fn signed_in(http: &reqwest::Client, base: &str, v: &Value) -> Result<User> {
        Ok(User {
            http: http.clone(),
            base: base.to_string(),
            token: v["access_token"].as_str().ok_or_else(|| anyhow!("no access_token: {v}"))?.to_string(),
            user_id: v["user_id"].as_str().unwrap_or_default().to_string(),
            txn: Arc::default(),
        })
    }

    /// A new public room (members join without an invitation).
    pub async fn create_room(&self, name: &str) -> Result<String> {
        let body = json!({"preset": "public_chat", "name": name});
        let (status, v) = post(&self.http, &format!("{}/_matrix/client/v3/createRoom", self.base), Some(&self.token), &body).await?;
        if status != 200 {
            bail!("createRoom: {status} {v}");
        }
        v["room_id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no room_id: {v}"))
    }

    /// A new private room with `other` invited.
    pub async fn create_dm(&self, other: &str) -> Result<String> {
        let body = json!({"preset": "trusted_private_chat", "invite": [other], "is_direct": true});
        let (status, v) = post(&self.http, &format!("{}/_matrix/client/v3/createRoom", self.base), Some(&self.token), &body).await?;
        if status != 200 {
            bail!("createRoom: {status} {v}");
        }
        v["room_id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no room_id: {v}"))
    }

    pub async fn join(&self, room: &str) -> Result<()> {
        let url = format!("{}/_matrix/client/v3/rooms/{}/join", self.base, urlencoding::encode(room));
        let (status, v) = post(&self.http, &url, Some(&self.token), &json!({})).await?;
        if status != 200 {
            bail!("join: {status} {v}");
        }
        Ok(())
    }

    /// Sends a text message; returns once the server answered with the event id.
    pub async fn send(&self, room: &str, text: &str) -> Result<()> {
        let txn = self.txn.fetch_add(1, Ordering::Relaxed);
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/send/m.room.message/b{}-{txn}",
            self.base,
            urlencoding::encode(room),
            std::process::id()
        );
        let body = json!({"msgtype": "m.text", "body": text});
        // A keep-alive connection the server closed as the request went out fails with
        // "connection closed before message completed"; the same txnId makes the retry
        // idempotent, as a real client would do it.
        let mut attempt = 0;
        let resp = loop {
            match self.http.put(&url).bearer_auth(&self.token).json(&body).send().await {
                Err(e) if (e.is_request() || e.is_connect()) && attempt < 2 => attempt += 1,
                other => break other?,
            }
        };
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() || v["event_id"].as_str().is_none() {
            bail!("send: {status} {v}");
        }
        Ok(())
    }

    async fn get(&self, url: &str) -> Result<Value> {
        let resp = self.http.get(url).bearer_auth(&self.token).send().await?;
        let status = resp.status();
        let v: Value = resp.json().await.with_context(|| format!("body of {url}"))?;
        if !status.is_success() {
            bail!("{url}: {status} {v}");
        }
        Ok(v)
    }

    async fn sync(&self, filter: &str, since: Option<&str>, timeout_ms: u64) -> Result<Value> {
        let mut url = format!("{}/_matrix/client/v3/sync?timeout={timeout_ms}&filter={}", self.base, urlencoding::encode(filter));
        if let Some(s) = since {
            url += &format!("&since={}", urlencoding::encode(s));
        }
        self.get(&url).await
    }

    /// The position a client keeps when it goes offline: `next_batch` of an initial sync.
    pub async fn position(&self) -> Result<String> {
        let v = self.sync(&filter(None, 1), None, 0).await?;
        v["next_batch"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no next_batch: {v}"))
    }

    /// Stays online as a Matrix client does: an initial sync, then long polls (30 s) back
    /// to back, one always outstanding. Returns once the first long poll is sent.
    pub async fn stay_online(&self) -> Result<PollTask> {
        let filter = filter(None, 10);
        let mut since = self.sync(&filter, None, 0).await?["next_batch"].as_str().map(str::to_string);
        let me = self.clone();
        let task = tokio::spawn(async move {
            loop {
                match me.sync(&filter, since.as_deref(), 30_000).await {
                    Ok(v) => since = v["next_batch"].as_str().map(str::to_string).or(since),
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        });
        // Give the first long poll time to reach the server.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(PollTask(task))
    }

    /// Catches up from `since` as a returning client does: one sync (at most `limit`
    /// messages per room), then, for each room whose timeline came back `limited`, pages
    /// backwards through `/messages` (1,000 at a time) down to `since`. Returns the
    /// messages from others received and the `/messages` pages read.
    pub async fn catch_up(&self, since: &str, limit: u32) -> Result<(u64, u64)> {
        let v = self.sync(&filter(None, limit), Some(since), 0).await?;
        let from_others = |events: &Value| {
            events
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["type"] == "m.room.message" && e["sender"] != self.user_id.as_str())
                .count() as u64
        };
        let (mut got, mut pages) = (0, 0);
        for (room, r) in v["rooms"]["join"].as_object().into_iter().flatten() {
            let timeline = &r["timeline"];
            got += from_others(&timeline["events"]);
            let mut from = timeline["prev_batch"].as_str().filter(|_| timeline["limited"] == true).map(str::to_string);
            while let Some(token) = from {
                let url = format!(
                    "{}/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000&from={}&to={}&filter={}",
                    self.base,
                    urlencoding::encode(room),
                    urlencoding::encode(&token),
                    urlencoding::encode(since),
                    urlencoding::encode(r#"{"types":["m.room.message"]}"#)
                );
                let page = self.get(&url).await?;
                pages += 1;
                got += from_others(&page["chunk"]);
                let empty = page["chunk"].as_array().is_none_or(|c| c.is_empty());
                from = page["end"].as_str().filter(|_| !empty).map(str::to_string);
            }
        }
        Ok((got, pages))
    }

    /// Starts long-polling `/sync` for `room` (from now on) and yields the bodies of the
    /// messages others send there. The task ends when the receiver is dropped (within one poll).
    pub async fn receive(&self, room: &str) -> Result<(mpsc::UnboundedReceiver<String>, PollTask)> {
        let filter = filter(Some(&[room.to_string()]), 10_000);
        let first = self.sync(&filter, None, 0).await?;
        let mut since = first["next_batch"].as_str().map(str::to_string);
        let (tx, rx) = mpsc::unbounded_channel();
        let me = self.clone();
        let room = room.to_string();
        let task = tokio::spawn(async move {
            while !tx.is_closed() {
                let v = match me.sync(&filter, since.as_deref(), 2_000).await {
                    Ok(v) => v,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                since = v["next_batch"].as_str().map(str::to_string).or(since);
                let timeline = &v["rooms"]["join"][&room]["timeline"];
                if timeline["limited"] == true {
                    LIMITED.fetch_add(1, Ordering::Relaxed);
                }
                for e in timeline["events"].as_array().into_iter().flatten() {
                    if e["type"] == "m.room.message" && e["sender"] != me.user_id.as_str() {
                        if let Some(body) = e["content"]["body"].as_str() {
                            let _ = tx.send(body.to_string());
                        }
                    }
                }
            }
        });
        Ok((rx, PollTask(task)))
    }
}
