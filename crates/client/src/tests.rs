//! The SDK against a scripted fake server on `127.0.0.1:0`: the test plays the server, one
//! frame at a time, so each test can put frames exactly where the tricky cases are (answers
//! out of order, updates in the middle of a catch-up, a drop with a call in flight).
//!
//! The fake exists only here, to test the SDK before and apart from the real server; the
//! project's integration tests run the SDK against the real one.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use heliograph_proto::{
    Authorization, Chat, ChatKind, ClientFrame, Dialog, Dialogs, Difference, Error, ErrorCode, Request, Role, ServerFrame, Update,
    UpdateKind, User,
};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request as HttpRequest, Response as HttpResponse};
use tokio_tungstenite::tungstenite::Message;

use crate::{Client, ClientError, Config, Event, SyncState, Updates};

/// Every wait in these tests is for an event; this only turns a hang into a failure.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future).await.expect("timed out waiting")
}

/// A WebSocket server whose connections the test drives by hand.
struct Fake {
    url: String,
    conns: mpsc::UnboundedReceiver<Conn>,
}

/// One accepted connection: requests the client sent, and a way to send frames back.
/// Dropping it closes the TCP connection without a closing handshake, like a crash.
struct Conn {
    incoming: mpsc::UnboundedReceiver<(u64, Request)>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, tx.clone()));
            }
        });
        Fake { url, conns }
    }

    async fn accept(&mut self) -> Conn {
        within(self.conns.recv()).await.expect("a connection")
    }
}

