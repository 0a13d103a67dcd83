//! What an attacker tries through requests, against a real server (docs/security.md): making
//! the server call into the operator's network (webhooks), guessing tokens, enumerating
//! phone numbers, duplicate JSON keys, spoofed names, revoked tokens on another node, and a
//! server started without a code provider. Every request goes to loopback only: test clients
//! that must be "another address" bind 127.0.0.2 as their source.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bot::Bot;
use common::{code_of, test_phone, InProcess, Person};
use futures_util::{SinkExt, StreamExt};
use heliograph_client::proto::{ErrorCode, PhonePrivacy};
use heliograph_client::ClientError;
use heliograph_testkit::postgres::{Database, POSTGRES};
use heliograph_testkit::{Binary, Error as KitError};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A TCP listener that only counts the connections it accepts (and closes them).
async fn counting_listener(addr: &str) -> Option<(SocketAddr, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.ok()?;
    let local = listener.local_addr().ok()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    Some((local, accepted))
}

/// The server's defaults for wrong credentials (the test kit lifts them for other tests).
fn default_failed_auth(c: &mut heliograph_server::Config) {
    c.failed_auth = Default::default();
}

/// `setWebhook` refuses loopback in every spelling, and the listener behind it is never
/// reached (today the server accepts `http://127.0.0.1:PORT/` and POSTs updates to it).
#[tokio::test]
async fn webhooks_to_loopback_are_refused_in_every_form() {
    let (v4, v4_hits) = counting_listener("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let v6 = counting_listener("[::1]:0").await;
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "ssrf_bot").await;
    let port = v4.port();
    let v6_port = v6.as_ref().map_or(port, |(a, _)| a.port());
    let cases = [
        (format!("http://127.0.0.1:{port}/internal-admin"), "IP address 127.0.0.1 is not allowed"),
        (format!("http://[::1]:{v6_port}/hook"), "IP address ::1 is not allowed"),
        (format!("http://[::ffff:127.0.0.1]:{port}/hook"), "IP address ::ffff:127.0.0.1 is not allowed"),
        (format!("http://2130706433:{port}/hook"), "IP address 127.0.0.1 is not allowed"),
        (format!("http://localhost:{port}/hook"), "of localhost is not allowed"),
    ];
    for (url, expect) in &cases {
        let (code, description) = bot.fail("setWebhook", json!({ "url": url })).await;
        assert_eq!(code, 400, "{url}");
        assert!(description.starts_with("Bad Request: bad webhook: ") && description.contains(expect), "{url}: {description}");
    }
    assert_eq!(bot.call("getWebhookInfo", json!({})).await["url"], "", "no webhook was set");
    // Something for a webhook to deliver, had one been set; then the listeners must be untouched.
    let chat = alice.client.open_private(bot.id).await.expect("chat");
    alice.client.send_message(chat.id, "hello", None).await.expect("send");
    assert_eq!(bot.call("getUpdates", json!({})).await.as_array().map(Vec::len), Some(1), "the update waits for the bot");
    assert_eq!(v4_hits.load(Ordering::SeqCst), 0, "nothing connected to 127.0.0.1");
    if let Some((_, v6_hits)) = v6 {
        assert_eq!(v6_hits.load(Ordering::SeqCst), 0, "nothing connected to [::1]");
    }
}

