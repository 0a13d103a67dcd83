//! The same 1:1 workload against single-node SQLite and against 1, 2 and 3 nodes sharing one
//! PostgreSQL and one NATS, in one run. The nodes are real `heliograph` processes (release
//! build, started here as children); the load is N pairs of SDK clients, each sender sending
//! its messages one after another (waiting for each acknowledgement), its receiver on another
//! node whenever there are several. Reports messages/s (delivered to the receivers), and ack
//! and send-to-receive latency percentiles.
//!
//! ```sh
//! cargo build --release --bin heliograph
//! cargo run --release -p heliograph-server --example cluster_bench -- \
//!     --postgres postgres://postgres:postgres@127.0.0.1:5432/postgres --nats nats://127.0.0.1:4222
//! ```
//!
//! Options: `--pairs N` (50), `--messages M` per sender (200), `--setups LIST` (comma-separated
//! from `sqlite,pg1local,pg1,pg2,pg3`, all by default; `pg1local` is one PostgreSQL node with
//! the in-process bus; `pg*` need `--postgres`, an admin URL through which a fresh database is
//! created per setup and dropped afterwards, and all but `pg1local` need `--nats`),
//! `--binary PATH` (default: `HELIOGRAPH_BIN`, or `heliograph` next to this example's folder). `--postgres` and
//! `--nats` default to `HELIOGRAPH_TEST_POSTGRES` and `HELIOGRAPH_TEST_NATS`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use heliograph_client::proto::{self, UpdateKind};
use heliograph_client::{Client, Config, Event};
use heliograph_testkit::postgres::Database;
use heliograph_testkit::Binary;

