//! Drives the real `helio` binary against a real in-process server, with one profile folder
//! per user.

mod common;

use std::time::Duration;

use common::{InProcess, Person};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `helio watch --json`, read line by line.
struct Watch {
    child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Watch {
    async fn start(person: &Person) -> Watch {
        let mut child = person.command(&["watch", "--json"]).spawn().expect("watch starts");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Wait until it is connected (it says so on stderr).
        let mut errs = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = errs.next_line().await.expect("stderr") {
                if line.starts_with("connected") {
                    return true;
                }
            }
            false
        });
        assert!(connected.await.expect("watch connects within 10 s"), "watch ended before connecting");
        tokio::spawn(async move { while let Ok(Some(_)) = errs.next_line().await {} });
        Watch { child, lines }
    }

    /// Every `new_message` text printed until one with `text` (inclusive).
    async fn messages_until(&mut self, text: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {text:?} from watch within 10 s; saw {seen:?}"))
                .expect("read watch")
                .unwrap_or_else(|| panic!("watch ended before {text:?}; saw {seen:?}"));
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"));
            assert!(v["type"].is_string(), "{line}");
            if v["type"] == "new_message" {
                for field in ["id", "chat", "from", "date"] {
                    assert!(v[field].is_i64(), "{field} in {line}");
                }
                let t = v["text"].as_str().expect("text").to_owned();
                seen.push(t.clone());
                if t == text {
                    return seen;
                }
            }
        }
    }

    /// Stops it like Ctrl-C does; it must exit cleanly.
    async fn interrupt(mut self) {
        let pid = self.child.id().expect("pid").to_string();
        let status = std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(status.success());
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.expect("watch stops").expect("wait");
        assert!(status.success(), "watch exit: {status:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_private_chat() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 1, "Alice");
    let mut bob = Person::new(&server, 2, "Bob");
    alice.login("alicia").await;
    bob.login("bobby").await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(alice.profile.path().join("session.json")).expect("session.json").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Alice writes to @bob; the id printed is the message id in the new private chat.
    let id = alice.ok(&["send", "@bobby", "hello bob"]).await;
    assert_eq!(id.trim(), "1");

    let history = bob.json(&["history", "@alicia", "--json"]).await;
    assert_eq!(Person::texts(&history), ["hello bob"]);
    assert_eq!(history[0]["from"], alice.id);
    assert_eq!(history[0]["id"], 1);
    let chat = history[0]["chat"].as_i64().expect("chat id");

    // Unread until read; the numeric chat id works as well as @alice.
    let dialog = bob.dialog(chat).await;
    assert_eq!(dialog["unread"], 1);
    assert_eq!(dialog["kind"], "private");
    assert_eq!(dialog["peer"], alice.id);
    assert_eq!(dialog["last_text"], "hello bob");
    bob.ok(&["read", &chat.to_string()]).await;
    assert_eq!(bob.dialog(chat).await["unread"], 0);

    // TEXT `-` reads stdin; --reply-to is kept.
    let id = bob.ok_with(&["send", &chat.to_string(), "-", "--reply-to", "1"], "from stdin\nsecond line\n").await;
    assert_eq!(id.trim(), "2");
    let history = alice.json(&["history", "@bobby", "--json"]).await;
    assert_eq!(Person::texts(&history), ["hello bob", "from stdin\nsecond line"]);
    assert_eq!(history[1]["reply_to"], 1);
    assert_eq!(history[1]["from"], bob.id);

    // Paging: --before and --limit, still oldest to newest.
    alice.ok(&["send", "@bobby", "third"]).await;
    let page = alice.json(&["history", "@bobby", "--json", "--before", "3", "--limit", "1"]).await;
    assert_eq!(Person::texts(&page), ["from stdin\nsecond line"]);

    // Edit, pin, delete.
    alice.ok(&["edit", "@bobby", "3", "third (edited)"]).await;
    alice.ok(&["pin", "@bobby", "3"]).await;
    let history = bob.json(&["history", "@alicia", "--json"]).await;
    assert_eq!(Person::texts(&history), ["hello bob", "from stdin\nsecond line", "third (edited)"]);
    assert!(history[2]["edit_date"].is_i64());
    assert_eq!(bob.dialog(chat).await["pinned"], 3);
    alice.ok(&["delete", "@bobby", "3", "--for-everyone"]).await;
    assert_eq!(Person::texts(&bob.json(&["history", "@alicia", "--json"]).await), ["hello bob", "from stdin\nsecond line"]);

    // Errors: one line `error: CODE: ...` on stderr, exit 1 (2 for usage errors).
    let cases: &[(&[&str], i32, &str)] = &[
        (&["history", "999999"], 1, "error: CHAT_NOT_FOUND: "),
        (&["send", "999999", "hi"], 1, "error: CHAT_NOT_FOUND: "),
        (&["send", "@nobody_here", "hi"], 1, "error: USER_NOT_FOUND: "),
        (&["send", "not-a-chat", "hi"], 1, "error: BAD_ARGUMENT: "),
        (&["edit", "@alicia", "1", "not mine"], 1, "error: MESSAGE_AUTHOR_REQUIRED: "),
        (&["frobnicate"], 2, "error:"),
        (&["send", "@alicia"], 2, "error:"),
    ];
    for (args, code, prefix) in cases {
        let out = bob.run_with(args, "").await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(stderr.starts_with(prefix), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }

    // Without a session, or with a wrong code.
    let stranger = Person::new(&server, 3, "Carol");
    let out = stranger.run_with(&["me"], "").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: NOT_LOGGED_IN: "));
    let out = stranger.run_with(&["login", &stranger.phone, "--code", "00000", "--name", "Carol"], "").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: PHONE_CODE_INVALID: "), "{out:?}");
    // The code and the name can come from stdin.
    let out = stranger.ok_with(&["login", &stranger.phone], &format!("{}\nCarol\n", stranger.code)).await;
    assert!(out.contains("Carol"), "{out}");

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_receives_live_and_resumes_without_gaps_or_duplicates() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 11, "Alice");
    let mut bob = Person::new(&server, 12, "Bob");
    alice.login("alice11").await;
    bob.login("bob12").await;
    alice.ok(&["channel", "create", "Alice news", "--public", "alicenews"]).await;
    bob.ok(&["join", "@alicenews"]).await;
    alice.ok(&["send", "@bob12", "before watch"]).await;

    // The first watch catches up on what came since login, then gets live messages: private
    // ones from the user's log, posts from the channel's own log.
    let mut watch = Watch::start(&bob).await;
    alice.ok(&["send", "@bob12", "live"]).await;
    assert_eq!(watch.messages_until("live").await, ["before watch", "live"]);
    alice.ok(&["channel", "post", "@alicenews", "post 1"]).await;
    assert_eq!(watch.messages_until("post 1").await, ["post 1"]);
    watch.interrupt().await;

    // Missed while stopped: delivered on restart, and nothing seen before comes again.
    alice.ok(&["send", "@bob12", "while away"]).await;
    alice.ok(&["channel", "post", "@alicenews", "post 2"]).await;
    let mut watch = Watch::start(&bob).await;
    alice.ok(&["send", "@bob12", "back"]).await;
    let mut seen = watch.messages_until("back").await;
    if !seen.iter().any(|t| t == "post 2") {
        seen.extend(watch.messages_until("post 2").await);
    }
    seen.sort();
    assert_eq!(seen, ["back", "post 2", "while away"]);
    watch.interrupt().await;

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_channels() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 21, "Alice");
    let mut bob = Person::new(&server, 22, "Bob");
    let mut carol = Person::new(&server, 23, "Carol");
    alice.login("alice21").await;
    bob.login("bob22").await;
    carol.login("carol23").await;

    // A group with Bob; Carol joins by invite link.
    let group = alice.ok(&["group", "create", "Friends", "@bob22"]).await.trim().to_owned();
    let link = alice.ok(&["group", "invite-link", &group]).await.trim().to_owned();
    assert_eq!(carol.ok(&["join", &link]).await.trim(), group);
    alice.ok(&["send", &group, "hi all"]).await;
    bob.ok(&["send", &group, "hi alice"]).await;
    for person in [&alice, &bob, &carol] {
        assert_eq!(Person::texts(&person.json(&["history", &group, "--json"]).await), ["hi all", "hi alice"]);
    }
    assert_eq!(carol.dialog(group.parse().expect("id")).await["kind"], "group");
    alice.ok(&["group", "remove", &group, "@carol23"]).await;
    let out = carol.run_with(&["send", &group, "still here?"], "").await;
    assert_eq!(out.status.code(), Some(1));
    bob.ok(&["leave", &group]).await;

    // A public channel: Bob joins by name, reads posts; he may not post.
    let channel = alice.ok(&["channel", "create", "News", "--public", "news21"]).await.trim().to_owned();
    assert_eq!(bob.ok(&["join", "@news21"]).await.trim(), channel);
    alice.ok(&["channel", "post", "@news21", "first post"]).await;
    assert_eq!(Person::texts(&bob.json(&["history", "@news21", "--json"]).await), ["first post"]);
    let dialog = bob.dialog(channel.parse().expect("id")).await;
    assert_eq!((dialog["kind"].as_str(), dialog["unread"].as_i64()), (Some("channel"), Some(1)));
    let out = bob.run_with(&["send", "@news21", "me too"], "").await;
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: CHAT_WRITE_FORBIDDEN: "), "{out:?}");

    // Contacts, blocking, profile, sessions, logout.
    let added = bob.json(&["contacts", "add", "@alice21", "--json"]).await;
    assert_eq!(added[0]["id"], alice.id);
    assert_eq!(bob.json(&["contacts", "--json"]).await.iter().map(|u| u["id"].clone()).collect::<Vec<_>>(), [alice.id]);
    bob.ok(&["block", "@alice21"]).await;
    let out = alice.run_with(&["send", "@bob22", "blocked?"], "").await;
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: USER_BLOCKED: "), "{out:?}");
    bob.ok(&["unblock", "@alice21"]).await;
    alice.ok(&["send", "@bob22", "unblocked"]).await;
    let me = bob.json(&["profile", "set", "--bio", "hello there", "--json"]).await;
    assert_eq!(me[0]["bio"], "hello there");
    let sessions = bob.json(&["sessions", "--json"]).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    bob.ok(&["logout"]).await;
    let out = bob.run_with(&["me"], "").await;
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: NOT_LOGGED_IN: "), "{out:?}");

    // A session revoked from another device: "log in again".
    let mut second = Person::new(&server, 21, "Alice");
    second.login("alice21").await;
    let sessions = alice.json(&["sessions", "--json"]).await;
    let other = sessions.iter().find(|s| s["current"] == false).expect("second session")["id"].to_string();
    alice.ok(&["sessions", "revoke", &other]).await;
    let out = second.run_with(&["me"], "").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("log in again"), "{stderr}");

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_names_the_url() {
    let profile = tempfile::tempdir().expect("dir");
    let url = common::dead_url();
    let out = Command::new(env!("CARGO_BIN_EXE_helio"))
        .args(["--server", &url, "--profile"])
        .arg(profile.path())
        .args(["login", "+9996610001", "--code", "11111"])
        .output()
        .await
        .expect("helio runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: UNREACHABLE: ") && stderr.contains(&url), "{stderr}");
}

