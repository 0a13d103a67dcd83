//! `channel`: the fan-out target, a channel with S subscribers (1,000,000 at full
//! size), O of them online (10,000), and a post that must reach every online one in under a
//! second while writing O(1) rows.
//!
//! Signing a million accounts in through the protocol is out of reach (test numbers stop at
//! 90,000, and it would take hours), so each repetition first runs the server binary's
//! offline, benchmarks-only `heliograph bench-seed` on a fresh data folder: it writes the
//! accounts, the channel and the memberships through the store's own operations and prints
//! session tokens for the owner and the first O subscribers. Then the server starts on that
//! folder, the O subscribers connect through the SDK with their tokens (one process, so the
//! open-files limit is raised), and the owner posts one message at a time.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use futures_util::{stream, StreamExt};
use heliograph_client::proto::UpdateKind;
use heliograph_client::{Client, Config, Event};
use heliograph_testkit::Binary;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::proc::{ProcStats, Server};
use crate::scenarios::{drain, histogram, lat_json, median, now_us, server_json, write_result};
use crate::Common;

#[derive(Args, Clone)]
pub struct ChannelArgs {
    /// Subscribers (accounts besides the owner, written by `heliograph bench-seed`).
    #[arg(long, default_value_t = 5000)]
    subscribers: u64,
    /// Of which online (connected through the SDK) during the posts.
    #[arg(long, default_value_t = 1000)]
    online: u64,
    /// Posts measured (one at a time).
    #[arg(long, default_value_t = 10)]
    posts: u32,
    /// Subscribers connecting at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

/// What `heliograph bench-seed` prints.
#[derive(Deserialize)]
struct Seeded {
    chat_id: i64,
    owner: Token,
    online: Vec<Token>,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

const CHANNEL: &str = "benchchan";

/// Runs `heliograph bench-seed` on `data`; its progress goes to our stderr.
fn seed(bin: &Binary, data: &Path, a: &ChannelArgs) -> Result<Seeded> {
    let out = bin
        .command(["bench-seed", "--data"])
        .arg(data)
        .args(["--subscribers", &a.subscribers.to_string(), "--online", &a.online.to_string(), "--channel", CHANNEL])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} bench-seed", bin.binary_path().display()))?;
    if !out.status.success() {
        bail!("{} bench-seed failed: {}", bin.binary_path().display(), out.status);
    }
    serde_json::from_slice(&out.stdout).context("reading what bench-seed printed")
}

/// Rows in every table. At a million subscribers this takes tens of milliseconds (SQLite
/// counts each table from its smallest index), so nothing needs leaving out.
fn count_rows(db: &Path) -> Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut total = 0;
    for t in tables {
        total += conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get::<_, i64>(0))?;
    }
    Ok(total)
}

/// Connects subscriber `token` and reports each post of `chat` it receives as (post, µs).
async fn subscribe(url: String, token: String, chat: i64, tx: mpsc::UnboundedSender<(u32, u64)>) -> Result<Client> {
    let mut config = Config::new(url);
    config.token = Some(token);
    config.poll_interval = Duration::from_secs(3600);
    let (client, mut updates) = Client::connect(config).await?;
    match tokio::time::timeout(Duration::from_secs(60), updates.recv()).await {
        Ok(Some(Event::Connected)) => {}
        other => bail!("a seeded subscriber did not connect: {other:?}"),
    }
    tokio::spawn(async move {
        while let Some(ev) = updates.recv().await {
            if let Event::Update(u) = ev {
                if let UpdateKind::NewMessage { message } = u.kind {
                    if message.chat_id == chat {
                        if let Some(post) = message.content.text().and_then(|t| t.strip_prefix("post ")).and_then(|t| t.parse().ok()) {
                            let _ = tx.send((post, now_us()));
                        }
                    }
                }
            }
        }
    });
    Ok(client)
}

