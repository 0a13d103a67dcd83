//! `GET /ws`: one WebSocket per device.
//!
//! Each connection is two tasks joined by a bounded channel: the reader parses frames and
//! runs requests (up to [`MAX_IN_FLIGHT`] at once, so a slow request does not stall the
//! others), and the writer owns the socket's sending half, the bus [`Subscription`], and the
//! ordering of everything sent. A client that does not read fills its own queues: requests
//! stop being read, live updates are dropped for it and it is told to resync. Nothing it
//! does grows server memory or slows anyone else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use heliograph_bus::{Delivery, Notice, Subscription, Topic};
use heliograph_core::UserId;
use heliograph_proto::{ClientFrame, Error, ErrorCode, ServerFrame, UpdateKind};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::methods::{self, Caller, Effect, SignedIn};
use crate::state::Shared;

/// Requests one connection may have running at once; more wait to be read.
pub const MAX_IN_FLIGHT: usize = 32;
/// A client that does not take a frame within this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The WebSocket's read buffer: a few requests' worth (a request is a few hundred bytes; a
/// larger frame grows it for as long as it is read). tungstenite's default is 128 KiB, which
/// an idle connection would keep.
const READ_BUFFER: usize = 1024;
/// Frames queued before the WebSocket writes to the socket without waiting for a flush (the
/// writer flushes after each burst). Small: the buffer keeps its size while a connection idles.
const WRITE_BUFFER: usize = 8 * 1024;
/// Close codes (4000-4999 are the application's).
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_REVOKED: u16 = 4001;
const CLOSE_IDLE: u16 = 4002;

/// What the reader asks the writer to do, in order.
enum Out {
    /// A frame, already encoded by whoever made it (the request's own task, so the writer
    /// only writes; and a queue slot is a pointer, not a whole frame, which keeps an idle
    /// connection's queue small). `None`: it could not be encoded.
    Frame(Option<Box<str>>),
    /// The connection signed in: follow this user's topics from now on.
    Follow(SignedIn),
    /// The caller just got access to a chat with its own log (joined, created, added): follow
    /// its topic before the answer goes out, so a post made right after reaches them live.
    FollowChat(i64),
    Close(u16, Box<str>),
}

impl Out {
    fn frame(frame: &ServerFrame) -> Out {
        Out::Frame(encode(frame).map(String::into_boxed_str))
    }
}

/// `GET /ws` (or HTTP/2's extended `CONNECT /ws`).
pub fn routes<S: Clone + Send + Sync + 'static>(shared: Arc<Shared>) -> Router<S> {
    // `any`: over HTTP/2 (browsers on HTTPS) a WebSocket opens with CONNECT (RFC 8441),
    // over HTTP/1.1 with GET; the upgrade extractor refuses every other method.
    Router::new().route("/ws", any(upgrade)).with_state(shared)
}

/// The route handler: caps connections, limits frame sizes, upgrades.
async fn upgrade(State(shared): State<Arc<Shared>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the server has reached its connection limit; try again later").into_response();
    };
    let Some(address_permit) = shared.connections_per_address.try_acquire(peer.ip()) else {
        let per_address = shared.connections_per_address.max();
        let message = format!("too many connections from your address (at most {per_address}); close some and try again");
        return (StatusCode::TOO_MANY_REQUESTS, message).into_response();
    };
    let max = shared.config.limits.max_frame_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // Split before the task's future is made: the whole socket is not kept in it.
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            async move {
                let _permits = (permit, address_permit);
                crate::metrics::connection_opened();
                connection(shared, sink, stream, peer.ip()).await;
                crate::metrics::connection_closed();
            }
        })
}

