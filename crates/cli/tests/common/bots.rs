//! What the Bot API acceptance tests share (`tests/bot_*.rs`): a server with one person signed
//! in, bots made with `helio bot create`, bounded waits on `helio history --json`, and the test
//! files' bytes.
//!
//! Each test file includes it beside `common` (whose `mod.rs` stays as it is):
//! `mod common; #[path = "common/bots.rs"] mod bots;`.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{InProcess, Person};

/// How long any one wait for the bot may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// The files scenario: the bot's document (sendDocument) and the person's (helio upload), each
/// over one 512 KiB part.
pub const BOT_DOC_SIZE: usize = 600_000;
pub const USER_DOC_SIZE: usize = 1_100_000;

/// The bytes of a test file: `size` bytes of a pattern with no short period.
pub fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

/// The SHA-256 of `bytes` in lowercase hex (through the SDK's own hasher).
pub async fn sha256_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("hash.bin");
    std::fs::write(&path, bytes).expect("write");
    heliograph_client::files::hash_file(&path).await.expect("hash").0
}

/// A bot made by `helio bot create`: its token and `@username`.
pub struct BotAccount {
    pub token: String,
    pub username: String,
}

impl BotAccount {
    /// The bot's user id: the part of the token before the colon.
    pub fn id(&self) -> i64 {
        self.token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("token {:?} is not ID:SECRET", self.token))
    }

    pub fn at(&self) -> String {
        format!("@{}", self.username)
    }
}

/// A server, and one person signed in who owns and talks to the bots.
pub struct Scene {
    pub server: InProcess,
    pub person: Person,
    pub url: String,
}

impl Scene {
    /// `n` picks the person's test phone number (different per test, as in `cli.rs`).
    pub async fn start(n: u32) -> Scene {
        // The bots' webhooks (tests/bot_*.rs) listen on loopback, which only an explicit allow
        // list lets the server reach.
        let server = InProcess::start_with(|c| c.egress.allow = vec!["127.0.0.1/32".into()]).await;
        let mut person = Person::new(&server, n, "Pat");
        person.login(&format!("pat{n}")).await;
        let url = server.url();
        Scene { server, person, url }
    }

    /// `helio bot create NAME --username USERNAME`; the token is the last line printed.
    pub async fn create_bot(&self, name: &str, username: &str) -> BotAccount {
        let out = self.person.ok(&["bot", "create", name, "--username", username]).await;
        let token = out.lines().last().unwrap_or_else(|| panic!("helio bot create printed nothing")).trim().to_owned();
        let (id, secret) = token.split_once(':').unwrap_or_else(|| panic!("last line of `helio bot create` is not ID:SECRET: {out:?}"));
        assert!(id.parse::<i64>().is_ok() && !secret.is_empty(), "last line of `helio bot create` is not ID:SECRET: {out:?}");
        BotAccount { token, username: username.to_owned() }
    }