pub async fn channel(common: &Common, a: ChannelArgs) -> Result<()> {
    // One socket per online subscriber, here and in the server (a child: it inherits the
    // raised limit, and raises its own too).
    let files = rlimit::increase_nofile_limit(u64::MAX).context("raising the open files limit")?;
    if files < a.online + 256 {
        bail!("the open files limit is {files}: too low for {} connections (raise the hard limit)", a.online);
    }
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let data = tempfile::tempdir()?;
        let started = Instant::now();
        let seeded = seed(&common.heliograph(), data.path(), &a)?;
        let seed_s = started.elapsed().as_secs_f64();
        let db = data.path().join("heliograph.db");
        let db_mib = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
        let server = Server::heliograph(&common.heliograph(), data.path()).await?;
        let url = server.url();
        let chat = seeded.chat_id;
        let mut owner_config = Config::new(url.clone());
        owner_config.token = Some(seeded.owner.token);
        let (owner, owner_updates) = Client::connect(owner_config).await?;
        drain(owner_updates);

        let started = Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel::<(u32, u64)>();
        let subs: Vec<Result<Client>> = stream::iter(seeded.online)
            .map(|s| subscribe(url.clone(), s.token, chat, tx.clone()))
            .buffer_unordered(a.connect_concurrency.max(1))
            .collect()
            .await;
        let subs: Vec<Client> = subs.into_iter().collect::<Result<_>>()?;
        let connect_s = started.elapsed().as_secs_f64();
        let rss_online_mib = server.stats().rss_kib as f64 / 1024.0;
        tokio::time::sleep(Duration::from_secs(1)).await;

        let started = Instant::now();
        let rows_before = count_rows(&db)?;
        let count_s = started.elapsed().as_secs_f64();
        let cpu_before = server.stats().cpu_seconds;
        let me_before = ProcStats::read(std::process::id()).cpu_seconds;
        let mut fanout = histogram();
        let mut incomplete = 0;
        for post in 0..a.posts {
            let t0 = now_us();
            owner.send_message(chat, &format!("post {post}"), None).await?;
            let mut got = 0;
            let mut last = t0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while got < subs.len() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((p, at))) if p == post => {
                        got += 1;
                        last = last.max(at);
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            if got < subs.len() {
                incomplete += 1;
            }
            let _ = fanout.record((last - t0).max(1));
        }
        let cpu = server.stats().cpu_seconds - cpu_before;
        let me = ProcStats::read(std::process::id()).cpu_seconds - me_before;
        let rows_after = count_rows(&db)?;
        let rows_per_post = (rows_after - rows_before) as f64 / a.posts as f64;
        eprintln!(
            "channel rep {rep}: seeded {} subscribers in {seed_s:.1} s, {} online in {connect_s:.1} s; last online delivery p50 {:.1} ms, \
             p99 {:.1} ms; rows/post {rows_per_post}",
            a.subscribers,
            subs.len(),
            fanout.value_at_quantile(0.5) as f64 / 1000.0,
            fanout.value_at_quantile(0.99) as f64 / 1000.0,
        );
        runs.push(json!({
            "subscribers": a.subscribers,
            "online": subs.len(),
            "post_to_last_online_ms": lat_json(&fanout),
            "posts_incomplete": incomplete,
            "rows_written_per_post": rows_per_post,
            "cpu_seconds_per_post": cpu / a.posts as f64,
            "generator_cpu_seconds_per_post": me / a.posts as f64,
            "seed_seconds": seed_s,
            "connect_seconds": connect_s,
            "count_rows_seconds": count_s,
            "database_mib": db_mib,
            "rss_online_mib": rss_online_mib,
            "server": server_json(&server, 0.0),
        }));
        drop(subs);
        drop(owner);
        server.stop().await?;
    }
    let params = json!({"subscribers": a.subscribers, "online": a.online, "posts": a.posts, "reps": common.reps});
    write_result(common, "channel", params, json!({"median": median(&runs), "runs": runs}))
}