#[allow(clippy::result_large_err, reason = "the handshake callback's type is tungstenite's")]
async fn serve(tcp: TcpStream, conns: mpsc::UnboundedSender<Conn>) {
    let check_path = |request: &HttpRequest, response: HttpResponse| {
        assert_eq!(request.uri().path(), "/ws", "the SDK connects to /ws");
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, check_path).await else { return };
    let (in_tx, incoming) = mpsc::unbounded_channel();
    let (outgoing, mut out_rx) = mpsc::unbounded_channel();
    if conns.send(Conn { incoming, outgoing }).is_err() {
        return;
    }
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let request = ClientFrame::parse(text.as_str()).map_err(|(_, e)| e).expect("the SDK sends valid requests");
                    let _ = in_tx.send(request);
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            out = out_rx.recv() => match out {
                Some(message) => {
                    if sink.send(message).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}

impl Conn {
    async fn next(&mut self) -> (u64, Request) {
        within(self.incoming.recv()).await.expect("a request")
    }

    /// The next request, which must be `method`.
    async fn expect(&mut self, method: &str) -> (u64, Request) {
        let (id, request) = self.next().await;
        assert_eq!(request.method(), method, "{request:?}");
        (id, request)
    }

    fn send(&self, frame: ServerFrame) {
        self.raw(&serde_json::to_string(&frame).expect("encodes"));
    }

    fn raw(&self, text: &str) {
        self.outgoing.send(Message::text(text)).expect("connection open");
    }

    fn reply(&self, id: u64, result: impl Serialize) {
        self.send(ServerFrame::Result { id, result: serde_json::to_value(result).expect("encodes") });
    }

    fn fail(&self, id: u64, code: ErrorCode) {
        self.send(ServerFrame::Error { id: Some(id), error: Error::new(code, "from the fake") });
    }

    fn push(&self, update: Update) {
        self.send(ServerFrame::Update { update });
    }

    /// Answers `auth.authorize`, checking the token.
    async fn authorize(&mut self, token: &str) {
        let (id, request) = self.expect("auth.authorize").await;
        assert_eq!(request, Request::Authorize { token: token.into() });
        self.reply(id, user(1));
    }

    /// Expects `updates.get_difference` from `pts` and answers it.
    async fn difference(&mut self, pts: i64, answer: Difference) {
        let (id, request) = self.expect("updates.get_difference").await;
        assert_eq!(request, Request::GetDifference { pts, limit: None });
        self.reply(id, answer);
    }
}

fn config(urls: Vec<String>, token: Option<&str>, state: SyncState) -> Config {
    Config {
        urls,
        ca_pem: None,
        token: token.map(Into::into),
        state,
        reconnect_min: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(100),
        request_timeout: Duration::from_secs(5),
        ping_interval: Duration::from_secs(5),
        poll_interval: Duration::from_secs(60),
        flood_wait: Duration::ZERO,
        on_flood_wait: None,
    }
}

fn user(id: i64) -> User {
    User { id, name: format!("user {id}"), username: None, bio: None, phone: None, contact: false, blocked: false, bot: false }
}

fn channel(id: i64, chat_pts: i64) -> Chat {
    Chat {
        id,
        kind: ChatKind::Channel,
        title: "news".into(),
        username: None,
        peer: None,
        member_count: 2,
        role: Some(Role::Member),
        pinned_message_id: None,
        chat_pts: Some(chat_pts),
        top_message_id: 0,
    }
}

/// An update of `log` at `pts` (one entry).
fn upd(log: Option<i64>, pts: i64) -> Update {
    Update { log, pts, pts_count: 1, date: 0, kind: UpdateKind::ReadInbox { chat_id: log.unwrap_or(1), max_id: pts } }
}

/// Events as short strings: `connected`, `u:5` (user log), `c7:3` (chat 7's log), ...
fn render(event: &Event) -> String {
    match event {
        Event::Update(u) => match u.log {
            None => format!("u:{}", u.pts),
            Some(chat_id) => format!("c{chat_id}:{}", u.pts),
        },
        Event::Typing { chat_id, user_id } => format!("typing {chat_id} {user_id}"),
        Event::TooLong { log } => format!("too_long {log:?}"),
        Event::Connected => "connected".into(),
        Event::Disconnected => "disconnected".into(),
        Event::SignedOut { error } => format!("signed_out {}", error.code),
    }
}

async fn events(updates: &mut Updates, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(render(&within(updates.recv()).await.expect("an event")));
    }
    out
}

/// Answers and requests are matched by id, not by order; errors keep their code; frames the
/// SDK cannot read or did not ask for do not break the connection; silence times out.
#[tokio::test]
async fn answers_are_matched_to_their_requests() {
    let mut fake = Fake::start().await;
    let mut cfg = config(vec![fake.url.clone()], None, SyncState::new());
    cfg.request_timeout = Duration::from_millis(300);
    let (client, mut updates) = within(Client::connect(cfg)).await.expect("connects");
    let mut conn = fake.accept().await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);

    let (c1, c2) = (client.clone(), client.clone());
    let first = tokio::spawn(async move { c1.get_users(&[10]).await });
    let (id_a, request_a) = conn.expect("users.get").await;
    let second = tokio::spawn(async move { c2.get_users(&[20]).await });
    let (id_b, request_b) = conn.expect("users.get").await;
    assert_ne!(id_a, id_b);
    assert_eq!(request_a, Request::GetUsers { ids: vec![10] });
    assert_eq!(request_b, Request::GetUsers { ids: vec![20] });
    conn.raw("this is not a frame");
    conn.raw(r#"{"type":"from_the_future","x":1}"#);
    conn.reply(999_999, user(0));
    conn.send(ServerFrame::Typing { chat_id: 5, user_id: 6 });
    conn.reply(id_b, vec![user(20)]);
    conn.reply(id_a, vec![user(10)]);
    assert_eq!(within(first).await.expect("joins").expect("ok")[0].id, 10);
    assert_eq!(within(second).await.expect("joins").expect("ok")[0].id, 20);
    assert_eq!(events(&mut updates, 1).await, ["typing 5 6"]);

    let call = tokio::spawn({
        let client = client.clone();
        async move { client.get_chat(3).await }
    });
    let (id, _) = conn.expect("chats.get").await;
    conn.fail(id, ErrorCode::ChatNotFound);
    assert_eq!(within(call).await.expect("joins").expect_err("fails").code(), Some(ErrorCode::ChatNotFound));

    let silent = client.get_me().await;
    assert!(matches!(silent, Err(ClientError::Timeout)), "{silent:?}");
    conn.expect("users.get_me").await;

    // A result of the wrong shape is a protocol error, not a panic.
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.get_me().await }
    });
    let (id, _) = conn.expect("users.get_me").await;
    conn.reply(id, "not a user");
    assert!(matches!(within(call).await.expect("joins"), Err(ClientError::Protocol(_))));
}

