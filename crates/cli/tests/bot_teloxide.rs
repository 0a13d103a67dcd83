//! The Bot API as an unmodified published library sees it: teloxide (pinned in `Cargo.toml`),
//! pointed at a real in-process server with `Bot::set_api_url`, while a person drives the other
//! side with the real `helio` binary. Four bots, one test each: echo, an inline keyboard
//! (answerCallbackQuery and editMessageText), a document round trip both ways (sendDocument,
//! getFile and the file download URL, a file re-sent by its file_id), and a webhook bot
//! (teloxide's own axum receiver, which rejects requests without the secret header; the test
//! also records the header of every request it gets).
//!
//! The bots run inside the test process, on teloxide's `Dispatcher`. Whatever goes wrong inside
//! a bot (a failed request, an update teloxide cannot parse) is collected and printed when the
//! test fails, and a test also fails when the bot saw any of it, even if the person's side
//! looked right.

#[path = "common/bots.rs"]
mod bots;
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bots::*;
use teloxide::dispatching::{ShutdownToken, UpdateHandler};
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageEntityKind, UpdateKind};
use teloxide::update_listeners::webhooks;

type BoxErr = Box<dyn std::error::Error + Send + Sync>;
type HandlerResult = Result<(), BoxErr>;

const SECRET: &str = "teloxide-hook_Secret-42";

/// What went wrong inside a bot: printed at once (shown when the test fails) and kept.
#[derive(Clone, Default)]
struct Trouble(Arc<Mutex<Vec<String>>>);

impl Trouble {
    fn push(&self, what: String) {
        eprintln!("bot: {what}");
        self.0.lock().expect("lock").push(what);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }
}

/// A bot dispatching in a task of the test's runtime.
struct Running {
    shutdown: ShutdownToken,
    task: tokio::task::JoinHandle<()>,
    trouble: Trouble,
}

impl Running {
    /// Stops the dispatcher; fails the test if anything went wrong inside the bot.
    async fn stop(self) {
        match self.shutdown.shutdown() {
            Ok(done) => {
                if tokio::time::timeout(Duration::from_secs(15), done).await.is_err() {
                    self.task.abort();
                }
            }
            Err(_) => self.task.abort(),
        }
        let trouble = self.trouble.all();
        assert!(trouble.is_empty(), "the bot ran into trouble:\n{}", trouble.join("\n"));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- what went wrong inside the teloxide bot ---\n{}", self.trouble.all().join("\n"));
        }
        self.task.abort();
    }
}

fn teloxide_bot(scene: &Scene, account: &BotAccount) -> Bot {
    Bot::new(&account.token).set_api_url(reqwest::Url::parse(&scene.url).expect("server url"))
}

fn dispatcher(bot: Bot, handler: UpdateHandler<BoxErr>, trouble: &Trouble) -> Dispatcher<Bot, BoxErr, teloxide::dispatching::DefaultKey> {
    let unhandled = trouble.clone();
    let failed = trouble.clone();
    Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![trouble.clone()])
        .default_handler(move |update: Arc<Update>| {
            let trouble = unhandled.clone();
            async move {
                // An update teloxide could not parse is a compatibility bug; other kinds the
                // bot does not handle (a my_chat_member, say) are only worth a note.
                if let UpdateKind::Error(json) = &update.kind {
                    trouble.push(format!("teloxide could not parse update {}: {json}", update.id.0));
                } else {
                    eprintln!("bot: unhandled update {update:?}");
                }
            }
        })
        .error_handler(Arc::new(move |e: BoxErr| {
            let trouble = failed.clone();
            async move { trouble.push(format!("handler error: {e:?}")) }
        }))
        .build()
}

