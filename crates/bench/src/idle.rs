//! `idle`: server memory per authenticated connection held open, per target. Heliograph:
//! SDK clients signed in on their WebSocket; the relay: plain WebSockets (no auth); XMPP:
//! authenticated c2s streams with stream management; Matrix: logged-in clients each with a
//! long-poll `/sync` outstanding (how a Matrix client stays online). Accounts are made
//! first, then the server process is started again, so sign-up garbage is not counted.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use futures_util::{stream, StreamExt};
use heliograph_client::{Client, Config};
use serde_json::{json, Value};

use crate::proc::Server;
use crate::scenarios::{sign_up_many, write_result};
use crate::targets::{ByTarget, Procs, TargetArgs};
use crate::{matrix, relay, xmpp, Common};

#[derive(Args, Clone)]
pub struct IdleArgs {
    /// Idle authenticated connections.
    #[arg(long, default_value_t = 2000)]
    connections: u32,
    /// Connections for Synapse, if fewer (0 = `--connections`).
    #[arg(long, default_value_t = 0)]
    synapse_connections: u32,
    /// Seconds to let the server settle before each memory reading.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    #[command(flatten)]
    targets: TargetArgs,
}

/// Whatever keeps one connection open.
type Held = Box<dyn std::any::Any + Send>;

pub async fn idle(common: &Common, a: IdleArgs) -> Result<()> {
    let targets = a.targets.list("heliograph", &crate::targets::ALL)?;
    let mut out = ByTarget::default();
    let errors = a
        .targets
        .each("idle", &targets, async |t| {
            let n = if t == "synapse" && a.synapse_connections > 0 { a.synapse_connections } else { a.connections };
            let mut runs = Vec::new();
            for rep in 0..common.reps {
                let run = idle_once(common, &a, t, n, rep).await?;
                eprintln!("idle {t} rep {rep}: {} connections, {:.1} KiB each", run["connections"], run["kib_per_connection"]);
                runs.push(run);
            }
            out.insert(t, runs);
            Ok(())
        })
        .await?;
    let params =
        json!({"connections": a.connections, "synapse_connections": a.synapse_connections, "reps": common.reps, "targets": targets});
    write_result(common, "idle", params, out.into_json(errors))
}

/// The server measured and the connections it holds: RSS before and after they connect.
async fn idle_once(common: &Common, a: &IdleArgs, t: &str, n: u32, rep: usize) -> Result<Value> {
    let settle = || tokio::time::sleep(Duration::from_secs_f64(a.settle));
    let data = tempfile::tempdir()?;
    let mut server = None;
    let mut restarted = true;
    let procs;
    let held: Vec<Held>;
    let before;
    match t {
        "relay" => {
            let s = Server::relay().await?;
            let url = format!("ws://{}/", s.addr());
            restarted = false; // no accounts to make
            procs = Procs(vec![s.pid()]);
            server = Some(s);
            settle().await;
            before = procs.server();
            held = boxed(
                hold(n, |i| {
                    let url = url.clone();
                    async move { relay::connect(&url, u64::from(i)).await }
                })
                .await?,
            );
        }
        "heliograph" => {
            let s = Server::heliograph(&common.heliograph(), data.path()).await?;
            let tokens: Vec<String> = sign_up_many(&s.url(), 0, n).await?.into_iter().map(|acc| acc.token).collect();
            s.stop().await?;
            let s = Server::heliograph(&common.heliograph(), data.path()).await?;
            let url = s.url();
            procs = Procs(vec![s.pid()]);
            server = Some(s);
            settle().await;
            before = procs.server();
            let tokens = std::sync::Arc::new(tokens);
            held = boxed(
                hold(n, |i| {
                    let (url, tokens) = (url.clone(), tokens.clone());
                    async move {
                        let mut config = Config::new(url);
                        config.token = Some(tokens[i as usize].clone());
                        config.poll_interval = Duration::from_secs(3600);
                        let (client, mut updates) = Client::connect(config).await?;
                        // Connected and authorized: the first event.
                        let _ = tokio::time::timeout(Duration::from_secs(10), updates.recv()).await;
                        anyhow::Ok((client, updates))
                    }
                })
                .await?,
            );
        }
        "prosody" | "ejabberd" => {
            let addr = a.targets.xmpp_addr.clone();
            let user = move |i: u32| format!("idle{rep}x{i}");
            // Register every account, ending each stream cleanly.
            hold(n, |i| {
                let addr = addr.clone();
                async move {
                    let (session, _, conn) = xmpp::connect(&addr, &user(i), "bench").await?;
                    session.close(conn).await
                }
            })
            .await?;
            restarted = a.targets.restart(t)?;
            procs = a.targets.procs(t)?;
            settle().await;
            before = procs.server();
            held = boxed(
                hold(n, |i| {
                    let addr = addr.clone();
                    async move { xmpp::login(&addr, &user(i), "bench").await }
                })
                .await?,
            );
        }
        _ => {
            let http = matrix::http()?;
            let base = a.targets.matrix_url.clone();
            let users = hold(n, |i| {
                let (http, base) = (http.clone(), base.clone());
                async move { matrix::user(&http, &base, &format!("idle{rep}x{i}"), "benchbench").await }
            })
            .await?;
            restarted = a.targets.restart(t)?;
            procs = a.targets.procs(t)?;
            settle().await;
            before = procs.server();
            let users = std::sync::Arc::new(users);
            held = boxed(
                hold(n, |i| {
                    let users = users.clone();
                    async move { users[i as usize].stay_online().await }
                })
                .await?,
            );
        }
    }
    settle().await;
    let after = procs.server();
    let per_conn = (after.rss_kib as f64 - before.rss_kib as f64) / held.len() as f64;
    let run = json!({
        "connections": held.len(),
        "rss_before_mib": before.rss_kib as f64 / 1024.0,
        "rss_after_mib": after.rss_kib as f64 / 1024.0,
        "kib_per_connection": per_conn,
        "server": procs.json(0.0),
        "restarted_after_sign_up": restarted,
    });
    drop(held);
    if let Some(s) = server {
        s.stop().await?;
    }
    Ok(run)
}

/// Runs `open(0..n)`, 64 at a time; every result in order, or the first error.
async fn hold<T, F, Fut>(n: u32, open: F) -> Result<Vec<T>>
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    stream::iter(0..n).map(open).buffered(64).collect::<Vec<_>>().await.into_iter().collect()
}

fn boxed<T: Send + 'static>(conns: Vec<T>) -> Vec<Held> {
    conns.into_iter().map(|c| Box::new(c) as Held).collect()
}
