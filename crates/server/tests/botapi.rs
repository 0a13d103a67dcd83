//! The Bot API at its boundary: HTTP requests as bot libraries make them, against a real
//! server, with people on the other side using the SDK.

mod common;

use std::time::Duration;

use common::bot::Bot;
use common::{InProcess, Person};
use heliograph_client::proto::{self, UpdateKind};
use serde_json::{json, Value};

impl Bot {
    /// Long-polls until at least one update arrives, confirming everything before `offset`.
    async fn updates(&self, offset: i64) -> Vec<Value> {
        for _ in 0..10 {
            let got = self.call("getUpdates", json!({ "offset": offset, "timeout": 5 })).await;
            let list = got.as_array().cloned().unwrap_or_default();
            if !list.is_empty() {
                return list;
            }
        }
        panic!("no update within 50 s");
    }
}

fn next_offset(updates: &[Value]) -> i64 {
    updates.last().and_then(|u| u["update_id"].as_i64()).map_or(0, |id| id + 1)
}

/// A person who opened a private chat with `bot` and said `text` to it.
async fn say(person: &Person, bot: &Bot, text: &str) -> i64 {
    let chat = person.client.open_private(bot.id).await.expect("open chat with the bot");
    person.client.send_message(chat.id, text, None).await.expect("send");
    chat.id
}

#[tokio::test]
async fn tokens_methods_and_parameters_are_checked_like_telegram() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "checks_bot").await;

    let me = bot.call("getMe", json!({})).await;
    assert_eq!((me["id"].as_i64(), me["is_bot"].as_bool(), me["username"].as_str()), (Some(bot.id), Some(true), Some("checks_bot")));

    // GET with a query string works as well as POST.
    let r: Value = reqwest::get(format!("{}?", bot.url("getMe"))).await.unwrap().json().await.unwrap();
    assert_eq!(r["result"]["id"].as_i64(), Some(bot.id));

    let secret = bot.token.split_once(':').unwrap().1.to_string();
    for token in [format!("{}:not-the-secret", bot.id), format!("{}:{secret}", bot.id + 1), secret.clone(), format!("{}:", bot.id)] {
        let wrong = Bot { token, http: bot.http.clone(), base: bot.base.clone(), id: bot.id };
        assert_eq!(wrong.fail("getMe", json!({})).await, (401, "Unauthorized".to_string()));
    }
    assert_eq!(bot.fail("sendRocket", json!({})).await, (404, "Not Found: there is no method \"sendRocket\" in the Bot API".to_string()));
    let (code, refused) = bot.fail("sendInvoice", json!({ "chat_id": alice.id() })).await;
    assert_eq!((code, refused.as_str()), (404, "Not Found: method sendInvoice is not offered by this server (no payments)"));

    let cases = [
        ("sendMessage", json!({ "text": "hi" }), 400, "Bad Request: chat_id is empty"),
        ("sendMessage", json!({ "chat_id": alice.id() }), 403, "Forbidden: bot can't initiate conversation with a user"),
        ("sendMessage", json!({ "chat_id": 999_999 }), 400, "Bad Request: chat not found"),
        ("sendMessage", json!({ "chat_id": "x", "text": "hi" }), 400, "Bad Request: chat not found"),
        ("getFile", json!({}), 400, "Bad Request: file_id is empty"),
        ("getFile", json!({ "file_id": "nope" }), 400, "Bad Request: wrong file_id specified"),
        ("getUpdates", json!({ "limit": "many" }), 400, "Bad Request: field \"limit\" must be of type Integer"),
        (
            "answerCallbackQuery",
            json!({ "callback_query_id": "1-1" }),
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
        (
            "setMyCommands",
            json!({ "commands": "[{\"command\":\"Bad Name\",\"description\":\"x\"}]" }),
            400,
            "Bad Request: BOT_COMMAND_INVALID",
        ),
    ];
    for (method, params, code, description) in cases {
        assert_eq!(bot.fail(method, params.clone()).await, (code, description.to_string()), "{method} {params}");
    }

    // Once the person said hello, the bot can answer: the chat id is the person's id.
    say(&alice, &bot, "hello").await;
    let sent = bot.call("sendMessage", json!({ "chat_id": alice.id(), "text": "hi there" })).await;
    assert_eq!(sent["chat"]["id"].as_i64(), Some(alice.id()));
}

#[tokio::test]
async fn empty_text_is_refused() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "empty_bot").await;
    say(&alice, &bot, "hi").await;
    assert_eq!(
        bot.fail("sendMessage", json!({ "chat_id": alice.id(), "text": "" })).await,
        (400, "Bad Request: message text is empty".into())
    );
    assert_eq!(
        bot.fail("sendMessage", json!({ "chat_id": alice.id(), "text": "<b>x", "parse_mode": "HTML" })).await.0,
        400,
        "unbalanced HTML is refused"
    );
}