/// `POST {server}/bot{token}/{method}` with a JSON body: the Bot API's `result`.
async fn bot_api(server: &str, token: &str, method: &str, body: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(format!("{server}/bot{token}/{method}"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    assert_eq!(answer["ok"], true, "{method}: {answer}");
    answer["result"].clone()
}

/// `helio group promote|demote|restrict|ban|members`: the creator appoints and demotes
/// admins; an admin restricts a member (their sends refused), bans one (kept out of the
/// link) and lets them back; bad arguments and members without the right are refused.
#[tokio::test(flavor = "multi_thread")]
async fn group_moderation_from_the_terminal() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 31, "Alice");
    let mut bob = Person::new(&server, 32, "Bob");
    let mut carol = Person::new(&server, 33, "Carol");
    alice.login("alice31").await;
    bob.login("bob32").await;
    carol.login("carol33").await;
    let group = alice.ok(&["group", "create", "Moderated", "@bob32", "@carol33"]).await.trim().to_owned();
    let link = alice.ok(&["group", "invite-link", &group]).await.trim().to_owned();

    assert_eq!(alice.ok(&["group", "promote", &group, "@bob32"]).await.trim(), "promoted @bob32");
    let roles = |members: Vec<Value>| members.iter().map(|m| (m["id"].as_i64().unwrap_or(0), m["role"].clone())).collect::<Vec<_>>();
    let members = roles(alice.json(&["group", "members", &group, "--json"]).await);
    assert_eq!(members, [(alice.id, json!("creator")), (bob.id, json!("admin")), (carol.id, json!("member"))]);
    fails(&bob, &["group", "promote", &group, "@carol33"], 1, "error: CHAT_ADMIN_REQUIRED: ").await;

    // Bob, an admin, makes Carol read-only, then lets her send text only, then lifts it.
    assert_eq!(bob.ok(&["group", "restrict", &group, "@carol33"]).await.trim(), "restricted @carol33");
    fails(&carol, &["send", &group, "may I?"], 1, "error: CHAT_WRITE_FORBIDDEN: ").await;
    bob.ok(&["group", "restrict", &group, "@carol33", "--allow", "text", "--hours", "2"]).await;
    carol.ok(&["send", &group, "text is fine"]).await;
    fails(&bob, &["group", "restrict", &group, "@carol33", "--allow", "rockets"], 1, "error: BAD_ARGUMENT: --allow: `rockets`").await;
    fails(&carol, &["group", "restrict", &group, "@bob32"], 1, "error: CHAT_ADMIN_REQUIRED: ").await;
    bob.ok(&["group", "restrict", &group, "@carol33", "--lift"]).await;

    // Banned: out and kept out of the link; unbanned: back by it.
    assert_eq!(bob.ok(&["group", "ban", &group, "@carol33"]).await.trim(), "banned @carol33");
    fails(&carol, &["send", &group, "still here?"], 1, "error: CHAT_NOT_FOUND: ").await;
    fails(&carol, &["join", &link], 1, "error: BAD_PARAMS: you are banned").await;
    bob.ok(&["group", "ban", &group, "@carol33", "--lift"]).await;
    assert_eq!(carol.ok(&["join", &link]).await.trim(), group);
    alice.ok(&["group", "demote", &group, "@bob32"]).await;
    fails(&bob, &["group", "ban", &group, "@carol33"], 1, "error: CHAT_ADMIN_REQUIRED: ").await;
    let plain = alice.ok(&["group", "members", &group]).await;
    assert_eq!(plain.lines().count(), 3, "{plain}");
    assert_eq!(Person::texts(&alice.json(&["history", &group, "--json"]).await), ["text is fine"]);
    server.stop().await;
}

