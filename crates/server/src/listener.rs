//! A listening socket and its connections: admission under the connection caps at accept,
//! TLS when configured, then HTTP/1.1 and HTTP/2 (with WebSocket upgrades) through hyper.
//!
//! This is `axum::serve` plus what it lacks:
//! - **caps at accept.** A connection is counted against [`ConnectionCaps`] (all clients, and
//!   its address) the moment it is accepted, before a byte of TLS or HTTP is read, and holds
//!   its slots for as long as its socket is open (through a WebSocket upgrade too: the
//!   permits live in the socket wrapper, [`Admitted`]). Past a cap it is closed at once,
//!   after a one-line HTTP answer when that cannot wait ([`refuse`]).
//! - **a deadline from accept.** A connection must finish its TLS handshake and the headers
//!   of its first request within the header timeout of being accepted, or it is closed; a
//!   connection that never sends a byte is closed too. After the first request, hyper's own
//!   HTTP/1 header timer covers each next request (it starts when the connection goes idle).
//! - **`Strict-Transport-Security`** on every response over TLS.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::http::{header, HeaderValue, Request};
use axum::response::Response;
use axum::Router;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::limits::{AddressPermit, ConnectionCaps, ConnectionsPerAddress};

/// Refused connections given a one-line answer at once, at most (each for at most
/// [`REFUSAL_LINGER`]); past that a refused connection is closed without one. Part of the
/// descriptor reserve.
const REFUSALS_AT_ONCE: usize = 32;
/// How long a refused connection may take to send its request head, read the answer and
/// close (closing a socket with unread input resets it, and the client may never see the
/// answer).
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// How a listener serves: its caps, the header timeout, TLS or not.
pub struct Edge {
    pub caps: ConnectionCaps,
    /// From accept to the end of the first request's headers (TLS handshake included).
    pub header_timeout: Duration,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves `routes` on `listener` until `stop` is cancelled, then waits for every HTTP
/// connection to finish (upgraded WebSockets are the gateway's to close).
pub async fn serve(listener: TcpListener, routes: Router, stop: CancellationToken, edge: Edge) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1().timer(TokioTimer::new()).header_read_timeout(edge.header_timeout);
    http.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let http = Arc::new(http);
    let total = Arc::new(Semaphore::new(edge.caps.total));
    let per_address = Arc::new(ConnectionsPerAddress::new(edge.caps.per_address));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors despite the reserve: wait for some to close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let deadline = Instant::now() + edge.header_timeout;
        let Some(address_permit) = per_address.try_acquire(peer.ip()) else {
            refuse(tcp, Refusal::Address, edge.tls.is_none(), &refusals);
            continue;
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            refuse(tcp, Refusal::Full, edge.tls.is_none(), &refusals);
            continue;
        };
        // Small frames must leave at once: with Nagle's algorithm each answer waits for the
        // peer's delayed ACK (about 40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let io = Admitted { io: tcp, _permits: (permit, address_permit) };
        let started = Arc::new(Notify::new());
        let service =
            PerConnection { routes: TowerToHyperService::new(routes.clone()), peer, started: started.clone(), hsts: edge.tls.is_some() };
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), edge.tls.clone());
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return run(&http, io, service, watcher, started, deadline).await;
            };
            match tokio::time::timeout_at(deadline, tls.accept(io)).await {
                Ok(Ok(io)) => run(&http, io, service, watcher, started, deadline).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("closed: no TLS handshake within the header timeout"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves one connection; closes it if its first request has not arrived by `deadline`.
async fn run<I>(
    http: &auto::Builder<TokioExecutor>,
    io: I,
    service: PerConnection,
    watcher: hyper_util::server::graceful::Watcher,
    started: Arc<Notify>,
    deadline: Instant,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = watcher.watch(http.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned());
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = &mut connection => ended,
        () = started.notified() => connection.await,
        () = tokio::time::sleep_until(deadline) => {
            tracing::debug!("closed: no request within the header timeout");
            return;
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

/// Why a connection was refused at accept.
#[derive(Clone, Copy)]
enum Refusal {
    Address,
    Full,
}

impl Refusal {
    fn answer(self) -> String {
        let (status, body) = match self {
            Refusal::Address => ("429 Too Many Requests", "too many connections from your address; close some and try again\n"),
            Refusal::Full => ("503 Service Unavailable", "the server has reached its connection limit; try again later\n"),
        };
        format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}", body.len())
    }
}

/// Closes a connection refused at accept. Over plain HTTP, when fewer than
/// [`REFUSALS_AT_ONCE`] are being answered, it first reads the request's head (HTTP clients
/// take an answer that comes before their request for a broken connection), answers with one
/// line and waits for the client to close, all within [`REFUSAL_LINGER`]. Over TLS (where
/// plain text would be noise) and past that, it is closed at once.
fn refuse(tcp: TcpStream, why: Refusal, plain: bool, refusals: &Arc<Semaphore>) {
    let Some(slot) = plain.then(|| refusals.clone().try_acquire_owned().ok()).flatten() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _slot = slot;
        let mut tcp = tcp;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            let mut head = [0u8; 4096];
            let mut filled = 0;
            while filled < head.len() && !head[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut head[filled..]).await? {
                    0 => return Ok(()),
                    n => filled += n,
                }
            }
            tcp.write_all(why.answer().as_bytes()).await?;
            tcp.shutdown().await?;
            while tcp.read(&mut head).await? > 0 {}
            Ok::<(), io::Error>(())
        })
        .await;
    });
}

/// A socket admitted under the caps: its permits are released when it is dropped, whoever
/// holds it by then (hyper, or the WebSocket it was upgraded to).
struct Admitted {
    io: TcpStream,
    _permits: (OwnedSemaphorePermit, AddressPermit),
}

impl AsyncRead for Admitted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The router as one connection sees it: the peer's address for `ConnectInfo`, the first
/// request announced (the accept deadline is then over), HSTS added over TLS.
#[derive(Clone)]
struct PerConnection {
    routes: TowerToHyperService<Router>,
    peer: SocketAddr,
    started: Arc<Notify>,
    hsts: bool,
}

type Answer = Result<Response, Infallible>;

impl hyper::service::Service<Request<Incoming>> for PerConnection {
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Map<TowerToHyperServiceFuture<Router, Request<Incoming>>, fn(Answer) -> Answer>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.started.notify_one();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let finish: fn(Answer) -> Answer = if self.hsts { with_hsts } else { std::convert::identity };
        self.routes.call(request).map(finish)
    }
}

fn with_hsts(answer: Answer) -> Answer {
    answer.map(|mut response| {
        response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(crate::tls::HSTS));
        response
    })
}
