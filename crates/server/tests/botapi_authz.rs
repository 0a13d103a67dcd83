//! Authorization of the Bot API, generated from the list of methods the server answers
//! (`botapi::methods::METHODS`) and the specification's fields: every method refuses a
//! made-up and a revoked token; every method that takes a chat refuses a chat the bot is not
//! in, exactly as a chat that does not exist, and changes nothing; a bot that is a plain
//! member cannot do what needs an admin or the author.

mod common;

use common::bot::Bot;
use common::{InProcess, Person};
use heliograph_client::proto::{self, method::Direction};
use heliograph_server::botapi::methods::METHODS;
use serde_json::{json, Map, Value};

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/telegram-bot-api.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("spec/telegram-bot-api.json")).expect("the spec parses")
}

/// The specification's fields of `method`: `(name, required)`.
fn fields(spec: &Value, method: &str) -> Vec<(String, bool)> {
    spec["methods"][method]["fields"]
        .as_array()
        .map(|f| f.iter().map(|f| (f["name"].as_str().unwrap_or("").to_string(), f["required"].as_bool().unwrap_or(false))).collect())
        .unwrap_or_default()
}

/// What a chat-taking call names: the chat, a message in it, a person, a file the bot may use.
struct Target {
    chat: i64,
    message: i64,
    user: i64,
    file: String,
}

/// Valid parameters for `method` aimed at `t`: every required field, plus the chat and
/// message of the edit methods (whose `chat_id` is optional only for inline messages).
fn params(spec: &Value, method: &str, t: &Target) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, required) in fields(spec, method) {
        let value = match name.as_str() {
            "chat_id" | "from_chat_id" => json!(t.chat),
            "message_id" => json!(t.message),
            "message_ids" => json!([t.message]),
            "text" | "caption" => json!("from a bot that should not be here"),
            "title" => json!("Taken over"),
            "action" => json!("typing"),
            "user_id" => json!(t.user),
            "permissions" => json!({ "can_send_messages": false }),
            "photo" | "document" | "audio" | "video" | "voice" => json!(t.file),
            _ if !required => continue,
            other => panic!("{method}: no test value for its required field `{other}`: add one here"),
        };
        out.insert(name, value);
    }
    out
}

fn takes_chat(spec: &Value, method: &str) -> bool {
    fields(spec, method).iter().any(|(name, _)| name == "chat_id")
}

#[tokio::test]
async fn every_method_refuses_unknown_and_revoked_tokens() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "authz_bot").await;
    let old = bot.token.clone();
    alice.client.revoke_bot_token(bot.id).await.expect("revoke");
    let secret = old.split_once(':').expect("token shape").1.to_string();
    for token in [old, format!("{}:{secret}", bot.id + 1000), "123:made-up".to_string()] {
        let stranger = Bot { token, http: bot.http.clone(), base: bot.base.clone(), id: bot.id };
        for method in METHODS {
            assert_eq!(stranger.fail(method, json!({})).await, (401, "Unauthorized".to_string()), "{method}");
        }
    }
}

