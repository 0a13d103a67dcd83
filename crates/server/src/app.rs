//! Building and running the server: the router over every area's routes, start and
//! graceful shutdown. The top of the crate: it imports every area, and none imports it.
//! The listening sockets themselves (caps, TLS, timeouts) are [`crate::listener`]'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use heliograph_bus::{Bus, InProcessBus};
use heliograph_store::postgres::PostgresStore;
use heliograph_store::sqlite::{Options, SqliteStore};
use heliograph_store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::botapi::BotApi;
use crate::config::Config;
use crate::egress::Egress;
use crate::files::Files;
use crate::limits::ConnectionCaps;
use crate::listener::Edge;
use crate::state::Shared;

/// Everything the routes serve from, made once per server.
pub struct App {
    /// What every request shares (store, bus, configuration, limiters, shutdown).
    pub shared: Arc<Shared>,
    /// Uploads in progress and the object store behind `/files`.
    pub files: Arc<Files>,
    /// The Bot API's long polls and webhook workers.
    pub bots: Arc<BotApi>,
    /// The public transparency log (`/transparency/…`).
    pub log: Arc<crate::transparency::Log>,
    /// The connection caps, from the open-file limit unless configured: the listener counts
    /// every connection at accept against them, and [`Shared::connections`] holds the
    /// WebSockets among them.
    pub caps: ConnectionCaps,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Connections the metrics listener takes at once (out of the descriptor reserve).
const METRICS_CONNECTIONS: usize = 16;

impl App {
    /// The server's state over `store` and `bus`, with no socket bound and no task started
    /// (`start_with` does both), so tests can drive [`router`] directly.
    pub fn new(config: Config, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> anyhow::Result<App> {
        let phone_keys = Arc::new(crate::identity::PhoneKeys::load_or_create(&config.accountability, &config.data_dir)?);
        App::with_keys(config, store, bus, phone_keys)
    }

    /// [`App::new`] with the phone keys given.
    pub fn with_keys(
        config: Config,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        phone_keys: Arc<crate::identity::PhoneKeys>,
    ) -> anyhow::Result<App> {
        let metrics = crate::metrics::install();
        let codes = crate::codes::sender(&config)?;
        let egress = Arc::new(Egress::new(&config.egress)?);
        let caps = config.limits.connection_caps(open_files_limit());
        let search = search_engine(&config, &store)?;
        let shared = Arc::new(Shared::new(store, bus, Arc::new(config), codes, egress, caps, phone_keys, search));
        let files = Arc::new(Files::open(&shared.config, shared.store.clone(), shared.failed_auth.clone())?);
        let bots = Arc::new(BotApi::new(shared.clone(), files.clone()));
        let log = Arc::new(crate::transparency::Log::open(
            shared.store.clone(),
            crate::transparency::origin(shared.config.public_url.as_deref()),
            &shared
                .config
                .accountability
                .log_key_file
                .clone()
                .unwrap_or_else(|| shared.config.data_dir.join(crate::transparency::LOG_KEY_FILE)),
        )?);
        Ok(App { shared, files, bots, log, caps, metrics })
    }
}

/// Message search (#17): PostgreSQL's own full-text search when the store is PostgreSQL
/// (every node answers from the one database), else the embedded index under
/// `data_dir/search`, following the store's search log.
fn search_engine(config: &Config, store: &Arc<dyn Store>) -> anyhow::Result<Arc<dyn heliograph_search::Index>> {
    Ok(match &config.database {
        Some(url) => Arc::new(heliograph_search::postgres::Postgres::connect(url.as_str(), 8)?),
        None => Arc::new(heliograph_search::embedded::Embedded::open(store.clone(), &config.data_dir.join("search"))?),
    })
}

/// The HTTP routes of the public port: each area's own, each over the state it needs. Tests
/// drive this without a socket (`tests` below).
pub fn router(app: &App) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(crate::gateway::routes(app.shared.clone()))
        .merge(crate::files::routes(app.files.clone()))
        .merge(crate::botapi::routes(app.bots.clone()))
        .merge(crate::transparency::routes(app.log.clone()))
        .merge(crate::web::routes())
}

/// The routes of the metrics listener (`metrics_listen`): never on the public port, since
/// the metrics describe the server's internals and load. Its own `/healthz` answers even
/// when the public port is at its connection cap.
pub fn metrics_router(app: &App) -> Router {
    let metrics = app.metrics.clone();
    Router::new().route("/metrics", get(move || async move { metrics.render() })).route("/healthz", get(healthz))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    tls: bool,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Where it listens (useful after binding port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the metrics listener listens, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// `http://ADDR`, or `https://ADDR` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// `ws://ADDR/ws`, or `wss://ADDR/ws` with TLS.
    pub fn ws_url(&self) -> String {
        format!("{}://{}/ws", if self.tls { "wss" } else { "ws" }, self.addr)
    }

    /// Stops accepting, lets every connection finish its in-flight requests (and their
    /// commits), closes the connections, and waits for all of it.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.done.await;
    }

    /// Waits until the server stops (after [`Server::shutdown`] from elsewhere, or a signal
    /// passed to [`start`]).
    pub async fn wait(self) {
        let _ = self.done.await;
    }

    /// A handle that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Opens the store (`config.database`, or SQLite under `config.data_dir`), binds
/// `config.listen`, and serves until shut down.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let store = open_store(&config).await?;
    let bus: Arc<dyn Bus> = match &config.bus {
        Some(url) => Arc::new(heliograph_bus::nats::NatsBus::connect(url, "heliograph").await?),
        None => Arc::new(InProcessBus::new()),
    };
    start_with(config, store, bus).await
}

/// The store `config` names: `config.database`, or SQLite under `config.data_dir` (made if
/// missing). Also what `heliograph admin` works on.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create the data folder {}: {e}", config.data_dir.display()))?;
    let path = config.data_dir.join("heliograph.db");
    let options = Options {
        limits: heliograph_store::Limits {
            large_group_threshold: config.limits.large_group_threshold,
            difference_horizon: config.limits.difference_horizon,
        },
        max_batch: config.limits.group_commit_max_batch,
        on_commit: Some(Arc::new(crate::metrics::record_commit)),
        ..Options::default()
    };
    let store: Arc<dyn Store> = match &config.database {
        Some(url) => {
            let options =
                heliograph_store::postgres::Options { limits: options.limits, on_commit: options.on_commit, ..Default::default() };
            let store = PostgresStore::connect(url.as_str(), options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open the PostgreSQL database: {e}"))?;
            Arc::new(store)
        }
        None => Arc::new(SqliteStore::open(&path, options).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?),
    };
    Ok(store)
}

/// Like [`start`], with the storage and fan-out engines given.
pub async fn start_with(config: Config, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> anyhow::Result<Server> {
    let feed = store.take_commit_feed().ok_or_else(|| anyhow::anyhow!("the store's commit feed is already taken"))?;
    let (listen, metrics_listen) = (config.listen, config.metrics_listen);
    let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    // Before anyone is served: no number of an older database stays in clear.
    let phone_keys = Arc::new(crate::identity::PhoneKeys::load_or_create(&config.accountability, &config.data_dir)?);
    crate::identity::seal_clear_numbers(&*store, &phone_keys).await?;
    let app = App::with_keys(config, store, bus, phone_keys)?;
    let caps = app.caps;
    if caps.total.saturating_add(caps.reserve) as u64 > caps.open_files {
        tracing::warn!(?caps, "limits.max_connections plus the reserve is more than the open-file limit: a flood can exhaust it");
    }
    tracing::info!(
        open_files = caps.open_files,
        max_connections = caps.total,
        per_address = caps.per_address,
        reserve = caps.reserve,
        "connection caps"
    );
    let listener = bind(listen, "--listen").await?;
    let addr = listener.local_addr()?;
    let metrics_listener = match metrics_listen {
        Some(at) => Some(bind(at, "metrics_listen").await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    let shared = app.shared.clone();
    let shutdown = shared.shutdown.clone();
    let tracker = TaskTracker::new();
    tracker.spawn(crate::fanout::run(shared.clone(), feed));
    tracker.spawn(app.files.clone().sweep_until(shutdown.clone()));
    tracker.spawn(crate::botapi::updates::supervise_webhooks(app.bots.clone()));
    // Followed before serving, so no revocation published once this node answers is missed.
    let revocations = crate::botapi::follow_revocations(&shared).await;
    tracker.spawn(crate::botapi::watch_revocations(shared.clone(), revocations));
    let stop = shutdown.clone();
    let header_timeout = shared.config.limits.header_read_timeout();
    let secure = tls.is_some();
    let public = crate::listener::serve(listener, router(&app), stop.clone(), Edge { caps, header_timeout, tls });
    let metrics = metrics_listener.map(|listener| {
        let caps = ConnectionCaps { total: METRICS_CONNECTIONS, per_address: METRICS_CONNECTIONS, ..caps };
        crate::listener::serve(listener, metrics_router(&app), stop.clone(), Edge { caps, header_timeout, tls: None })
    });
    let done = tokio::spawn(async move {
        tokio::join!(public, async {
            if let Some(metrics) = metrics {
                metrics.await;
            }
        });
        // Upgraded WebSockets outlive the HTTP server: wait until every one has closed.
        let all = u32::try_from(caps.total).unwrap_or(u32::MAX);
        let all = tokio::time::timeout(Duration::from_secs(30), shared.connections.acquire_many(all));
        if all.await.is_err() {
            tracing::warn!("some connections did not close within 30 s");
        }
        tracing::info!("server stopped");
    });
    if let Some(metrics_addr) = metrics_addr {
        tracing::info!(%metrics_addr, "metrics listening");
    }
    tracing::info!(%addr, "listening");
    Ok(Server { addr, metrics_addr, tls: secure, shutdown, done })
}

/// Binds `addr`; a refusal names the setting (`setting`) that chose the address.
async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            anyhow::anyhow!(
                "cannot listen on {addr}: the address is already in use (another server running?); stop it or choose another with {setting}"
            )
        }
        _ => anyhow::anyhow!("cannot listen on {addr}: {e}"),
    })
}