#[tokio::test]
async fn a_bot_polls_answers_and_confirms_updates() {
    let server = InProcess::start().await;
    let mut alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "echo_bot").await;

    // Nothing yet: a short poll answers an empty list.
    assert_eq!(bot.call("getUpdates", json!({ "timeout": 0 })).await, json!([]));

    // A long poll in flight wakes when the message commits.
    let poll = {
        let (url, http) = (bot.url("getUpdates"), bot.http.clone());
        tokio::spawn(async move { http.post(url).json(&json!({ "timeout": 20 })).send().await.unwrap().json::<Value>().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let chat = say(&alice, &bot, "/start").await;
    let got = poll.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "the long poll woke on the commit");
    let updates = got["result"].as_array().unwrap().clone();
    assert_eq!(updates.len(), 1, "{got}");
    let m = &updates[0]["message"];
    assert_eq!(m["text"], "/start");
    assert_eq!(m["entities"], json!([{ "type": "bot_command", "offset": 0, "length": 6 }]), "libraries route commands by this entity");
    assert_eq!(m["chat"]["id"].as_i64(), Some(alice.id()), "a private chat is known by the person's id");
    assert_eq!(m["chat"]["type"], "private");
    assert_eq!(m["from"]["id"].as_i64(), Some(alice.id()));
    assert_eq!(m["from"]["is_bot"], false);

    // Unconfirmed updates come again; confirmed ones never do.
    let again = bot.call("getUpdates", json!({})).await;
    assert_eq!(again.as_array().unwrap().len(), 1);
    let offset = next_offset(&updates);
    assert_eq!(bot.call("getUpdates", json!({ "offset": offset })).await, json!([]));
    assert_eq!(bot.call("getUpdates", json!({})).await, json!([]), "the confirmation is kept");

    // The bot's echo, formatted: the person sees the text and its entities.
    let echo = bot
        .call("sendMessage", json!({ "chat_id": alice.id(), "text": "<b>you</b> said /start", "parse_mode": "HTML", "reply_parameters": { "message_id": m["message_id"] } }))
        .await;
    assert_eq!(echo["text"], "you said /start");
    // The formatting asked for, plus what the server finds by itself, as Telegram does.
    assert_eq!(
        echo["entities"],
        json!([{ "type": "bold", "offset": 0, "length": 3 }, { "type": "bot_command", "offset": 9, "length": 6 }])
    );
    assert_eq!(echo["reply_to_message"]["text"], "/start");
    let me = alice.id();
    let update = alice.expect_update("the echo", |k| matches!(k, UpdateKind::NewMessage { message } if message.from != me)).await;
    let UpdateKind::NewMessage { message } = update.kind else { unreachable!() };
    assert_eq!((message.chat_id, message.entities.len()), (chat, 2));

    // Edits reach the bot as edited_message; the bot's own messages never come back.
    let mine = alice.client.send_message(chat, "typo", None).await.unwrap();
    alice.client.edit_message(chat, mine.message.id, "fixed").await.unwrap();
    let updates = bot.updates(offset).await;
    let kinds: Vec<&str> = updates.iter().map(|u| if u.get("message").is_some() { "message" } else { "edited_message" }).collect();
    assert_eq!(kinds, ["message", "edited_message"], "{updates:?}");
    assert_eq!(updates[1]["edited_message"]["text"], "fixed");

    // A second poller ends the first with 409, as in Telegram.
    let first = {
        let (url, http) = (bot.url("getUpdates"), bot.http.clone());
        let offset = next_offset(&updates);
        tokio::spawn(
            async move { http.post(url).json(&json!({ "offset": offset, "timeout": 20 })).send().await.unwrap().status().as_u16() },
        )
    };
    // Poll again until the first one ends (it may not have started when the first call lands).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !first.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the first poll was not ended by the second");
        let _ = bot.call("getUpdates", json!({ "timeout": 0 })).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(first.await.unwrap(), 409);
}

#[tokio::test]
async fn inline_keyboards_reach_people_and_button_presses_reach_the_bot() {
    let server = InProcess::start().await;
    let mut alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "vote_bot").await;
    let chat = say(&alice, &bot, "/vote").await;
    let offset = next_offset(&bot.updates(0).await);

    let keyboard = json!({ "inline_keyboard": [[{ "text": "Yes", "callback_data": "yes" }, { "text": "No", "callback_data": "no" }], [{ "text": "Site", "url": "https://example.org" }]] });
    // Form-encoded, with the markup as a JSON string: how many libraries send it.
    let form = [("chat_id", alice.id().to_string()), ("text", "Agree?".to_string()), ("reply_markup", keyboard.to_string())];
    let r: Value = bot.http.post(bot.url("sendMessage")).form(&form).send().await.unwrap().json().await.unwrap();
    let question = r["result"].clone();
    assert_eq!(question["reply_markup"], keyboard, "{r}");
    let id = question["message_id"].as_i64().unwrap();

    let shown =
        alice.expect_update("the question", |k| matches!(k, UpdateKind::NewMessage { message } if message.reply_markup.is_some())).await;
    let UpdateKind::NewMessage { message } = shown.kind else { unreachable!() };
    assert_eq!(message.id, id);

    // The person presses "No": the bot gets a callback_query, answers it, and edits the text.
    let press = {
        let client = alice.client.clone();
        tokio::spawn(async move { client.press_button(chat, id, "no").await })
    };
    let updates = bot.updates(offset).await;
    let query = &updates[0]["callback_query"];
    assert_eq!((query["data"].as_str(), query["from"]["id"].as_i64()), (Some("no"), Some(alice.id())), "{updates:?}");
    assert_eq!(query["message"]["message_id"].as_i64(), Some(id));
    assert_eq!(
        bot.call("answerCallbackQuery", json!({ "callback_query_id": query["id"], "text": "Noted", "show_alert": true })).await,
        json!(true)
    );
    let answer = press.await.unwrap().expect("press answered");
    assert_eq!((answer.text.as_deref(), answer.alert), (Some("Noted"), true));

    let edited = bot.call("editMessageText", json!({ "chat_id": alice.id(), "message_id": id, "text": "You said no" })).await;
    assert_eq!(edited["text"], "You said no");
    assert!(edited.get("reply_markup").is_none(), "an edit without reply_markup removes the keyboard");
    let (code, description) = bot.fail("editMessageText", json!({ "chat_id": alice.id(), "message_id": id, "text": "You said no" })).await;
    assert_eq!(code, 400);
    assert!(description.starts_with("Bad Request: message is not modified"), "{description}");
    alice.expect_update("the edit", |k| matches!(k, UpdateKind::EditMessage { message } if message.id == id)).await;

    // Buttons that are gone, and data that never was, are refused to the person.
    assert_eq!(common::code_of(alice.client.press_button(chat, id, "no").await), proto::ErrorCode::ButtonDataInvalid);
    let kb = bot.call("editMessageReplyMarkup", json!({ "chat_id": alice.id(), "message_id": id, "reply_markup": { "inline_keyboard": [[{ "text": "Again", "callback_data": "again" }]] } })).await;
    assert_eq!(kb["reply_markup"]["inline_keyboard"][0][0]["text"], "Again");
    assert_eq!(common::code_of(alice.client.press_button(chat, id, "yes").await), proto::ErrorCode::ButtonDataInvalid);
}