/// The headline property: across a catch-up, a dropped connection and a second catch-up
/// (in slices), the application sees every update exactly once and in order, and a call in
/// flight at the drop fails with `Disconnected`. Also: a dead URL is skipped.
#[tokio::test]
async fn updates_stay_gapless_and_unique_across_a_reconnect() {
    let mut fake = Fake::start().await;
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("ws://{}", listener.local_addr().expect("address"))
    };
    let connecting = tokio::spawn(Client::connect(config(vec![dead, fake.url.clone()], Some("tok"), SyncState::new())));
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    let (client, mut updates) = within(connecting).await.expect("joins").expect("connects");

    // Catch-up from 0, with live updates 3 (also in the difference) and 4 arriving first.
    let (id, request) = conn.expect("updates.get_difference").await;
    assert_eq!(request, Request::GetDifference { pts: 0, limit: None });
    conn.push(upd(None, 3));
    conn.push(upd(None, 4));
    conn.reply(id, Difference::Complete { updates: vec![upd(None, 1), upd(None, 2), upd(None, 3)], pts: 3 });
    conn.push(upd(None, 5));
    conn.push(upd(None, 4));
    assert_eq!(events(&mut updates, 6).await, ["connected", "u:1", "u:2", "u:3", "u:4", "u:5"]);
    assert_eq!(client.state().pts, 5);

    // A call in flight when the connection dies.
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get_me().await }
    });
    conn.expect("users.get_me").await;
    drop(conn);
    assert!(matches!(within(in_flight).await.expect("joins"), Err(ClientError::Disconnected)));

    // Reconnect: the token again, then the difference from 5, in two slices, with live
    // updates (a duplicate, one inside the difference, one after it) arriving meanwhile.
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    let (id, request) = conn.expect("updates.get_difference").await;
    assert_eq!(request, Request::GetDifference { pts: 5, limit: None });
    conn.push(upd(None, 5));
    conn.push(upd(None, 7));
    conn.push(upd(None, 8));
    conn.reply(id, Difference::Slice { updates: vec![upd(None, 6)], pts: 6 });
    conn.difference(6, Difference::Complete { updates: vec![upd(None, 6), upd(None, 7)], pts: 7 }).await;
    conn.push(upd(None, 9));
    assert_eq!(events(&mut updates, 6).await, ["disconnected", "connected", "u:6", "u:7", "u:8", "u:9"]);
    assert_eq!(client.state().pts, 9);

    // A gap in live updates is filled from the difference; TooLong is reported.
    conn.push(upd(None, 11));
    conn.difference(9, Difference::TooLong { pts: 20 }).await;
    conn.push(upd(None, 21));
    assert_eq!(events(&mut updates, 2).await, ["too_long None", "u:21"]);
    assert_eq!(client.state().pts, 21);
}