/// Runs `helio ARGS`, expecting exit code `code` and `error: CODE_PREFIX` on stderr.
async fn fails(person: &Person, args: &[&str], code: i32, prefix: &str) {
    let out = person.run_with(args, "").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(stderr.starts_with(prefix), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed {:?}", String::from_utf8_lossy(&out.stdout));
}

/// `bot create` (the token alone on the last line), `bot list`, `bot token revoke`; a bot's
/// message with formatting and buttons in `history` (plain and `--json`); `press` by data,
/// number and label, with the bot's answer (a real `answerCallbackQuery`) or `(no answer)`.
#[tokio::test(flavor = "multi_thread")]
async fn bots_created_listed_and_pressed() {
    let mut server = InProcess::start().await;
    let mut pat = Person::new(&server, 7, "Pat");
    pat.login("pat_person").await;

    let out = pat.ok(&["bot", "create", "Weather", "--username", "@weather_bot"]).await;
    let token = out.lines().last().expect("output").to_owned();
    let (id, secret) = token.split_once(':').unwrap_or_else(|| panic!("last line is not ID:SECRET: {out}"));
    let bot_id: i64 = id.parse().expect("numeric bot id");
    assert!(!secret.is_empty() && out.contains("@weather_bot"), "{out}");
    fails(&pat, &["bot", "create", "Weather", "--username", "weather"], 1, "error: USERNAME_INVALID: ").await;
    fails(&pat, &["bot", "create", "Again", "--username", "weather_bot"], 1, "error: USERNAME_OCCUPIED: ").await;

    let list = pat.json(&["bot", "list", "--json"]).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (&list[0]["id"], &list[0]["username"], &list[0]["bot"]),
        (&Value::from(bot_id), &Value::from("weather_bot"), &Value::from(true))
    );
    assert!(list[0].get("phone").is_none());
    let plain = pat.ok(&["bot", "list"]).await;
    assert!(plain.starts_with(&format!("{bot_id}\tWeather @weather_bot [bot]")), "{plain}");

    // A new token: printed last; the old one no longer works on the Bot API.
    let out = pat.ok(&["bot", "token", "revoke", "@weather_bot"]).await;
    let new_token = out.lines().last().expect("output").to_owned();
    assert!(new_token.starts_with(&format!("{bot_id}:")) && new_token != token, "{out}");
    let old = reqwest::Client::new().post(format!("{}/bot{token}/getMe", pat.server)).send().await.expect("getMe");
    assert_eq!(old.status().as_u16(), 401);
    let me = bot_api(&pat.server, &new_token, "getMe", serde_json::json!({})).await;
    assert_eq!(me["id"], bot_id);
    let by_id = pat.ok(&["bot", "token", "revoke", id]).await;
    let token = by_id.lines().last().expect("output").to_owned();
    fails(&pat, &["bot", "token", "revoke", "@pat_person"], 1, "error: USER_NOT_FOUND: ").await;

    // Pat starts the bot; the bot answers with a formatted menu.
    pat.ok(&["send", "@weather_bot", "/start"]).await;
    let markup = serde_json::json!({"inline_keyboard": [
        [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}],
        [{"text": "Docs", "url": "https://example.org/docs"}]]});
    let sent = bot_api(
        &pat.server,
        &token,
        "sendMessage",
        serde_json::json!({"chat_id": pat.id, "text": "Pick one, see docs",
            "entities": [{"type": "bold", "offset": 0, "length": 4}, {"type": "text_link", "offset": 14, "length": 4, "url": "https://example.org/docs"}],
            "reply_markup": markup}),
    )
    .await;
    let menu_id = sent["message_id"].as_i64().expect("message_id");
    let menu = menu_id.to_string();

    let history = pat.ok(&["history", "@weather_bot"]).await;
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 4, "{history}");
    assert!(lines[1].ends_with("Weather (bot): Pick one, see docs <https://example.org/docs>"), "{history}");
    assert_eq!(lines[2..], ["  [Yes] [No]", "  [Docs <https://example.org/docs>]"], "{history}");
    let json = pat.json(&["history", "@weather_bot", "--json"]).await;
    assert_eq!(json[1]["reply_markup"], markup, "reply_markup as the server sent it");
    assert_eq!(json[1]["entities"][0], serde_json::json!({"type": "bold", "offset": 0, "length": 4}));
    assert_eq!(json[1]["text"], "Pick one, see docs");
    assert!(json[0].get("reply_markup").is_none(), "{:?}", json[0]);

    // A press the bot answers: it polls getUpdates and answers the callback query.
    let press = tokio::spawn({
        let args = ["press", "@weather_bot", menu.as_str(), "--text", "No"].map(String::from);
        let cmd = pat.command(&args.iter().map(String::as_str).collect::<Vec<_>>()).output();
        async move { cmd.await.expect("helio press runs") }
    });
    let (server_url, bot_token) = (pat.server.clone(), token.clone());
    let answered = tokio::time::timeout(Duration::from_secs(20), async move {
        let mut offset = 0;
        loop {
            let updates = bot_api(&server_url, &bot_token, "getUpdates", serde_json::json!({"offset": offset, "timeout": 1})).await;
            for u in updates.as_array().expect("updates") {
                offset = u["update_id"].as_i64().expect("update_id") + 1;
                let q = &u["callback_query"];
                if q.is_object() {
                    assert_eq!((&q["data"], &q["message"]["message_id"]), (&Value::from("no"), &Value::from(menu_id)), "{u}");
                    let text = format!("You chose {}", q["data"].as_str().unwrap_or(""));
                    bot_api(
                        &server_url,
                        &bot_token,
                        "answerCallbackQuery",
                        serde_json::json!({"callback_query_id": q["id"], "text": text}),
                    )
                    .await;
                    return offset;
                }
            }
        }
    })
    .await
    .expect("the bot sees the press");
    let out = press.await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "You chose no\n");
    let _ = answered;

    // Unanswered (by data, then by number): the press still reaches the bot.
    assert_eq!(pat.ok(&["press", "@weather_bot", &menu, "yes"]).await, "(no answer)\n");
    assert_eq!(pat.ok(&["press", "@weather_bot", &menu, "--button", "1", "--json"]).await.trim(), r#"{"alert":false}"#);
    // A URL button is not sent anywhere: its link is printed.
    assert_eq!(pat.ok(&["press", "@weather_bot", &menu, "--button", "3"]).await, "https://example.org/docs\n");
    fails(&pat, &["press", "@weather_bot", &menu, "maybe"], 1, "error: BUTTON_DATA_INVALID: ").await;
    fails(&pat, &["press", "@weather_bot", &menu, "--button", "4"], 1, "error: BUTTON_DATA_INVALID: ").await;
    fails(&pat, &["press", "@weather_bot", "1", "--text", "Yes"], 1, "error: BUTTON_DATA_INVALID: ").await;
    fails(&pat, &["press", "@weather_bot", &menu], 2, "error: ").await;
    fails(&pat, &["press", "@weather_bot", &menu, "yes", "--button", "1"], 2, "error: ").await;
    server.stop().await;
}

