//! `coldstart`: time from starting a server's process to serving, per target. Every target
//! is measured on a database holding one account, to the first login it accepts
//! (Heliograph: the SDK's token sign-in and a `users.get_me` answered; XMPP: SASL, bind and
//! stream management done; Matrix: `POST /login` answered), polled every 5 ms. Heliograph is
//! also measured on a filled database (`--db-mib`, 4,000-byte messages), to serving (the
//! address file `serve --address-file` writes once it accepts connections, looked for every
//! 2 ms by the test kit, then `/healthz` answered) and to that first login.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use heliograph_client::{Client, Config};
use heliograph_testkit::Binary;
use serde_json::{json, Value};

use crate::proc::{dir_bytes, Server};
use crate::scenarios::{drain, sign_up, sign_up_many, write_result};
use crate::targets::{ByTarget, Procs, TargetArgs};
use crate::{matrix, xmpp, Common};

#[derive(Args, Clone)]
pub struct ColdstartArgs {
    /// Fill Heliograph's database to at least this many MiB for its second series (0 = no
    /// filled series).
    #[arg(long, default_value_t = 1024)]
    db_mib: u64,
    /// Starts measured per target and database.
    #[arg(long, default_value_t = 5)]
    starts: u32,
    #[command(flatten)]
    targets: TargetArgs,
}

pub async fn coldstart(common: &Common, a: ColdstartArgs) -> Result<()> {
    let targets = a.targets.list("heliograph", &crate::targets::SERVERS)?;
    let mut out = ByTarget::default();
    let mut filled = json!({});
    let errors = a
        .targets
        .each("coldstart", &targets, async |t| {
            if t == "heliograph" {
                let bin = common.heliograph();
                let data = tempfile::tempdir()?;
                let server = Server::heliograph(&bin, data.path()).await?;
                let token = sign_up(&server.url(), 0).await?.token;
                server.stop().await?;
                out.insert("heliograph", helio_starts(&bin, data.path(), &token, a.starts, "one account").await?);
                if a.db_mib > 0 {
                    let data = tempfile::tempdir()?;
                    let (token, params) = fill(&bin, data.path(), a.db_mib).await?;
                    out.insert("heliograph_filled", helio_starts(&bin, data.path(), &token, a.starts, "filled").await?);
                    filled = params;
                }
            } else {
                out.insert(t, peer_starts(&a, t).await?);
            }
            Ok(())
        })
        .await?;
    let mut params = json!({"db_mib_target": a.db_mib, "starts": a.starts, "targets": targets});
    if let (Value::Object(p), Value::Object(f)) = (&mut params, filled) {
        p.extend(f);
    }
    write_result(common, "coldstart", params, out.into_json(errors))
}

/// Starts Heliograph `starts` times over `data`: time to `/healthz` and to a login answered.
async fn helio_starts(bin: &Binary, data: &Path, token: &str, starts: u32, label: &str) -> Result<Vec<Value>> {
    let mut runs = Vec::new();
    for i in 0..starts.max(1) {
        let t0 = Instant::now();
        let server = Server::heliograph(bin, data).await?;
        let mut config = Config::new(server.url());
        config.token = Some(token.to_string());
        let (client, updates) = Client::connect(config).await?;
        client.get_me().await?;
        let login_ms = t0.elapsed().as_secs_f64() * 1000.0;
        drop((client, updates));
        let ready_ms = server.ready_after().as_secs_f64() * 1000.0;
        eprintln!("coldstart heliograph ({label}) {i}: serving in {ready_ms:.1} ms, first login answered in {login_ms:.1} ms");
        runs.push(json!({"ready_ms": ready_ms, "login_ms": login_ms, "server": Procs(vec![server.pid()]).json(0.0)}));
        server.stop().await?;
    }
    Ok(runs)
}

/// Fills a Heliograph data folder to `db_mib` with 4,000-byte messages in 16 private chats;
/// a token of one of its accounts and what was written.
async fn fill(bin: &Binary, data: &Path, db_mib: u64) -> Result<(String, Value)> {
    let server = Server::heliograph(bin, data).await?;
    let url = server.url();
    let started = Instant::now();
    let accounts = sign_up_many(&url, 0, 32).await?;
    let token = accounts[0].token.clone();
    let mut it = accounts.into_iter();
    let mut chats = Vec::new();
    while let (Some(s), Some(r)) = (it.next(), it.next()) {
        chats.push((s.client.open_private(r.id).await?.id, s.client));
        drain(s.updates);
        drain(r.updates);
        std::mem::forget(r.client);
    }
    let text = "y".repeat(4000);
    let target = db_mib * 1024 * 1024;
    let mut messages = 0u64;
    while dir_bytes(data) < target {
        let batch: Vec<_> = chats
            .iter()
            .flat_map(|(chat, c)| (0..8).map(move |_| (*chat, c.clone())))
            .map(|(chat, c)| {
                let text = text.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        c.send_message(chat, &text, None).await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for t in batch {
            t.await??;
        }
        messages += chats.len() as u64 * 8 * 50;
    }
    let fill_s = started.elapsed().as_secs_f64();
    server.stop().await?;
    let db_bytes = dir_bytes(data);
    eprintln!("coldstart: filled {} MiB ({messages} messages) in {fill_s:.0} s", db_bytes / (1 << 20));
    Ok((token, json!({"db_bytes": db_bytes, "messages": messages, "fill_seconds": fill_s})))
}

/// Starts a peer `starts` times on its data (one account): from the moment its script
/// launches the server process (`started_at` on the script's stdout) to the first login
/// it accepts.
async fn peer_starts(a: &ColdstartArgs, t: &str) -> Result<Vec<Value>> {
    if a.targets.no_manage_peers {
        bail!("coldstart starts {t} itself, which --no-manage-peers forbids");
    }
    let http = matrix::http()?;
    let login = async || -> Result<()> {
        match t {
            "synapse" => matrix::login(&http, &a.targets.matrix_url, "cold", "benchbench").await.map(drop),
            _ => {
                let (session, _, conn) = xmpp::login(&a.targets.xmpp_addr, "cold", "bench").await?;
                session.close(conn).await
            }
        }
    };
    // The one account (the peer was just started on fresh data).
    match t {
        "synapse" => drop(matrix::user(&http, &a.targets.matrix_url, "cold", "benchbench").await?),
        _ => {
            let (session, _, conn) = xmpp::connect(&a.targets.xmpp_addr, "cold", "bench").await?;
            session.close(conn).await?;
        }
    }
    let mut runs = Vec::new();
    for i in 0..a.starts.max(1) {
        a.targets.script(t, "stop")?;
        let child =
            a.targets.command(t, "start").env("BENCH_KEEP_DATA", "1").stdout(Stdio::piped()).spawn().context("starting the peer")?;
        let deadline = Instant::now() + Duration::from_secs(180);
        let served = loop {
            if login().await.is_ok() {
                break SystemTime::now();
            }
            if Instant::now() > deadline {
                bail!("{t} accepted no login within 180 s of its start");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
        if !output.status.success() {
            bail!("{t}.sh start failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let started_ns: u128 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("started_at "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow!("{t}.sh start printed no started_at line: {stdout:?}"))?;
        let served_ns = served.duration_since(UNIX_EPOCH)?.as_nanos();
        let ms = served_ns.saturating_sub(started_ns) as f64 / 1e6;
        eprintln!("coldstart {t} {i}: first login accepted {ms:.0} ms after the process was launched");
        runs.push(json!({"login_ms": ms, "server": a.targets.procs(t)?.json(0.0)}));
    }
    Ok(runs)
}