/// `sign_in` keeps the token for reconnects; chats with their own log seen in results are
/// followed and caught up on after a reconnect; `leave` stops following.
#[tokio::test]
async fn sign_in_token_and_followed_chats_survive_a_reconnect() {
    let mut fake = Fake::start().await;
    let (client, mut updates) = within(Client::connect(config(vec![fake.url.clone()], None, SyncState::new()))).await.expect("connects");
    let mut conn = fake.accept().await;

    let signing_in = tokio::spawn({
        let client = client.clone();
        async move { client.sign_in("+99966100000", "11111", Some("Ann"), None).await }
    });
    let (id, request) = conn.expect("auth.sign_in").await;
    assert_eq!(request, Request::SignIn { phone: "+99966100000".into(), code: "11111".into(), name: Some("Ann".into()), device: None });
    conn.reply(id, Authorization { token: "secret".into(), session_id: 1, user: user(1), new_account: true });
    assert_eq!(within(signing_in).await.expect("joins").expect("signs in").token, "secret");
    assert_eq!(client.token().as_deref(), Some("secret"));
    // Signed in: the client starts following the user log.
    conn.difference(0, Difference::Empty { pts: 0 }).await;

    let dialogs = tokio::spawn({
        let client = client.clone();
        async move { client.get_dialogs(None, None).await }
    });
    let (id, _) = conn.expect("chats.dialogs").await;
    let dialog =
        |chat: Chat| Dialog { chat, last_message: None, unread_count: 0, read_inbox_max_id: 0, read_outbox_max_id: 0, draft: None };
    let mut group = channel(8, 0);
    group.kind = ChatKind::Group;
    group.chat_pts = None;
    conn.reply(id, Dialogs { dialogs: vec![dialog(channel(7, 10)), dialog(group)], next: None });
    within(dialogs).await.expect("joins").expect("dialogs");
    conn.push(upd(Some(7), 11));
    assert_eq!(events(&mut updates, 2).await, ["connected", "c7:11"]);
    assert_eq!(client.state().chats.get(&7), Some(&11));
    assert_eq!(client.state().chats.get(&8), None);

    drop(conn);
    let mut conn = fake.accept().await;
    conn.authorize("secret").await;
    conn.difference(0, Difference::Empty { pts: 0 }).await;
    let (id, request) = conn.expect("updates.get_chat_difference").await;
    assert_eq!(request, Request::GetChatDifference { chat_id: 7, pts: 11, limit: None });
    conn.reply(id, Difference::Complete { updates: vec![upd(Some(7), 12)], pts: 12 });
    assert_eq!(events(&mut updates, 3).await, ["disconnected", "connected", "c7:12"]);

    let leaving = tokio::spawn({
        let client = client.clone();
        async move { client.leave(7).await }
    });
    let (id, _) = conn.expect("chats.leave").await;
    conn.reply(id, heliograph_proto::Ok {});
    within(leaving).await.expect("joins").expect("leaves");
    conn.push(upd(None, 1));
    assert_eq!(events(&mut updates, 1).await, ["u:1"]);
    assert_eq!(client.state(), SyncState { pts: 1, chats: Default::default() });
}

/// A call made while disconnected waits for the next connection, and is sent only after
/// that connection is signed in.
#[tokio::test]
async fn calls_wait_for_the_reconnect_and_its_authorization() {
    let mut fake = Fake::start().await;
    let mut cfg = config(vec![fake.url.clone()], Some("tok"), SyncState::new());
    cfg.reconnect_min = Duration::from_millis(200);
    let connecting = tokio::spawn(Client::connect(cfg));
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    let (client, mut updates) = within(connecting).await.expect("joins").expect("connects");
    conn.difference(0, Difference::Empty { pts: 0 }).await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);

    drop(conn);
    assert_eq!(events(&mut updates, 1).await, ["disconnected"]);
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.get_me().await }
    });
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    // Catch-up and the waiting call may go out in either order; both come after authorize.
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let (id, request) = conn.next().await;
        match request {
            Request::GetMe {} => conn.reply(id, user(1)),
            Request::GetDifference { pts: 0, .. } => conn.reply(id, Difference::Empty { pts: 0 }),
            other => panic!("unexpected {other:?}"),
        }
        seen.insert(request.method());
    }
    assert_eq!(seen, BTreeSet::from(["users.get_me", "updates.get_difference"]));
    assert_eq!(within(waiting).await.expect("joins").expect("answered").id, 1);
}