/// `privacy phone nobody` hides Ann from a search by her number (the same `USER_NOT_FOUND` as
/// a number without an account); `privacy phone` shows the setting; `everybody` undoes it.
#[tokio::test(flavor = "multi_thread")]
async fn privacy_phone_hides_the_number_from_contacts_add() {
    let mut server = InProcess::start().await;
    let mut ann = Person::new(&server, 61, "Ann");
    ann.login("ann_61").await;
    let mut ben = Person::new(&server, 62, "Ben");
    ben.login("ben_62").await;
    assert_eq!(ann.ok(&["privacy", "phone"]).await, "find_by_phone: everybody\n");
    assert_eq!(ann.ok(&["privacy", "phone", "nobody"]).await, "find_by_phone: nobody\n");
    fails(&ben, &["contacts", "add", &ann.phone], 1, "error: USER_NOT_FOUND: ").await;
    fails(&ann, &["privacy", "phone", "somebody"], 2, "error: ").await;
    assert_eq!(ann.ok(&["privacy", "phone"]).await, "find_by_phone: nobody\n", "a refused value changes nothing");
    ann.ok(&["privacy", "phone", "everybody"]).await;
    assert_eq!(ben.json(&["contacts", "add", &ann.phone, "--json"]).await[0]["id"], ann.id);
    server.stop().await;
}

