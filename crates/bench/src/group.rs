//! `group`: M members all online in one group, S of them sending as fast as acknowledgements
//! allow; deliveries/s and send-to-receive latency, per target. Heliograph: a group chat;
//! XMPP: a MUC room (XEP-0045) on `conference.localhost`; Matrix: a public room every
//! member joins, each member long-polling `/sync`. The workload is pairs' (`drive`), with
//! one send in flight per sender and every member receiving.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use crate::proc::Server;
use crate::scenarios::{drive, lat_json, sign_up_many, write_result, Driven, Load, Receiver, Sender};
use crate::targets::{ByTarget, Procs, TargetArgs};
use crate::{matrix, xmpp, Common};

#[derive(Args, Clone)]
pub struct GroupArgs {
    #[arg(long, default_value_t = 500)]
    members: u32,
    #[arg(long, default_value_t = 50)]
    senders: u32,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Members for Synapse, if fewer (0 = `--members`).
    #[arg(long, default_value_t = 0)]
    synapse_members: u32,
    /// Senders for Synapse, if fewer (0 = `--senders`).
    #[arg(long, default_value_t = 0)]
    synapse_senders: u32,
    #[command(flatten)]
    targets: TargetArgs,
}

pub async fn group(common: &Common, a: GroupArgs) -> Result<()> {
    let targets = a.targets.list("heliograph", &crate::targets::SERVERS)?;
    let mut out = ByTarget::default();
    let errors = a
        .targets
        .each("group", &targets, async |t| {
            let (members, senders) = match t {
                "synapse" if a.synapse_members > 0 => {
                    (a.synapse_members, if a.synapse_senders > 0 { a.synapse_senders } else { a.senders })
                }
                "synapse" if a.synapse_senders > 0 => (a.members, a.synapse_senders),
                _ => (a.members, a.senders),
            };
            let mut runs = Vec::new();
            for rep in 0..common.reps {
                let run = group_once(common, &a, t, members, senders.min(members)).await?;
                eprintln!(
                    "group {t} rep {rep}: {members} members, {:.0} sends/s, {:.0} deliveries/s, p99 {} ms",
                    run["sends_per_s"].as_f64().unwrap_or(0.0),
                    run["deliveries_per_s"].as_f64().unwrap_or(0.0),
                    run["latency"]["p99_ms"]
                );
                runs.push(run);
            }
            out.insert(t, runs);
            Ok(())
        })
        .await?;
    let params = json!({
        "members": a.members, "senders": a.senders, "duration_s": a.duration, "warmup_s": a.warmup, "reps": common.reps,
        "synapse_members": a.synapse_members, "synapse_senders": a.synapse_senders, "targets": targets,
    });
    write_result(common, "group", params, out.into_json(errors))
}

async fn group_once(common: &Common, a: &GroupArgs, t: &str, members: u32, senders: u32) -> Result<Value> {
    let setup = Instant::now();
    let data = tempfile::tempdir()?;
    let mut server = None;
    let (procs, (sending, receiving)) = match t {
        "heliograph" => {
            let s = Server::heliograph(&common.heliograph(), data.path()).await?;
            let conns = helio_group(&s.url(), members, senders).await?;
            let procs = Procs(vec![s.pid()]);
            server = Some(s);
            (procs, conns)
        }
        "prosody" | "ejabberd" => (a.targets.procs(t)?, xmpp_group(&a.targets.xmpp_addr, members, senders).await?),
        _ => (a.targets.procs(t)?, matrix_group(&a.targets.matrix_url, members, senders).await?),
    };
    let setup_s = setup.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = procs.cpu();
    let load = Load { inflight: 1, duration: a.duration, warmup: a.warmup, size: 64 };
    let Driven { delivered_per_s, sent_per_s, latency, send_errors, first_error } = drive(sending, receiving, &load, 0).await?;
    let mut run = json!({
        "members": members,
        "senders": senders,
        "sends_per_s": sent_per_s,
        "deliveries_per_s": delivered_per_s,
        "latency": lat_json(&latency),
        "send_errors": send_errors,
        "setup_seconds": setup_s,
        "server": procs.json(cpu_before),
    });
    if let Some(e) = first_error {
        run["first_send_error"] = json!(e);
    }
    if let Some(s) = server {
        s.stop().await?;
    }
    Ok(run)
}

