//! The authorization matrix, generated from the protocol's own method list. Every method is
//! called (a) without a session, (b) with a revoked session, (c) by a non-member of the chat it
//! names (a missing chat's answer, `CHAT_NOT_FOUND`), (d) by a member without the right; each
//! gets the documented refusal and nothing changes. The Bot API does not exist yet; its
//! methods join this matrix when it does.

mod common;

use common::{InProcess, Person};
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
        "ids": [1], "id": 1, "message_id": 1, "max_id": 1, "pts": 0, "data": "intruder",
        "user_id": other_user, "user_ids": [other_user], "bot_id": other_user,
        "random_id": 42, "random_ids": [42],
        "text": "intruder", "title": "pwned", "admin": true,
        "file_id": 1, "kind": "document", "caption": "intruder",
        "phone": "+9996610001", "code": "11111", "token": "not-a-token", "session_id": 1,
        "name": "pwned", "bio": "pwned", "username": "pwned_name", "invite": "pwned", "find_by_phone": "nobody",
        "q": "intruder", "can_send": ["text"],
        // account (#16): a report and an operator's action on it
        "reason": "spam", "report_id": 1, "action": "dismiss",
        // secret chats (#15): well-formed base64 that is no MLS message
        "key_packages": ["AAAA"], "group_info": "AAAA", "commit": "AAAA", "message": "AAAA",
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
    let server = InProcess::start_with(|c| c.limits.requests_burst = 10_000).await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let eve = Person::sign_in(&server, 3).await;
    let methods = chat_methods();
    assert!(methods.len() >= 15, "found only {methods:?}");
    assert!(methods.contains(&"messages.press_button"), "pressing a button names a chat: {methods:?}");

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
                    // Eve names a file that does not exist, which is checked first; the answer
                    // is still the same as for a missing chat (asserted above).
                    Err((ErrorCode::FileNotFound, _)) if *method == "messages.send_media" => {}
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
    let server = InProcess::start().await;
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
        ("chats.restrict", json!({"chat_id": group, "user_id": carol.id(), "can_send": []}), ErrorCode::ChatAdminRequired),
        ("chats.ban", json!({"chat_id": group, "user_id": carol.id()}), ErrorCode::ChatAdminRequired),
        ("chats.unban", json!({"chat_id": group, "user_id": carol.id()}), ErrorCode::ChatAdminRequired),
        ("chats.export_invite", json!({"chat_id": group}), ErrorCode::ChatAdminRequired),
        ("chats.members", json!({"chat_id": channel}), ErrorCode::ChatAdminRequired),
        // account (#16): moderation is for the operators named in the configuration only.
        ("moderation.reports", json!({}), ErrorCode::OperatorRequired),
        ("moderation.report", json!({"report_id": 1}), ErrorCode::OperatorRequired),
        ("moderation.act", json!({"action": "ban", "reason": "x", "user_id": carol.id()}), ErrorCode::OperatorRequired),
        ("moderation.audit_log", json!({}), ErrorCode::OperatorRequired),
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

/// The methods callable before signing in; every other method needs a session.
const PUBLIC: [&str; 3] = ["auth.send_code", "auth.sign_in", "auth.authorize"];

