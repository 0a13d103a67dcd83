//! The authorization matrix, generated from the protocol's own method list: every method that
//! names a chat, called by a non-member, answers exactly as for a chat that does not exist,
//! and changes nothing.

mod common;

use common::{Person, TestServer};
use heliograph_client::proto::{ErrorCode, Request};
use heliograph_client::ClientError;
use serde_json::{json, Value};

const CHAT_FIELDS: [&str; 3] = ["chat_id", "from_chat_id", "to_chat_id"];

/// Parameters that fit every method; unknown fields are ignored by each method.
fn params(target: i64, own: i64, other_user: i64, forward_into_target: bool) -> Value {
    json!({
        "chat_id": target,
        "from_chat_id": if forward_into_target { own } else { target },
        "to_chat_id": if forward_into_target { target } else { own },
        "ids": [1], "id": 1, "max_id": 1, "pts": 0,
        "user_id": other_user, "user_ids": [other_user],
        "random_id": 42, "random_ids": [42],
        "text": "intruder", "title": "pwned", "admin": true,
    })
}

fn without_chat(mut p: Value) -> Value {
    for f in CHAT_FIELDS {
        p.as_object_mut().expect("object").remove(f);
    }
    p
}

/// The methods that take a chat, found by asking the protocol which need one.
fn chat_methods() -> Vec<&'static str> {
    Request::METHODS
        .iter()
        .copied()
        .filter(|m| {
            let full = params(1, 2, 3, false);
            Request::parse(m, full.clone()).is_ok() && Request::parse(m, without_chat(full)).is_err()
        })
        .collect()
}

async fn outcome(client: &heliograph_client::Client, method: &str, p: Value) -> Result<Value, (ErrorCode, String)> {
    let request = Request::parse(method, p).expect("params fit");
    match client.call(request).await {
        Ok(v) => Ok(v),
        Err(ClientError::Server(e)) => Err((e.code, e.message)),
        Err(e) => panic!("{method}: transport error {e}"),
    }
}

/// What a member can observe about the chat; must not change.
async fn snapshot(owner: &Person, peer: &Person, chat: i64) -> Value {
    let c = owner.client.get_chat(chat).await.expect("chat");
    let h = owner.client.history(chat, None, Default::default(), Some(100)).await.expect("history");
    json!({
        "top": c.top_message_id, "members": c.member_count, "pinned": c.pinned_message_id, "title": c.title,
        "history": serde_json::to_value(h).expect("json"),
        "owner_pts": owner.client.get_state().await.expect("state").pts,
        "peer_pts": peer.client.get_state().await.expect("state").pts,
    })
}

#[tokio::test]
async fn non_members_cannot_tell_a_chat_exists() {
    // Hundreds of calls in a burst: lift the per-session rate limit, which is tested elsewhere.
    let server = TestServer::start_with(|c| c.limits.requests_burst = 10_000).await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let eve = Person::sign_in(&server, 3).await;
    let methods = chat_methods();
    assert!(methods.len() >= 15, "found only {methods:?}");

    // Secret chats of every kind, each with a message.
    let private = ann.client.open_private(bob.id()).await.expect("open").id;
    let group = ann.client.create_group("secret group", &[bob.id()]).await.expect("group").id;
    let channel = ann.client.create_channel("secret channel", None).await.expect("channel").id;
    for chat in [private, group, channel] {
        ann.client.send_message(chat, "secret", None).await.expect("send");
    }
    let eves_own = eve.client.create_group("eve's", &[]).await.expect("own").id;
    eve.client.send_message(eves_own, "mine", None).await.expect("send");
    const MISSING: i64 = 9_999_999;

    for secret in [private, group, channel] {
        let before = snapshot(&ann, &bob, secret).await;
        for method in &methods {
            for into_target in [false, true] {
                let hidden = outcome(&eve.client, method, params(secret, eves_own, bob.id(), into_target)).await;
                let missing = outcome(&eve.client, method, params(MISSING, eves_own, bob.id(), into_target)).await;
                assert_eq!(hidden, missing, "{method}: a non-member's answer differs from a missing chat's");
                match hidden {
                    Err((ErrorCode::ChatNotFound, _)) => {}
                    other => panic!("{method} on chat {secret}: expected CHAT_NOT_FOUND, got {other:?}"),
                }
            }
        }
        assert_eq!(snapshot(&ann, &bob, secret).await, before, "a refused call changed chat {secret}");
    }
}

/// A member without the right gets the documented refusal, and nothing changes.
#[tokio::test]
async fn members_without_the_right_are_refused() {
    let server = TestServer::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let carol = Person::sign_in(&server, 3).await;
    let group = ann.client.create_group("g", &[bob.id(), carol.id()]).await.expect("group").id;
    let channel = ann.client.create_channel("c", None).await.expect("channel").id;
    let invite = ann.client.export_invite(channel).await.expect("invite").link;
    bob.client.join_by_invite(&invite).await.expect("join");
    ann.client.send_message(group, "ann's", None).await.expect("send");
    ann.client.send_message(channel, "post", None).await.expect("post");
    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("messages.send", json!({"chat_id": channel, "random_id": 1, "text": "x"}), ErrorCode::ChatWriteForbidden),
        ("messages.typing", json!({"chat_id": channel}), ErrorCode::ChatWriteForbidden),
        ("messages.edit", json!({"chat_id": group, "id": 1, "text": "x"}), ErrorCode::MessageAuthorRequired),
        ("messages.delete", json!({"chat_id": group, "ids": [1], "for_everyone": true}), ErrorCode::ChatAdminRequired),
        ("messages.delete", json!({"chat_id": channel, "ids": [1]}), ErrorCode::ChatAdminRequired),
        ("messages.pin", json!({"chat_id": group, "id": 1}), ErrorCode::ChatAdminRequired),
        ("chats.add_members", json!({"chat_id": group, "user_ids": [carol.id()]}), ErrorCode::ChatAdminRequired),
        ("chats.remove_member", json!({"chat_id": group, "user_id": carol.id()}), ErrorCode::ChatAdminRequired),
        ("chats.set_title", json!({"chat_id": group, "title": "x"}), ErrorCode::ChatAdminRequired),
        ("chats.set_admin", json!({"chat_id": group, "user_id": carol.id(), "admin": true}), ErrorCode::ChatAdminRequired),
        ("chats.export_invite", json!({"chat_id": group}), ErrorCode::ChatAdminRequired),
        ("chats.members", json!({"chat_id": channel}), ErrorCode::ChatAdminRequired),
    ];
    let before = (snapshot(&ann, &carol, group).await, snapshot(&ann, &carol, channel).await);
    for (method, p, expect) in cases {
        match outcome(&bob.client, method, p.clone()).await {
            Err((code, _)) => assert_eq!(code, expect, "{method} {p}"),
            Ok(v) => panic!("{method} {p} succeeded: {v}"),
        }
    }
    assert_eq!((snapshot(&ann, &carol, group).await, snapshot(&ann, &carol, channel).await), before, "refusals changed nothing");
}
