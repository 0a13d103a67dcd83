//! A quick load check until the benchmark crate exists: N pairs of users exchange 1:1
//! messages through the SDK against an in-process server with durable (FULL) group commit.
//! Prints messages/s acknowledged and delivered, and ack latency percentiles.
//!
//! `cargo run --release -p heliograph-server --example pairs -- [PAIRS] [MESSAGES_PER_SENDER]`

use std::time::{Duration, Instant};

use heliograph_client::{Client, Config, Event};
use heliograph_server::config::Config as ServerConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let pairs: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let per_sender: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let mut config =
        ServerConfig { dev: true, listen: "127.0.0.1:0".parse()?, data_dir: dir.path().to_path_buf(), ..ServerConfig::default() };
    config.limits.requests_per_second = 1_000_000;
    config.limits.requests_burst = 1_000_000;
    config.limits.codes_per_address_per_hour = 1_000_000;
    config.limits.requests_per_address_per_second = 1_000_000;
    config.limits.max_connections_per_address = Some(1_000_000);
    let server = heliograph_server::start(config).await?;
    let url = server.ws_url();

    let mut people = Vec::new();
    for n in 0..pairs * 2 {
        let (client, updates) = Client::connect(Config::new(url.clone())).await?;
        let x = 1 + n % 9;
        let phone = format!("+99966{x}{:04}", n);
        client.send_code(&phone).await?;
        let me = client.sign_in(&phone, &x.to_string().repeat(5), Some(&format!("p{n}")), None).await?.user;
        people.push((client, updates, me.id));
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    let mut it = people.into_iter();
    while let (Some((sender, _, _)), Some((receiver, mut updates, receiver_id))) = (it.next(), it.next()) {
        let chat = sender.open_private(receiver_id).await?.id;
        let receive = tokio::spawn(async move {
            let _keep = receiver; // the update stream lives as long as a client handle does
            let mut got = 0;
            while got < per_sender {
                match tokio::time::timeout(Duration::from_secs(60), updates.recv()).await {
                    Ok(Some(Event::Update(u))) if matches!(u.kind, heliograph_client::proto::UpdateKind::NewMessage { .. }) => got += 1,
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            got
        });
        let send = tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_sender as usize);
            for i in 0..per_sender {
                let t = Instant::now();
                sender.send_message(chat, &format!("message {i}"), None).await.expect("send");
                latencies.push(t.elapsed());
            }
            latencies
        });
        tasks.push((send, receive));
    }
    let mut latencies = Vec::new();
    let mut delivered = 0;
    for (send, receive) in tasks {
        latencies.extend(send.await?);
        delivered += receive.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "pairs={pairs} sent={} delivered={delivered} elapsed={elapsed:.2}s rate={:.0} msg/s ack p50={:.2}ms p99={:.2}ms",
        latencies.len(),
        delivered as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
    server.shutdown().await;
    Ok(())
}