/// A revoked token: the client says so, forgets the token, and stays usable signed out.
#[tokio::test]
async fn revoked_token_signs_out() {
    let mut fake = Fake::start().await;
    let connecting = tokio::spawn(Client::connect(config(vec![fake.url.clone()], Some("old"), SyncState::new())));
    let mut conn = fake.accept().await;
    let (id, _) = conn.expect("auth.authorize").await;
    conn.fail(id, ErrorCode::SessionRevoked);
    let (client, mut updates) = within(connecting).await.expect("joins").expect("connects");
    assert_eq!(events(&mut updates, 2).await, ["connected", "signed_out SESSION_REVOKED"]);
    assert_eq!(client.token(), None);
    let sending = tokio::spawn({
        let client = client.clone();
        async move { client.send_code("+99966100000").await }
    });
    let (id, _) = conn.expect("auth.send_code").await;
    conn.reply(id, heliograph_proto::SentCode { length: 5, expires_in: 300 });
    assert_eq!(within(sending).await.expect("joins").expect("sent").length, 5);
}

/// Logging out while a catch-up is in flight: the server may answer the catch-up with
/// SESSION_REVOKED before it answers the log-out (it runs them concurrently). The log-out
/// still gets its answer; the catch-up's refusal is not a reason to drop the connection.
#[tokio::test]
async fn log_out_is_answered_when_a_catch_up_is_refused_first() {
    let mut fake = Fake::start().await;
    let connecting = tokio::spawn(Client::connect(config(vec![fake.url.clone()], Some("tok"), SyncState::new())));
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    let (client, mut updates) = within(connecting).await.expect("joins").expect("connects");
    let (catch_up, _) = conn.expect("updates.get_difference").await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);
    let logging_out = tokio::spawn({
        let client = client.clone();
        async move { client.log_out().await }
    });
    let (log_out, _) = conn.expect("auth.log_out").await;
    conn.fail(catch_up, ErrorCode::SessionRevoked);
    conn.reply(log_out, serde_json::json!({}));
    within(logging_out).await.expect("joins").expect("the log-out is answered");
    assert_eq!(client.token(), None);
}

/// With no server reachable, `connect` fails instead of retrying forever.
#[tokio::test]
async fn connect_fails_when_no_server_answers() {
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let result = within(Client::connect(config(vec![dead.clone(), dead], None, SyncState::new()))).await;
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    let result = Client::connect(config(vec!["gopher://x".into()], None, SyncState::new())).await;
    assert!(matches!(result, Err(ClientError::Config(_))), "{result:?}");
}

/// An application that does not read events slows the client down but loses nothing: more
/// updates than the event buffer holds all come out, in order. The time the client spent
/// blocked does not count as server silence (which would drop the connection).
#[tokio::test]
async fn unread_events_block_instead_of_dropping() {
    let mut fake = Fake::start().await;
    let mut cfg = config(vec![fake.url.clone()], Some("tok"), SyncState::new());
    cfg.request_timeout = Duration::from_millis(300);
    cfg.ping_interval = Duration::from_millis(300);
    let connecting = tokio::spawn(Client::connect(cfg));
    let mut conn = fake.accept().await;
    conn.authorize("tok").await;
    let (client, mut updates) = within(connecting).await.expect("joins").expect("connects");
    conn.difference(0, Difference::Empty { pts: 0 }).await;
    let total = crate::client::EVENT_BUFFER as i64 + 500;
    for pts in 1..=total {
        conn.push(upd(None, pts));
    }
    // The application is busy elsewhere for longer than the silence limit (600 ms here).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);
    for pts in 1..=total {
        match within(updates.recv()).await {
            Some(Event::Update(update)) => assert_eq!(update.pts, pts),
            other => panic!("expected update {pts}, got {other:?}"),
        }
    }
    assert_eq!(client.state().pts, total);
    assert!(conn.incoming.try_recv().is_err(), "no gap was seen, so no difference was asked");
}

