//! The background task behind a [`crate::Client`]: one WebSocket at a time, replaced when it
//! fails; requests matched to answers by id; live updates and catch-up fed through
//! [`Sync`] so the application sees each update once, in order.
//!
//! Life of a connection:
//! 1. connect to the current URL (on failure: the next URL, after a backoff);
//! 2. with a token, `auth.authorize`; calls from the application wait until this is answered;
//! 3. [`Event::Connected`], then catch-up: `updates.get_difference` from the local `pts` and
//!    `updates.get_chat_difference` for every followed chat (a few at a time), while live
//!    updates are buffered per log by [`Sync`];
//! 4. live: frames in, calls out, until the socket fails, the server goes silent or a
//!    catch-up request fails; then every call in flight fails with
//!    [`ClientError::Disconnected`], [`Event::Disconnected`] is sent, and back to 1.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use heliograph_proto::frame::MAX_FRAME_BYTES;
use heliograph_proto::{Authorization, Chat, ClientFrame, Dialogs, Difference, Error, ErrorCode, Peer, Request, ServerFrame};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::Instrument;

use crate::client::{Call, Control, Shared};
use crate::config::{backoff, Config};
use crate::error::ClientError;
use crate::event::Event;
use crate::sync::{Action, Delivery, Sync};

/// At most this many catch-up requests in flight, so that a client following hundreds of
/// channels does not trip the server's rate limit on reconnect.
const MAX_FETCHES: usize = 8;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The task's state across connections.
pub(crate) struct Connection {
    urls: Vec<String>,
    /// Whom `wss://` URLs must be signed by (`crate::tls`).
    tls: Arc<rustls::ClientConfig>,
    reconnect_min: Duration,
    reconnect_max: Duration,
    request_timeout: Duration,
    ping_interval: Duration,
    poll_interval: Duration,
    shared: Arc<Shared>,
    calls: mpsc::Receiver<Call>,
    controls: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<Delivery>,
    /// The application dropped its `Updates`: state changes then go straight to `shared`.
    events_closed: bool,
    /// Time spent waiting for the application to make room for events since the last tick.
    /// The server's answers were waiting in the socket meanwhile, so this time must not count
    /// against catch-up deadlines or as server silence.
    blocked: Duration,
    sync: Sync,
    /// Request ids are unique for the life of the client, so a late answer from an old
    /// connection can never be taken for the answer to a new request.
    next_id: u64,
}

/// Why a connection ended.
enum Stop {
    /// Every `Client` was dropped.
    Shutdown,
    /// The connection failed; reconnect. The error is reported if it was the first attempt.
    Dropped(ClientError),
}

/// What one connection is doing right now.
struct Session {
    sink: SplitSink<Ws, Message>,
    pending: HashMap<u64, Pending>,
    /// Logs whose difference request waits for a free slot (see [`MAX_FETCHES`]).
    fetch_queue: VecDeque<Option<i64>>,
    fetches_in_flight: usize,
    /// After `FLOOD_WAIT` on a catch-up request, no new one before this.
    fetch_paused_until: Option<Instant>,
    /// `Event::Connected` was sent and application calls are being sent.
    ready: bool,
    /// The server considers this connection signed in.
    signed_in: bool,
    last_heard: Instant,
    last_ping: Instant,
    /// Last time an update arrived or the logs were checked: after `poll_interval` without
    /// either, the client asks for the difference itself, so an update whose live push was
    /// lost (a node that missed a bus notice) still arrives.
    last_sync: Instant,
}

/// A request sent on this connection, waiting for its answer.
enum Pending {
    /// From the application.
    Call { reply: oneshot::Sender<Result<serde_json::Value, ClientError>>, inspect: Inspect },
    /// The connection's own `auth.authorize`.
    Authorize { deadline: Instant },
    /// A catch-up request for `log`.
    Difference { log: Option<i64>, deadline: Instant },
    /// Asked before a sign-out on this connection: the answer means nothing now.
    Void,
}

/// What the SDK itself learns from the result of an application call.
#[derive(Debug, Clone, PartialEq)]
enum Inspect {
    Nothing,
    /// The result is a `Chat`: follow its log if it has one.
    Chat,
    /// The result is a `Peer`, maybe a chat.
    Peer,
    /// The result is `Dialogs`: follow every chat in it that has its own log.
    Dialogs,
    /// Keep the token; the connection is now signed in.
    SignIn,
    /// Keep this token; the connection is now signed in.
    Authorize(String),
    /// Forget the token; the connection is signed out.
    LogOut,
    /// Stop following this chat.
    Leave(i64),
}