/// Rights beyond membership, and where each refusal is tested: every method is either in
/// [`members_without_the_right_are_refused`]'s table or here, with the reason it needs none.
const NEEDS_NO_RIGHT: &[(&str, &str)] = &[
    ("auth.send_code", "public"),
    ("auth.sign_in", "public"),
    ("auth.authorize", "public"),
    ("auth.log_out", "acts on the caller's own session"),
    ("messages.search", "searches only the chats the store says the caller reads now (search_scope, visible_messages; crates/search conformance: authorization)"),
    ("contacts.search", "the public directory; phone numbers only through discovery"),
    ("account.sessions", "lists the caller's own sessions"),
    ("account.revoke_session", "only the caller's own sessions: another user's id is SESSION_NOT_FOUND (sdk.rs)"),
    ("account.update_profile", "the caller's own profile"),
    ("account.set_username", "the caller's own username"),
    ("account.set_privacy", "the caller's own setting"),
    ("account.privacy", "the caller's own settings"),
    ("bots.create", "anyone but a bot; at most MAX_BOTS_PER_OWNER each (sdk.rs)"),
    ("bots.list", "the caller's own bots"),
    ("bots.revoke_token", "only the caller's own bots: anyone else's (or a person) is USER_NOT_FOUND (sdk.rs)"),
    ("users.get_me", "the caller"),
    ("users.get", "public profiles; phones only to contacts (convert::user)"),
    ("contacts.resolve", "public usernames"),
    ("contacts.list", "the caller's own list"),
    ("contacts.add", "the caller's own list"),
    ("contacts.remove", "the caller's own list"),
    ("contacts.block", "the caller's own list"),
    ("contacts.unblock", "the caller's own list"),
    ("contacts.blocked", "the caller's own list"),
    ("chats.dialogs", "the caller's own chats"),
    ("chats.get", "any member (non-members: CHAT_NOT_FOUND, matrix c)"),
    ("chats.open_private", "anyone may open a private chat; blocking is tested in sdk.rs"),
    ("chats.create_group", "anyone"),
    ("chats.create_channel", "anyone"),
    ("chats.leave", "any member"),
    ("chats.join", "anyone holding the invite or the public name"),
    ("messages.forward", "reading the source (any member) and writing the target (messages.send's right)"),
    ("messages.read", "any member"),
    ("messages.history", "any member"),
    ("messages.press_button", "any member who sees the message; only a bot's callback buttons (BUTTON_DATA_INVALID, sdk.rs)"),
    ("messages.send_media", "the same right as messages.send"),
    ("messages.react", "any member who sees the message, channel readers too (daily.rs)"),
    ("messages.report", "any member who sees the message (moderation.rs; non-members: CHAT_NOT_FOUND, matrix c)"),
    ("messages.save_draft", "any member: the draft is the caller's own, in their own log only (daily.rs)"),
    ("updates.get_state", "the caller's own log"),
    ("updates.get_difference", "the caller's own log"),
    ("updates.get_chat_difference", "any member of a chat with its own log"),
    // secret chats (#15): rights are MLS's own (tests/secret.rs): a commit must come from the
    // caller's own leaf, every leaf must be a registered device.
    ("secret.upload_key_packages", "the caller's own device only (KEY_PACKAGE_INVALID otherwise, secret.rs)"),
    ("secret.key_package_count", "the caller's own device"),
    ("secret.claim_key_packages", "anyone may start a secret chat with anyone, as chats.open_private"),
    ("secret.devices", "public keys, as users.get"),
    ("secret.create", "anyone"),
    ("secret.group_info", "any member"),
    ("secret.commit", "any member, from its own leaf (MLS_INVALID otherwise)"),
    ("secret.send", "any member"),
    ("secret.history", "any member"),
    ("secret.chats", "the caller's own chats"),
];

/// The methods [`members_without_the_right_are_refused`] refuses.
const RIGHTS_TESTED: &[&str] = &[
    "messages.send",
    "messages.typing",
    "messages.edit",
    "messages.delete",
    "messages.pin",
    "chats.add_members",
    "chats.remove_member",
    "chats.set_title",
    "chats.set_admin",
    "chats.restrict",
    "chats.ban",
    "chats.unban",
    "chats.export_invite",
    "chats.members",
    "moderation.reports",
    "moderation.report",
    "moderation.act",
    "moderation.audit_log",
];

