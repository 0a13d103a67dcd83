//! `catchup`: a client offline while N messages arrive (from S senders, each in its own 1:1
//! chat), then the time from reconnecting to having received every one, per target.
//! Heliograph: the SDK reconnects with its stored token and sync state (`get_difference`);
//! XMPP: offline storage (mod_offline), delivered after the login's initial presence;
//! Matrix: `/sync` from the old `since` token, paging back through `/messages` where a
//! timeline is `limited`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use futures_util::{stream, StreamExt};
use heliograph_client::proto::UpdateKind;
use heliograph_client::{Client, Config, Event, SyncState};
use serde_json::{json, Value};

use crate::proc::Server;
use crate::scenarios::{drain, sign_up_many, write_result, Account, Sender};
use crate::targets::{ByTarget, Procs, TargetArgs};
use crate::{matrix, xmpp, Common};

#[derive(Args, Clone)]
pub struct CatchupArgs {
    /// Messages that arrive while the client is offline.
    #[arg(long, default_value_t = 100_000)]
    messages: u32,
    /// Concurrent senders filling the backlog.
    #[arg(long, default_value_t = 32)]
    senders: u32,
    /// Messages for Synapse, if fewer (0 = `--messages`).
    #[arg(long, default_value_t = 0)]
    synapse_messages: u32,
    /// Messages for ejabberd, if fewer (0 = `--messages`).
    #[arg(long, default_value_t = 0)]
    ejabberd_messages: u32,
    /// Matrix: timeline events per room in the catch-up `/sync` (the rest is paged).
    #[arg(long, default_value_t = 100)]
    matrix_timeline_limit: u32,
    #[command(flatten)]
    targets: TargetArgs,
}

/// No message for this long means the catch-up is over (whatever was received).
const GAP: Duration = Duration::from_secs(60);

pub async fn catchup(common: &Common, a: CatchupArgs) -> Result<()> {
    let targets = a.targets.list("heliograph", &crate::targets::SERVERS)?;
    let mut out = ByTarget::default();
    let errors = a
        .targets
        .each("catchup", &targets, async |t| {
            let n = match t {
                "synapse" if a.synapse_messages > 0 => a.synapse_messages,
                "ejabberd" if a.ejabberd_messages > 0 => a.ejabberd_messages,
                _ => a.messages,
            };
            let mut runs = Vec::new();
            for rep in 0..common.reps {
                let run = catchup_once(common, &a, t, n, rep).await?;
                eprintln!(
                    "catchup {t} rep {rep}: {}/{n} in {:.2} s (filled in {:.1} s)",
                    run["received"],
                    run["resync_seconds"].as_f64().unwrap_or(0.0),
                    run["fill_seconds"].as_f64().unwrap_or(0.0)
                );
                runs.push(run);
            }
            out.insert(t, runs);
            Ok(())
        })
        .await?;
    let params = json!({
        "messages": a.messages, "senders": a.senders, "synapse_messages": a.synapse_messages, "ejabberd_messages": a.ejabberd_messages,
        "matrix_timeline_limit": a.matrix_timeline_limit, "reps": common.reps, "targets": targets,
    });
    write_result(common, "catchup", params, out.into_json(errors))
}

/// How a target's reader comes back: it reconnects (or syncs) and counts what it receives.
enum Reader {
    Helio { url: String, token: String, state: SyncState, id: i64 },
    Xmpp { addr: String, user: String },
    Matrix { user: matrix::User, since: String, limit: u32 },
}