/// Starts `handler` with long polling (teloxide's `polling_default`: deleteWebhook, then
/// getUpdates with a 10 s timeout).
fn start_polling(bot: Bot, handler: UpdateHandler<BoxErr>) -> Running {
    let trouble = Trouble::default();
    let mut dispatcher = dispatcher(bot.clone(), handler, &trouble);
    let shutdown = dispatcher.shutdown_token();
    let t = trouble.clone();
    let task = tokio::spawn(async move {
        let listener = teloxide::update_listeners::polling_default(bot).await;
        let on_error = t.clone();
        let eh = Arc::new(move |e: teloxide::RequestError| {
            let trouble = on_error.clone();
            async move { trouble.push(format!("getUpdates failed: {e:?}")) }
        });
        if let Err(e) = dispatcher.try_dispatch_with_listener(listener, eh).await {
            t.push(format!("getMe failed: {e:?}"));
        }
    });
    Running { shutdown, task, trouble }
}

// ---- the bots: ordinary teloxide code, as in teloxide's own examples ----

async fn echo(bot: Bot, msg: Message, trouble: Trouble) -> HandlerResult {
    let Some(text) = msg.text() else { return Ok(()) };
    // A command comes with its bot_command entity, as from Telegram (libraries such as
    // python-telegram-bot route commands by it; teloxide's own parser reads the text).
    if let Some(command) = text.strip_prefix('/') {
        let length = 1 + command.split_whitespace().next().unwrap_or("").encode_utf16().count();
        let entity = msg
            .entities()
            .unwrap_or_default()
            .iter()
            .any(|e| e.kind == MessageEntityKind::BotCommand && e.offset == 0 && e.length == length);
        if !entity {
            trouble.push(format!("{text:?} came without a bot_command entity at 0..{length}: entities {:?}", msg.entities()));
        }
    }
    let reply = if text == "/start" { "Hi! Send me text.".to_owned() } else { text.to_owned() };
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}

fn echo_handler() -> UpdateHandler<BoxErr> {
    Update::filter_message().endpoint(echo)
}

fn menu() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![
        vec![InlineKeyboardButton::callback("Yes", "yes"), InlineKeyboardButton::callback("No", "no")],
        vec![InlineKeyboardButton::url("Docs", "https://example.org/docs".parse().expect("url"))],
    ])
}

async fn menu_start(bot: Bot, msg: Message) -> HandlerResult {
    if msg.text() == Some("/start") {
        bot.send_message(msg.chat.id, "Pick one").reply_markup(menu()).await?;
    }
    Ok(())
}

async fn menu_press(bot: Bot, q: CallbackQuery) -> HandlerResult {
    let data = q.data.clone().unwrap_or_default();
    let Some(message) = &q.message else {
        bot.answer_callback_query(q.id.clone()).text("that message is gone").await?;
        return Ok(());
    };
    let (chat, id) = (message.chat().id, message.id());
    if data == "again" {
        bot.answer_callback_query(q.id.clone()).text("Menu again").await?;
        bot.edit_message_text(chat, id, "Pick one").reply_markup(menu()).await?;
    } else {
        // "No" is answered with an alert, "Yes" with a notification.
        bot.answer_callback_query(q.id.clone()).text(format!("You chose {data}")).show_alert(data == "no").await?;
        let again = InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("Again", "again")]]);
        bot.edit_message_text(chat, id, format!("Chosen: {data}")).reply_markup(again).await?;
    }
    Ok(())
}

fn menu_handler() -> UpdateHandler<BoxErr> {
    dptree::entry().branch(Update::filter_message().endpoint(menu_start)).branch(Update::filter_callback_query().endpoint(menu_press))
}

async fn files(bot: Bot, msg: Message) -> HandlerResult {
    if msg.text() == Some("/doc") {
        bot.send_document(msg.chat.id, InputFile::memory(pattern(BOT_DOC_SIZE)).file_name("report.bin")).caption("your report").await?;
    } else if let Some(doc) = msg.document() {
        let file = bot.get_file(doc.file.id.clone()).await?;
        let mut data = Vec::new();
        bot.download_file(&file.path, &mut data).await?;
        let name = doc.file_name.clone().unwrap_or_default();
        let sha = sha256_hex(&data).await;
        bot.send_message(msg.chat.id, format!("got {name} {} {} bytes sha256 {sha}", file.meta.size, data.len())).await?;
        // The same file back, by its file_id alone.
        bot.send_document(msg.chat.id, InputFile::file_id(doc.file.id.clone())).caption("same file").await?;
    }
    Ok(())
}