/// Every protocol method is accounted for in (d): refused in the table, or listed with the
/// reason it needs no right beyond signing in and membership.
#[test]
fn every_method_has_its_rights_tested_or_explained() {
    let mut accounted: Vec<&str> = RIGHTS_TESTED.iter().copied().chain(NEEDS_NO_RIGHT.iter().map(|(m, _)| *m)).collect();
    accounted.sort_unstable();
    let mut methods: Vec<&str> = Request::METHODS.to_vec();
    methods.sort_unstable();
    let missing: Vec<_> = methods.iter().filter(|m| !accounted.contains(m)).collect();
    let stale: Vec<_> = accounted.iter().filter(|m| !methods.contains(m)).collect();
    assert!(missing.is_empty() && stale.is_empty(), "unaccounted methods {missing:?}; listed but not methods {stale:?}");
}

/// Every method parses with the superset of parameters, so the matrix really calls it.
fn every_method() -> Vec<&'static str> {
    for m in Request::METHODS {
        if let Err(e) = Request::parse(m, params(1, 2, 3, false)) {
            panic!("the matrix's parameters do not fit {m}: {e:?}; add its fields to `params`");
        }
    }
    Request::METHODS.to_vec()
}

/// (a) and (b): without a session, and with a session that was revoked, every method but the
/// sign-in ones answers AUTH_REQUIRED (after `auth.authorize` with the revoked token answered
/// SESSION_REVOKED), the revoked session's open connection is closed with 4001, and nothing
/// changes.
#[tokio::test]
async fn no_session_and_revoked_sessions_can_do_nothing() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let server = InProcess::start_with(|c| c.limits.requests_burst = 10_000).await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let group = ann.client.create_group("g", &[bob.id()]).await.expect("group").id;
    ann.client.send_message(group, "before", None).await.expect("send");
    // Ann's second device, then revoked from the first.
    let second = Person::sign_in(&server, 1).await;
    let sessions = ann.client.sessions().await.expect("sessions");
    assert_eq!(sessions.len(), 2);
    let before = snapshot(&ann, &bob, group).await;

    type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
    async fn call(ws: &mut Ws, id: u64, method: &str, p: Value) -> Option<Value> {
        let frame = json!({"id": id, "method": method, "params": p}).to_string();
        ws.send(Message::Text(frame.into())).await.ok()?;
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["id"] == json!(id) {
                    return Some(v);
                }
            }
        }
        None
    }
    // The revoked device keeps a raw connection open, authorized before the revocation.
    let mut old = tokio_tungstenite::connect_async(server.ws_url()).await.expect("connect").0;
    let v = call(&mut old, 1, "auth.authorize", json!({"token": second.token})).await.expect("answer");
    assert_eq!(v["type"], "result", "{v}");
    let revoked = sessions.iter().find(|s| !s.current).expect("the other session").id;
    ann.client.revoke_session(revoked).await.expect("revoke");
    // Its connection is closed with 4001 (whatever it had in flight).
    let mut close = None;
    while let Some(Ok(msg)) = old.next().await {
        if let Message::Close(frame) = msg {
            close = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(close, Some(4001), "the revoked session's connection is closed");

    let mut anonymous = tokio_tungstenite::connect_async(server.ws_url()).await.expect("connect").0;
    let mut revoked_ws = tokio_tungstenite::connect_async(server.ws_url()).await.expect("connect").0;
    let v = call(&mut revoked_ws, 1, "auth.authorize", json!({"token": second.token})).await.expect("answer");
    assert_eq!(v["error"]["code"], "SESSION_REVOKED", "{v}");
    let mut id = 10;
    for method in every_method() {
        if PUBLIC.contains(&method) {
            continue;
        }
        for (who, ws) in [("no session", &mut anonymous), ("revoked session", &mut revoked_ws)] {
            for target in [group, 9_999_999] {
                id += 1;
                let v = call(ws, id, method, params(target, target, bob.id(), false)).await.expect("answer");
                assert_eq!(v["error"]["code"], "AUTH_REQUIRED", "{method} with {who}: {v}");
            }
        }
    }
    assert_eq!(snapshot(&ann, &bob, group).await, before, "refused calls changed something");
}
