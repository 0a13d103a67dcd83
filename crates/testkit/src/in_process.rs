//! The server library started inside the test process, for tests that need what a process
//! boundary hides (its `Config` tweaked field by field, its data folder read while it runs)
//! or many servers cheaply. Everything else starts the real binary ([`crate::Binary`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use heliograph_server::{config::Config, Server};
use heliograph_store::Store;

/// A server on 127.0.0.1:0 with a temporary data folder, in `--dev` mode.
pub struct InProcess {
    server: Option<Server>,
    dir: tempfile::TempDir,
}

impl InProcess {
    pub async fn start() -> InProcess {
        Self::start_with(|_| {}).await
    }

    /// Starts with `tweak` applied to the development config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> InProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config(dir.path());
        tweak(&mut config);
        let server = heliograph_server::start(config).await.expect("server starts");
        InProcess { server: Some(server), dir }
    }

    /// Starts over a store `open` makes on the data folder, with the in-process bus; the
    /// test keeps the store, to look at what the server wrote through it.
    pub async fn start_on(open: impl FnOnce(&Path) -> Arc<dyn Store>) -> (InProcess, Arc<dyn Store>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        let bus = Arc::new(heliograph_bus::InProcessBus::new());
        let server = heliograph_server::start_with(config(dir.path()), store.clone(), bus).await.expect("server starts");
        (InProcess { server: Some(server), dir }, store)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").addr()
    }

    /// `http://127.0.0.1:PORT`: the SDK, `helio` and the Bot API take this.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `ws://127.0.0.1:PORT/ws`: a raw protocol connection.
    pub fn ws_url(&self) -> String {
        self.server.as_ref().expect("running").ws_url()
    }

    /// The data folder.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Shuts down gracefully (in-flight requests finish); the data folder stays until drop.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// `--dev` on 127.0.0.1:0 over `data`. Every test client comes from 127.0.0.1: per-address
/// limits (requests, connections, and the wrong-credential throttle, per address and per
/// target) are tested on their own (server tests/abuse.rs, edge.rs, security.rs), not by
/// accident.
fn config(data: &Path) -> Config {
    let mut config = Config { dev: true, listen: "127.0.0.1:0".parse().expect("addr"), data_dir: data.to_path_buf(), ..Config::default() };
    config.limits.requests_per_address_per_second = 1_000_000;
    config.limits.max_connections_per_address = Some(1_000_000);
    config.failed_auth.per_address_burst = 1_000_000;
    config.failed_auth.per_target_burst = 1_000_000;
    config
}