/// An allowed webhook that redirects to a loopback address outside the allow list: the
/// redirect is not followed, the failure is recorded, and the second listener is never reached.
#[tokio::test]
async fn a_webhook_redirect_is_checked_like_the_webhook() {
    use axum::http::{header, StatusCode};
    let (refused, refused_hits) = counting_listener("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let hook_hits = Arc::new(AtomicUsize::new(0));
    let hits = hook_hits.clone();
    let target = format!("http://{refused}/hook");
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let server = InProcess::start_with(|c| c.egress.allow = vec!["127.0.0.1/32".into()]).await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "redirect_bot").await;
    assert_eq!(bot.call("setWebhook", json!({ "url": hook })).await, json!(true), "127.0.0.1 is allowed");
    let chat = alice.client.open_private(bot.id).await.expect("chat");
    alice.client.send_message(chat.id, "follow me", None).await.expect("send");
    let deadline = Instant::now() + Duration::from_secs(15);
    let error = loop {
        let info = bot.call("getWebhookInfo", json!({})).await;
        if let Some(error) = info["last_error_message"].as_str() {
            break error.to_string();
        }
        assert!(Instant::now() < deadline, "no delivery attempt within 15 s: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains(&format!("IP address {} is not allowed", refused.ip())), "{error}");
    assert!(hook_hits.load(Ordering::SeqCst) >= 1, "the allowed hook was called");
    assert_eq!(refused_hits.load(Ordering::SeqCst), 0, "the redirect's target was never reached");
}

/// A raw HTTP client whose requests come from `source`.
fn http_from(source: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(source).no_proxy().build().expect("client")
}

/// A WebSocket from `source` to the server.
async fn ws_from(server: &InProcess, source: IpAddr) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(source, 0)).expect("bind the source address");
    let stream = socket.connect(server.addr()).await.expect("connect");
    tokio_tungstenite::client_async(server.ws_url(), stream).await.expect("WebSocket").0
}

/// `auth.authorize` with `token` over `ws`: the error code and `retry_after`, if it failed.
async fn authorize(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, id: u64, token: &str) -> Value {
    let frame = json!({"id": id, "method": "auth.authorize", "params": {"token": token}});
    ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an answer").expect("open").expect("frame");
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).expect("JSON");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }
}