struct Options {
    pairs: u32,
    messages: u32,
    setups: Vec<String>,
    postgres: Option<String>,
    nats: Option<String>,
    binary: Binary,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        pairs: 50,
        messages: 200,
        setups: ["sqlite", "pg1local", "pg1", "pg2", "pg3"].map(String::from).to_vec(),
        postgres: std::env::var("HELIOGRAPH_TEST_POSTGRES").ok().filter(|v| !v.is_empty()),
        nats: std::env::var("HELIOGRAPH_TEST_NATS").ok().filter(|v| !v.is_empty()),
        binary: Binary::new().dev().lift_limits(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--pairs" => o.pairs = value()?.parse()?,
            "--messages" => o.messages = value()?.parse()?,
            "--setups" => o.setups = value()?.split(',').map(str::to_owned).collect(),
            "--postgres" => o.postgres = Some(value()?),
            "--nats" => o.nats = Some(value()?),
            "--binary" => o.binary = o.binary.path(value()?),
            other => bail!("unknown argument {other}; see the top of examples/cluster_bench.rs"),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    println!("workload: {} pairs, {} messages per sender, sequential sends (each waits for its ack)", o.pairs, o.messages);
    println!(
        "{:<32} {:>9} {:>10} {:>9} {:>9} {:>11} {:>11}",
        "setup", "delivered", "msg/s", "ack p50", "ack p99", "deliv. p50", "deliv. p99"
    );
    for setup in &o.setups {
        let (nodes, postgres) = match setup.as_str() {
            "sqlite" => (1, false),
            "pg1local" => (1, true),
            "pg1" => (1, true),
            "pg2" => (2, true),
            "pg3" => (3, true),
            other => bail!("unknown setup {other}"),
        };
        let label = match setup.as_str() {
            "sqlite" => "1 node, SQLite".to_owned(),
            "pg1local" => "1 node, PostgreSQL, no NATS".to_owned(),
            _ => format!("{nodes} node{}, PostgreSQL + NATS", if nodes > 1 { "s" } else { "" }),
        };
        let dir = tempfile::tempdir()?;
        let db = match postgres {
            true => {
                let admin = o.postgres.as_deref().context("pg setups need --postgres URL (or HELIOGRAPH_TEST_POSTGRES)")?;
                Some(Database::create(admin).await)
            }
            false => None,
        };
        let bus = match postgres && setup != "pg1local" {
            true => Some(o.nats.clone().context("pg setups need --nats URL (or HELIOGRAPH_TEST_NATS)")?),
            false => None,
        };
        let mut children = Vec::new();
        for n in 0..nodes {
            let mut node = o.binary.clone().data(dir.path().join(format!("node{n}")));
            if let Some(db) = &db {
                node = node.database_of(db);
            }
            if let Some(bus) = &bus {
                node = node.bus(bus);
            }
            children.push(node.start().await?); // one at a time: the first applies the migrations
        }
        let urls: Vec<String> = children.iter().map(|n| n.url()).collect();
        let result = tokio::time::timeout(Duration::from_secs(300), run(&urls, o.pairs, o.messages)).await;
        drop(children);
        drop(db);
        match result {
            Ok(Ok(r)) => println!(
                "{label:<32} {:>9} {:>10.0} {:>7.2}ms {:>7.2}ms {:>9.2}ms {:>9.2}ms",
                r.delivered, r.rate, r.ack.0, r.ack.1, r.delivery.0, r.delivery.1
            ),
            Ok(Err(e)) => println!("{label:<32} failed: {e:#}"),
            Err(_) => println!("{label:<32} did not finish within 300 s"),
        }
    }
    Ok(())
}

struct Outcome {
    delivered: u64,
    rate: f64,
    /// p50, p99 in milliseconds.
    ack: (f64, f64),
    delivery: (f64, f64),
}

/// Signs in 2 x `pairs` people (sender of pair i on node i, its receiver on node i + 1), then
/// every sender sends `messages` messages to its receiver.
async fn run(urls: &[String], pairs: u32, messages: u32) -> anyhow::Result<Outcome> {
    let k = urls.len();
    let config = |node: usize| {
        let mut c = Config::new(urls[node % k].clone());
        c.urls = (0..k).map(|i| urls[(node + i) % k].clone()).collect();
        c
    };
    let mut pairs_of = Vec::new();
    for i in 0..pairs {
        let mut pair = Vec::new();
        for side in 0..2u32 {
            let n = 2 * i + side;
            let (client, updates) = Client::connect(config(i as usize + side as usize)).await?;
            let x = 1 + n % 9;
            let phone = format!("+99966{x}{:04}", n);
            client.send_code(&phone).await?;
            let me = client.sign_in(&phone, &x.to_string().repeat(5), Some(&format!("p{n}")), None).await?.user;
            pair.push((client, updates, me.id));
        }
        pairs_of.push(pair);
    }
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    let started = Instant::now();
    for mut pair in pairs_of {
        let (receiver, mut updates, receiver_id) = pair.pop().context("pair")?;
        let (sender, _sender_updates, _) = pair.pop().context("pair")?;
        let chat = sender.open_private(receiver_id).await?.id;
        let receive = tokio::spawn(async move {
            let _keep = receiver; // the update stream lives as long as a client handle does
            let mut latencies = Vec::with_capacity(messages as usize);
            while (latencies.len() as u32) < messages {
                match tokio::time::timeout(Duration::from_secs(60), updates.recv()).await {
                    Ok(Some(Event::Update(proto::Update { kind: UpdateKind::NewMessage { message }, .. }))) => {
                        // The text is the send time, in microseconds since `epoch`.
                        let sent: u64 = message.content.text().and_then(|t| t.parse().ok()).unwrap_or(0);
                        latencies.push(epoch.elapsed().saturating_sub(Duration::from_micros(sent)));
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            (latencies, Instant::now())
        });
        let send = tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(messages as usize);
            for _ in 0..messages {
                let t = Instant::now();
                let text = epoch.elapsed().as_micros().to_string();
                sender.send_message(chat, &text, None).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok((latencies, _sender_updates))
        });
        tasks.push((send, receive));
    }
    let mut acks = Vec::new();
    let mut deliveries = Vec::new();
    let mut last = started;
    let mut keep = Vec::new();
    for (send, receive) in tasks {
        let (latencies, updates) = send.await??;
        acks.extend(latencies);
        keep.push(updates);
        let (latencies, done) = receive.await?;
        deliveries.extend(latencies);
        last = last.max(done);
    }
    let expected = u64::from(pairs) * u64::from(messages);
    if deliveries.len() as u64 != expected {
        bail!("{} of {expected} messages delivered", deliveries.len());
    }
    let elapsed = (last - started).as_secs_f64();
    Ok(Outcome {
        delivered: expected,
        rate: expected as f64 / elapsed,
        ack: percentiles(&mut acks),
        delivery: percentiles(&mut deliveries),
    })
}

fn percentiles(v: &mut [Duration]) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}