/// account (#16): `helio report` puts a message in the operators' queue; `helio admin` reviews it and acts, the action is audited and obeyed; non-operators are refused.
#[tokio::test(flavor = "multi_thread")]
async fn report_and_moderate_from_the_terminal() {
    let mut server = InProcess::start_with(|c| c.accountability.operators = vec![1]).await;
    let mut op = Person::new(&server, 71, "Op");
    op.login("op_71").await;
    assert_eq!(op.id, 1, "the first account is the configured operator");
    let mut ann = Person::new(&server, 72, "Ann");
    ann.login("ann_72").await;
    let mut ben = Person::new(&server, 73, "Ben");
    ben.login("ben_73").await;
    let id = ann.ok(&["send", "@ben_73", "buy pills now"]).await.trim().parse::<i64>().expect("message id");
    let report = ben.json(&["report", "@ann_72", &id.to_string(), "--reason", "illegal_goods", "--comment", "a shop", "--json"]).await;
    assert_eq!((report[0]["message"]["text"].as_str(), report[0]["reason"].as_str()), (Some("buy pills now"), Some("illegal_goods")));
    fails(&ben, &["report", "@ann_72", &id.to_string(), "--reason", "rude"], 1, "error: BAD_PARAMS: ").await;
    fails(&ann, &["admin", "reports"], 1, "error: OPERATOR_REQUIRED: ").await;

    let queue = op.json(&["admin", "reports", "--json"]).await;
    assert_eq!((queue.len(), queue[0]["comment"].as_str()), (1, Some("a shop")));
    let report_id = queue[0]["id"].as_i64().expect("report id").to_string();
    assert!(op.ok(&["admin", "report", &report_id]).await.contains("buy pills now"));
    let entry = op.json(&["admin", "act", "restrict", "--report", &report_id, "--reason", "selling drugs", "--for", "1h", "--json"]).await;
    assert_eq!(
        (entry[0]["action"].as_str(), entry[0]["user_id"].as_i64(), entry[0]["notified"].as_bool()),
        (Some("restrict"), Some(ann.id), Some(true))
    );
    fails(&ann, &["send", "@ben_73", "more pills"], 1, "error: ACCOUNT_RESTRICTED: ").await;
    fails(&op, &["admin", "act", "ban", "--user", &ann.id.to_string(), "--reason", "x", "--for", "soon"], 1, "error: BAD_ARGUMENT: ").await;
    let audit = op.json(&["admin", "audit", "--json"]).await;
    assert_eq!(audit.iter().map(|e| e["action"].as_str().unwrap_or("")).collect::<Vec<_>>(), vec!["restrict"], "one action, one entry");
    server.stop().await;
}