/// Wrong bot tokens, session tokens (on /ws and on /files) and login codes all count against
/// the sender's address: past the burst every kind is refused with 429 / FLOOD_WAIT and a
/// retry-after, while another address is not slowed. (Today every wrong token gets 401.)
#[tokio::test]
async fn wrong_credentials_are_throttled_per_address() {
    let server = InProcess::start_with(default_failed_auth).await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "guess_bot").await;
    let base = format!("http://{}", server.addr());
    let here = http_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
    // Each guess names another bot id, so only the per-address limit is in play.
    let get_me = |http: &reqwest::Client, token: String| {
        let url = format!("{base}/bot{token}/getMe");
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.expect("request");
            (r.status().as_u16(), r.json::<Value>().await.expect("JSON"))
        }
    };
    let file = |http: &reqwest::Client, token: &str| {
        let request = http.get(format!("{base}/files/1")).bearer_auth(token);
        async move { request.send().await.expect("request").status().as_u16() }
    };
    let limits = heliograph_server::limits::FailedAuthLimits::default();
    let third = u64::from(limits.per_address_burst / 3);
    let mut ws = ws_from(&server, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    for i in 0..third {
        assert_eq!(get_me(&here, format!("{}:wrong", 1_000_000 + i)).await.0, 401, "bot token guess {i}");
        assert_eq!(authorize(&mut ws, i, "wrong").await["error"]["code"], "SESSION_REVOKED", "session token guess {i}");
        assert_eq!(file(&here, "wrong").await, 401, "file token guess {i}");
    }
    // The burst is spent: every kind of credential now waits.
    let (status, body) = get_me(&here, "2000000:wrong".into()).await;
    assert_eq!((status, body["error_code"].as_i64()), (429, Some(429)), "{body}");
    assert!(body["parameters"]["retry_after"].as_u64().is_some_and(|s| s >= 1), "{body}");
    let refused = authorize(&mut ws, 100, "wrong").await;
    assert_eq!(refused["error"]["code"], "FLOOD_WAIT", "{refused}");
    assert!(refused["error"]["retry_after"].as_u64().is_some_and(|s| s >= 1), "{refused}");
    assert_eq!(file(&here, "wrong").await, 429);
    let (phone, code) = test_phone(7);
    let wrong_code = if code == "11111" { "22222" } else { "11111" };
    let mut signin = ws_from(&server, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let frame = json!({"id": 1, "method": "auth.send_code", "params": {"phone": phone}});
    signin.send(Message::Text(frame.to_string().into())).await.expect("send");
    let frame = json!({"id": 2, "method": "auth.sign_in", "params": {"phone": phone, "code": wrong_code, "name": "X"}});
    signin.send(Message::Text(frame.to_string().into())).await.expect("send");
    let mut answers = Vec::new();
    while answers.len() < 2 {
        if let Some(Ok(Message::Text(t))) = signin.next().await {
            answers.push(serde_json::from_str::<Value>(&t).expect("JSON"));
        }
    }
    assert_eq!(answers[1]["error"]["code"], "FLOOD_WAIT", "a login code is a credential too: {}", answers[1]);

    // Another address is not slowed: its wrong guesses are still checked, its right token works.
    let there = http_from(OTHER);
    assert_eq!(get_me(&there, "3000000:wrong".into()).await.0, 401);
    let (status, me) = get_me(&there, bot.token.clone()).await;
    assert_eq!((status, me["result"]["id"].as_i64()), (200, Some(bot.id)), "{me}");
    let mut ws = ws_from(&server, OTHER).await;
    assert_eq!(authorize(&mut ws, 1, &alice.token).await["type"], "result");
    assert_eq!(file(&there, "wrong").await, 401);
}

/// JSON with a key named twice is refused by the Bot API, in a body and in a JSON-valued
/// parameter, and nothing is sent (today the last key wins).
#[tokio::test]
async fn the_bot_api_refuses_duplicate_json_keys() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "dupkey_bot").await;
    let chat = alice.client.open_private(bot.id).await.expect("chat");
    let raw = |body: String| {
        let request = bot.http.post(bot.url("sendMessage")).header("content-type", "application/json").body(body);
        async move {
            let r = request.send().await.expect("request");
            (r.status().as_u16(), r.json::<Value>().await.expect("JSON"))
        }
    };
    let id = alice.id();
    let cases = [
        (format!(r#"{{"chat_id":{id},"text":"shown to a proxy","text":"what runs"}}"#), "duplicate key \"text\""),
        (format!(r#"{{"chat_id":{id},"chat_id":1,"text":"x"}}"#), "duplicate key \"chat_id\""),
        (
            json!({"chat_id": id, "text": "x", "reply_markup": r#"{"inline_keyboard":[],"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}"#})
                .to_string(),
            "duplicate key \"inline_keyboard\"",
        ),
    ];
    for (body, expect) in &cases {
        let (status, answer) = raw(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["description"].as_str().is_some_and(|d| d.contains(expect)), "{body}: {answer}");
    }
    let history = alice.client.history(chat.id, None, Default::default(), Some(10)).await.expect("history");
    assert!(history.is_empty(), "nothing was sent: {history:?}");
    let (status, _) = raw(format!(r#"{{"chat_id":{id},"text":"once"}}"#)).await;
    assert_eq!(status, 200, "the same call without the duplicate works");
}

fn message_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (ErrorCode, String) {
    match r {
        Err(ClientError::Server(e)) => (e.code, e.message),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// A number whose owner hides it answers exactly as an unregistered number; "contacts" lets
/// through only the owner's contacts; and lookups are limited per account (today one session
/// made 398 lookups in 6 seconds, and a registered number answered with its profile).
#[tokio::test]
async fn phone_lookups_are_slowed_and_hidden_numbers_look_unregistered() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let carol = Person::sign_in(&server, 3).await;
    let dave = Person::sign_in(&server, 4).await;
    let (bob_phone, carol_phone, nobodys) = (test_phone(2).0, test_phone(3).0, test_phone(50).0);

    assert_eq!(carol.client.privacy().await.expect("privacy").find_by_phone, PhonePrivacy::Everybody, "the default");
    assert_eq!(carol.client.set_privacy(PhonePrivacy::Nobody).await.expect("set").find_by_phone, PhonePrivacy::Nobody);
    assert_eq!(carol.client.privacy().await.expect("privacy").find_by_phone, PhonePrivacy::Nobody);
    let hidden = message_of(ann.client.add_contact_by_phone(&carol_phone).await);
    let unregistered = message_of(ann.client.add_contact_by_phone(&nobodys).await);
    assert_eq!(hidden.0, ErrorCode::UserNotFound);
    assert_eq!(hidden, unregistered, "a hidden number and an unregistered one answer alike");

    bob.client.set_privacy(PhonePrivacy::Contacts).await.expect("set");
    assert_eq!(code_of(ann.client.add_contact_by_phone(&bob_phone).await), ErrorCode::UserNotFound, "not Bob's contact yet");
    bob.client.add_contact_by_phone(&test_phone(1).0).await.expect("Ann can be found by everybody");
    let found = ann.client.add_contact_by_phone(&bob_phone).await.expect("Bob has Ann in his contacts");
    assert_eq!(found.id, bob.id());

    // Ann has made 4 lookups; the burst is 10, then she waits.
    let mut admitted = 4;
    let refused = loop {
        match ann.client.add_contact_by_phone(&nobodys).await {
            Err(ClientError::Server(e)) if e.code == ErrorCode::FloodWait => break e,
            Err(ClientError::Server(e)) if e.code == ErrorCode::UserNotFound => admitted += 1,
            other => panic!("unexpected {other:?}"),
        }
        assert!(admitted <= 10, "more than 10 lookups at once were answered");
    };
    assert_eq!(admitted, 10);
    assert!(refused.retry_after.is_some_and(|s| s >= 1), "{refused:?}");
    assert_eq!(code_of(dave.client.add_contact_by_phone(&nobodys).await), ErrorCode::UserNotFound, "others are not slowed");
}

/// Outside --dev the real binary refuses to start without a code provider, in one line
/// saying how to configure one; with `log` chosen it starts (today it starts and logs every
/// login code).
#[tokio::test]
async fn the_server_refuses_to_start_without_a_code_provider() {
    // Started as an operator would, not in --dev, and with no provider in the environment.
    let data = tempfile::tempdir().expect("temp dir");
    let binary = || Binary::new().data(data.path()).env("RUST_LOG", "info").env("HELIOGRAPH_DEV", "false");
    match binary().start().await {
        Err(KitError::Exited { status, log, .. }) => {
            assert!(!status.success(), "{status}");
            let log = std::fs::read_to_string(&log).expect("the server's log");
            let line = log.lines().find(|l| l.contains("no code provider is configured")).unwrap_or_else(|| panic!("{log}"));
            assert!(line.contains("kind = \"http\"") && line.contains("kind = \"log\""), "{line}");
        }
        Err(other) => panic!("the server failed otherwise: {other}"),
        Ok(mut server) => {
            server.stop().await;
            panic!("the server started without a code provider");
        }
    }
    let mut server =
        binary().env("HELIOGRAPH_CODE_PROVIDER__KIND", "log").start().await.expect("with `log` chosen explicitly, the server starts");
    server.stop().await;
}

/// A revoked bot token fails at once on a second node: two real nodes on one PostgreSQL
/// database and one NATS server (both switches; with either unset the test says so and
/// passes, as tests/cluster.rs does).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_bot_token_fails_at_once_on_another_node() {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(admin), Some(nats)) = (get(POSTGRES), get("HELIOGRAPH_TEST_NATS")) else {
        println!("HELIOGRAPH_TEST_POSTGRES and HELIOGRAPH_TEST_NATS are needed: revocation test not run");
        return;
    };
    let db = Database::create(&admin).await;
    let node = || Binary::new().dev().database_of(&db).bus(&nats).start();
    // The first node applies the migrations; the second finds the schema in place.
    let mut nodes = vec![node().await.expect("node A starts")];
    nodes.push(node().await.expect("node B starts"));
    let (a, b) = (&nodes[0], &nodes[1]);
    let (client, _updates) =
        heliograph_client::Client::connect(heliograph_client::Config::new(a.ws_url())).await.expect("SDK connects to node A");
    let (phone, code) = test_phone(1);
    client.send_code(&phone).await.expect("send_code");
    client.sign_in(&phone, &code, Some("Owner"), None).await.expect("sign_in");
    let created = client.create_bot("Revoked", &format!("rv{:08x}_bot", rand::random::<u32>())).await.expect("bots.create");
    let on_b = |token: &str| {
        let url = format!("http://{}/bot{token}/getMe", b.addr());
        async move { reqwest::get(url).await.expect("request").status().as_u16() }
    };
    assert_eq!(on_b(&created.token).await, 200, "node B checks the token and caches it");
    assert_eq!(on_b(&created.token).await, 200);
    client.revoke_bot_token(created.bot.id).await.expect("revoke on node A");
    let revoked = Instant::now();
    while on_b(&created.token).await != 401 {
        assert!(revoked.elapsed() < Duration::from_secs(2), "node B still takes the revoked token (its cache keeps it for 30 s)");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(client);
    for node in &mut nodes {
        node.stop().await;
    }
}