fn files_handler() -> UpdateHandler<BoxErr> {
    Update::filter_message().endpoint(files)
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread")]
async fn teloxide_echo_bot() {
    let scene = Scene::start(41).await;
    let account = scene.create_bot("Echo", "echo_tx_bot").await;
    let bot = teloxide_bot(&scene, &account);
    let me = bot.get_me().await.unwrap_or_else(|e| panic!("getMe: {e:?}"));
    assert_eq!(me.user.id.0 as i64, account.id(), "getMe id is the token's id");
    assert!(me.user.is_bot);
    assert_eq!(me.username(), account.username);
    let running = start_polling(bot, echo_handler());

    scene.send(&account.at(), "/start").await;
    scene.wait_text_from(&account, "Hi! Send me text.").await;
    scene.send(&account.at(), "hello, bot").await;
    scene.wait_text_from(&account, "hello, bot").await;
    scene.send(&account.at(), "ünïcödé ✓ and \"quotes\" & <tags>").await;
    scene.wait_text_from(&account, "ünïcödé ✓ and \"quotes\" & <tags>").await;

    running.stop().await;
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn teloxide_inline_keyboard_bot() {
    let scene = Scene::start(42).await;
    let account = scene.create_bot("Menu", "menu_tx_bot").await;
    let running = start_polling(teloxide_bot(&scene, &account), menu_handler());
    use_the_menu(&scene, &account).await;

    running.stop().await;
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn teloxide_document_round_trip() {
    let scene = Scene::start(43).await;
    let account = scene.create_bot("Files", "files_tx_bot").await;
    let running = start_polling(teloxide_bot(&scene, &account), files_handler());
    exchange_documents(&scene, &account).await;

    running.stop().await;
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn teloxide_webhook_bot() {
    let scene = Scene::start(44).await;
    let account = scene.create_bot("Hook", "hook_tx_bot").await;
    let bot = teloxide_bot(&scene, &account);

    // teloxide's axum receiver (it answers 401 to a request without the right secret header),
    // behind a layer that records the header of every request, on a port bound here first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = reqwest::Url::parse(&format!("http://{addr}/hook")).expect("url");
    let options = webhooks::Options::new(addr, url.clone()).path("/hook".into()).secret_token(SECRET.into());
    let (updates, stop_flag, router) = webhooks::axum_to_router(bot.clone(), options).await.unwrap_or_else(|e| panic!("setWebhook: {e:?}"));
    let headers: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = headers.clone();
    let router = router.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
        let header = req.headers().get("x-telegram-bot-api-secret-token").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        seen.lock().expect("lock").push(header);
        next.run(req)
    }));
    let server = tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop_flag).await });

    let info = bot.get_webhook_info().await.unwrap_or_else(|e| panic!("getWebhookInfo: {e:?}"));
    assert_eq!(info.url.as_ref().map(|u| u.as_str()), Some(url.as_str()), "{info:?}");

    let trouble = Trouble::default();
    let mut dispatcher = dispatcher(bot.clone(), echo_handler(), &trouble);
    let shutdown = dispatcher.shutdown_token();
    let task = tokio::spawn(async move {
        dispatcher.dispatch_with_listener(updates, Arc::new(|e: std::convert::Infallible| async move { match e {} })).await;
    });
    let running = Running { shutdown, task, trouble };

    scene.send(&account.at(), "/start").await;
    scene.wait_text_from(&account, "Hi! Send me text.").await;
    scene.send(&account.at(), "via the webhook").await;
    scene.wait_text_from(&account, "via the webhook").await;

    let headers = headers.lock().expect("lock").clone();
    assert!(headers.len() >= 2, "the webhook got {} requests", headers.len());
    assert!(headers.iter().all(|h| h.as_deref() == Some(SECRET)), "secret headers: {headers:?}");

    // Stopping the dispatcher deletes the webhook (teloxide's stop flag calls deleteWebhook).
    running.stop().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    let info = bot.get_webhook_info().await.unwrap_or_else(|e| panic!("getWebhookInfo: {e:?}"));
    assert!(info.url.is_none(), "the webhook is still set after deleteWebhook: {info:?}");
    scene.stop().await;
}