impl Inspect {
    fn of(request: &Request) -> Inspect {
        match request {
            Request::SignIn { .. } => Inspect::SignIn,
            Request::Authorize { token } => Inspect::Authorize(token.clone()),
            Request::LogOut {} => Inspect::LogOut,
            Request::Leave { chat_id } => Inspect::Leave(*chat_id),
            Request::GetDialogs { .. } => Inspect::Dialogs,
            Request::Resolve { .. } => Inspect::Peer,
            Request::GetChat { .. }
            | Request::OpenPrivate { .. }
            | Request::CreateGroup { .. }
            | Request::CreateChannel { .. }
            | Request::AddMembers { .. }
            | Request::SetTitle { .. }
            | Request::Join { .. } => Inspect::Chat,
            _ => Inspect::Nothing,
        }
    }
}

impl Connection {
    pub fn new(
        urls: Vec<String>,
        tls: Arc<rustls::ClientConfig>,
        config: &Config,
        shared: Arc<Shared>,
        calls: mpsc::Receiver<Call>,
        controls: mpsc::UnboundedReceiver<Control>,
        events: mpsc::Sender<Delivery>,
    ) -> Self {
        Connection {
            urls,
            tls,
            reconnect_min: config.reconnect_min,
            reconnect_max: config.reconnect_max,
            request_timeout: config.request_timeout,
            ping_interval: config.ping_interval,
            poll_interval: config.poll_interval,
            shared,
            calls,
            controls,
            events,
            events_closed: false,
            blocked: Duration::ZERO,
            sync: Sync::new(config.state.clone()),
            next_id: 1,
        }
    }

    /// Runs until every `Client` is dropped. `first` learns whether the first round of
    /// connection attempts (each URL once) succeeded; if not, the task ends.
    pub async fn run(mut self, first: oneshot::Sender<Result<(), ClientError>>) {
        let mut first = Some(first);
        let mut url = 0;
        let mut failures: u32 = 0;
        let mut first_round_attempts = 0;
        loop {
            let span = tracing::info_span!("connection", url = %self.urls[url]);
            let outcome = match self.open(url).instrument(span.clone()).await {
                Ok(ws) => self.session(ws, &mut first).instrument(span).await,
                Err(stop) => (stop, false),
            };
            match outcome {
                (Stop::Shutdown, _) => return,
                (Stop::Dropped(_), true) => {
                    // It worked for a while: start over with the shortest wait, same server.
                    failures = 0;
                    tracing::info!("disconnected; reconnecting");
                    self.deliver(Delivery { event: Some(Event::Disconnected), change: None }).await;
                }
                (Stop::Dropped(error), false) => {
                    tracing::warn!(url = %self.urls[url], %error, "connection attempt failed");
                    url = (url + 1) % self.urls.len();
                    first_round_attempts += 1;
                    if first_round_attempts >= self.urls.len() {
                        if let Some(first) = first.take() {
                            let _ = first.send(Err(error));
                            return;
                        }
                    }
                }
            }
            let wait = backoff(failures, self.reconnect_min, self.reconnect_max);
            failures = failures.saturating_add(1);
            if let Err(Stop::Shutdown) = self.idle(wait).await {
                return;
            }
        }
    }

