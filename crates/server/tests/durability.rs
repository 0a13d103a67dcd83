//! Graceful shutdown of the real binary: SIGTERM answers what is in flight, closes every
//! connection with 1001 and exits 0, and what was answered is stored. (Crash consistency under
//! SIGKILL is `tests/crash.rs`.)

#[path = "common/crash.rs"]
#[allow(dead_code)]
mod crash;

use std::time::Duration;

use crash::{phone as test_phone, Conn};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let mut server = crash::heliograph().start().await.expect("heliograph starts");
    let port = server.port();
    let mut c = Conn::open(port).await.expect("connect");
    let (phone, code) = test_phone(200);
    c.ok("auth.send_code", json!({"phone": phone})).await;
    let auth = c.ok("auth.sign_in", json!({"phone": phone, "code": code, "name": "Term"})).await;
    let token = auth["token"].as_str().expect("token").to_string();
    let chat = c.ok("chats.create_group", json!({"title": "t"})).await["id"].as_i64().expect("id");
    // Fire a batch of sends without waiting, then SIGTERM.
    for i in 0..20 {
        let frame =
            json!({"id": 1000 + i, "method": "messages.send", "params": {"chat_id": chat, "random_id": i, "text": format!("t{i}")}});
        c.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }
    server.terminate();
    let mut answered = 0;
    let mut close = None;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), c.ws.next()).await;
        let Ok(Some(Ok(msg))) = next else {
            eprintln!("stream ended: {next:?}");
            break;
        };
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["type"] == "result" {
                    answered += 1;
                }
            }
            Message::Close(frame) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(close, Some(1001), "closed with 'going away'");
    let status = server.wait().await;
    assert!(status.success(), "exit status {status:?}");
    // Restart: every answered send is stored.
    server.restart().await.expect("heliograph restarts");
    let mut c = Conn::open(port).await.expect("reconnect");
    c.ok("auth.authorize", json!({"token": token})).await;
    let history = c.ok("messages.history", json!({"chat_id": chat, "limit": 100})).await;
    assert!(history.as_array().expect("list").len() >= answered, "answered {answered}, stored {history}");
}