/// `helio send` in a loop waits out FLOOD_WAIT (saying so on stderr) and retries with the same
/// random_id, so every send lands exactly once; `--no-wait` fails at once with FLOOD_WAIT.
#[tokio::test(flavor = "multi_thread")]
async fn send_waits_out_flood_wait_unless_told_not_to() {
    let mut server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 4;
        c.limits.requests_burst = 4;
    })
    .await;
    let mut ann = Person::new(&server, 71, "Ann");
    ann.login("ann_71").await;
    let mut ben = Person::new(&server, 72, "Ben");
    ben.login("ben_72").await;
    let mut waited = 0;
    for i in 0..8 {
        let out = ann.run_with(&["send", "@ben_72", &format!("n{i}")], "").await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "send {i}: {stderr}");
        waited += stderr.lines().filter(|l| l.starts_with("FLOOD_WAIT: waiting ") && l.ends_with(" s, then retrying")).count();
    }
    assert!(waited > 0, "eight sends at four requests a second were limited at least once");
    let history = ben.json(&["history", "@ann_71", "--json"]).await;
    let texts: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
    assert_eq!(Person::texts(&history), texts, "every send once, in order");

    let mut refused = None;
    for i in 0..20 {
        let out = ann.run_with(&["send", "@ben_72", &format!("fast{i}"), "--no-wait"], "").await;
        if !out.status.success() {
            refused = Some(out);
            break;
        }
    }
    let out = refused.expect("a send fails with --no-wait once limited");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.starts_with("error: FLOOD_WAIT: ") && !stderr.contains("waiting"), "{stderr}");
    server.stop().await;
}