    /// Opens a WebSocket to `urls[url]`, serving controls meanwhile.
    async fn open(&mut self, url: usize) -> Result<Ws, Stop> {
        let target = self.urls[url].clone();
        // tungstenite zero-fills its whole read buffer (128 KiB by default) before every read:
        // with thousands of clients in one process (the benchmarks) that memset was a third of
        // the process's CPU. Frames larger than the buffer still arrive, over several reads.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(8 * 1024);
        let tls = tokio_tungstenite::Connector::Rustls(self.tls.clone());
        let connecting = tokio::time::timeout(
            self.request_timeout,
            tokio_tungstenite::connect_async_tls_with_config(target, Some(config), true, Some(tls)),
        );
        tokio::pin!(connecting);
        loop {
            tokio::select! {
                connected = &mut connecting => {
                    return match connected {
                        Ok(Ok((ws, _response))) => Ok(ws),
                        Ok(Err(error)) => Err(Stop::Dropped(ClientError::Io(io_error(error)))),
                        Err(_elapsed) => Err(Stop::Dropped(ClientError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "WebSocket handshake timed out",
                        )))),
                    };
                }
                control = self.controls.recv() => self.on_control_offline(control).await?,
            }
        }
    }

    /// Waits `wait` between attempts, serving controls meanwhile.
    async fn idle(&mut self, wait: Duration) -> Result<(), Stop> {
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Ok(()),
                control = self.controls.recv() => self.on_control_offline(control).await?,
            }
        }
    }

    async fn on_control_offline(&mut self, control: Option<Control>) -> Result<(), Stop> {
        let control = control.ok_or(Stop::Shutdown)?;
        for action in self.on_control(control) {
            match action {
                Action::Deliver(delivery) => self.deliver(delivery).await,
                // Offline, `Sync` fetches nothing; `start` will on the next connection.
                Action::Fetch { .. } => {}
            }
        }
        Ok(())
    }

    fn on_control(&mut self, control: Control) -> Vec<Action> {
        match control {
            Control::Track { chat_id, pts } => self.sync.track(chat_id, pts),
            Control::Untrack { chat_id } => self.sync.untrack(chat_id),
        }
    }

    /// Drives one open WebSocket until it ends. Returns why, and whether it got as far as
    /// `Event::Connected`.
    async fn session(&mut self, ws: Ws, first: &mut Option<oneshot::Sender<Result<(), ClientError>>>) -> (Stop, bool) {
        let (sink, mut stream) = ws.split();
        self.blocked = Duration::ZERO;
        let now = Instant::now();
        let mut session = Session {
            sink,
            pending: HashMap::new(),
            fetch_queue: VecDeque::new(),
            fetches_in_flight: 0,
            fetch_paused_until: None,
            ready: false,
            signed_in: false,
            last_heard: now,
            last_ping: now,
            last_sync: now,
        };
        let stop = match self.drive(&mut session, &mut stream, first).await {
            Err(stop) => stop,
            Ok(never) => match never {},
        };
        for (_, pending) in session.pending.drain() {
            if let Pending::Call { reply, .. } = pending {
                let _ = reply.send(Err(ClientError::Disconnected));
            }
        }
        self.sync.stop();
        // Best effort, and brief: the server may already be gone or not reading.
        let _ = tokio::time::timeout(Duration::from_secs(1), session.sink.close()).await;
        (stop, session.ready)
    }

    async fn drive(
        &mut self,
        s: &mut Session,
        stream: &mut SplitStream<Ws>,
        first: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> Result<Infallible, Stop> {
        match self.shared.token() {
            Some(token) => {
                let deadline = Instant::now() + self.request_timeout;
                self.send_internal(s, Request::Authorize { token }, Pending::Authorize { deadline }).await?;
            }
            None => self.on_ready(s, first).await,
        }
        let period = (self.request_timeout.min(self.ping_interval) / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                frame = stream.next() => {
                    s.last_heard = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(text))) => self.on_frame(s, text.as_str(), first).await?,
                        Some(Ok(Message::Close(_))) | None => {
                            return Err(Stop::Dropped(ClientError::Disconnected));
                        }
                        // Pings are answered by tungstenite; pongs only prove the server lives.
                        Some(Ok(_)) => {}
                        Some(Err(error)) => return Err(Stop::Dropped(ClientError::Io(io_error(error)))),
                    }
                }
                call = self.calls.recv(), if s.ready => match call {
                    Some(call) => self.on_call(s, call).await?,
                    None => return Err(Stop::Shutdown),
                },
                control = self.controls.recv() => {
                    let actions = self.on_control(control.ok_or(Stop::Shutdown)?);
                    self.execute(s, actions).await?;
                }
                _ = tick.tick() => self.on_tick(s).await?,
            }
        }
    }

    /// The connection can carry application calls now.
    async fn on_ready(&mut self, s: &mut Session, first: &mut Option<oneshot::Sender<Result<(), ClientError>>>) {
        s.ready = true;
        tracing::info!(signed_in = s.signed_in, "connected");
        self.deliver(Delivery { event: Some(Event::Connected), change: None }).await;
        if let Some(first) = first.take() {
            let _ = first.send(Ok(()));
        }
    }

    async fn on_call(&mut self, s: &mut Session, call: Call) -> Result<(), Stop> {
        if call.reply.is_closed() {
            // The caller timed out while we were disconnected: do not act on a stale request.
            return Ok(());
        }
        let id = self.take_id();
        let text = match encode(id, &call.request) {
            Ok(text) => text,
            Err(error) => {
                let _ = call.reply.send(Err(error));
                return Ok(());
            }
        };
        tracing::debug!(id, method = call.request.method(), "call");
        s.pending.insert(id, Pending::Call { reply: call.reply, inspect: Inspect::of(&call.request) });
        send(s, text).await
    }

    async fn send_internal(&mut self, s: &mut Session, request: Request, pending: Pending) -> Result<(), Stop> {
        let id = self.take_id();
        let text = encode(id, &request).map_err(Stop::Dropped)?;
        tracing::debug!(id, method = request.method(), "internal call");
        s.pending.insert(id, pending);
        send(s, text).await
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn on_frame(
        &mut self,
        s: &mut Session,
        text: &str,
        first: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> Result<(), Stop> {
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                // Perhaps a newer server; skipping it is all we can do. Never log the text.
                tracing::warn!(%error, "unreadable frame from the server, skipped");
                return Ok(());
            }
        };
        match frame {
            ServerFrame::Result { id, result } => self.on_answer(s, id, Ok(result), first).await,
            ServerFrame::Error { id: Some(id), error } => self.on_answer(s, id, Err(error), first).await,
            ServerFrame::Error { id: None, error } => {
                tracing::warn!(code = %error.code, "the server could not read a frame we sent");
                Ok(())
            }
            ServerFrame::Update { update } => {
                s.last_sync = Instant::now();
                let actions = self.sync.on_update(update);
                self.execute(s, actions).await
            }
            ServerFrame::Typing { chat_id, user_id } => {
                self.deliver(Delivery { event: Some(Event::Typing { chat_id, user_id }), change: None }).await;
                Ok(())
            }
            ServerFrame::Resync { reason } => {
                tracing::info!(%reason, "server asked for a resync");
                let actions = self.sync.resync();
                self.execute(s, actions).await
            }
        }
    }

    async fn on_answer(
        &mut self,
        s: &mut Session,
        id: u64,
        answer: Result<serde_json::Value, Error>,
        first: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> Result<(), Stop> {
        let Some(pending) = s.pending.remove(&id) else {
            tracing::debug!(id, "answer to no pending request");
            return Ok(());
        };
        match pending {
            Pending::Void => Ok(()),
            Pending::Call { reply, inspect } => {
                if let Ok(result) = &answer {
                    let actions = self.inspect(s, inspect, result);
                    self.execute(s, actions).await?;
                }
                let _ = reply.send(answer.map_err(ClientError::Server));
                Ok(())
            }
            Pending::Authorize { .. } => match answer {
                Ok(_) => {
                    s.signed_in = true;
                    self.on_ready(s, first).await;
                    let actions = self.sync.start();
                    self.execute(s, actions).await
                }
                Err(error) if error.code == ErrorCode::SessionRevoked => {
                    tracing::warn!("the stored session was revoked; signed out");
                    self.shared.set_token(None);
                    self.on_ready(s, first).await;
                    self.deliver(Delivery { event: Some(Event::SignedOut { error }), change: None }).await;
                    Ok(())
                }
                Err(error) => Err(Stop::Dropped(ClientError::Server(error))),
            },
            Pending::Difference { log, .. } => {
                s.fetches_in_flight = s.fetches_in_flight.saturating_sub(1);
                match answer {
                    Ok(result) => {
                        let difference = Difference::deserialize(&result)
                            .map_err(|e| Stop::Dropped(ClientError::Protocol(format!("unreadable difference: {e}"))))?;
                        let actions = self.sync.on_difference(log, difference);
                        self.execute(s, actions).await?;
                    }
                    Err(error) if error.code == ErrorCode::FloodWait => {
                        let wait = Duration::from_secs(error.retry_after.unwrap_or(1).into());
                        tracing::info!(?wait, "catch-up rate limited");
                        s.fetch_queue.push_front(log);
                        s.fetch_paused_until = Some(Instant::now() + wait);
                    }
                    Err(error) if error.code == ErrorCode::ChatNotFound => {
                        // Left or lost access while we were away.
                        if let Some(chat_id) = log {
                            let actions = self.sync.untrack(chat_id);
                            self.execute(s, actions).await?;
                        }
                    }
                    Err(error) if error.code == ErrorCode::SessionRevoked => {
                        // The session ended while this fetch was in flight (a log-out on this
                        // connection whose answer is still on its way, or another device's
                        // revoke): stop fetching and let the answer and the server's close
                        // frame arrive, so a pending `log_out` still gets its answer.
                        self.sync.stop();
                        s.fetch_queue.clear();
                        return Ok(());
                    }
                    Err(error) => return Err(Stop::Dropped(ClientError::Server(error))),
                }
                self.pump(s).await
            }
        }
    }

    /// Learns from an application call's result: tokens, sign-in state, chats to follow.
    fn inspect(&mut self, s: &mut Session, inspect: Inspect, result: &serde_json::Value) -> Vec<Action> {
        // Results that do not parse are left for the caller's typed parse to report.
        match inspect {
            Inspect::Nothing => Vec::new(),
            Inspect::Chat => Chat::deserialize(result).map(|chat| self.sync.observe_chat(&chat)).unwrap_or_default(),
            Inspect::Peer => match Peer::deserialize(result) {
                Ok(Peer::Chat { chat }) => self.sync.observe_chat(&chat),
                _ => Vec::new(),
            },
            Inspect::Dialogs => match Dialogs::deserialize(result) {
                Ok(dialogs) => dialogs.dialogs.iter().flat_map(|dialog| self.sync.observe_chat(&dialog.chat)).collect(),
                Err(_) => Vec::new(),
            },
            Inspect::SignIn => match Authorization::deserialize(result) {
                Ok(authorization) => {
                    self.shared.set_token(Some(authorization.token));
                    s.signed_in = true;
                    self.sync.start()
                }
                Err(_) => Vec::new(),
            },
            Inspect::Authorize(token) => {
                self.shared.set_token(Some(token));
                s.signed_in = true;
                self.sync.start()
            }
            Inspect::LogOut => {
                self.shared.set_token(None);
                s.signed_in = false;
                self.sync.stop();
                s.fetch_queue.clear();
                s.fetches_in_flight = 0;
                for pending in s.pending.values_mut() {
                    if matches!(pending, Pending::Difference { .. }) {
                        *pending = Pending::Void;
                    }
                }
                Vec::new()
            }
            Inspect::Leave(chat_id) => self.sync.untrack(chat_id),
        }
    }

    /// Carries out what `Sync` decided, in order.
    async fn execute(&mut self, s: &mut Session, actions: Vec<Action>) -> Result<(), Stop> {
        for action in actions {
            match action {
                Action::Deliver(delivery) => self.deliver(delivery).await,
                Action::Fetch { log } => s.fetch_queue.push_back(log),
            }
        }
        self.pump(s).await
    }

    /// Sends queued catch-up requests while there is room.
    async fn pump(&mut self, s: &mut Session) -> Result<(), Stop> {
        while s.fetches_in_flight < MAX_FETCHES {
            if let Some(until) = s.fetch_paused_until {
                if Instant::now() < until {
                    break;
                }
                s.fetch_paused_until = None;
            }
            let Some(log) = s.fetch_queue.pop_front() else { break };
            // `None`: the chat was unfollowed after its fetch was queued.
            let Some(pts) = self.sync.local(log) else { continue };
            let request = match log {
                None => Request::GetDifference { pts, limit: None },
                Some(chat_id) => Request::GetChatDifference { chat_id, pts, limit: None },
            };
            let deadline = Instant::now() + self.request_timeout;
            self.send_internal(s, request, Pending::Difference { log, deadline }).await?;
            s.fetches_in_flight += 1;
        }
        Ok(())
    }

    /// Timeouts of the connection's own requests, keepalive, and resuming paused catch-up.
    async fn on_tick(&mut self, s: &mut Session) -> Result<(), Stop> {
        let now = Instant::now();
        let blocked = std::mem::take(&mut self.blocked);
        if !blocked.is_zero() {
            s.last_heard = (s.last_heard + blocked).min(now);
            for pending in s.pending.values_mut() {
                if let Pending::Authorize { deadline } | Pending::Difference { deadline, .. } = pending {
                    *deadline += blocked;
                }
            }
        }
        let overdue = s.pending.values().any(|pending| match pending {
            Pending::Authorize { deadline } | Pending::Difference { deadline, .. } => *deadline <= now,
            Pending::Call { .. } | Pending::Void => false,
        });
        if overdue {
            return Err(Stop::Dropped(ClientError::Timeout));
        }
        let silent = now.duration_since(s.last_heard);
        if silent >= self.ping_interval + self.request_timeout {
            return Err(Stop::Dropped(ClientError::Timeout));
        }
        if s.ready && s.signed_in && now.duration_since(s.last_sync) >= self.poll_interval {
            s.last_sync = now;
            let actions = self.sync.resync();
            self.execute(s, actions).await?;
        }
        if silent >= self.ping_interval && now.duration_since(s.last_ping) >= self.ping_interval {
            s.last_ping = now;
            s.sink.send(Message::Ping(Default::default())).await.map_err(|e| Stop::Dropped(ClientError::Io(io_error(e))))?;
        }
        self.pump(s).await
    }

    /// Hands a delivery to the application, waiting for room rather than dropping it.
    async fn deliver(&mut self, delivery: Delivery) {
        if self.events_closed {
            self.consume_undelivered(delivery);
            return;
        }
        let delivery = match self.events.try_send(delivery) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(delivery)) => delivery,
            Err(mpsc::error::TrySendError::Closed(delivery)) => {
                self.consume_undelivered(delivery);
                return;
            }
        };
        // Full: wait for the application rather than drop anything.
        let since = Instant::now();
        let sent = self.events.send(delivery).await;
        self.blocked += since.elapsed();
        if let Err(mpsc::error::SendError(delivery)) = sent {
            self.consume_undelivered(delivery);
        }
    }

    /// Nobody reads events any more, but `Client::state` must still move on.
    fn consume_undelivered(&mut self, delivery: Delivery) {
        self.events_closed = true;
        self.shared.consume(delivery);
    }
}