#[tokio::test]
async fn files_go_both_ways_byte_identical() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "files_bot").await;
    let chat = say(&alice, &bot, "/file").await;
    let offset = next_offset(&bot.updates(0).await);

    // The bot uploads a document in a multipart body.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let form = reqwest::multipart::Form::new()
        .text("chat_id", alice.id().to_string())
        .text("caption", "*the* report")
        .text("parse_mode", "MarkdownV2")
        .part(
            "document",
            reqwest::multipart::Part::bytes(content.clone()).file_name("report.bin").mime_str("application/octet-stream").unwrap(),
        );
    let r: Value = bot.http.post(bot.url("sendDocument")).multipart(form).send().await.unwrap().json().await.unwrap();
    let doc = &r["result"]["document"];
    assert_eq!((doc["file_name"].as_str(), doc["file_size"].as_u64()), (Some("report.bin"), Some(content.len() as u64)), "{r}");
    assert_eq!(r["result"]["caption"], "the report");
    assert_eq!(r["result"]["caption_entities"][0]["type"], "bold");

    // The person downloads it byte-identical.
    let files = heliograph_client::files::Files::new(&format!("http://{}", server.addr()), &alice.token).unwrap();
    let file_id: i64 = doc["file_id"].as_str().unwrap().parse().unwrap();
    let mut got = Vec::new();
    files.download(file_id, 0, &mut got, |_, _| {}).await.unwrap();
    assert_eq!(got, content);

    // Sending it again by file_id stores nothing new.
    let again = bot.call("sendDocument", json!({ "chat_id": alice.id(), "document": doc["file_id"] })).await;
    assert_eq!(again["document"]["file_id"], doc["file_id"]);

    // The person sends a file; the bot fetches it with getFile.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let mine: Vec<u8> = b"hello bot\n".repeat(5000);
    std::fs::write(&path, &mine).unwrap();
    let (sha, size) = heliograph_client::files::hash_file(&path).await.unwrap();
    let uploaded = files.upload(&path, "up1", &sha, size, Some("text/plain"), |_| {}).await.unwrap();
    alice.client.send_media(chat, 7, uploaded.id, proto::MediaKind::Document, None).await.unwrap();
    let updates = bot.updates(offset).await;
    let their = &updates[0]["message"]["document"];
    assert_eq!(their["file_name"], "notes.txt", "{updates:?}");
    let f = bot.call("getFile", json!({ "file_id": their["file_id"] })).await;
    assert_eq!(f["file_size"].as_u64(), Some(mine.len() as u64));
    let path = f["file_path"].as_str().unwrap();
    let url = format!("{}/file/bot{}/{path}", bot.base, bot.token);
    let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), mine.as_slice());

    // Another bot (or a wrong token) cannot fetch it.
    let other = Bot::create(&server, &alice, "other_bot").await;
    assert_eq!(other.fail("getFile", json!({ "file_id": their["file_id"] })).await.0, 400);
    let denied = reqwest::get(format!("{}/file/bot{}/{path}", other.base, other.token)).await.unwrap();
    assert_eq!(denied.status().as_u16(), 404);
    let _ = chat;
}

#[tokio::test]
async fn a_bot_cannot_touch_chats_it_is_not_in() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let bot = Bot::create(&server, &alice, "nosy_bot").await;
    let group = alice.client.create_group("Private talk", &[bob.id()]).await.unwrap();
    let m = alice.client.send_message(group.id, "secret", None).await.unwrap();
    let group_id = -(1_000_000_000_000 + group.id);
    let private = alice.client.open_private(bob.id()).await.unwrap();
    for (method, params) in [
        ("sendMessage", json!({ "chat_id": group_id, "text": "hi" })),
        ("getChat", json!({ "chat_id": group_id })),
        ("getChatMember", json!({ "chat_id": group_id, "user_id": alice.id() })),
        ("getChatMemberCount", json!({ "chat_id": group_id })),
        ("forwardMessage", json!({ "chat_id": group_id, "from_chat_id": group_id, "message_id": m.message.id })),
        ("copyMessage", json!({ "chat_id": group_id, "from_chat_id": group_id, "message_id": m.message.id })),
        ("editMessageText", json!({ "chat_id": group_id, "message_id": m.message.id, "text": "mine" })),
        ("deleteMessage", json!({ "chat_id": group_id, "message_id": m.message.id })),
        ("sendChatAction", json!({ "chat_id": group_id, "action": "typing" })),
        ("sendMessage", json!({ "chat_id": -(1_000_000_000_000 + private.id), "text": "hi" })),
    ] {
        let (code, description) = bot.fail(method, params.clone()).await;
        assert_eq!(code, 400, "{method} {params}: {description}");
        assert!(description.contains("not found"), "{method}: {description}");
    }
    let history = alice.client.history(group.id, None, proto::method::Direction::Older, None).await.unwrap();
    assert_eq!(history.len(), 1, "nothing changed");
}