type Group = (Vec<Sender>, Vec<Receiver>);

/// A Heliograph group: member 0 creates it with the others (100 per request).
async fn helio_group(url: &str, members: u32, senders: u32) -> Result<Group> {
    let accounts = sign_up_many(url, 0, members).await?;
    let ids: Vec<i64> = accounts.iter().map(|acc| acc.id).collect();
    let chat = accounts[0].client.create_group("bench group", &ids[1..ids.len().min(100)]).await?.id;
    for chunk in ids[ids.len().min(100)..].chunks(100) {
        accounts[0].client.add_members(chat, chunk).await?;
    }
    let mut group: Group = (Vec::new(), Vec::new());
    for (i, acc) in accounts.into_iter().enumerate() {
        if (i as u32) < senders {
            group.0.push(Sender::Helio(acc.client.clone(), chat));
        }
        group.1.push(Receiver::Helio(acc.updates, acc.id, acc.client));
    }
    Ok(group)
}

/// A MUC room: member 0 creates it (an instant room), then the others enter, 16 at a time.
async fn xmpp_group(addr: &str, members: u32, senders: u32) -> Result<Group> {
    let room = format!("bench{}-{}@conference.localhost", std::process::id(), crate::scenarios::now_us());
    let join = |i: u32| {
        let room = room.clone();
        async move {
            let (session, rx, conn) = xmpp::connect(addr, &format!("group{i}"), "bench").await?;
            session.join_room(&room, i == 0).await?;
            anyhow::Ok((session, rx, conn))
        }
    };
    let first = join(0).await?;
    let rest: Vec<Result<_>> = stream::iter(1..members).map(join).buffered(16).collect().await;
    let mut group: Group = (Vec::new(), Vec::new());
    for (i, m) in std::iter::once(Ok(first)).chain(rest).enumerate() {
        let (session, rx, conn) = m?;
        if (i as u32) < senders {
            group.0.push(Sender::Xmpp {
                session: session.clone(),
                to: room.clone(),
                kind: "groupchat",
                next_id: AtomicU64::new(0),
                conn: None,
            });
        }
        group.1.push(Receiver::Chan(rx, Box::new((session, conn))));
    }
    Ok(group)
}

/// A public Matrix room: member 0 creates it, the others join (8 at a time) and sync.
async fn matrix_group(base: &str, members: u32, senders: u32) -> Result<Group> {
    let http = matrix::http()?;
    let tag = format!("{}-{}", std::process::id(), crate::scenarios::now_us());
    let owner = matrix::user(&http, base, &format!("group{tag}x0"), "benchbench").await?;
    let room = owner.create_room("bench group").await?;
    let first = owner.receive(&room).await.map(|(rx, task)| (owner, rx, task));
    let rest: Vec<Result<_>> = stream::iter(1..members)
        .map(|i| {
            let (http, room, tag) = (http.clone(), room.clone(), tag.clone());
            async move {
                let u = matrix::user(&http, base, &format!("group{tag}x{i}"), "benchbench").await?;
                u.join(&room).await?;
                let (rx, task) = u.receive(&room).await?;
                anyhow::Ok((u, rx, task))
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mut group: Group = (Vec::new(), Vec::new());
    for (i, m) in std::iter::once(first).chain(rest).enumerate() {
        let (u, rx, task) = m?;
        if (i as u32) < senders {
            group.0.push(Sender::Matrix(u, room.clone()));
        }
        group.1.push(Receiver::Chan(rx, Box::new(task)));
    }
    Ok(group)
}