    /// The person's history with `chat`, oldest first (`helio history CHAT --json`).
    pub async fn history(&self, chat: &str) -> Vec<Value> {
        let out = self.person.run_with(&["history", chat, "--json"], "").await;
        if !out.status.success() {
            // The private chat with the bot may not exist yet.
            return Vec::new();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("history: bad JSON line {l:?}: {e}")))
            .collect()
    }

    /// Polls the history with `chat` until a message satisfies `pred` (within `WAIT`);
    /// returns that message. `what` names it in the failure message, which shows the history.
    pub async fn wait_for(&self, chat: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let history = self.history(chat).await;
            if let Some(m) = history.iter().find(|m| pred(m)) {
                return m.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                let lines: Vec<String> = history.iter().map(Value::to_string).collect();
                panic!("no {what} in the history with {chat} within {WAIT:?}; it holds:\n{}", lines.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for a message from `bot` whose text is `text`.
    pub async fn wait_text_from(&self, bot: &BotAccount, text: &str) -> Value {
        let from = bot.id();
        self.wait_for(&bot.at(), &format!("message {text:?} from the bot"), |m| m["from"] == from && m["text"] == text).await
    }

    /// `helio send CHAT TEXT`: the message id.
    pub async fn send(&self, chat: &str, text: &str) -> i64 {
        let out = self.person.ok(&["send", chat, text]).await;
        out.trim().parse().unwrap_or_else(|e| panic!("helio send printed {out:?}: {e}"))
    }

    /// `helio upload CHAT FILE --caption CAPTION --json`: the message id.
    pub async fn upload(&self, chat: &str, file: &Path, caption: &str) -> i64 {
        let out = self.person.ok(&["upload", chat, file.to_str().expect("utf-8 path"), "--caption", caption, "--json"]).await;
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("helio upload printed {out:?}: {e}"));
        v["id"].as_i64().unwrap_or_else(|| panic!("helio upload printed no id: {out}"))
    }

    /// `helio download CHAT ID -o PATH`: the bytes.
    pub async fn download(&self, chat: &str, message: i64, dir: &Path) -> Vec<u8> {
        let path = dir.join(format!("download-{message}.bin"));
        self.person.ok(&["download", chat, &message.to_string(), "-o", path.to_str().expect("utf-8 path")]).await;
        std::fs::read(&path).expect("read the download")
    }

    /// `helio press CHAT ID ARGS...`: what it printed (the bot's answer).
    pub async fn press(&self, chat: &str, message: i64, args: &[&str]) -> String {
        let id = message.to_string();
        let mut all = vec!["press", chat, id.as_str()];
        all.extend_from_slice(args);
        self.person.ok(&all).await
    }

    pub async fn stop(mut self) {
        self.server.stop().await;
    }
}

/// The `[[{text, callback_data|url}]]` rows of a message's `reply_markup`, as
/// `(text, "data:…" | "url:…")` pairs, for compact assertions.
pub fn keyboard(message: &Value) -> Vec<Vec<(String, String)>> {
    let Some(rows) = message["reply_markup"]["inline_keyboard"].as_array() else {
        return Vec::new();
    };
    rows.iter()
        .map(|row| {
            row.as_array()
                .unwrap_or_else(|| panic!("inline_keyboard row is not an array: {message}"))
                .iter()
                .map(|b| {
                    let text = b["text"].as_str().unwrap_or_else(|| panic!("button without text: {message}")).to_owned();
                    let action = match (b["callback_data"].as_str(), b["url"].as_str()) {
                        (Some(d), None) => format!("data:{d}"),
                        (None, Some(u)) => format!("url:{u}"),
                        _ => panic!("button with neither or both of callback_data and url: {message}"),
                    };
                    (text, action)
                })
                .collect()
        })
        .collect()
}

pub fn kb(rows: &[&[(&str, &str)]]) -> Vec<Vec<(String, String)>> {
    rows.iter().map(|r| r.iter().map(|(t, a)| ((*t).to_owned(), (*a).to_owned())).collect()).collect()
}

/// The person's side of the menu bot, whatever library runs it: `/start` brings "Pick one"
/// with Yes / No / Docs buttons; pressing Yes (by label) answers "You chose yes" and edits the
/// message to "Chosen: yes" with an Again button; Again (by callback data) brings the menu
/// back; the second button (by number, `--json`) answers "You chose no" as an alert.
pub async fn use_the_menu(scene: &Scene, account: &BotAccount) {
    let chat = account.at();

    scene.send(&chat, "/start").await;
    let menu = scene.wait_text_from(&account, "Pick one").await;
    let id = menu["id"].as_i64().expect("id");
    assert_eq!(keyboard(&menu), kb(&[&[("Yes", "data:yes"), ("No", "data:no")], &[("Docs", "url:https://example.org/docs")]]), "{menu}");

    // Press by label: the bot's answerCallbackQuery text comes back to helio, and its
    // editMessageText lands in the history (new text, new keyboard).
    let answer = scene.press(&chat, id, &["--text", "Yes"]).await;
    assert!(answer.contains("You chose yes"), "helio press printed {answer:?}");
    let edited = scene.wait_for(&chat, "the edited menu", |m| m["id"] == id && m["text"] == "Chosen: yes").await;
    assert!(edited["edit_date"].is_i64(), "{edited}");
    assert_eq!(keyboard(&edited), kb(&[&[("Again", "data:again")]]), "{edited}");

    // Press by callback data: back to the first keyboard.
    let answer = scene.press(&chat, id, &["again"]).await;
    assert!(answer.contains("Menu again"), "helio press printed {answer:?}");
    let edited = scene.wait_for(&chat, "the menu again", |m| m["id"] == id && m["text"] == "Pick one" && keyboard(m).len() == 2).await;
    assert_eq!(keyboard(&edited), keyboard(&menu), "{edited}");

    // Press the second button (counted from 1, row by row): "No", answered with an alert.
    let answer = scene.press(&chat, id, &["--button", "2", "--json"]).await;
    let answer: serde_json::Value =
        serde_json::from_str(answer.trim()).unwrap_or_else(|e| panic!("helio press --json printed {answer:?}: {e}"));
    assert_eq!(answer["text"], "You chose no", "{answer}");
    assert_eq!(answer["alert"], true, "{answer}");
    scene.wait_for(&chat, "the menu edited again", |m| m["id"] == id && m["text"] == "Chosen: no").await;
}

/// The person's side of the files bot, whatever library runs it: `/doc` brings the bot's
/// document ("your report"), downloaded byte-identical; the person's upload is fetched by the
/// bot with getFile (it answers with the name, size and SHA-256 it got) and sent back by
/// file_id alone ("same file"), downloaded byte-identical too.
pub async fn exchange_documents(scene: &Scene, account: &BotAccount) {
    let chat = account.at();
    let tmp = tempfile::tempdir().expect("tmp");

    // The bot sends a document (multipart sendDocument); the person downloads it.
    scene.send(&chat, "/doc").await;
    let doc = scene.wait_text_from(&account, "your report").await;
    let got = scene.download(&chat, doc["id"].as_i64().expect("id"), tmp.path()).await;
    assert!(got == pattern(BOT_DOC_SIZE), "the bot's document came down different: {} bytes", got.len());

    // The person sends a document; the bot fetches it with getFile and the file URL.
    let mine: Vec<u8> = pattern(USER_DOC_SIZE).into_iter().rev().collect();
    let path = tmp.path().join("notes.bin");
    std::fs::write(&path, &mine).expect("write");
    scene.upload(&chat, &path, "for the bot").await;
    let expected = format!("got notes.bin {USER_DOC_SIZE} {USER_DOC_SIZE} bytes sha256 {}", sha256_hex(&mine).await);
    scene.wait_text_from(&account, &expected).await;

    // And the bot sends it back by file_id alone.
    let back = scene.wait_text_from(&account, "same file").await;
    let got = scene.download(&chat, back["id"].as_i64().expect("id"), tmp.path()).await;
    assert!(got == mine, "the file re-sent by file_id came down different: {} bytes", got.len());
}