#[tokio::test]
async fn groups_apply_privacy_mode_and_channels_deliver_posts() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let bot = Bot::create(&server, &alice, "group_bot").await;
    let group = alice.client.create_group("Team", &[bob.id(), bot.id]).await.unwrap();
    let mut offset = 0;
    let joined = bot.updates(offset).await;
    offset = next_offset(&joined);
    let member = &joined[0]["my_chat_member"];
    assert_eq!(member["new_chat_member"]["status"], "member", "{joined:?}");
    assert_eq!(member["chat"]["type"], "supergroup");

    bob.client.send_message(group.id, "lunch?", None).await.unwrap();
    bob.client.send_message(group.id, "/help@group_bot", None).await.unwrap();
    bob.client.send_message(group.id, "hey @group_bot", None).await.unwrap();
    let seen = bot.updates(offset).await;
    let texts: Vec<&str> = seen.iter().filter_map(|u| u["message"]["text"].as_str()).collect();
    assert_eq!(texts, ["/help@group_bot", "hey @group_bot"], "privacy mode: commands and mentions only");
    offset = next_offset(&seen);

    let chat_id = -(1_000_000_000_000 + group.id);
    let count = bot.call("getChatMemberCount", json!({ "chat_id": chat_id })).await;
    assert_eq!(count, json!(3));
    let creator = bot.call("getChatMember", json!({ "chat_id": chat_id, "user_id": alice.id() })).await;
    assert_eq!(creator["status"], "creator");

    // Channels keep their own log; a bot member still gets each post in its own.
    let channel = alice.client.create_channel("News", None).await.unwrap();
    alice.client.add_members(channel.id, &[bot.id]).await.unwrap();
    alice.client.send_message(channel.id, "issue 1", None).await.unwrap();
    let posts = bot.updates(offset).await;
    let post = posts.iter().find(|u| u.get("channel_post").is_some()).expect("a channel_post");
    assert_eq!(post["channel_post"]["text"], "issue 1");
    assert_eq!(post["channel_post"]["sender_chat"]["type"], "channel");
}

#[tokio::test]
async fn webhooks_deliver_with_the_secret_and_retry() {
    use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<(u32, Vec<(Option<String>, Value)>)>>;
    // The first delivery fails with 500; the retry succeeds.
    async fn hook(State(seen): State<Seen>, headers: HeaderMap, Json(update): Json<Value>) -> axum::http::StatusCode {
        let mut seen = seen.lock().unwrap();
        seen.0 += 1;
        if seen.0 == 1 {
            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        }
        let secret = headers.get("x-telegram-bot-api-secret-token").map(|v| v.to_str().unwrap().to_string());
        seen.1.push((secret, update));
        axum::http::StatusCode::OK
    }
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(hook)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The hook listens on loopback, which only an explicit allow list lets the server reach.
    let server = InProcess::start_with(|c| c.egress.allow = vec!["127.0.0.1/32".into()]).await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "hook_bot").await;
    assert_eq!(bot.call("setWebhook", json!({ "url": hook_url, "secret_token": "s3cr3t" })).await, json!(true));
    assert_eq!(bot.fail("getUpdates", json!({})).await.0, 409);
    assert_eq!(bot.fail("setWebhook", json!({ "url": "ftp://x" })).await.0, 400);

    say(&alice, &bot, "via webhook").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while seen.lock().unwrap().1.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no webhook delivery within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (attempts, delivered) = seen.lock().unwrap().clone();
    assert_eq!(attempts, 2, "one failure, one retry");
    assert_eq!(delivered[0].0.as_deref(), Some("s3cr3t"));
    assert_eq!(delivered[0].1["message"]["text"], "via webhook");

    let info = bot.call("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], hook_url);
    assert_eq!(info["pending_update_count"], 0, "{info}");
    assert!(info["last_error_message"].as_str().unwrap().contains("500"), "{info}");

    assert_eq!(bot.call("deleteWebhook", json!({})).await, json!(true));
    assert_eq!(bot.call("getWebhookInfo", json!({})).await["url"], "");
    assert_eq!(bot.call("getUpdates", json!({})).await, json!([]), "delivered updates were confirmed");
}

#[tokio::test]
async fn commands_are_kept_per_scope_and_language() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "cmd_bot").await;
    let list = json!([{ "command": "start", "description": "Start" }, { "command": "help", "description": "Help" }]);
    assert_eq!(bot.call("setMyCommands", json!({ "commands": list })).await, json!(true));
    let de = json!([{ "command": "hilfe", "description": "Hilfe" }]);
    bot.call("setMyCommands", json!({ "commands": de, "language_code": "de", "scope": { "type": "all_private_chats" } })).await;
    assert_eq!(bot.call("getMyCommands", json!({})).await, list);
    assert_eq!(bot.call("getMyCommands", json!({ "language_code": "de", "scope": { "type": "all_private_chats" } })).await, de);
    bot.call("deleteMyCommands", json!({})).await;
    assert_eq!(bot.call("getMyCommands", json!({})).await, json!([]));
}

