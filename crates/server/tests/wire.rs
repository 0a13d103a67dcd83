//! The wire protocol spoken raw: framing, bad input, limits. These tests use no SDK, so they
//! see exactly what any client would.

mod common;

use common::{test_phone, InProcess};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &InProcess) -> Ws {
    tokio_tungstenite::connect_async(server.ws_url()).await.expect("connects").0
}

/// Reads frames until one answers `id` (updates may arrive in between).
async fn answer(ws: &mut Ws, id: u64) -> Value {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("answer in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).expect("server sends JSON");
            if v["id"] == json!(id) || (v["type"] == "error" && v.get("id").is_none()) {
                return v;
            }
        }
    }
}

async fn call(ws: &mut Ws, id: u64, method: &str, params: Value) -> Value {
    ws.send(Message::Text(json!({"id": id, "method": method, "params": params}).to_string().into())).await.expect("send");
    answer(ws, id).await
}

async fn signed_in(server: &InProcess, n: u32) -> Ws {
    let mut ws = connect(server).await;
    let (phone, code) = test_phone(n);
    let sent = call(&mut ws, 1, "auth.send_code", json!({"phone": phone})).await;
    assert_eq!(sent["type"], "result", "{sent}");
    let auth = call(&mut ws, 2, "auth.sign_in", json!({"phone": phone, "code": code, "name": format!("User {n}")})).await;
    assert_eq!(auth["type"], "result", "{auth}");
    ws
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

/// Every kind of bad frame gets its documented error code, and the connection stays usable.
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_the_connection_survives() {
    let server = InProcess::start().await;
    let mut ws = signed_in(&server, 1).await;
    let long = "x".repeat(4097);
    let cases: Vec<(String, &str)> = vec![
        ("not json at all".into(), "BAD_REQUEST"),
        ("[1,2,3]".into(), "BAD_REQUEST"),
        (r#"{"id":10}"#.into(), "BAD_REQUEST"),
        (r#"{"id":11,"method":"no.such_method"}"#.into(), "UNKNOWN_METHOD"),
        (r#"{"id":12,"method":"messages.send","params":{"chat_id":"one","random_id":1,"text":"hi"}}"#.into(), "BAD_PARAMS"),
        (r#"{"id":13,"method":"messages.send","params":{"chat_id":1}}"#.into(), "BAD_PARAMS"),
        (r#"{"id":14,"method":"messages.send","params":"text"}"#.into(), "BAD_PARAMS"),
        (json!({"id":15,"method":"messages.send","params":{"chat_id":1,"random_id":1,"text":long}}).to_string(), "MESSAGE_TOO_LONG"),
        (r#"{"id":16,"method":"messages.send","params":{"chat_id":1,"random_id":1,"text":"   "}}"#.into(), "MESSAGE_EMPTY"),
        (r#"{"id":17,"method":"messages.history","params":{"chat_id":999999}}"#.into(), "CHAT_NOT_FOUND"),
        (r#"{"id":18,"method":"account.set_username","params":{"username":"no"}}"#.into(), "USERNAME_INVALID"),
        (r#"{"id":19,"method":"users.get","params":{"ids":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101]}}"#.into(), "BAD_PARAMS"),
        // A key named twice: a reader keeping the first key sees `users.get_me`, serde_json's
        // default would run `auth.log_out` (the check after each case proves it did not).
        (r#"{"id":20,"method":"users.get_me","method":"auth.log_out"}"#.into(), "BAD_REQUEST"),
        (r#"{"id":21,"method":"messages.send","params":{"chat_id":1,"random_id":1,"text":"a","text":"b"}}"#.into(), "BAD_REQUEST"),
        // Names and titles that could render as other text (core/values.rs, `spoofing_char`).
        (json!({"id":22,"method":"account.update_profile","params":{"name":"Alice\u{202E}gnp.exe"}}).to_string(), "NAME_INVALID"),
        (json!({"id":23,"method":"account.update_profile","params":{"name":"Al\u{200B}ice"}}).to_string(), "NAME_INVALID"),
        (json!({"id":24,"method":"chats.create_group","params":{"title":"\u{2067}News\u{2069}"}}).to_string(), "TITLE_INVALID"),
        (json!({"id":25,"method":"account.update_profile","params":{"bio":"hi\u{FEFF}"}}).to_string(), "BIO_INVALID"),
        (r#"{"id":26,"method":"account.set_privacy","params":{"find_by_phone":"somebody"}}"#.into(), "BAD_PARAMS"),
    ];
    for (i, (frame, expect)) in cases.iter().enumerate() {
        ws.send(Message::Text(frame.clone().into())).await.expect("send");
        let id = serde_json::from_str::<Value>(frame).ok().and_then(|v| v["id"].as_u64());
        let got = match id {
            Some(id) => answer(&mut ws, id).await,
            None => answer(&mut ws, u64::MAX).await,
        };
        assert_eq!(got["type"], "error", "case {i}: {frame:.80} -> {got}");
        assert_eq!(code(&got), *expect, "case {i}: {frame:.80} -> {got}");
        assert!(got["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "case {i} has a message");
        // Still usable.
        let me = call(&mut ws, 1000 + i as u64, "users.get_me", json!({})).await;
        assert_eq!(me["type"], "result", "after case {i}: {me}");
    }
    ws.send(Message::Binary(vec![1, 2, 3].into())).await.expect("send");
    assert_eq!(code(&answer(&mut ws, u64::MAX).await), "BAD_REQUEST");
    assert_eq!(call(&mut ws, 2000, "users.get_me", json!({})).await["type"], "result");
}

/// Methods other than sign-in need a session; the answer says so.
#[tokio::test]
async fn methods_need_a_session() {
    let server = InProcess::start().await;
    let mut ws = connect(&server).await;
    for (i, method) in ["users.get_me", "messages.send", "chats.dialogs", "updates.get_difference"].iter().enumerate() {
        let got = call(&mut ws, i as u64, method, json!({"chat_id": 1, "random_id": 1, "text": "x", "pts": 0})).await;
        assert_eq!(code(&got), "AUTH_REQUIRED", "{method}: {got}");
    }
    let got = call(&mut ws, 9, "auth.authorize", json!({"token": "not-a-token"})).await;
    assert_eq!(code(&got), "SESSION_REVOKED");
}

/// A frame over the limit closes the connection with FRAME_TOO_LARGE; the server keeps serving.
#[tokio::test]
async fn oversized_frame_closes_with_a_reason() {
    let server = InProcess::start().await;
    let mut ws = signed_in(&server, 2).await;
    let huge =
        json!({"id": 1, "method": "messages.send", "params": {"chat_id": 1, "random_id": 1, "text": "y".repeat(70_000)}}).to_string();
    let _ = ws.send(Message::Text(huge.into())).await;
    let mut reason = None;
    while let Ok(Some(msg)) = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await {
        match msg {
            Ok(Message::Close(Some(frame))) => {
                reason = Some((u16::from(frame.code), frame.reason.to_string()));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let (close_code, text) = reason.expect("a close frame with a reason");
    assert_eq!(close_code, 1009);
    assert!(text.starts_with("FRAME_TOO_LARGE"), "{text}");
    // Others are unaffected.
    let mut other = signed_in(&server, 3).await;
    assert_eq!(call(&mut other, 5, "users.get_me", json!({})).await["type"], "result");
}

/// Sign-in codes: wrong code, expired/unknown code, attempts cap, name required on first sign-in.
#[tokio::test]
async fn sign_in_rules() {
    let server = InProcess::start().await;
    let mut ws = connect(&server).await;
    let (phone, good) = test_phone(4);
    assert_eq!(code(&call(&mut ws, 1, "auth.sign_in", json!({"phone": phone, "code": good})).await), "PHONE_CODE_EXPIRED");
    assert_eq!(code(&call(&mut ws, 2, "auth.send_code", json!({"phone": "12345"})).await), "PHONE_INVALID");
    assert_eq!(call(&mut ws, 3, "auth.send_code", json!({"phone": phone})).await["type"], "result");
    assert_eq!(code(&call(&mut ws, 4, "auth.sign_in", json!({"phone": phone, "code": "00000"})).await), "PHONE_CODE_INVALID");
    assert_eq!(code(&call(&mut ws, 5, "auth.sign_in", json!({"phone": phone, "code": good})).await), "NAME_REQUIRED");
    let ok = call(&mut ws, 6, "auth.sign_in", json!({"phone": phone, "code": good, "name": "Ann"})).await;
    assert_eq!(ok["result"]["new_account"], true, "{ok}");
    // The code is single-use.
    assert_eq!(code(&call(&mut ws, 7, "auth.sign_in", json!({"phone": phone, "code": good})).await), "PHONE_CODE_EXPIRED");
    // Five wrong attempts burn the code, even the right one fails after.
    call(&mut ws, 8, "auth.send_code", json!({"phone": phone})).await;
    for i in 0..5 {
        assert_eq!(code(&call(&mut ws, 10 + i, "auth.sign_in", json!({"phone": phone, "code": "00000"})).await), "PHONE_CODE_INVALID");
    }
    assert_eq!(code(&call(&mut ws, 20, "auth.sign_in", json!({"phone": phone, "code": good})).await), "PHONE_CODE_EXPIRED");
}

/// /healthz answers on both ports; /metrics speaks Prometheus text with our metric names on
/// the metrics listener only, and is not found on the public port.
#[tokio::test]
async fn health_and_metrics() {
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let server = InProcess::start_with(|c| c.metrics_listen = Some(metrics_addr)).await;
    let mut ws = signed_in(&server, 5).await;
    call(&mut ws, 3, "users.get_me", json!({})).await;
    let base = format!("http://{}", server.addr());
    let private = format!("http://{metrics_addr}");
    for at in [&base, &private] {
        assert!(reqwest::get(format!("{at}/healthz")).await.expect("healthz").status().is_success(), "{at}/healthz");
    }
    let public = reqwest::get(format!("{base}/metrics")).await.expect("public /metrics");
    assert_eq!(public.status(), 404, "metrics are not on the public port");
    let metrics = reqwest::get(format!("{private}/metrics")).await.expect("metrics").text().await.expect("body");
    for name in ["heliograph_connections", "heliograph_request_seconds", "heliograph_requests_total"] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
}

/// Flooding gets FLOOD_WAIT with a retry_after, per session and per number for login codes.
#[tokio::test]
async fn floods_are_told_how_long_to_wait() {
    let server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 5;
        c.limits.requests_burst = 5;
        c.limits.codes_per_phone_per_hour = 2;
    })
    .await;
    let mut ws = signed_in(&server, 6).await;
    let mut flood = None;
    for i in 0..20 {
        let got = call(&mut ws, 100 + i, "users.get_me", json!({})).await;
        if got["type"] == "error" {
            flood = Some(got);
            break;
        }
    }
    let flood = flood.expect("a flood is refused");
    assert_eq!(code(&flood), "FLOOD_WAIT");
    assert!(flood["error"]["retry_after"].as_u64().is_some_and(|s| s >= 1), "{flood}");
    let mut other = connect(&server).await;
    let (phone, _) = test_phone(7);
    // signed_in() used one code for number 6; number 7 gets two, then waits.
    assert_eq!(call(&mut other, 1, "auth.send_code", json!({"phone": phone})).await["type"], "result");
    assert_eq!(call(&mut other, 2, "auth.send_code", json!({"phone": phone})).await["type"], "result");
    let third = call(&mut other, 3, "auth.send_code", json!({"phone": phone})).await;
    assert_eq!(code(&third), "FLOOD_WAIT", "{third}");
}

/// A real (non-test) number: the code goes out through the `http` provider to the operator's
/// SMS gateway (mocked here: it is outside our control), and signs in.
#[tokio::test]
async fn http_code_provider_delivers_codes() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let gateway = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push(body);
                "queued"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/sms", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, gateway).await });
    let server = InProcess::start_with(|c| {
        c.dev = false;
        c.code_provider = Some(heliograph_server::config::CodeProvider::Http(heliograph_server::config::HttpCodeProvider {
            url,
            bearer_token: None,
            timeout_ms: 5000,
        }));
    })
    .await;
    let mut ws = connect(&server).await;
    // Without --dev, test numbers are ordinary numbers: their code is sent, not XXXXX.
    let phone = "+14155550123";
    assert_eq!(call(&mut ws, 1, "auth.send_code", json!({"phone": phone})).await["type"], "result");
    let sms = received.lock().expect("lock").pop().expect("the gateway got a request");
    assert_eq!(sms["phone"], phone);
    let sent_code = sms["code"].as_str().expect("code").to_string();
    assert_eq!(sent_code.len(), 5);
    let auth = call(&mut ws, 2, "auth.sign_in", json!({"phone": phone, "code": sent_code, "name": "Real"})).await;
    assert_eq!(auth["type"], "result", "{auth}");
    let (test_phone_number, test_code) = test_phone(8);
    call(&mut ws, 3, "auth.send_code", json!({"phone": test_phone_number})).await;
    let refused = call(&mut ws, 4, "auth.sign_in", json!({"phone": test_phone_number, "code": test_code, "name": "T"})).await;
    assert!(received.lock().expect("lock").len() == 1, "the test number's code was sent too");
    // The XXXXX code is refused outside --dev (unless the random code happened to be it: one
    // chance in 100,000).
    assert_eq!(code(&refused), "PHONE_CODE_INVALID", "{refused}");
}

/// The bot methods' frames as `docs/protocol.md` shows them: `bots.create` answers
/// `{bot, token}` with `"bot": true` and no phone, `bots.list` an array of users,
/// `bots.revoke_token` `{token}`; `messages.press_button` needs `data`.
#[tokio::test]
async fn bot_frames_have_the_documented_shape() {
    let server = InProcess::start().await;
    let mut ws = signed_in(&server, 1).await;
    let v = call(&mut ws, 3, "bots.create", json!({"name": "Weather", "username": "weather_bot"})).await;
    assert_eq!(v["type"], "result", "{v}");
    let bot = &v["result"]["bot"];
    let id = bot["id"].as_i64().expect("id");
    assert_eq!(bot["bot"], true, "{v}");
    assert_eq!((bot["name"].as_str(), bot["username"].as_str()), (Some("Weather"), Some("weather_bot")));
    assert!(bot.get("phone").is_none(), "a bot has no phone: {v}");
    let token = v["result"]["token"].as_str().expect("token");
    assert!(token.starts_with(&format!("{id}:")), "{token}");

    let me = call(&mut ws, 4, "users.get_me", json!({})).await;
    assert_eq!(me["result"]["bot"], false, "a person's `bot` is present and false: {me}");
    let list = call(&mut ws, 5, "bots.list", Value::Null).await;
    assert_eq!(list["result"].as_array().map(|a| a.iter().map(|u| u["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(id)]));
    let renewed = call(&mut ws, 6, "bots.revoke_token", json!({"bot_id": id})).await;
    let new_token = renewed["result"]["token"].as_str().expect("token");
    assert!(new_token.starts_with(&format!("{id}:")) && new_token != token, "{renewed}");
    assert_eq!(renewed["result"].as_object().map(|o| o.len()), Some(1), "{renewed}");

    let v = call(&mut ws, 7, "bots.create", json!({"name": "Weather", "username": "weather"})).await;
    assert_eq!(code(&v), "USERNAME_INVALID", "{v}");
    let v = call(&mut ws, 8, "messages.press_button", json!({"chat_id": 1, "message_id": 1})).await;
    assert_eq!(code(&v), "BAD_PARAMS", "{v}");
    let v = call(&mut ws, 9, "messages.press_button", json!({"chat_id": 424242, "message_id": 1, "data": "x"})).await;
    assert_eq!(code(&v), "CHAT_NOT_FOUND", "{v}");
}
