//! What the server tests share: the in-process server (`heliograph_testkit::InProcess`),
//! test phone numbers, signed-in SDK clients, bots.
#![allow(dead_code)]

pub mod bot;

pub use heliograph_testkit::InProcess;

/// The nth test phone number and its code: `+99966X0000 + n` signs in with `XXXXX`.
pub fn test_phone(n: u32) -> (String, String) {
    let x = 1 + n % 9;
    (format!("+99966{x}{:04}", n), x.to_string().repeat(5))
}

use heliograph_client::{proto, Client, Config as ClientConfig, Event, Updates};
use std::time::Duration;

/// A signed-in SDK client for test user `n`.
pub struct Person {
    pub client: Client,
    pub updates: Updates,
    pub me: proto::User,
    pub token: String,
    /// This sign-in's session: the MLS device id of secret chats.
    pub session: i64,
}

impl Person {
    pub async fn sign_in(server: &InProcess, n: u32) -> Person {
        let (client, updates) = Client::connect(ClientConfig::new(server.url())).await.expect("SDK connects");
        let (phone, code) = test_phone(n);
        client.send_code(&phone).await.expect("send_code");
        let auth = client.sign_in(&phone, &code, Some(&format!("Person {n}")), Some("test")).await.expect("sign_in");
        Person { client, updates, me: auth.user, token: auth.token, session: auth.session_id }
    }

    pub fn id(&self) -> i64 {
        self.me.id
    }

    /// The next update matching `want`, skipping others; panics after 10 s.
    pub async fn expect_update(&mut self, what: &str, want: impl Fn(&proto::UpdateKind) -> bool) -> proto::Update {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(Event::Update(u))) if want(&u.kind) => return u,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("update stream ended while waiting for {what}"),
                Err(_) => panic!("no {what} within 10 s"),
            }
        }
    }

    /// The next typing event; panics after 10 s.
    pub async fn expect_typing(&mut self) -> (i64, i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(Event::Typing { chat_id, user_id })) => return (chat_id, user_id),
                Ok(Some(_)) => continue,
                _ => panic!("no typing event within 10 s"),
            }
        }
    }
}

/// The stable code of a failed SDK call.
pub fn code_of<T: std::fmt::Debug>(r: Result<T, heliograph_client::ClientError>) -> proto::ErrorCode {
    match r {
        Err(heliograph_client::ClientError::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}