/// The bot's profile: its default name and short description are its account's name and bio
/// (people see them), other languages' texts and the rest are kept for it; bad input is
/// refused and changes nothing.
#[tokio::test]
async fn the_bot_profile_is_kept_shown_and_checked() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let bot = Bot::create(&server, &alice, "profile_bot").await;
    say(&alice, &bot, "hi").await;

    bot.call("setMyName", json!({ "name": "Weather" })).await;
    bot.call("setMyName", json!({ "name": "Wetter", "language_code": "de" })).await;
    bot.call("setMyShortDescription", json!({ "short_description": "Forecasts on request" })).await;
    bot.call("setMyDescription", json!({ "description": "Send a city,\nget its forecast.", "language_code": "en" })).await;
    let seen = bob.client.get_users(&[bot.id]).await.expect("users.get").remove(0);
    assert_eq!((seen.name.as_str(), seen.bio.as_deref()), ("Weather", Some("Forecasts on request")), "people see name and bio");
    assert_eq!(bot.call("getMe", json!({})).await["first_name"], "Weather", "getMe has the new name");
    assert_eq!(bot.call("getMyName", json!({ "language_code": "de" })).await, json!({ "name": "Wetter" }));
    assert_eq!(bot.call("getMyName", json!({ "language_code": "fr" })).await, json!({ "name": "Weather" }), "the default");
    assert_eq!(bot.call("getMyDescription", json!({})).await, json!({ "description": "" }), "no default description yet");
    assert_eq!(bot.call("getMyDescription", json!({ "language_code": "en" })).await["description"], "Send a city,\nget its forecast.");
    // An empty text removes a language's own.
    bot.call("setMyName", json!({ "name": "", "language_code": "de" })).await;
    assert_eq!(bot.call("getMyName", json!({ "language_code": "de" })).await, json!({ "name": "Weather" }));

    let group = alice.client.create_group("Forecasts", &[bot.id]).await.expect("group");
    let g = -(1_000_000_000_000 + group.id);
    let cases = [
        (
            "setMyName",
            json!({ "name": "" }),
            "Bad Request: name is empty: a bot always has a name; pass language_code to remove a language's own",
        ),
        ("setMyName", json!({ "name": "x".repeat(65) }), "Bad Request: a name is 1 to 64 characters and not only spaces"),
        ("setMyName", json!({ "name": "Wetter", "language_code": "deu" }), "Bad Request: language_code is a two-letter ISO 639-1 code"),
        ("setMyName", json!({ "name": ["Weather"] }), "Bad Request: field \"name\" must be of type String"),
        ("setMyDescription", json!({ "description": "d".repeat(513) }), "Bad Request: description is too long (at most 512 characters)"),
        ("setMyDescription", json!({ "description": "bell\u{7}" }), "Bad Request: description cannot contain the control character U+0007"),
        (
            "setMyShortDescription",
            json!({ "short_description": "right\u{202e}left" }),
            "Bad Request: short_description cannot contain U+202E: invisible and text-direction characters are refused",
        ),
        (
            "setMyShortDescription",
            json!({ "short_description": "s".repeat(121) }),
            "Bad Request: short_description is too long (at most 120 characters)",
        ),
        (
            "setChatMenuButton",
            json!({ "menu_button": { "type": "web_app", "text": "Open", "web_app": { "url": "https://example.org" } } }),
            "Bad Request: menu buttons of type web_app are not supported by this server: there are no Web Apps",
        ),
        ("setChatMenuButton", json!({ "menu_button": { "type": "rocket" } }), "Bad Request: unsupported menu button type"),
        (
            "setChatMenuButton",
            json!({ "chat_id": g, "menu_button": { "type": "commands" } }),
            "Bad Request: menu buttons are set for private chats only",
        ),
        ("getChatMenuButton", json!({ "chat_id": bob.id() }), "Forbidden: bot can't initiate conversation with a user"),
        (
            "setMyDefaultAdministratorRights",
            json!({ "rights": { "can_fly": true } }),
            "Bad Request: can't parse rights: unknown right \"can_fly\"",
        ),
        (
            "setMyDefaultAdministratorRights",
            json!({ "rights": { "can_manage_chat": "yes" } }),
            "Bad Request: can't parse rights: field \"can_manage_chat\" must be of type Boolean",
        ),
        (
            "getMyDefaultAdministratorRights",
            json!({ "for_channels": "maybe" }),
            "Bad Request: field \"for_channels\" must be of type Boolean",
        ),
    ];
    for (method, params, description) in cases {
        let code = if description.starts_with("Forbidden") { 403 } else { 400 };
        assert_eq!(bot.fail(method, params.clone()).await, (code, description.to_string()), "{method} {params}");
    }
    // Nothing the refusals named was stored.
    let me = bob.client.get_users(&[bot.id]).await.expect("users.get").remove(0);
    assert_eq!((me.name.as_str(), me.bio.as_deref()), ("Weather", Some("Forecasts on request")));
    assert_eq!(bot.call("getMyDescription", json!({})).await, json!({ "description": "" }));
    assert_eq!(bot.call("getChatMenuButton", json!({})).await, json!({ "type": "commands" }));
    assert_eq!(bot.call("getMyDefaultAdministratorRights", json!({})).await["can_manage_chat"], json!(false));

    // A chat's own button, then back to the default.
    bot.call("setChatMenuButton", json!({ "chat_id": alice.id(), "menu_button": { "type": "commands" } })).await;
    assert_eq!(bot.call("getChatMenuButton", json!({ "chat_id": alice.id() })).await, json!({ "type": "commands" }));
    bot.call("setChatMenuButton", json!({ "chat_id": alice.id(), "menu_button": { "type": "default" } })).await;
    assert_eq!(bot.call("getChatMenuButton", json!({ "chat_id": alice.id() })).await, json!({ "type": "default" }));
    // Rights, and removing them.
    bot.call("setMyDefaultAdministratorRights", json!({ "rights": { "can_delete_messages": true, "can_pin_messages": true } })).await;
    let rights = bot.call("getMyDefaultAdministratorRights", json!({})).await;
    assert_eq!(
        (&rights["can_delete_messages"], &rights["can_pin_messages"], &rights["can_manage_chat"]),
        (&json!(true), &json!(true), &json!(false))
    );
    assert_eq!(bot.call("getMyDefaultAdministratorRights", json!({ "for_channels": true })).await["can_delete_messages"], json!(false));
    bot.call("setMyDefaultAdministratorRights", json!({})).await;
    assert_eq!(bot.call("getMyDefaultAdministratorRights", json!({})).await["can_delete_messages"], json!(false));
}