/// Every protocol method has a typed method on `Client` that calls it.
#[tokio::test]
async fn every_protocol_method_has_a_typed_call() {
    let mut fake = Fake::start().await;
    let (client, _updates) = within(Client::connect(config(vec![fake.url.clone()], None, SyncState::new()))).await.expect("connects");
    let mut conn = fake.accept().await;
    let server = tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        while let Some((id, request)) = conn.incoming.recv().await {
            seen.insert(request.method());
            conn.fail(id, ErrorCode::Internal);
            if seen.len() == Request::METHODS.len() {
                break;
            }
        }
        seen
    });
    let c = &client;
    let _ = c.send_code("+1").await;
    let _ = c.sign_in("+1", "1", None, None).await;
    let _ = c.authorize("t").await;
    let _ = c.log_out().await;
    let _ = c.sessions().await;
    let _ = c.revoke_session(1).await;
    let _ = c.update_profile(Some("n"), None).await;
    let _ = c.set_username(None).await;
    let _ = c.set_privacy(heliograph_proto::PhonePrivacy::Nobody).await;
    let _ = c.privacy().await;
    let _ = c.create_bot("b", "b_bot").await;
    let _ = c.bots().await;
    let _ = c.revoke_bot_token(1).await;
    let _ = c.get_me().await;
    let _ = c.get_users(&[1]).await;
    let _ = c.resolve("x").await;
    let _ = c.get_contacts().await;
    let _ = c.add_contact_by_phone("+1").await;
    let _ = c.add_contact_by_username("x").await;
    let _ = c.remove_contact(1).await;
    let _ = c.block(1).await;
    let _ = c.unblock(1).await;
    let _ = c.get_blocked().await;
    let _ = c.get_dialogs(None, None).await;
    let _ = c.get_chat(1).await;
    let _ = c.open_private(1).await;
    let _ = c.create_group("g", &[]).await;
    let _ = c.create_channel("c", None).await;
    let _ = c.add_members(1, &[2]).await;
    let _ = c.remove_member(1, 2).await;
    let _ = c.leave(1).await;
    let _ = c.set_title(1, "t").await;
    let _ = c.set_admin(1, 2, true).await;
    let _ = c.get_members(1, 0, None).await;
    let _ = c.export_invite(1).await;
    let _ = c.join_by_invite("i").await;
    let _ = c.join_by_username("u").await;
    let _ = c.send_message(1, "hi", None).await;
    let _ = c.send_media(1, 2, 3, heliograph_proto::MediaKind::Document, None).await;
    let _ = c.send_message_with_random_id(1, 5, "hi", None).await;
    let _ = c.forward_messages(1, &[1], 2).await;
    let _ = c.forward_messages_with_random_ids(1, &[1], 2, &[9]).await;
    let _ = c.edit_message(1, 1, "x").await;
    let _ = c.delete_messages_for_me(1, &[1]).await;
    let _ = c.delete_messages_for_everyone(1, &[1]).await;
    let _ = c.pin_message(1, None).await;
    let _ = c.read_history(1, None).await;
    let _ = c.set_typing(1).await;
    let _ = c.history(1, None, Default::default(), None).await;
    let _ = c.press_button(1, 1, "d").await;
    let _ = c.react(1, 1, &[]).await;
    let _ = c.save_draft(1, None, None).await;
    let _ = c.get_state().await;
    let _ = c.get_difference(0, None).await;
    let _ = c.get_chat_difference(1, 0, None).await;
    let _ = c.report_message(1, 1, "spam", None, &[]).await;
    let _ = c.moderation_reports(false, None, None).await;
    let _ = c.moderation_report(1).await;
    let _ = c.moderate("dismiss", "r", crate::ModerationTarget { report_id: Some(1), ..Default::default() }).await;
    let _ = c.audit_log(None, None).await;
    let _ = c.search_messages("q", &Default::default(), 0, None).await;
    let _ = c.search_directory("q", None).await;
    let _ = c.upload_key_packages(&[vec![1]], None).await;
    let _ = c.key_package_count().await;
    let _ = c.claim_key_packages(&[1]).await;
    let _ = c.secret_devices(&[1]).await;
    let _ = c.create_secret(None, b"g").await;
    let _ = c.secret_group_info(1).await;
    let _ = c.secret_commit(1, b"c", b"g", None).await;
    let _ = c.secret_send(1, 1, b"m").await;
    let _ = c.secret_history(1, 0, None).await;
    let _ = c.secret_chats().await;
    let _ = c.restrict(1, 2, &[heliograph_proto::SendKind::Text], None).await;
    let _ = c.ban(1, 2, None).await;
    let _ = c.unban(1, 2).await;
    let seen = within(server).await.expect("joins");
    assert_eq!(seen, Request::METHODS.iter().copied().collect::<BTreeSet<_>>());
}