#[tracing::instrument(name = "connection", skip_all, fields(addr = %addr, user = tracing::field::Empty))]
async fn connection(shared: Arc<Shared>, sink: Sink, mut stream: SplitStream<WebSocket>, addr: IpAddr) {
    let (out, out_rx) = mpsc::channel::<Out>(64);
    let done = shared.shutdown.child_token();
    let writer = tokio::spawn(writer(shared.clone(), sink, out_rx, done.clone()));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut caller = Caller { addr, session: None };
    let mut closing = (CLOSE_GOING_AWAY, "server shutting down".to_string());
    let idle_timeout = shared.config.limits.idle_timeout();

    loop {
        // A client must finish a frame (any frame, pings included) within the idle timeout:
        // one that starts a frame and never completes it is dropped here.
        let frame = tokio::select! {
            frame = tokio::time::timeout(idle_timeout, stream.next()) => match frame {
                Ok(frame) => frame,
                Err(_) => {
                    let secs = idle_timeout.as_secs();
                    closing = (CLOSE_IDLE, format!("IDLE_TIMEOUT: no complete frame in {secs} s; send a ping to keep a connection open"));
                    break;
                }
            },
            () = done.cancelled() => break,
        };
        let text = match frame {
            None | Some(Ok(Message::Close(_))) => {
                closing = (1000, "bye".into());
                break;
            }
            Some(Err(e)) => {
                if is_too_big(&e) {
                    let limit = shared.config.limits.max_frame_bytes;
                    closing = (CLOSE_TOO_BIG, format!("FRAME_TOO_LARGE: frames are at most {limit} bytes"));
                } else {
                    closing = (1002, "protocol error".into());
                }
                break;
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let error = Error::new(ErrorCode::BadRequest, "binary frames are not accepted: send JSON as text frames");
                if out.send(Out::frame(&ServerFrame::Error { id: None, error })).await.is_err() {
                    break;
                }
                continue;
            }
            Some(Ok(_)) => continue, // ping/pong: answered by the WebSocket layer
        };
        let (id, request) = match ClientFrame::parse(text.as_str()) {
            Ok(parsed) => parsed,
            Err((id, error)) => {
                if out.send(Out::frame(&ServerFrame::Error { id, error })).await.is_err() {
                    break;
                }
                continue;
            }
        };
        // One address's requests, all connections together. Past the limit the request is
        // refused and this connection is not read until the wait is over, so a flood costs
        // the server a timer, and the flooder's own TCP window does the rest.
        if let Err(wait) = shared.requests_per_address.check(&addr) {
            crate::metrics::record_request(request.method(), ErrorCode::FloodWait.as_str(), Duration::ZERO);
            let error = crate::errors::flood_wait(wait.secs(), "requests from your address");
            if out.send(Out::frame(&ServerFrame::Error { id: Some(id), error })).await.is_err() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(wait.0) => {}
                () = done.cancelled() => break,
            }
            continue;
        }
        // Requests that change the connection's own session run in line, in order.
        let in_line = request.is_public()
            || matches!(request, heliograph_proto::Request::LogOut {} | heliograph_proto::Request::RevokeSession { .. });
        if in_line {
            // Boxed: a call's future is large, and inline it would make every connection's
            // reader that large for as long as the connection lives.
            let answer = Box::pin(methods::call(&shared, &caller, request)).await;
            let (frame, effect) = frame_of(id, answer);
            if let Effect::SignedIn(signed) = effect {
                caller.session = Some(signed);
                tracing::Span::current().record("user", signed.user.0);
                if out.send(Out::Follow(signed)).await.is_err() {
                    break;
                }
            }
            if out.send(Out::frame(&frame)).await.is_err() {
                break;
            }
            if effect == Effect::SignedOut {
                // Only now, with the answer queued ahead of it, tell every connection of this
                // session (this one included) that it ended.
                if let Some(signed) = caller.session {
                    let session_id = signed.session.0;
                    shared.bus.publish(heliograph_bus::Topic::Session(session_id), Notice::SessionRevoked { session_id });
                    // A bot signed in here with its token: every node forgets its checked token.
                    shared.bus.publish(heliograph_bus::Topic::Revocations, Notice::CredentialsRevoked { user_id: signed.user.0 });
                }
                closing = (CLOSE_REVOKED, "SESSION_REVOKED: signed out".into());
                break;
            }
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let (shared, caller, out) = (shared.clone(), caller.clone(), out.clone());
        // Each request's task ends on its own (an idle connection keeps no finished task);
        // `in_flight` counts them.
        tokio::spawn(async move {
            let answer = methods::call(&shared, &caller, request).await;
            if let Some(chat) = answer.as_ref().ok().and_then(|(result, _)| own_log_chat(result)) {
                let _ = out.send(Out::FollowChat(chat)).await;
            }
            let (frame, _) = frame_of(id, answer);
            let _ = out.send(Out::frame(&frame)).await;
            drop(permit);
        });
    }
    // Finish what was started: every request already read gets its answer (and every send
    // its commit) before the connection closes.
    let _all_answered = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
    let _ = out.send(Out::Close(closing.0, closing.1.into())).await;
    drop(out);
    let _ = writer.await;
    // Wait (briefly) for the client's close: closing a socket with unread input makes the
    // kernel reset it, and the client would lose our close frame and last answers. Requests
    // read now are not answered, and so were never acknowledged.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// A result that is a chat the caller is a member of and that keeps its own log.
fn own_log_chat(result: &serde_json::Value) -> Option<i64> {
    let has = |field: &str| result.get(field).is_some_and(|v| !v.is_null());
    (has("chat_pts") && has("role") && has("kind")).then(|| result.get("id").and_then(serde_json::Value::as_i64)).flatten()
}

fn frame_of(id: u64, answer: Result<(serde_json::Value, Effect), Error>) -> (ServerFrame, Effect) {
    match answer {
        Ok((result, effect)) => (ServerFrame::Result { id, result }, effect),
        Err(error) => (ServerFrame::Error { id: Some(id), error }, Effect::None),
    }
}

fn is_too_big(e: &axum::Error) -> bool {
    let text = format!("{e:?}");
    text.contains("Capacity") || text.contains("too long") || text.contains("too big")
}

async fn next_delivery(sub: &mut Option<Subscription>) -> Option<Delivery> {
    match sub {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Queues one frame in the connection's write buffer; [`flush`] sends what is queued. False
/// when the frame cannot be encoded or the client has not taken earlier frames in time.
async fn send(sink: &mut Sink, frame: &ServerFrame) -> bool {
    match encode(frame) {
        Some(text) => send_text(sink, text).await,
        None => false,
    }
}

async fn send_text(sink: &mut Sink, text: String) -> bool {
    matches!(tokio::time::timeout(WRITE_TIMEOUT, sink.feed(Message::Text(Utf8Bytes::from(text)))).await, Ok(Ok(())))
}

/// A frame as the text that goes on the wire. Every frame type serializes; `None` would be a
/// bug, and the connection closes rather than skip a frame silently.
fn encode(frame: &ServerFrame) -> Option<String> {
    match serde_json::to_string(frame) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::error!(error = %e, "a frame could not be encoded; closing the connection");
            None
        }
    }
}

async fn flush(sink: &mut Sink) -> bool {
    matches!(tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await, Ok(Ok(())))
}

async fn close(sink: &mut Sink, code: u16, reason: String) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from(reason) };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}