#[tokio::test]
async fn a_flooding_bot_gets_429_with_retry_after() {
    let server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 5;
        c.limits.requests_burst = 5;
    })
    .await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "flood_bot").await;
    let mut refused = None;
    for _ in 0..50 {
        let (status, body) = bot.raw("getMe", json!({})).await;
        if status == 429 {
            refused = Some(body);
            break;
        }
    }
    let body = refused.expect("429 within 50 requests");
    let after = body["parameters"]["retry_after"].as_i64().expect("retry_after");
    assert!(after >= 1, "{body}");
    assert_eq!(body["description"], format!("Too Many Requests: retry after {after}"));
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "rotate_bot").await;
    bot.call("getMe", json!({})).await;
    let fresh = alice.client.revoke_bot_token(bot.id).await.unwrap();
    assert_eq!(bot.fail("getMe", json!({})).await.0, 401);
    let rotated = Bot { token: fresh.token, http: bot.http.clone(), base: bot.base.clone(), id: bot.id };
    rotated.call("getMe", json!({})).await;
}

/// node-telegram-bot-api sends a file as a multipart part and an empty field of the same name
/// in the query string; the body wins, empty values are no values, and a value given in both
/// places is the body's.
#[tokio::test]
async fn the_body_wins_over_the_query_and_empty_values_are_ignored() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "node_bot").await;
    say(&alice, &bot, "hi").await;
    let content = b"%PDF-1.4 not really".to_vec();
    for field in ["document", "photo"] {
        let method = if field == "photo" { "sendPhoto" } else { "sendDocument" };
        let form = reqwest::multipart::Form::new()
            .text("chat_id", alice.id().to_string())
            .text("caption", "from the body")
            .part(field, reqwest::multipart::Part::bytes(content.clone()).file_name("x.png").mime_str("image/png").unwrap());
        let url = format!("{}?{field}=&caption=from+the+query&disable_notification=", bot.url(method));
        let r: Value = bot.http.post(url).multipart(form).send().await.unwrap().json().await.unwrap();
        assert_eq!(r["ok"], true, "{method}: {r}");
        assert_eq!(r["result"]["caption"], "from the body", "{r}");
    }
    // A form body over a query string: the body's value.
    let url = format!("{}?chat_id={}&text=query", bot.url("sendMessage"), alice.id());
    let r: Value = bot.http.post(url).form(&[("text", "body"), ("parse_mode", "")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["result"]["text"], "body", "{r}");
}

