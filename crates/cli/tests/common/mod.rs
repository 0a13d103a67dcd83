//! What the `helio` tests share: a real in-process server (`heliograph_testkit::InProcess`)
//! and one profile folder per person.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

pub use heliograph_testkit::InProcess;

/// A loopback port nothing listens on now (bound, read and released): for a URL that must
/// fail, or a receiver another program binds itself (python-telegram-bot's webhook server).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A loopback URL where nothing listens.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", unused_port())
}

/// One person: a profile folder of their own.
pub struct Person {
    pub profile: tempfile::TempDir,
    pub server: String,
    pub phone: String,
    pub code: String,
    pub name: String,
    pub id: i64,
}

impl Person {
    /// Test number n: `+99966X0000 + n` signs in with `XXXXX`.
    pub fn new(server: &InProcess, n: u32, name: &str) -> Person {
        let x = 1 + n % 9;
        Person {
            profile: tempfile::tempdir().expect("profile dir"),
            server: server.url(),
            phone: format!("+99966{x}{n:04}"),
            code: x.to_string().repeat(5),
            name: name.into(),
            id: 0,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helio"));
        cmd.arg("--server").arg(&self.server).arg("--profile").arg(self.profile.path()).args(args);
        cmd.env_remove("HELIO_SERVER").env_remove("HELIO_PROFILE");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        cmd
    }

    /// Runs `helio ARGS` with `stdin`, within 30 s.
    pub async fn run_with(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self.command(args).spawn().expect("helio starts");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("write stdin");
        drop(input);
        tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.expect("helio finishes in time").expect("helio runs")
    }

    /// Runs `helio ARGS`, expects success, returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, "").await
    }

    pub async fn ok_with(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with(args, stdin).await;
        assert!(out.status.success(), "helio {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `helio ARGS --json`-style commands and parses every line.
    pub async fn json(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args)
            .await
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: bad JSON line {l:?}: {e}")))
            .collect()
    }

    pub async fn login(&mut self, username: &str) {
        let out = self.ok(&["login", &self.phone, "--code", &self.code, "--name", &self.name]).await;
        assert!(out.contains(&self.name), "{out}");
        self.ok(&["username", "set", username]).await;
        let me = self.json(&["me", "--json"]).await;
        assert_eq!(me.len(), 1);
        assert_eq!(me[0]["name"], self.name.as_str());
        assert_eq!(me[0]["username"], username);
        assert_eq!(me[0]["phone"], self.phone.as_str());
        self.id = me[0]["id"].as_i64().expect("id");
    }

    /// The dialog of chat `chat` from `chats --json`.
    pub async fn dialog(&self, chat: i64) -> Value {
        let dialogs = self.json(&["chats", "--json"]).await;
        dialogs.into_iter().find(|d| d["chat"] == chat).unwrap_or_else(|| panic!("no dialog {chat}"))
    }

    pub fn texts(history: &[Value]) -> Vec<&str> {
        history.iter().map(|m| m["text"].as_str().expect("text")).collect()
    }
}