/// What the writer does next: something the reader queued, or something the bus delivered.
enum Next {
    Out(Option<Out>),
    Delivery(Option<Delivery>),
}

/// Whether the writer goes on after an item.
enum Step {
    Continue,
    Stop,
}

/// Owns the sending half: answers, live updates, and the close. Frames that are ready
/// together (answers and updates of a busy connection) go out in one write: each is queued
/// in the WebSocket's buffer, and the buffer is flushed once nothing more is waiting.
async fn writer(shared: Arc<Shared>, mut sink: Sink, mut out: mpsc::Receiver<Out>, done: CancellationToken) {
    let mut sub: Option<Subscription> = None;
    let mut me: Option<SignedIn> = None;
    'connection: loop {
        let mut next = tokio::select! {
            biased;
            item = out.recv() => Next::Out(item),
            delivery = next_delivery(&mut sub) => Next::Delivery(delivery),
        };
        loop {
            let step = match next {
                Next::Out(item) => on_out(&shared, &mut sink, &mut sub, &mut me, item).await,
                Next::Delivery(delivery) => on_delivery(&mut sink, sub.as_mut(), me, delivery).await,
            };
            if let Step::Stop = step {
                break 'connection;
            }
            next = if let Ok(item) = out.try_recv() {
                Next::Out(Some(item))
            } else if let Some(delivery) = sub.as_mut().and_then(Subscription::try_recv) {
                Next::Delivery(Some(delivery))
            } else {
                break;
            };
        }
        if !flush(&mut sink).await {
            break;
        }
    }
    // The reader stops too when the writer gives up (revoked, or a client that stopped reading).
    done.cancel();
}