/// `getUpdates offset=-1` answers the last update even when the log's last event is one the
/// bot does not see as an update (its own reply).
#[tokio::test]
async fn a_negative_offset_keeps_the_last_updates() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "last_bot").await;
    let chat = say(&alice, &bot, "first").await;
    alice.client.send_message(chat, "second", None).await.unwrap();
    alice.client.send_message(chat, "third", None).await.unwrap();
    // Wait until all three are the bot's, then the bot answers (its own message: no update).
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen = bot.call("getUpdates", json!({ "timeout": 5 })).await.as_array().cloned().unwrap();
    }
    bot.call("sendMessage", json!({ "chat_id": alice.id(), "text": "noted" })).await;
    let texts = |u: &Value| u.as_array().unwrap().iter().map(|u| u["message"]["text"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let last_two = bot.call("getUpdates", json!({ "offset": -2 })).await;
    assert_eq!(texts(&last_two), ["second", "third"]);
    let last = bot.call("getUpdates", json!({ "offset": -1 })).await;
    assert_eq!(texts(&last), ["third"], "offset=-1 is the last update");
    // Everything before it is forgotten.
    assert_eq!(texts(&bot.call("getUpdates", json!({})).await), ["third"]);
}

/// Reads every update pending from `offset`, none a `message_reaction` (`why`), until
/// everything read is confirmed (Telegram renders an update when it is read: a change of
/// `allowed_updates` or of the bot's rights applies to what was not read yet). Returns the
/// next offset.
async fn drain(bot: &Bot, mut offset: i64, why: &str) -> i64 {
    loop {
        let seen = bot.call("getUpdates", json!({ "offset": offset, "timeout": 0 })).await;
        let seen = seen.as_array().unwrap();
        assert!(seen.iter().all(|u| u.get("message_reaction").is_none()), "{why}: {seen:?}");
        if seen.is_empty() {
            return offset;
        }
        offset = next_offset(seen);
    }
}

/// A bot's reaction is a reaction like anyone's (people see it); reactions reach the bot
/// as `message_reaction` (private chats, groups where it is an admin) and
/// `message_reaction_count` (channels where it is an admin) only when it asked for them;
/// bad input is refused and changes nothing.
#[tokio::test]
async fn reactions_go_both_ways_when_asked_for() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let bot = Bot::create(&server, &alice, "react_bot").await;
    let private = alice.client.open_private(bot.id).await.expect("open");
    let hello = alice.client.send_message(private.id, "hello", None).await.expect("hello").message.id;
    let fire = |e: &str| [proto::ReactionType::Emoji { emoji: e.into() }];

    // The bot reacts; Alice sees it.
    bot.call("setMessageReaction", json!({ "chat_id": alice.id(), "message_id": hello, "reaction": [{ "type": "emoji", "emoji": "🔥" }] }))
        .await;
    let seen = alice.client.history(private.id, None, proto::method::Direction::Older, None).await.expect("history");
    let results = &seen[0].reactions.as_ref().expect("reactions").results;
    assert_eq!((&results[0].reaction, results[0].count), (&fire("🔥")[0], 1), "{results:?}");

    // Not asked for: nothing comes. Asked for: Alice's change comes with old and new.
    alice.client.react(private.id, hello, &fire("👍")).await.expect("react");
    let offset = drain(&bot, 0, "not asked for").await;
    bot.call(
        "getUpdates",
        json!({ "offset": offset, "timeout": 0, "allowed_updates": ["message", "message_reaction", "message_reaction_count"] }),
    )
    .await;
    alice.client.react(private.id, hello, &fire("🎉")).await.expect("react again");
    bot.call("setMessageReaction", json!({ "chat_id": alice.id(), "message_id": hello })).await; // its own: not told
    let got = bot.updates(offset).await;
    let changes: Vec<&Value> = got.iter().filter_map(|u| u.get("message_reaction")).collect();
    assert_eq!(changes.len(), 1, "{got:?}");
    let r = changes[0];
    assert_eq!((r["user"]["id"].as_i64(), r["message_id"].as_i64()), (Some(alice.id()), Some(hello)));
    assert_eq!(
        (&r["old_reaction"], &r["new_reaction"]),
        (&json!([{ "type": "emoji", "emoji": "👍" }]), &json!([{ "type": "emoji", "emoji": "🎉" }]))
    );
    let mut offset = next_offset(&got);

    // A group: told only once the bot is an admin.
    let group = alice.client.create_group("Team", &[bob.id(), bot.id]).await.expect("group");
    let said = bob.client.send_message(group.id, "lunch?", None).await.expect("send").message.id;
    bob.client.react(group.id, said, &fire("👍")).await.expect("react as a member");
    // Read while the bot is a plain member: that change is not for it.
    offset = drain(&bot, offset, "not an admin yet").await;
    alice.client.set_admin(group.id, bot.id, true).await.expect("admin");
    bob.client.react(group.id, said, &fire("👎")).await.expect("react again");
    // A channel: counts only.
    let channel = alice.client.create_channel("News", None).await.expect("channel");
    alice.client.add_members(channel.id, &[bot.id, bob.id()]).await.expect("join");
    alice.client.set_admin(channel.id, bot.id, true).await.expect("admin");
    let post = alice.client.send_message(channel.id, "issue 1", None).await.expect("post").message.id;
    bob.client.react(channel.id, post, &fire("🎉")).await.expect("react in the channel");
    let mut got = Vec::new();
    while !got.iter().any(|u: &Value| u.get("message_reaction_count").is_some()) {
        let more = bot.updates(offset).await;
        offset = next_offset(&more);
        got.extend(more);
    }
    let in_group: Vec<&Value> = got.iter().filter_map(|u| u.get("message_reaction")).collect();
    assert_eq!(in_group.len(), 1, "{got:?}");
    assert_eq!(in_group[0]["new_reaction"], json!([{ "type": "emoji", "emoji": "👎" }]));
    let count = got.iter().find_map(|u| u.get("message_reaction_count")).unwrap();
    assert_eq!(count["reactions"], json!([{ "type": { "type": "emoji", "emoji": "🎉" }, "total_count": 1 }]));
    assert!(count.get("user").is_none(), "channel readers stay anonymous");

    // Bad input.
    let theirs = alice.client.open_private(bob.id()).await.expect("theirs");
    let between = alice.client.send_message(theirs.id, "between us", None).await.expect("send").message.id;
    let g = -(1_000_000_000_000 + group.id);
    let cases = [
        (
            json!({ "chat_id": alice.id(), "message_id": hello, "reaction": [{ "type": "emoji", "emoji": "🔥" }, { "type": "emoji", "emoji": "👍" }] }),
            "Bad Request: REACTIONS_TOO_MANY: a bot sets at most one reaction on a message",
        ),
        (
            json!({ "chat_id": alice.id(), "message_id": hello, "reaction": [{ "type": "emoji", "emoji": "cat" }] }),
            "Bad Request: REACTION_INVALID",
        ),
        (
            json!({ "chat_id": alice.id(), "message_id": hello, "reaction": [{ "type": "paid" }] }),
            "Bad Request: paid reactions are not supported by this server: there are no Stars",
        ),
        (
            json!({ "chat_id": alice.id(), "message_id": hello, "reaction": "🔥" }),
            "Bad Request: can't parse reaction JSON object: expected value at line 1 column 1",
        ),
        (json!({ "chat_id": alice.id(), "message_id": 999 }), "Bad Request: message to react not found"),
        (json!({ "chat_id": alice.id(), "message_id": "first" }), "Bad Request: field \"message_id\" must be of type Integer"),
        (json!({ "chat_id": alice.id() }), "Bad Request: message_id is empty"),
        (
            json!({ "chat_id": -(1_000_000_000_000 + theirs.id), "message_id": between, "reaction": [{ "type": "emoji", "emoji": "🔥" }] }),
            "Bad Request: chat not found",
        ),
        (json!({ "chat_id": g + 1_000, "message_id": 1 }), "Bad Request: chat not found"),
    ];
    for (params, description) in cases {
        assert_eq!(bot.fail("setMessageReaction", params.clone()).await, (400, description.to_string()), "{params}");
    }
    let seen = alice.client.history(private.id, None, proto::method::Direction::Older, None).await.expect("history");
    let results = &seen[0].reactions.as_ref().expect("Alice's own").results;
    assert_eq!(results.len(), 1, "only Alice's 🎉: the refusals set nothing: {results:?}");
    let between_now = alice.client.history(theirs.id, None, proto::method::Direction::Older, None).await.expect("history");
    assert!(between_now[0].reactions.is_none(), "nothing on a chat the bot is not in");
}