/// A bot's reply keyboard reaches the person: `history` shows it, `keyboard` shows the one up
/// and presses a key (its text sent as the person's message, which the bot receives);
/// a one-time keyboard goes once pressed, a removal takes a keyboard down, a reply request
/// is shown.
#[tokio::test(flavor = "multi_thread")]
async fn reply_keyboards_are_shown_and_pressed() {
    let mut server = InProcess::start().await;
    let mut kim = Person::new(&server, 73, "Kim");
    kim.login("kim_73").await;
    let out = kim.ok(&["bot", "create", "Colours", "--username", "colours_bot"]).await;
    let token = out.lines().last().expect("token").to_owned();
    kim.ok(&["send", "@colours_bot", "/start"]).await;
    fails(&kim, &["keyboard", "@colours_bot"], 1, "error: BUTTON_DATA_INVALID: no reply keyboard").await;

    let markup = serde_json::json!({"keyboard": [["Red", {"text": "Blue"}], [{"text": "Green"}]],
        "one_time_keyboard": true, "resize_keyboard": true, "input_field_placeholder": "Pick a colour"});
    let sent =
        bot_api(&kim.server, &token, "sendMessage", serde_json::json!({"chat_id": kim.id, "text": "Colour?", "reply_markup": markup}))
            .await;
    assert!(sent.get("reply_markup").is_none(), "a Bot API Message carries inline keyboards only: {sent}");
    let history = kim.ok(&["history", "@colours_bot"]).await;
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[2..], ["  keyboard: [Red] [Blue]", "  keyboard: [Green]", "  (Pick a colour)"], "{history}");
    let json = kim.json(&["history", "@colours_bot", "--json"]).await;
    assert_eq!(
        json[1]["reply_markup"],
        serde_json::json!({"keyboard": [[{"text": "Red"}, {"text": "Blue"}], [{"text": "Green"}]],
            "one_time_keyboard": true, "resize_keyboard": true, "input_field_placeholder": "Pick a colour"})
    );
    assert_eq!(kim.ok(&["keyboard", "@colours_bot"]).await, "keyboard: [Red] [Blue]\nkeyboard: [Green]\n(Pick a colour)\n");
    fails(&kim, &["keyboard", "@colours_bot", "Purple"], 1, "error: BUTTON_DATA_INVALID: the keyboard has no such button").await;

    // Pressing sends the key's text as Kim's message; the bot gets it as any message.
    let pressed = kim.json(&["keyboard", "@colours_bot", "--button", "2", "--json"]).await;
    assert_eq!((pressed[0]["text"].as_str(), pressed[0]["from"].as_i64()), (Some("Blue"), Some(kim.id)));
    let updates = bot_api(&kim.server, &token, "getUpdates", serde_json::json!({})).await;
    let texts: Vec<&str> = updates.as_array().unwrap().iter().filter_map(|u| u["message"]["text"].as_str()).collect();
    assert_eq!(texts, ["/start", "Blue"]);
    // One-time: gone once pressed.
    fails(&kim, &["keyboard", "@colours_bot"], 1, "error: BUTTON_DATA_INVALID: no reply keyboard").await;

    // A lasting keyboard stays up after a press, until the bot removes it.
    let lasting = serde_json::json!({"keyboard": [["Yes", "No"]]});
    bot_api(&kim.server, &token, "sendMessage", serde_json::json!({"chat_id": kim.id, "text": "Sure?", "reply_markup": lasting})).await;
    kim.ok(&["keyboard", "@colours_bot", "yes"]).await;
    assert_eq!(kim.ok(&["keyboard", "@colours_bot"]).await, "keyboard: [Yes] [No]\n");
    let remove = serde_json::json!({"remove_keyboard": true});
    bot_api(&kim.server, &token, "sendMessage", serde_json::json!({"chat_id": kim.id, "text": "Thanks", "reply_markup": remove})).await;
    fails(&kim, &["keyboard", "@colours_bot"], 1, "error: BUTTON_DATA_INVALID: no reply keyboard").await;
    let force = serde_json::json!({"force_reply": true, "input_field_placeholder": "Your name"});
    bot_api(&kim.server, &token, "sendMessage", serde_json::json!({"chat_id": kim.id, "text": "Name?", "reply_markup": force})).await;
    let history = kim.ok(&["history", "@colours_bot", "--limit", "2"]).await;
    assert!(history.ends_with("Name?\n  (reply requested)\n  (Your name)\n"), "{history}");
    assert!(history.contains("Thanks\n  (keyboard removed)\n"), "{history}");
    server.stop().await;
}