async fn send(s: &mut Session, text: String) -> Result<(), Stop> {
    s.sink.send(Message::text(text)).await.map_err(|e| Stop::Dropped(ClientError::Io(io_error(e))))
}

/// The text frame of request `id`, refused here if the server would refuse it for its size.
fn encode(id: u64, request: &Request) -> Result<String, ClientError> {
    let frame = ClientFrame { id, method: request.method().to_owned(), params: request.params() };
    let text = serde_json::to_string(&frame).map_err(|e| ClientError::Protocol(format!("cannot encode request: {e}")))?;
    if text.len() > MAX_FRAME_BYTES {
        return Err(ClientError::Server(Error::new(
            ErrorCode::FrameTooLarge,
            format!("the request is {} bytes, the server reads at most {MAX_FRAME_BYTES} (checked by the client)", text.len()),
        )));
    }
    Ok(text)
}

fn io_error(error: tungstenite::Error) -> std::io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        other => std::io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_as_frames_the_server_parses() {
        let requests = [
            Request::GetMe {},
            Request::LogOut {},
            Request::SendMessage { chat_id: 1, random_id: -5, text: "hi".into(), reply_to: None },
            Request::GetChatDifference { chat_id: 9, pts: 3, limit: Some(10) },
        ];
        for (id, request) in requests.into_iter().enumerate() {
            let text = encode(id as u64, &request).expect("encodes");
            let parsed = ClientFrame::parse(&text).map_err(|(_, e)| e).expect("server parses it");
            assert_eq!(parsed, (id as u64, request));
        }
    }

    #[test]
    fn oversized_requests_are_refused_locally() {
        let request = Request::SendMessage { chat_id: 1, random_id: 1, text: "x".repeat(MAX_FRAME_BYTES), reply_to: None };
        let error = encode(1, &request).expect_err("too large");
        assert_eq!(error.code(), Some(ErrorCode::FrameTooLarge));
    }

    #[test]
    fn results_that_name_chats_are_inspected() {
        let table = [
            (Request::GetChat { chat_id: 1 }, Inspect::Chat),
            (Request::Join { invite: None, username: Some("x".into()) }, Inspect::Chat),
            (Request::CreateChannel { title: "t".into(), username: None }, Inspect::Chat),
            (Request::GetDialogs { limit: None, offset: None }, Inspect::Dialogs),
            (Request::Resolve { username: "x".into() }, Inspect::Peer),
            (Request::Leave { chat_id: 4 }, Inspect::Leave(4)),
            (Request::Authorize { token: "t".into() }, Inspect::Authorize("t".into())),
            (Request::GetMe {}, Inspect::Nothing),
        ];
        for (request, expect) in table {
            assert_eq!(Inspect::of(&request), expect, "{}", request.method());
        }
    }
}