#[tokio::test]
async fn every_chat_method_treats_a_foreign_chat_as_missing_and_changes_nothing() {
    let spec = spec();
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let bot = Bot::create(&server, &alice, "outsider_bot").await;

    // A file the bot owns (so a media call fails on the chat, not the file).
    let private = alice.client.open_private(bot.id).await.expect("chat with the bot");
    alice.client.send_message(private.id, "hi", None).await.expect("hello");
    let form = reqwest::multipart::Form::new()
        .text("chat_id", alice.id().to_string())
        .part("document", reqwest::multipart::Part::bytes(b"GIF89a".to_vec()).file_name("f.gif"));
    let r: Value = bot.http.post(bot.url("sendDocument")).multipart(form).send().await.unwrap().json().await.unwrap();
    let file = r["result"]["document"]["file_id"].as_str().expect("a file id").to_string();

    // Alice and Bob's group and private chat, which the bot is not in.
    let group = alice.client.create_group("Ours", &[bob.id()]).await.unwrap();
    let m = alice.client.send_message(group.id, "ours", None).await.unwrap();
    let theirs = alice.client.open_private(bob.id()).await.unwrap();
    let p = alice.client.send_message(theirs.id, "between us", None).await.unwrap();
    let targets = [
        ("a group", Target { chat: -(1_000_000_000_000 + group.id), message: m.message.id, user: alice.id(), file: file.clone() }),
        ("a private chat", Target { chat: -(1_000_000_000_000 + theirs.id), message: p.message.id, user: bob.id(), file: file.clone() }),
        ("no chat at all", Target { chat: -(1_000_000_000_000 + 999_999), message: 1, user: alice.id(), file: file.clone() }),
    ];
    let before = (
        alice.client.history(group.id, None, Direction::Older, None).await.unwrap(),
        alice.client.history(theirs.id, None, Direction::Older, None).await.unwrap(),
        alice.client.get_chat(group.id).await.unwrap(),
    );

    let mut checked = 0;
    for method in METHODS.iter().filter(|m| takes_chat(&spec, m)) {
        for (what, t) in &targets {
            let (code, description) = bot.fail(method, Value::Object(params(&spec, method, t))).await;
            assert_eq!((code, description.as_str()), (400, "Bad Request: chat not found"), "{method} on {what}");
            checked += 1;
        }
    }
    assert!(checked >= 3 * 20, "only {checked} calls: did the method list shrink?");

    let after = (
        alice.client.history(group.id, None, Direction::Older, None).await.unwrap(),
        alice.client.history(theirs.id, None, Direction::Older, None).await.unwrap(),
        alice.client.get_chat(group.id).await.unwrap(),
    );
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn a_plain_member_bot_cannot_do_what_needs_rights() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "member_bot").await;
    let group = alice.client.create_group("Team", &[bot.id]).await.unwrap();
    let channel = alice.client.create_channel("News", None).await.unwrap();
    alice.client.add_members(channel.id, &[bot.id]).await.unwrap();
    let hers = alice.client.send_message(group.id, "mine", None).await.unwrap().message.id;
    let (g, c) = (-(1_000_000_000_000 + group.id), -(1_000_000_000_000 + channel.id));

    let cases = [
        ("sendMessage", json!({ "chat_id": c, "text": "spam" }), "Bad Request: need administrator rights in the channel chat"),
        ("setChatTitle", json!({ "chat_id": g, "title": "Mine now" }), "Bad Request: not enough rights"),
        ("pinChatMessage", json!({ "chat_id": g, "message_id": hers }), "Bad Request: not enough rights"),
        ("editMessageText", json!({ "chat_id": g, "message_id": hers, "text": "edited" }), "Bad Request: message can't be edited"),
        ("deleteMessage", json!({ "chat_id": g, "message_id": hers }), "Bad Request: message can't be deleted"),
        (
            "banChatMember",
            json!({ "chat_id": g, "user_id": alice.id() }),
            "Bad Request: not enough rights to restrict/unrestrict chat member",
        ),
        (
            "restrictChatMember",
            json!({ "chat_id": g, "user_id": alice.id(), "permissions": {} }),
            "Bad Request: not enough rights to restrict/unrestrict chat member",
        ),
        ("setChatPermissions", json!({ "chat_id": g, "permissions": {} }), "Bad Request: not enough rights to change chat permissions"),
        ("setChatDescription", json!({ "chat_id": g, "description": "Mine" }), "Bad Request: not enough rights to change chat description"),
        (
            "promoteChatMember",
            json!({ "chat_id": g, "user_id": bot.id, "can_manage_chat": true }),
            "Bad Request: not enough rights: only the chat's creator appoints admins",
        ),
        ("exportChatInviteLink", json!({ "chat_id": g }), "Bad Request: not enough rights to manage invite links"),
    ];
    for (method, params, description) in cases {
        assert_eq!(bot.fail(method, params.clone()).await, (400, description.to_string()), "{method} {params}");
    }
    let history = alice.client.history(group.id, None, Direction::Older, None).await.unwrap();
    let texts: Vec<String> = history
        .iter()
        .filter_map(|m| match &m.content {
            proto::Content::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["mine"], "nothing changed");
    let chat = alice.client.get_chat(group.id).await.unwrap();
    assert_eq!((chat.title.as_str(), chat.pinned_message_id), ("Team", None));
    assert!(alice.client.history(channel.id, None, Direction::Older, None).await.unwrap().is_empty());
}
