//! The [`Client`] handle: what the application holds and calls.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use heliograph_proto::{ErrorCode, Request};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::config::{websocket_url, Config};
use crate::connection::Connection;
use crate::error::ClientError;
use crate::event::{Event, Updates};
use crate::sync::{Delivery, SyncState};

/// How many events may wait for the application before the client stops reading the server.
pub(crate) const EVENT_BUFFER: usize = 10_000;
/// How many calls may wait for the connection task before `call` itself waits.
const CALL_BUFFER: usize = 1024;

/// A connection to Heliograph that keeps itself alive: it reconnects, signs in again with its
/// token and catches up on missed updates by itself. Cheap to clone; every clone drives the
/// same connection, which closes when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// [`Config::on_flood_wait`], shown in `Debug` output only as being there or not.
struct FloodNotice(Option<Arc<dyn Fn(u32) + Send + Sync>>);

impl std::fmt::Debug for FloodNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

#[derive(Debug)]
struct Inner {
    /// Calls for the connection task. Only read while a connection is up, so calls made while
    /// disconnected wait here (bounded by `request_timeout`).
    calls: mpsc::Sender<Call>,
    /// Requests that do not need the server (follow a chat log or not); read at any time.
    /// Its closing (the last `Client` dropped) is what stops the connection task.
    controls: mpsc::UnboundedSender<Control>,
    shared: Arc<Shared>,
    request_timeout: Duration,
    /// [`Config::flood_wait`] and [`Config::on_flood_wait`].
    flood_wait: Duration,
    on_flood_wait: FloodNotice,
}

/// State both the application side and the connection task read.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The session token reconnects authorize with; set by a successful sign-in.
    token: Mutex<Option<String>>,
    /// The sync state as of the events the application has read (not the task's, which runs
    /// ahead by whatever waits in the event channel).
    consumed: Mutex<SyncState>,
}

impl Shared {
    pub fn token(&self) -> Option<String> {
        lock(&self.token).clone()
    }

    pub fn set_token(&self, token: Option<String>) {
        *lock(&self.token) = token;
    }

    pub fn state(&self) -> SyncState {
        lock(&self.consumed).clone()
    }

    /// The application receives `delivery`: record its state change, return its event.
    pub fn consume(&self, delivery: Delivery) -> Option<Event> {
        if let Some(change) = &delivery.change {
            lock(&self.consumed).apply(change);
        }
        delivery.event
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain data; the data is
/// still the best we have.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request for the server and where its answer goes.
#[derive(Debug)]
pub(crate) struct Call {
    pub request: Request,
    pub reply: oneshot::Sender<Result<serde_json::Value, ClientError>>,
}

/// Requests for the connection task that the server is not involved in.
#[derive(Debug)]
pub(crate) enum Control {
    Track { chat_id: i64, pts: i64 },
    Untrack { chat_id: i64 },
}

impl Client {
    /// Connects to the first server in `config.urls` that answers (trying each once) and,
    /// with a token, signs the connection in. Returns the client and its event stream, which
    /// starts with [`Event::Connected`] followed by the catch-up from `config.state`.
    ///
    /// Fails with the last connection error when no server could be reached. Once connected,
    /// the client never gives up: it reconnects with backoff for as long as it is held.
    pub async fn connect(config: Config) -> Result<(Client, Updates), ClientError> {
        if config.urls.is_empty() {
            return Err(ClientError::Config("no server URL".into()));
        }
        let urls = config.urls.iter().map(|url| websocket_url(url)).collect::<Result<Vec<_>, _>>()?;
        let tls = crate::tls::client_config(config.ca_pem.as_deref())?;
        let shared = Arc::new(Shared { token: Mutex::new(config.token.clone()), consumed: Mutex::new(config.state.clone()) });
        let (calls, calls_rx) = mpsc::channel(CALL_BUFFER);
        let (controls, controls_rx) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (first, first_rx) = oneshot::channel();
        let connection = Connection::new(urls, tls, &config, shared.clone(), calls_rx, controls_rx, events);
        tokio::spawn(connection.run(first));
        match first_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(ClientError::Disconnected),
        }
        let client = Client { inner: Arc::new(Inner { calls, controls, shared: shared.clone(), request_timeout: config.request_timeout,
            flood_wait: config.flood_wait,
            on_flood_wait: FloodNotice(config.on_flood_wait.clone()),
        }) };
        Ok((client, Updates::new(events_rx, shared)))
    }

    /// Sends one request and returns its raw result.
    ///
    /// While the client is reconnecting the call waits for the connection (up to
    /// [`Config::request_timeout`], then [`ClientError::Timeout`]). If the connection drops
    /// while the request is in flight it fails with [`ClientError::Disconnected`].
    ///
    /// `FLOOD_WAIT` refusals are waited out and the same request sent again while the waits
    /// add up to at most [`Config::flood_wait`].
    pub async fn call(&self, request: Request) -> Result<serde_json::Value, ClientError> {
        let mut waited = Duration::ZERO;
        loop {
            match self.call_once(request.clone()).await {
                Err(ClientError::Server(e)) if e.code == ErrorCode::FloodWait => {
                    let wait = Duration::from_secs(e.retry_after.unwrap_or(1).max(1).into());
                    waited += wait;
                    if waited > self.inner.flood_wait {
                        return Err(ClientError::Server(e));
                    }
                    if let Some(tell) = &self.inner.on_flood_wait.0 {
                        tell(wait.as_secs() as u32);
                    }
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, request: Request) -> Result<serde_json::Value, ClientError> {
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.inner.calls.send(Call { request, reply }).await.map_err(|_| ClientError::Disconnected)?;
            answer.await.map_err(|_| ClientError::Disconnected)?
        };
        tokio::time::timeout(self.inner.request_timeout, exchange).await.map_err(|_| ClientError::Timeout)?
    }

    /// Sends one request and reads its result as `T`.
    pub async fn call_as<T: DeserializeOwned>(&self, request: Request) -> Result<T, ClientError> {
        let method = request.method();
        let value = self.call(request).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(format!("unexpected result for `{method}`: {e}")))
    }

    /// Follows the own log of chat `chat_id` from `pts` (catching up on it now if connected),
    /// if it is not followed yet. Chats the client sees are followed automatically; this is for
    /// chats the application knows of otherwise.
    pub fn track_chat(&self, chat_id: i64, pts: i64) {
        // Fails only when the connection task is gone, and then there is nothing to follow.
        let _ = self.inner.controls.send(Control::Track { chat_id, pts });
    }

    /// Stops following the own log of chat `chat_id` (the client also does this by itself
    /// when you leave a chat or lose access to it).
    pub fn untrack_chat(&self, chat_id: i64) {
        let _ = self.inner.controls.send(Control::Untrack { chat_id });
    }

    /// The session token (set by a successful [`Client::sign_in`]), to keep for next time in
    /// [`Config::token`]. Secret: store it like a password.
    pub fn token(&self) -> Option<String> {
        self.inner.shared.token()
    }

    /// Where the application stands: the state after the events read so far from
    /// [`Updates`]. Persist it after handling events and pass it back in [`Config::state`].
    pub fn state(&self) -> SyncState {
        self.inner.shared.state()
    }
}
