//! Building and running the server: the router, shared state, start and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use heliograph_bus::{Bus, InProcessBus};
use heliograph_store::postgres::PostgresStore;
use heliograph_store::sqlite::{Options, SqliteStore};
use heliograph_store::Store;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::limits::{ConnectionsPerAddress, KeyedLimiter};
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
    /// Every request the server makes on a user's behalf goes through it (webhooks).
    pub egress: Arc<crate::egress::Egress>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// The HTTP routes. Tests can drive this without a socket.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(|State(app): State<Arc<App>>| async move { app.metrics.render() }))
        .route("/ws", get(crate::gateway::upgrade))
        .merge(crate::files::routes())
        .merge(crate::botapi::routes())
        .merge(crate::web::routes())
        .with_state(app)
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Where it listens (useful after binding port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
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
    let codes = crate::codes::sender(&config)?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let files = Arc::new(crate::files::Files::open(&config)?);
    let config = Arc::new(config);
    let service = Arc::new(Service::new(store, bus, config.clone(), codes));
    let shutdown = CancellationToken::new();
    let app = Arc::new(App {
        service: service.clone(),
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        connections_per_address: Arc::default(),
        requests_per_address: KeyedLimiter::new(config.limits.request_rate_per_address(), 100_000),
        shutdown: shutdown.clone(),
        files: files.clone(),
        bots: crate::botapi::BotApi::new(&config),
        egress: Arc::new(crate::egress::Egress::new(&config.egress)?),
        metrics,
    });
    let tracker = TaskTracker::new();
    tracker.spawn(crate::fanout::run(service.clone(), feed));
    tracker.spawn(files.sweep_until(shutdown.clone()));
    tracker.spawn(crate::botapi::updates::supervise_webhooks(app.clone()));
    // Followed before serving, so no revocation published once this node answers is missed.
    let revocations = crate::botapi::follow_revocations(&app).await;
    tracker.spawn(crate::botapi::watch_revocations(app.clone(), revocations));
    let routes = router(app.clone());
    let stop = shutdown.clone();
    let header_timeout = config.limits.header_read_timeout();
    let done = tokio::spawn(async move {
        serve(listener, routes, stop, header_timeout).await;
        // Upgraded WebSockets outlive the HTTP server: wait until every one has closed.
        let max_connections = config.limits.max_connections as u32;
        let all = tokio::time::timeout(Duration::from_secs(30), app.connections.acquire_many(max_connections.min(u32::MAX)));
        if all.await.is_err() {
            tracing::warn!("some connections did not close within 30 s");
        }
        tracing::info!("server stopped");
    });
    tracing::info!(%addr, "listening");
    Ok(Server { addr, shutdown, done })
}

/// Serves HTTP/1.1 and HTTP/2 (with WebSocket upgrades) on `listener` until `stop` is
/// cancelled, then waits for every HTTP connection to finish. This is `axum::serve` plus one
/// thing it lacks: a timer, so hyper enforces `header_timeout` on request headers and a
/// client that sends them byte by byte (slowloris) is dropped.
async fn serve(listener: tokio::net::TcpListener, routes: Router, stop: CancellationToken, header_timeout: Duration) {
    use axum::extract::connect_info::ConnectInfo;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    http.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    http.http2().timer(TokioTimer::new()).enable_connect_protocol();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, usually: wait for some to close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Small frames must leave at once: with Nagle's algorithm each answer waits for the
        // peer's delayed ACK (about 40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = hyper_util::service::TowerToHyperService::new(routes.clone().layer(axum::Extension(ConnectInfo(peer))));
        let connection = graceful.watch(http.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