/// A live push that never came (a server node missed a bus notice): after `poll_interval`
/// without updates the client fetches the difference itself and delivers what it missed.
#[tokio::test]
async fn idle_client_polls_the_log_and_finds_missed_updates() {
    let mut fake = Fake::start().await;
    let mut cfg = config(vec![fake.url.clone()], Some("t"), SyncState::new());
    cfg.poll_interval = Duration::from_millis(200);
    let connecting = tokio::spawn(Client::connect(cfg));
    let mut conn = fake.accept().await;
    conn.authorize("t").await;
    let (_client, mut updates) = within(connecting).await.expect("joins").expect("connects");
    conn.difference(0, Difference::Empty { pts: 0 }).await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);
    // No push: the update is only in the log.
    conn.difference(0, Difference::Complete { updates: vec![upd(None, 1)], pts: 1 }).await;
    assert_eq!(events(&mut updates, 1).await.len(), 1, "the missed update arrives by polling");
}

/// `Config::flood_wait`: a FLOOD_WAIT refusal is told to `on_flood_wait`, waited out and the
/// same request (same random_id) sent again; past the budget, or with the default of zero,
/// the refusal is the answer.
#[tokio::test]
async fn flood_wait_is_waited_out_within_the_budget() {
    let mut fake = Fake::start().await;
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut cfg = config(vec![fake.url.clone()], None, SyncState::new());
    cfg.flood_wait = Duration::from_secs(2);
    cfg.on_flood_wait = Some(Arc::new({
        let told = told.clone();
        move |secs| told.lock().unwrap().push(secs)
    }));
    let (client, mut updates) = within(Client::connect(cfg)).await.expect("connects");
    let mut conn = fake.accept().await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);
    let flood = |conn: &Conn, id: u64| {
        let error = Error { retry_after: Some(1), ..Error::new(ErrorCode::FloodWait, "wait") };
        conn.send(ServerFrame::Error { id: Some(id), error });
    };

    let call = tokio::spawn({
        let client = client.clone();
        async move { client.send_message_with_random_id(5, 77, "hi", None).await }
    });
    let (id, first) = conn.expect("messages.send").await;
    flood(&conn, id);
    let (id, again) = conn.expect("messages.send").await;
    assert_eq!(first, again, "the same request, random_id included");
    flood(&conn, id);
    let (id, _) = conn.expect("messages.send").await;
    // Two waits of 1 s spent the budget of 2 s: the third refusal is the answer.
    flood(&conn, id);
    let refused = within(call).await.expect("joins").expect_err("refused");
    assert_eq!(refused.code(), Some(ErrorCode::FloodWait));
    assert_eq!(*told.lock().unwrap(), [1, 1]);

    let mut fake = Fake::start().await;
    let (client, mut updates) = within(Client::connect(config(vec![fake.url.clone()], None, SyncState::new()))).await.expect("connects");
    let mut conn = fake.accept().await;
    assert_eq!(events(&mut updates, 1).await, ["connected"]);
    let call = tokio::spawn(async move { client.get_me().await });
    let (id, _) = conn.expect("users.get_me").await;
    flood(&conn, id);
    assert_eq!(within(call).await.expect("joins").expect_err("refused at once").code(), Some(ErrorCode::FloodWait));
}