async fn on_out(shared: &Shared, sink: &mut Sink, sub: &mut Option<Subscription>, me: &mut Option<SignedIn>, item: Option<Out>) -> Step {
    match item {
        None => return Step::Stop,
        Some(Out::Frame(None)) => return Step::Stop,
        Some(Out::Frame(Some(text))) => {
            if !send_text(sink, String::from(text)).await {
                return Step::Stop;
            }
        }
        Some(Out::FollowChat(chat)) => {
            if let Some(sub) = sub.as_mut() {
                sub.follow(Topic::Chat(chat));
                shared.bus.ready().await;
            }
        }
        Some(Out::Follow(signed)) => {
            // Boxed: once per connection, and inline it would enlarge the writer for its life.
            *sub = Some(Box::pin(follow(shared, signed)).await);
            *me = Some(signed);
        }
        Some(Out::Close(code, reason)) => {
            // Answers queued before the close go first.
            let _ = flush(sink).await;
            close(sink, code, reason.into()).await;
            return Step::Stop;
        }
    }
    Step::Continue
}

async fn on_delivery(sink: &mut Sink, sub: Option<&mut Subscription>, me: Option<SignedIn>, delivery: Option<Delivery>) -> Step {
    let Some(delivery) = delivery else { return Step::Stop };
    let Some(signed) = me else { return Step::Continue };
    let sent = match delivery {
        Delivery::Lagged => {
            crate::metrics::resync();
            let frame = ServerFrame::Resync { reason: "you fell behind and missed live updates; call updates.get_difference".into() };
            send(sink, &frame).await
        }
        Delivery::Notice(notice) => match &*notice {
            Notice::SessionRevoked { .. } => {
                let _ = flush(sink).await;
                close(sink, CLOSE_REVOKED, "SESSION_REVOKED: this session was ended".into()).await;
                return Step::Stop;
            }
            Notice::Typing { chat_id, user_id } => {
                *user_id == signed.user.0 || send(sink, &ServerFrame::Typing { chat_id: *chat_id, user_id: *user_id }).await
            }
            // A log position a client does not render; its next update's pts covers it. A
            // connection does not follow `Topic::Revocations` (its session has its own topic).
            Notice::Appended { .. } | Notice::CredentialsRevoked { .. } => true,
            Notice::Update(update) => {
                if let Some(sub) = sub {
                    track_chat_topics(sub, signed.user, &update.kind);
                }
                send(sink, &ServerFrame::Update { update: update.clone() }).await
            }
        },
    };
    if sent {
        Step::Continue
    } else {
        Step::Stop
    }
}

/// A subscription for a freshly signed-in connection: the user's own topic, the session's
/// control topic, and the topic of every chat with its own log that the user is in.
async fn follow(shared: &Shared, signed: SignedIn) -> Subscription {
    let mut sub = shared.bus.subscribe(shared.config.limits.send_queue);
    sub.follow(Topic::User(signed.user.0));
    sub.follow(Topic::Session(signed.session.0));
    match shared.store.own_log_chats(signed.user).await {
        Ok(chats) => {
            for (chat, _) in chats {
                sub.follow(Topic::Chat(chat.0));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list chats to follow; the client will catch up by difference"),
    }
    // The sign-in answer goes out after this: anything committed once the client has it
    // reaches this connection live (a network bus needs a round trip for that).
    shared.bus.ready().await;
    sub
}

/// Keeps the followed chat topics in step with membership as updates arrive.
fn track_chat_topics(sub: &mut Subscription, me: UserId, kind: &UpdateKind) {
    match kind {
        UpdateKind::Chat { chat } if chat.chat_pts.is_some() && chat.role.is_some() => sub.follow(Topic::Chat(chat.id)),
        UpdateKind::Participant { chat_id, user_id, role: None, .. } if *user_id == me.0 => sub.unfollow(Topic::Chat(*chat_id)),
        _ => {}
    }
}
