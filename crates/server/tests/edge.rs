//! The network edge, probed from outside on loopback: connections that send nothing are
//! closed within the header timeout counted from accept; under a flood of idle connections
//! from one address (the real binary, started under an open-file limit of 1,024) the
//! per-address cap and the descriptor reserve keep `/healthz` and a signed-in user working.

mod common;

use std::time::{Duration, Instant};

use common::{InProcess, Person};
use heliograph_client::{Client, Config as ClientConfig};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// Reads until the server closes the connection (EOF or reset); `None` if it is still open
/// after `wait`.
async fn closed_within(mut tcp: TcpStream, wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 512];
    tokio::time::timeout(wait, async { while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {} }).await.ok().map(|()| started.elapsed())
}

/// 50 connections that never send a byte are closed within the 1 s header timeout (the timer
/// starts at accept, not at the first byte), while a WebSocket opened at the same time stays.
#[tokio::test]
async fn silent_connections_are_closed_within_the_header_timeout() {
    let server = InProcess::start_with(|c| c.limits.header_read_timeout_secs = 1).await;
    let mut alice = Person::sign_in(&server, 1).await;
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr()).await.expect("connect"));
    }
    let started = Instant::now();
    let closed = futures_util::future::join_all(silent.into_iter().map(|tcp| closed_within(tcp, Duration::from_secs(5)))).await;
    let open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(open, 0, "{open} of 50 silent connections still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3), "closed after {:?}, the timeout is 1 s", started.elapsed());
    // The deadline ends with the first request: the WebSocket outlived it and still works.
    let group = alice.client.create_group("after the deadline", &[]).await.expect("create_group after the deadline");
    alice.client.send_message(group.id, "still here", None).await.expect("send after the deadline");
    alice.expect_update("the message", |u| matches!(u, heliograph_client::proto::UpdateKind::NewMessage { .. })).await;
}

/// `heliograph serve --dev` with an open-file limit of 1,024 and a metrics listener on
/// `metrics`; `env` on top.
async fn limited(metrics: std::net::SocketAddr, env: &[(&str, &str)]) -> heliograph_testkit::Server {
    let binary = heliograph_testkit::Binary::new()
        .dev()
        .open_files(1024)
        .env("RUST_LOG", "info")
        .env("HELIOGRAPH_METRICS_LISTEN", metrics.to_string())
        // The flood must stay for the whole test, not be timed out halfway.
        .env("HELIOGRAPH_LIMITS__HEADER_READ_TIMEOUT_SECS", "60");
    env.iter().fold(binary, |b, (key, value)| b.env(key, value)).start().await.expect("heliograph starts")
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port")
}

/// `/healthz`'s status, or `None` when it did not answer within 2 s.
async fn healthz(base: &str) -> Option<u16> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    match http.get(format!("{base}/healthz")).send().await {
        Ok(r) => Some(r.status().as_u16()),
        Err(e) => {
            eprintln!("healthz {base}: {e:?}");
            None
        }
    }
}

async fn signed_in(url: &str, n: u32) -> Client {
    let (client, _updates) = Client::connect(ClientConfig::new(url)).await.expect("SDK connects");
    let (phone, code) = common::test_phone(n);
    client.send_code(&phone).await.expect("send_code");
    client.sign_in(&phone, &code, Some("Edge"), Some("test")).await.expect("sign_in");
    client
}

/// `count` idle TCP connections from `from` (a loopback address of its own), as many as
/// connect; and how many of them the server still holds open a moment later.
async fn flood(to: u16, from: &str, count: usize) -> (Vec<TcpStream>, usize) {
    let mut sockets = Vec::new();
    for _ in 0..count {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(format!("{from}:0").parse().expect("addr")).expect("bind a loopback source address");
        if let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(2), socket.connect(([127, 0, 0, 1], to).into())).await {
            sockets.push(tcp);
        }
    }
    // A socket the server refused reads EOF (after a one-line answer); a held one reads nothing.
    let mut held = Vec::new();
    let probes = sockets.into_iter().map(|mut tcp| async move {
        let mut buf = [0u8; 256];
        let open = tokio::time::timeout(Duration::from_millis(1500), async { while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {} })
            .await
            .is_err();
        (tcp, open)
    });
    for (tcp, open) in futures_util::future::join_all(probes).await {
        if open {
            held.push(tcp);
        }
    }
    let n = held.len();
    (held, n)
}

/// With the default caps under a 1,024 open-file limit (a reserve of 128, 896 connections,
/// 224 per address), 2,000 idle connections from one address get 224 slots; /healthz and a
/// new WebSocket from another address work, and a signed-in user keeps sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_the_descriptors() {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the test's own open-file limit");
    let server = limited(free_addr(), &[]).await;
    let alice = signed_in(&server.url(), 1).await;
    let group = alice.create_group("flood", &[]).await.expect("create_group");
    let (_flood, held) = flood(server.port(), "127.0.0.2", 2000).await;
    assert!(held > 0 && held <= 224, "the server holds {held} idle connections from one address, its cap is 224");
    assert_eq!(healthz(&server.url()).await, Some(200), "/healthz under the flood:\n{}", server.log());
    alice.send_message(group.id, "during the flood", None).await.expect("a signed-in user keeps sending");
    let bob = signed_in(&server.url(), 2).await;
    assert_eq!(bob.get_me().await.expect("get_me").name, "Edge", "a new WebSocket signs in");
}

/// With the per-address cap lifted, 2,000 idle connections from one address fill the whole
/// cap (896): new connections on the public port are refused with a 503, but the
/// descriptor reserve keeps the signed-in user's sends (the database) and the metrics
/// listener's /healthz working; closing the flood frees the slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reserve_holds_when_the_cap_is_reached() {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the test's own open-file limit");
    let metrics = free_addr();
    let server = limited(metrics, &[("HELIOGRAPH_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "100000")]).await;
    let alice = signed_in(&server.url(), 1).await;
    let group = alice.create_group("flood", &[]).await.expect("create_group");
    let (flooded, held) = flood(server.port(), "127.0.0.2", 2000).await;
    assert!(held > 800 && held < 896, "the flood holds {held} connections; the cap is 896 with alice's");
    assert_eq!(healthz(&server.url()).await, Some(503), "the public port is full and says so");
    assert_eq!(healthz(&format!("http://{metrics}")).await, Some(200), "the metrics listener's /healthz");
    for n in 0..20 {
        alice.send_message(group.id, &format!("at the cap {n}"), None).await.expect("a signed-in user keeps sending");
    }
    assert!(!server.log().contains("cannot accept"), "the process ran out of descriptors:\n{}", server.log());
    drop(flooded);
    let deadline = Instant::now() + Duration::from_secs(10);
    while healthz(&server.url()).await != Some(200) {
        assert!(Instant::now() < deadline, "the slots were not freed after the flood closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