/// The code of a server refusal.
fn code_of(r: Result<impl std::fmt::Debug, heliograph_client::ClientError>) -> proto::ErrorCode {
    match r {
        Err(heliograph_client::ClientError::Server(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A moderation bot restricts, bans and lets people back through the Bot API, and people's
/// clients obey it: a restricted member's send is refused by the server, a banned person's
/// join by link too; bad input and a bot without rights change nothing.
#[tokio::test]
async fn a_moderation_bot_binds_every_client() {
    let server = InProcess::start().await;
    let alice = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let carol = Person::sign_in(&server, 3).await;
    let bot = Bot::create(&server, &alice, "mod_bot").await;
    let group = alice.client.create_group("Team", &[bob.id(), carol.id(), bot.id]).await.expect("group");
    alice.client.set_admin(group.id, bot.id, true).await.expect("the bot moderates");
    let g = -(1_000_000_000_000 + group.id);
    let in_an_hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3_600;

    // Nothing for Bob, then text for an hour.
    bot.call("restrictChatMember", json!({ "chat_id": g, "user_id": bob.id(), "permissions": { "can_send_messages": false } })).await;
    assert_eq!(code_of(bob.client.send_message(group.id, "may I?", None).await), proto::ErrorCode::ChatWriteForbidden);
    let status = bot.call("getChatMember", json!({ "chat_id": g, "user_id": bob.id() })).await;
    assert_eq!((status["status"].as_str(), status["until_date"].as_i64()), (Some("restricted"), Some(0)), "{status}");
    bot.call(
        "restrictChatMember",
        json!({ "chat_id": g, "user_id": bob.id(), "permissions": { "can_send_messages": true }, "until_date": in_an_hour }),
    )
    .await;
    bob.client.send_message(group.id, "text is fine", None).await.expect("text allowed again");
    // The whole group read-only, then open again.
    bot.call("setChatPermissions", json!({ "chat_id": g, "permissions": {} })).await;
    assert_eq!(code_of(carol.client.send_message(group.id, "hello?", None).await), proto::ErrorCode::ChatWriteForbidden);
    alice.client.send_message(group.id, "admins still talk", None).await.expect("the creator is not restricted");
    bot.call("setChatPermissions", json!({ "chat_id": g, "permissions": { "can_send_messages": true, "can_send_photos": true } })).await;
    carol.client.send_message(group.id, "back", None).await.expect("open again");

    // Banned: out, and kept out of the invite link; unbanned: back in.
    let link = bot.call("exportChatInviteLink", json!({ "chat_id": g })).await;
    let link = link.as_str().expect("a link").to_string();
    bot.call("banChatMember", json!({ "chat_id": g, "user_id": carol.id() })).await;
    assert_eq!(bot.call("getChatMember", json!({ "chat_id": g, "user_id": carol.id() })).await["status"], "kicked");
    assert!(carol.client.join_by_invite(&link).await.is_err(), "a banned person cannot come back by the link");
    bot.call("unbanChatMember", json!({ "chat_id": g, "user_id": carol.id(), "only_if_banned": true })).await;
    carol.client.join_by_invite(&link).await.expect("unbanned: back by the link");
    bot.call("setChatDescription", json!({ "chat_id": g, "description": "Be kind" })).await;
    assert_eq!(bot.call("getChat", json!({ "chat_id": g })).await["description"], "Be kind");

    // Bad input, someone else's chat, a bot without rights: refused, nothing changes.
    let theirs = bob.client.create_group("Elsewhere", &[carol.id()]).await.expect("a group without the bot");
    let other = Bot::create(&server, &bob, "plain_bot").await;
    alice.client.add_members(group.id, &[other.id]).await.expect("a plain member bot");
    let cases = [
        (&bot, "restrictChatMember", json!({ "chat_id": g, "user_id": bob.id() }), "Bad Request: permissions is empty"),
        (
            &bot,
            "restrictChatMember",
            json!({ "chat_id": g, "user_id": bob.id(), "permissions": { "can_fly": true } }),
            "Bad Request: can't parse permissions: unknown permission \"can_fly\"",
        ),
        (
            &bot,
            "restrictChatMember",
            json!({ "chat_id": g, "user_id": bob.id(), "permissions": { "can_send_messages": "no" } }),
            "Bad Request: can't parse permissions: field \"can_send_messages\" must be of type Boolean",
        ),
        (
            &bot,
            "restrictChatMember",
            json!({ "chat_id": g, "user_id": alice.id(), "permissions": {} }),
            "Bad Request: an admin cannot be restricted: demote them first",
        ),
        (&bot, "banChatMember", json!({ "chat_id": g, "user_id": "bob" }), "Bad Request: field \"user_id\" must be of type Integer"),
        (&bot, "banChatMember", json!({ "chat_id": g, "user_id": 987_654 }), "Bad Request: user not found"),
        (
            &bot,
            "banChatMember",
            json!({ "chat_id": g, "user_id": alice.id() }),
            "Bad Request: not enough rights to restrict/unrestrict chat member",
        ),
        (
            &bot,
            "banChatMember",
            json!({ "chat_id": -(1_000_000_000_000 + theirs.id), "user_id": carol.id() }),
            "Bad Request: chat not found",
        ),
        (
            &bot,
            "setChatDescription",
            json!({ "chat_id": g, "description": "x".repeat(256) }),
            "Bad Request: a description is at most 255 characters",
        ),
        (
            &bot,
            "promoteChatMember",
            json!({ "chat_id": g, "user_id": bob.id(), "can_manage_chat": true }),
            "Bad Request: not enough rights: only the chat's creator appoints admins",
        ),
        (
            &other,
            "restrictChatMember",
            json!({ "chat_id": g, "user_id": bob.id(), "permissions": {} }),
            "Bad Request: not enough rights to restrict/unrestrict chat member",
        ),
        (
            &other,
            "banChatMember",
            json!({ "chat_id": g, "user_id": bob.id() }),
            "Bad Request: not enough rights to restrict/unrestrict chat member",
        ),
    ];
    for (who, method, params, description) in cases {
        assert_eq!(who.fail(method, params.clone()).await, (400, description.to_string()), "{method} {params}");
    }
    bob.client.send_message(group.id, "still a member, still talking", None).await.expect("nothing changed for Bob");
    assert_eq!(bot.call("getChatMember", json!({ "chat_id": g, "user_id": alice.id() })).await["status"], "creator");
    assert_eq!(bot.call("getChat", json!({ "chat_id": g })).await["description"], "Be kind");
}
