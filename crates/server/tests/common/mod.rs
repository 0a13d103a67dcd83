//! A real server for tests: in-process, on 127.0.0.1:0, with a temporary data folder.
#![allow(dead_code)]

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
        let mut config = Config { dev: true, listen: "127.0.0.1:0".parse().expect("addr"), data_dir: dir.path().to_path_buf(), ..Config::default() };
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