/// `helio react` sets reactions (shown in `history`, yours marked; bad emoji and too many
/// refused), `helio draft` keeps a draft that `chats --json` shows and a send clears.
#[tokio::test(flavor = "multi_thread")]
async fn react_and_draft() {
    let server = InProcess::start().await;
    let mut alice = Person::new(&server, 1, "Alice");
    let mut bob = Person::new(&server, 2, "Bob");
    alice.login("alicia").await;
    bob.login("bobby").await;
    alice.ok(&["send", "@bobby", "lunch?"]).await;

    assert_eq!(bob.ok(&["react", "@alicia", "1", "👍", "🔥"]).await.trim(), "👍 1*  🔥 1*");
    let shown = alice.ok(&["history", "@bobby"]).await;
    assert!(shown.contains("[👍 1  🔥 1]"), "{shown}");
    let json = alice.json(&["history", "@bobby", "--json"]).await;
    assert_eq!(json[0]["reactions"]["results"][0], serde_json::json!({"reaction": {"type": "emoji", "emoji": "👍"}, "count": 1}));
    fails(&bob, &["react", "@alicia", "1", "yes"], 1, "error: REACTION_INVALID").await;
    fails(&bob, &["react", "@alicia", "1", "👍", "🔥", "🎉", "😢"], 1, "error: REACTIONS_TOO_MANY").await;
    assert_eq!(bob.ok(&["react", "@alicia", "1"]).await.trim(), "", "none takes them away");

    bob.ok(&["draft", "@alicia", "see you at"]).await;
    let chat = json[0]["chat"].as_i64().expect("chat id");
    assert_eq!(bob.dialog(chat).await["draft"], "see you at");
    bob.ok(&["send", "@alicia", "see you at noon"]).await;
    assert!(bob.dialog(chat).await.get("draft").is_none(), "a send clears the draft");
}

/// `helio search` finds the messages the caller can read, best first, matches bracketed;
/// `--chat`, `--from`, `--since`/`--until` narrow it, `--json` keeps the server's result, a
/// phrase matches only in order, and someone outside the chat finds nothing.
#[tokio::test(flavor = "multi_thread")]
async fn search_from_the_terminal() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 1, "Alice");
    let mut bob = Person::new(&server, 2, "Bob");
    let mut eve = Person::new(&server, 3, "Eve");
    alice.login("alicia").await;
    bob.login("bobby").await;
    eve.login("evelyn").await;
    alice.ok(&["send", "@bobby", "The garden party is on Saturday"]).await;
    bob.ok(&["send", "@alicia", "party in the garden? lovely"]).await;
    alice.ok(&["send", "@bobby", "nothing to see here"]).await;

    let found = bob.ok(&["search", "garden"]).await;
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert!(lines.iter().all(|l| l.contains("[garden]")), "{found}");
    assert!(found.contains("\tAlice\tThe [garden] party") && found.contains("\tBob\tparty in the [garden]"), "{found}");
    let phrase = bob.ok(&["search", "\"garden party\""]).await;
    assert_eq!(phrase.lines().count(), 1, "a phrase matches in order only: {phrase}");
    let from = bob.ok(&["search", "garden", "--from", "@alicia"]).await;
    assert_eq!(from.lines().count(), 1, "{from}");
    assert!(from.contains("Saturday"), "{from}");
    let in_chat = bob.json(&["search", "party", "--chat", "@alicia", "--json"]).await;
    assert_eq!(in_chat.len(), 2);
    assert!(in_chat.iter().all(|r| r["snippet"].as_str().is_some_and(|s| s.to_lowercase().contains("party"))), "{in_chat:?}");
    assert_eq!(bob.ok(&["search", "garden", "--until", "2001-01-01"]).await, "", "nothing that old");
    assert_eq!(bob.ok(&["search", "garden", "--since", "2001-01-01"]).await.lines().count(), 2);
    fails(&bob, &["search", "garden", "--since", "last week"], 1, "error: BAD_ARGUMENT: ").await;
    assert_eq!(eve.ok(&["search", "garden"]).await, "", "outside the chat, nothing");
    server.stop().await;
}
