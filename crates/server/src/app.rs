//! Building and running the server: the router, shared state, start and graceful shutdown.
//! The listening sockets themselves (caps, TLS, timeouts) are [`crate::listener`]'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::{any, get};
use axum::Router;
use heliograph_bus::{Bus, InProcessBus};
use heliograph_store::postgres::PostgresStore;
use heliograph_store::sqlite::{Options, SqliteStore};
use heliograph_store::Store;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::codes::{CodeSender, HttpSender, LogSender};
use crate::config::{CodeProvider, Config};
use crate::limits::{ConnectionCaps, ConnectionsPerAddress, KeyedLimiter};
use crate::listener::Edge;
use crate::service::Service;

/// Shared by every request and connection.
pub struct App {
    pub service: Arc<Service>,
    /// One permit per open WebSocket: the connection cap.
    pub connections: Arc<Semaphore>,
    /// Open WebSockets per client address: one address cannot take every slot.
    pub connections_per_address: Arc<ConnectionsPerAddress>,
    /// Requests per client address, signed in or not, across its connections.
    pub requests_per_address: KeyedLimiter<std::net::IpAddr>,
    /// Cancelled once on shutdown; every connection watches a child of it.
    pub shutdown: CancellationToken,
    /// Uploads in progress and the object store behind `/files`.
    pub files: Arc<crate::files::Files>,
    /// The Bot API's checked tokens, long polls and webhook workers.
    pub bots: crate::botapi::BotApi,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Connections the metrics listener takes at once (out of the descriptor reserve).
const METRICS_CONNECTIONS: usize = 16;

/// The HTTP routes of the public port. Tests can drive this without a socket.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        // `any`: over HTTP/2 (browsers on HTTPS) a WebSocket opens with CONNECT (RFC 8441),
        // over HTTP/1.1 with GET; the upgrade extractor refuses every other method.
        .route("/ws", any(crate::gateway::upgrade))
        .merge(crate::files::routes())
        .merge(crate::botapi::routes())
        .merge(crate::web::routes())
        .with_state(app)
}

/// The routes of the metrics listener (`metrics_listen`): never on the public port, since
/// the metrics describe the server's internals and load. Its own `/healthz` answers even
/// when the public port is at its connection cap.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(|State(app): State<Arc<App>>| async move { app.metrics.render() }))
        .route("/healthz", get(healthz))
        .with_state(app)
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

fn code_sender(config: &Config) -> anyhow::Result<Arc<dyn CodeSender>> {
    Ok(match &config.code_provider {
        CodeProvider::Log => Arc::new(LogSender),
        CodeProvider::Http(http) => Arc::new(HttpSender::new(http)?),
    })
}

/// Opens the store (`config.database`, or SQLite under `config.data_dir`), binds
/// `config.listen`, and serves until shut down.
pub async fn start(config: Config) -> anyhow::Result<Server> {
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
    let bus: Arc<dyn Bus> = match &config.bus {
        Some(url) => Arc::new(heliograph_bus::nats::NatsBus::connect(url, "heliograph").await?),
        None => Arc::new(InProcessBus::new()),
    };
    start_with(config, store, bus).await
}

/// Like [`start`], with the storage and fan-out engines given.
pub async fn start_with(config: Config, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> anyhow::Result<Server> {
    let metrics = crate::metrics::install();
    let feed = store.take_commit_feed().ok_or_else(|| anyhow::anyhow!("the store's commit feed is already taken"))?;
    let codes = code_sender(&config)?;
    let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let caps = config.limits.connection_caps(open_files_limit());
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
    let listener = bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(bind(at).await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    let files = Arc::new(crate::files::Files::open(&config)?);
    let config = Arc::new(config);
    let service = Arc::new(Service::new(store, bus, config.clone(), codes));
    let shutdown = CancellationToken::new();
    let app = Arc::new(App {
        service: service.clone(),
        connections: Arc::new(Semaphore::new(caps.total)),
        connections_per_address: Arc::new(ConnectionsPerAddress::new(caps.per_address)),
        requests_per_address: KeyedLimiter::new(config.limits.request_rate_per_address(), 100_000),
        shutdown: shutdown.clone(),
        files: files.clone(),
        bots: crate::botapi::BotApi::new(&config),
        metrics,
    });
    let tracker = TaskTracker::new();
    tracker.spawn(crate::fanout::run(service.clone(), feed));
    tracker.spawn(files.sweep_until(shutdown.clone()));
    tracker.spawn(crate::botapi::updates::supervise_webhooks(app.clone()));
    tracker.spawn(crate::botapi::watch_revocations(app.clone()));
    let routes = router(app.clone());
    let stop = shutdown.clone();
    let header_timeout = config.limits.header_read_timeout();
    let secure = tls.is_some();
    let public = crate::listener::serve(listener, routes, stop.clone(), Edge { caps, header_timeout, tls });
    let metrics = metrics_listener.map(|listener| {
        let caps = ConnectionCaps { total: METRICS_CONNECTIONS, per_address: METRICS_CONNECTIONS, ..caps };
        crate::listener::serve(listener, metrics_router(app.clone()), stop.clone(), Edge { caps, header_timeout, tls: None })
    });
    let done = tokio::spawn(async move {
        tokio::join!(public, async {
            if let Some(metrics) = metrics {
                metrics.await;
            }
        });
        // Upgraded WebSockets outlive the HTTP server: wait until every one has closed.
        let all = u32::try_from(caps.total).unwrap_or(u32::MAX);
        let all = tokio::time::timeout(Duration::from_secs(30), app.connections.acquire_many(all));
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

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
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