/// The process's open-file limit (`main` has raised the soft limit to the hard one by now).
fn open_files_limit() -> u64 {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _hard)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open files limit; assuming 1024");
            1024
        }
    }
}

#[cfg(test)]
mod tests {
    //! The router driven without a socket (axum's `testing` example: `oneshot` on the
    //! `Router`), over a real SQLite store in a temporary folder.

    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// The public router and the metrics router of a fresh server, as a client at 127.0.0.1
    /// reaches them.
    fn app(dir: &std::path::Path) -> (Router, Router) {
        let config = Config { data_dir: dir.to_path_buf(), code_provider: Some(crate::config::CodeProvider::Log), ..Config::default() };
        let store = SqliteStore::open(&dir.join("heliograph.db"), Options::default()).expect("the store opens");
        let app = App::new(config, Arc::new(store), Arc::new(InProcessBus::new())).expect("the app builds");
        let peer = MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000)));
        (router(&app).layer(peer), metrics_router(&app).layer(peer))
    }

    /// One request: its status, the headers named, and the body as text.
    async fn check(router: &Router, uri: &str, status: StatusCode, headers: &[(header::HeaderName, &str)], body: &str) {
        let request = Request::get(uri).body(Body::empty()).expect("a request");
        let response = router.clone().oneshot(request).await.expect("the router answers");
        assert_eq!(response.status(), status, "{uri}");
        for (name, want) in headers {
            assert_eq!(response.headers().get(name).and_then(|v| v.to_str().ok()), Some(*want), "{uri}: {name}");
        }
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(body), "{uri}: {text:?} lacks {body:?}");
    }

    #[tokio::test]
    async fn the_router_answers_without_a_socket() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (router, metrics) = app(dir.path());
        let csp = crate::web::CONTENT_SECURITY_POLICY;
        check(&router, "/healthz", StatusCode::OK, &[], "ok\n").await;
        check(&router, "/bot1:wrong/getMe", StatusCode::UNAUTHORIZED, &[], r#"{"description":"Unauthorized","error_code":401,"ok":false}"#)
            .await;
        check(&router, "/", StatusCode::OK, &[(header::CONTENT_SECURITY_POLICY, csp), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], "<")
            .await;
        check(&router, "/files/1", StatusCode::UNAUTHORIZED, &[], "AUTH_REQUIRED").await;
        // `/metrics` only on the metrics listener's router, which has a `/healthz` of its own.
        check(&router, "/metrics", StatusCode::NOT_FOUND, &[], "").await;
        check(&metrics, "/metrics", StatusCode::OK, &[], "").await;
        check(&metrics, "/healthz", StatusCode::OK, &[], "ok\n").await;
    }
}
