//! Building and running the server: the router over every area's routes, start and
//! graceful shutdown. The top of the crate: it imports every area, and none imports it.

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
use crate::state::Shared;

/// Everything the routes serve from, made once per server.
pub struct App {
    /// What every request shares (store, bus, configuration, limiters, shutdown).
    pub shared: Arc<Shared>,
    /// Uploads in progress and the object store behind `/files`.
    pub files: Arc<Files>,
    /// The Bot API's long polls and webhook workers.
    pub bots: Arc<BotApi>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl App {
    /// The server's state over `store` and `bus`, with no socket bound and no task started
    /// (`start_with` does both), so tests can drive [`router`] directly.
    pub fn new(config: Config, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> anyhow::Result<App> {
        let metrics = crate::metrics::install();
        let codes = crate::codes::sender(&config)?;
        let egress = Arc::new(Egress::new(&config.egress)?);
        let shared = Arc::new(Shared::new(store, bus, Arc::new(config), codes, egress));
        let files = Arc::new(Files::open(&shared.config, shared.store.clone(), shared.failed_auth.clone())?);
        let bots = Arc::new(BotApi::new(shared.clone(), files.clone()));
        Ok(App { shared, files, bots, metrics })
    }
}

/// The HTTP routes: each area's own, each over the state it needs. Tests drive this without a
/// socket (`tests` below).
pub fn router(app: &App) -> Router {
    let metrics = app.metrics.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(move || async move { metrics.render() }))
        .merge(crate::gateway::routes(app.shared.clone()))
        .merge(crate::files::routes(app.files.clone()))
        .merge(crate::botapi::routes(app.bots.clone()))
        .merge(crate::web::routes())
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
    let feed = store.take_commit_feed().ok_or_else(|| anyhow::anyhow!("the store's commit feed is already taken"))?;
    let listen = config.listen;
    let app = App::new(config, store, bus)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let shared = app.shared.clone();
    let shutdown = shared.shutdown.clone();
    let tracker = TaskTracker::new();
    tracker.spawn(crate::fanout::run(shared.clone(), feed));
    tracker.spawn(app.files.clone().sweep_until(shutdown.clone()));
    tracker.spawn(crate::botapi::updates::supervise_webhooks(app.bots.clone()));
    // Followed before serving, so no revocation published once this node answers is missed.
    let revocations = crate::botapi::follow_revocations(&shared).await;
    tracker.spawn(crate::botapi::watch_revocations(shared.clone(), revocations));
    let routes = router(&app);
    let stop = shutdown.clone();
    let header_timeout = shared.config.limits.header_read_timeout();
    let done = tokio::spawn(async move {
        serve(listener, routes, stop, header_timeout).await;
        // Upgraded WebSockets outlive the HTTP server: wait until every one has closed.
        let max_connections = shared.config.limits.max_connections as u32;
        let all = tokio::time::timeout(Duration::from_secs(30), shared.connections.acquire_many(max_connections.min(u32::MAX)));
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

#[cfg(test)]
mod tests {
    //! The router driven without a socket (axum's `testing` example: `oneshot` on the
    //! `Router`), over a real SQLite store in a temporary folder.

    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// The router of a fresh server, as a client at 127.0.0.1 reaches it.
    fn app(dir: &std::path::Path) -> Router {
        let config = Config { data_dir: dir.to_path_buf(), code_provider: Some(crate::config::CodeProvider::Log), ..Config::default() };
        let store = SqliteStore::open(&dir.join("heliograph.db"), Options::default()).expect("the store opens");
        let app = App::new(config, Arc::new(store), Arc::new(InProcessBus::new())).expect("the app builds");
        router(&app).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
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
        let router = app(dir.path());
        let csp = crate::web::CONTENT_SECURITY_POLICY;
        check(&router, "/healthz", StatusCode::OK, &[], "ok\n").await;
        check(&router, "/bot1:wrong/getMe", StatusCode::UNAUTHORIZED, &[], r#"{"description":"Unauthorized","error_code":401,"ok":false}"#)
            .await;
        check(&router, "/", StatusCode::OK, &[(header::CONTENT_SECURITY_POLICY, csp), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], "<")
            .await;
        check(&router, "/files/1", StatusCode::UNAUTHORIZED, &[], "AUTH_REQUIRED").await;
    }
}
