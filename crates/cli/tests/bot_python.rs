//! The Bot API as an unmodified published library sees it: python-telegram-bot (the version
//! pinned in `tests/bots/requirements.txt`), pointed at a real in-process server with
//! `base_url`/`base_file_url`, while a person drives the other side with the real `helio`
//! binary. The bots are `tests/bots/ptb_bot.py MODE`, one process each: echo, an inline
//! keyboard (answerCallbackQuery and editMessageText), a document round trip both ways
//! (sendDocument, getFile and the file download URL, a file re-sent by its file_id), and a
//! webhook bot (python-telegram-bot's own receiver, which answers 403 to a request without the
//! secret header).
//!
//! The switch is `HELIOGRAPH_TEST_PYTHON`, the path of a Python that has the pinned
//! python-telegram-bot (`.ci/run` makes one in `target/botcompat-venv`), read when the tests are
//! compiled (`build.rs`) and when they run. Unset, this binary holds the one test
//! `python_bots_need_switch`, which says the tests did not run. Set, each test fails loudly
//! when that Python cannot run the bots (missing, no telegram module, another version).
#![cfg_attr(not(heliograph_test_python), allow(dead_code, unused_imports))]

#[path = "common/bots.rs"]
mod bots;
mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bots::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SWITCH: &str = "HELIOGRAPH_TEST_PYTHON";
const SECRET: &str = "ptb-hook_Secret-42";

/// Without the switch, say so in the test list instead of passing tests that never ran.
#[cfg(not(heliograph_test_python))]
#[test]
fn python_bots_need_switch() {
    println!("{SWITCH} not set: python-telegram-bot tests not run");
}

fn bots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bots")
}

/// The Python named by the switch, checked: it runs, and its python-telegram-bot is the one
/// pinned in `requirements.txt`.
async fn python() -> String {
    let python = std::env::var(SWITCH)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{SWITCH} must name a Python with python-telegram-bot"));
    let requirements = std::fs::read_to_string(bots_dir().join("requirements.txt")).expect("tests/bots/requirements.txt");
    let pinned = requirements
        .lines()
        .find_map(|l| l.strip_prefix("python-telegram-bot").and_then(|rest| rest.split_once("==")).map(|(_, v)| v.trim().to_owned()))
        .expect("requirements.txt pins python-telegram-bot==VERSION");
    let out = Command::new(&python)
        .args(["-c", "import telegram, telegram.ext, tornado; print(telegram.__version__)"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("{SWITCH}={python} cannot be run: {e}"));
    assert!(
        out.status.success(),
        "{SWITCH}={python} cannot import python-telegram-bot with webhooks: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(version, pinned, "{SWITCH}={python} has python-telegram-bot {version}, requirements.txt pins {pinned}");
    python
}

/// One `ptb_bot.py MODE` process; its stderr is kept and printed when the test fails.
struct PyBot {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl PyBot {
    /// Starts the bot and waits (within `WAIT`) until it prints `ready`.
    async fn start(scene: &Scene, account: &BotAccount, mode: &str, env: &[(&str, &str)]) -> PyBot {
        let python = python().await;
        let mut cmd = Command::new(python);
        cmd.arg(bots_dir().join("ptb_bot.py"))
            .arg(mode)
            .env("HELIO_BOT_TOKEN", &account.token)
            .env("HELIO_BOT_SERVER", &scene.url)
            .env("PYTHONUNBUFFERED", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("python starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut s = sink.lock().expect("lock");
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut out_lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(WAIT, async {
            while let Ok(Some(line)) = out_lines.next_line().await {
                if line.trim() == "ready" {
                    return true;
                }
            }
            false
        })
        .await;
        let bot = PyBot { child, stderr };
        match ready {
            Ok(true) => {}
            Ok(false) => panic!("the {mode} bot exited before it was ready"),
            Err(_) => panic!("the {mode} bot was not ready within {WAIT:?}"),
        }
        bot
    }

    /// Stops it; it must still have been running.
    async fn stop(mut self) {
        let status = self.child.try_wait().expect("try_wait");
        assert!(status.is_none(), "the bot died on the way: {status:?}");
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        let log = self.stderr.lock().expect("lock").clone();
        // python-telegram-bot logs a failed request or handler at ERROR (and ours too).
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ") || l.contains("Traceback")).collect();
        assert!(errors.is_empty(), "the bot logged errors:\n{log}");
    }
}

impl Drop for PyBot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the python bot's stderr ---\n{}", self.stderr.lock().map(|s| s.clone()).unwrap_or_default());
        }
    }
}

#[cfg(heliograph_test_python)]
#[tokio::test(flavor = "multi_thread")]
async fn ptb_echo_bot() {
    let scene = Scene::start(51).await;
    let account = scene.create_bot("Echo", "echo_py_bot").await;
    let bot = PyBot::start(&scene, &account, "echo", &[]).await;

    scene.send(&account.at(), "/start").await;
    scene.wait_text_from(&account, "Hi! Send me text.").await;
    scene.send(&account.at(), "hello, bot").await;
    scene.wait_text_from(&account, "hello, bot").await;
    scene.send(&account.at(), "ünïcödé ✓ and \"quotes\" & <tags>").await;
    scene.wait_text_from(&account, "ünïcödé ✓ and \"quotes\" & <tags>").await;

    bot.stop().await;
    scene.stop().await;
}

#[cfg(heliograph_test_python)]
#[tokio::test(flavor = "multi_thread")]
async fn ptb_inline_keyboard_bot() {
    let scene = Scene::start(52).await;
    let account = scene.create_bot("Menu", "menu_py_bot").await;
    let bot = PyBot::start(&scene, &account, "keyboard", &[]).await;
    use_the_menu(&scene, &account).await;

    bot.stop().await;
    scene.stop().await;
}

#[cfg(heliograph_test_python)]
#[tokio::test(flavor = "multi_thread")]
async fn ptb_document_round_trip() {
    let scene = Scene::start(53).await;
    let account = scene.create_bot("Files", "files_py_bot").await;
    let bot = PyBot::start(&scene, &account, "files", &[]).await;
    exchange_documents(&scene, &account).await;

    bot.stop().await;
    scene.stop().await;
}

#[cfg(heliograph_test_python)]
#[tokio::test(flavor = "multi_thread")]
async fn ptb_webhook_bot() {
    let scene = Scene::start(54).await;
    let account = scene.create_bot("Hook", "hook_py_bot").await;
    let hook = format!("127.0.0.1:{}", common::unused_port());
    let bot = PyBot::start(&scene, &account, "webhook", &[("HELIO_BOT_HOOK", &hook), ("HELIO_BOT_SECRET", SECRET)]).await;

    // The webhook is set where the bot said (getWebhookInfo, asked directly).
    let info: serde_json::Value = reqwest::get(format!("{}/bot{}/getWebhookInfo", scene.url, account.token))
        .await
        .expect("getWebhookInfo")
        .json()
        .await
        .expect("getWebhookInfo JSON");
    assert_eq!(info["ok"], true, "{info}");
    assert_eq!(info["result"]["url"], format!("http://{hook}/hook"), "{info}");

    // Its receiver answers 403 without the secret header (python-telegram-bot's own check), so
    // an echo proves the server sent it.
    scene.send(&account.at(), "/start").await;
    scene.wait_text_from(&account, "Hi! Send me text.").await;
    scene.send(&account.at(), "via the webhook").await;
    scene.wait_text_from(&account, "via the webhook").await;

    bot.stop().await;
    scene.stop().await;
}