impl Reader {
    /// Comes back online; returns the messages received, whether the server answered
    /// "too long" (Heliograph's horizon) and the `/messages` pages read (Matrix).
    async fn catch_up(self, n: u32) -> Result<(u32, bool, u64)> {
        match self {
            Reader::Helio { url, token, state, id } => {
                let mut config = Config::new(url);
                config.token = Some(token);
                config.state = state;
                let (_client, mut updates) = Client::connect(config).await?;
                let mut got = 0u32;
                while got < n {
                    match tokio::time::timeout(GAP, updates.recv()).await {
                        Ok(Some(Event::Update(u))) => {
                            if let UpdateKind::NewMessage { message } = u.kind {
                                got += u32::from(message.from != id);
                            }
                        }
                        Ok(Some(Event::TooLong { .. })) => return Ok((got, true, 0)),
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
                Ok((got, false, 0))
            }
            Reader::Xmpp { addr, user } => {
                let (_session, mut rx, _conn) = xmpp::login(&addr, &user, "bench").await?;
                let mut got = 0u32;
                while got < n {
                    match tokio::time::timeout(GAP, rx.recv()).await {
                        Ok(Some(_)) => got += 1,
                        _ => break,
                    }
                }
                Ok((got, false, 0))
            }
            Reader::Matrix { user, since, limit } => {
                let (got, pages) = user.catch_up(&since, limit).await?;
                Ok((got as u32, false, pages))
            }
        }
    }
}

async fn catchup_once(common: &Common, a: &CatchupArgs, t: &str, n: u32, rep: usize) -> Result<Value> {
    let data = tempfile::tempdir()?;
    let mut server = None;
    // Sign up, open the chats, take the reader offline with its position.
    let (procs, reader, senders) = match t {
        "heliograph" => {
            let s = Server::heliograph(&common.heliograph(), data.path()).await?;
            let accounts = sign_up_many(&s.url(), 0, a.senders + 1).await?;
            let mut it = accounts.into_iter();
            let reader = it.next().ok_or_else(|| anyhow!("no reader"))?;
            let mut senders = Vec::new();
            for acc in it {
                senders.push(Sender::Helio(acc.client.clone(), acc.client.open_private(reader.id).await?.id));
                drain(acc.updates);
            }
            // Let the reader see the chats, then take it offline with its position.
            let Account { client, mut updates, token, id } = reader;
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), updates.recv()).await {}
            let state = client.state();
            drop((client, updates));
            let procs = Procs(vec![s.pid()]);
            let reader = Reader::Helio { url: s.url(), token, state, id };
            server = Some(s);
            (procs, reader, senders)
        }
        "prosody" | "ejabberd" => {
            let addr = a.targets.xmpp_addr.clone();
            let user = format!("catchup{rep}r");
            // Registered, then signed off cleanly: the server stores what arrives.
            let (session, _, conn) = xmpp::connect(&addr, &user, "bench").await?;
            session.close(conn).await?;
            let to = format!("{user}@localhost");
            let senders: Vec<Result<Sender>> = stream::iter(0..a.senders)
                .map(|i| {
                    let (addr, to) = (addr.clone(), to.clone());
                    async move {
                        let (session, _, conn) = xmpp::connect(&addr, &format!("catchup{rep}s{i}"), "bench").await?;
                        Ok(Sender::Xmpp { session, to, kind: "chat", next_id: AtomicU64::new(0), conn: Some(conn) })
                    }
                })
                .buffered(16)
                .collect()
                .await;
            (a.targets.procs(t)?, Reader::Xmpp { addr, user }, senders.into_iter().collect::<Result<_>>()?)
        }
        _ => {
            let http = matrix::http()?;
            let base = &a.targets.matrix_url;
            let tag = format!("{}-{}", std::process::id(), crate::scenarios::now_us());
            let reader = matrix::user(&http, base, &format!("catchup{tag}r"), "benchbench").await?;
            let senders: Vec<Result<Sender>> = stream::iter(0..a.senders)
                .map(|i| {
                    let (http, reader) = (http.clone(), reader.clone());
                    let tag = &tag;
                    async move {
                        let u = matrix::user(&http, base, &format!("catchup{tag}s{i}"), "benchbench").await?;
                        let room = u.create_dm(&reader.user_id).await?;
                        reader.join(&room).await?;
                        Ok(Sender::Matrix(u, room))
                    }
                })
                .buffered(8)
                .collect()
                .await;
            let senders = senders.into_iter().collect::<Result<_>>()?;
            let since = reader.position().await?;
            (a.targets.procs(t)?, Reader::Matrix { user: reader, since, limit: a.matrix_timeline_limit }, senders)
        }
    };
    let fill = Instant::now();
    fill_backlog(senders, n).await?;
    let fill_s = fill.elapsed().as_secs_f64();
    // Let the server finish storing (XMPP servers ack before their offline storage writes).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = procs.cpu();
    let t0 = Instant::now();
    let (got, too_long, pages) = reader.catch_up(n).await?;
    let secs = t0.elapsed().as_secs_f64();
    if got < n && !too_long {
        bail!("{t}: the reader received {got} of {n} messages");
    }
    let run = json!({
        "messages": n,
        "received": got,
        "too_long": too_long,
        "resync_seconds": secs,
        "messages_per_s": f64::from(got) / secs,
        "fill_seconds": fill_s,
        "pages": pages,
        "server": procs.json(cpu_before),
    });
    if let Some(s) = server {
        s.stop().await?;
    }
    Ok(run)
}

/// Sends `n` messages, shared out over the senders, each waiting for every acknowledgement.
async fn fill_backlog(senders: Vec<Sender>, n: u32) -> Result<()> {
    let count = senders.len() as u32;
    let mut tasks = Vec::new();
    for (i, sender) in senders.into_iter().enumerate() {
        let mine = n / count + u32::from((i as u32) < n % count);
        let sender = Arc::new(sender);
        tasks.push(tokio::spawn(async move {
            for k in 0..mine {
                sender.send(&format!("backlog {k}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
