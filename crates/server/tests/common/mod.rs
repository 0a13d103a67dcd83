//! A real server for tests: in-process, on 127.0.0.1:0, with a temporary data folder.
#![allow(dead_code)]

pub mod bot;
pub mod pg;

use heliograph_server::{config::Config, Server};

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts with `tweak` applied to a development config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config =
            Config { dev: true, listen: "127.0.0.1:0".parse().expect("addr"), data_dir: dir.path().to_path_buf(), ..Config::default() };
        // Every test client comes from 127.0.0.1: per-address limits are tested on their own
        // (tests/abuse.rs), not by accident.
        config.limits.requests_per_address_per_second = 1_000_000;
        config.limits.max_connections_per_address = 1_000_000;
        config.failed_auth.per_address_burst = 1_000_000;
        config.failed_auth.per_target_burst = 1_000_000;
        tweak(&mut config);
        let server = heliograph_server::start(config).await.expect("server starts");
        TestServer { server: Some(server), dir }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().expect("running").ws_url()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").addr()
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// The nth test phone number and its code: `+99966X0000 + n` signs in with `XXXXX`.
pub fn test_phone(n: u32) -> (String, String) {
    let x = 1 + n % 9;
    (format!("+99966{x}{:04}", n), x.to_string().repeat(5))
}

use heliograph_client::{proto, Client, Config as ClientConfig, Event, Updates};
use std::time::Duration;

/// A signed-in SDK client for test user `n`.
pub struct Person {
    pub client: Client,
    pub updates: Updates,
    pub me: proto::User,
    pub token: String,
}

impl Person {
    pub async fn sign_in(server: &TestServer, n: u32) -> Person {
        let (client, updates) = Client::connect(ClientConfig::new(server.url())).await.expect("SDK connects");
        let (phone, code) = test_phone(n);
        client.send_code(&phone).await.expect("send_code");
        let auth = client.sign_in(&phone, &code, Some(&format!("Person {n}")), Some("test")).await.expect("sign_in");
        Person { client, updates, me: auth.user, token: auth.token }
    }

    pub fn id(&self) -> i64 {
        self.me.id
    }

    /// The next update matching `want`, skipping others; panics after 10 s.
    pub async fn expect_update(&mut self, what: &str, want: impl Fn(&proto::UpdateKind) -> bool) -> proto::Update {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(Event::Update(u))) if want(&u.kind) => return u,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("update stream ended while waiting for {what}"),
                Err(_) => panic!("no {what} within 10 s"),
            }
        }
    }

    /// The next typing event; panics after 10 s.
    pub async fn expect_typing(&mut self) -> (i64, i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(Event::Typing { chat_id, user_id })) => return (chat_id, user_id),
                Ok(Some(_)) => continue,
                _ => panic!("no typing event within 10 s"),
            }
        }
    }
}

/// The stable code of a failed SDK call.
pub fn code_of<T: std::fmt::Debug>(r: Result<T, heliograph_client::ClientError>) -> proto::ErrorCode {
    match r {
        Err(heliograph_client::ClientError::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}
