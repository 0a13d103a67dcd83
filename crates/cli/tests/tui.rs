//! `helio tui` in a real pseudo-terminal against a real server: the screen is the terminal
//! state that `vt100` builds from what the binary writes, keys are the bytes a terminal sends.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{InProcess, Person};
use heliograph_client::{Client, Config, Event};
use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use serde_json::Value;

/// A running `helio tui` in a pty.
struct Tui {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    terminal: Arc<Mutex<vt100::Parser>>,
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }
}

impl Tui {
    fn start(person: &Person, rows: u16, cols: u16) -> Tui {
        let pair = native_pty_system().openpty(size(rows, cols)).expect("a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_helio"));
        cmd.args(["--server", &person.server, "--profile"]);
        cmd.arg(person.profile.path());
        cmd.arg("tui");
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("HELIO_SERVER");
        cmd.env_remove("HELIO_PROFILE");
        let child = pair.slave.spawn_command(cmd).expect("helio tui starts");
        drop(pair.slave);
        let terminal = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let screen = terminal.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().expect("screen").process(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().expect("pty writer");
        Tui { master: pair.master, writer, child, terminal }
    }

    fn screen(&self) -> String {
        self.terminal.lock().expect("screen").screen().contents()
    }

    fn rows(&self) -> Vec<String> {
        let parser = self.terminal.lock().expect("screen");
        let (_, cols) = parser.screen().size();
        parser.screen().rows(0, cols).collect()
    }

    /// Waits (up to 15 s) until the screen satisfies `ok`; returns it.
    async fn wait_until(&self, what: &str, ok: impl Fn(&[String]) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if ok(&self.rows()) {
                return self.screen();
            }
            assert!(tokio::time::Instant::now() < deadline, "no {what} on screen within 15 s:\n{}", self.screen());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |rows| rows.iter().any(|r| r.contains(text))).await
    }

    /// Sends what a terminal sends for these keys.
    fn keys(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).expect("type");
        self.writer.flush().expect("flush");
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        self.terminal.lock().expect("screen").set_size(rows, cols);
        self.master.resize(size(rows, cols)).expect("resize");
    }

    async fn exit_status(mut self) -> portable_pty::ExitStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "tui did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn session(person: &Person) -> Value {
    let bytes = std::fs::read(person.profile.path().join("session.json")).expect("session.json");
    serde_json::from_slice(&bytes).expect("session JSON")
}

/// Alice through the SDK, for what `helio` has no command for (typing).
async fn sdk(person: &Person) -> (Client, heliograph_client::Updates) {
    let mut config = Config::new(person.server.clone());
    config.token = session(person)["token"].as_str().map(str::to_owned);
    Client::connect(config).await.expect("SDK connects")
}

#[tokio::test(flavor = "multi_thread")]
async fn tui_chat_in_a_pseudo_terminal() {
    let mut server = InProcess::start().await;
    let mut alice = Person::new(&server, 31, "Alice");
    let mut bob = Person::new(&server, 32, "Bob");
    alice.login("alice31").await;
    bob.login("bob32").await;
    let group = alice.ok(&["group", "create", "Friends", "@bob32"]).await;
    alice.ok(&["send", group.trim(), "welcome to Friends"]).await;
    alice.ok(&["send", "@bob32", "hello from alice"]).await;
    let pts_before = session(&bob)["state"]["pts"].as_i64().expect("pts");

    // Bob's TUI opens with the newest dialog selected and its history shown; unread counts
    // beside each chat.
    let mut tui = Tui::start(&bob, 24, 90);
    tui.wait_for("Alice: hello from alice").await;
    for chat in ["│Alice", "│# Friends"] {
        tui.wait_until(chat, |rows| rows.iter().any(|r| r.contains(chat) && r.contains(" 1│"))).await;
    }

    // Enter opens the chat (and reads it); typing tells Alice; Enter sends.
    let (alice_sdk, mut alice_events) = sdk(&alice).await;
    tui.keys("\r");
    tui.keys("hi from bob");
    let typing = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match alice_events.recv().await {
                Some(Event::Typing { user_id, .. }) if user_id == bob.id => return,
                Some(_) => {}
                None => panic!("Alice's SDK stopped"),
            }
        }
    });
    typing.await.expect("Alice sees Bob typing");
    tui.keys("\r");
    tui.wait_for("you ✓").await;
    tui.wait_for(": hi from bob").await;
    let history = alice.json(&["history", "@bob32", "--json"]).await;
    assert_eq!(Person::texts(&history), ["hello from alice", "hi from bob"]);
    assert_eq!(alice.dialog(history[0]["chat"].as_i64().expect("chat")).await["unread"], 1);

    // Alice types, then answers: the indicator shows, then her reply arrives live.
    let chat = history[0]["chat"].as_i64().expect("chat");
    alice_sdk.set_typing(chat).await.expect("typing");
    tui.wait_for("Alice is typing…").await;
    alice.ok(&["send", "@bob32", "reply from alice"]).await;
    tui.wait_for("Alice: reply from alice").await;
    tui.wait_until("the typing line gone", |rows| !rows.iter().any(|r| r.contains("is typing"))).await;

    // Up selects her message, Ctrl-R answers it.
    tui.keys("\x1b[A\x12");
    tui.wait_for("Reply to #3").await;
    tui.keys("a reply\r");
    tui.wait_for("you ↩#3 ✓: a reply").await;
    let history = alice.json(&["history", "@bob32", "--json"]).await;
    assert_eq!(history[3]["reply_to"], 3);

    // Another size (shorter, wider): everything is drawn again to fit.
    tui.resize(18, 100);
    alice_sdk.set_typing(chat).await.expect("typing");
    let screen = tui
        .wait_until("the input box at the new bottom", |rows| {
            rows.len() == 18
                && rows[15].contains("Message")
                && rows[0].ends_with('┐')
                && rows.iter().any(|r| r.contains("Alice: reply from alice"))
                && rows.iter().any(|r| r.contains("Alice is typing…"))
        })
        .await;
    println!("{screen}");
    if let Ok(path) = std::env::var("HELIO_TUI_CAPTURE") {
        std::fs::write(path, &screen).expect("write the capture");
    }

    // F1 shows the help; any key closes it.
    tui.keys("\x1bOP");
    tui.wait_for("Help: helio tui").await;
    tui.keys("x");
    tui.wait_until("the help closed", |rows| !rows.iter().any(|r| r.contains("Help: helio tui"))).await;

    // Ctrl-C quits cleanly and the sync state moved on in the profile.
    tui.keys("\x03");
    let status = tui.exit_status().await;
    assert!(status.success(), "{status:?}");
    let pts_after = session(&bob)["state"]["pts"].as_i64().expect("pts");
    assert!(pts_after > pts_before, "{pts_before} -> {pts_after}");

    server.stop().await;
}

/// Ctrl-F in the TUI: a search over every chat finds an old message, Enter opens its chat
/// at that message (loaded around it, selected), and End goes back to the newest.
#[tokio::test(flavor = "multi_thread")]
async fn tui_search_opens_a_result_at_its_message() {
    // 250 sends in a moment: more than a person's request rate allows.
    let mut server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 10_000;
        c.limits.requests_burst = 10_000;
    })
    .await;
    let mut alice = Person::new(&server, 33, "Alice");
    let mut bob = Person::new(&server, 34, "Bob");
    alice.login("alice33").await;
    bob.login("bob34").await;
    alice.ok(&["send", "@bob34", "filler 0"]).await;
    let chat = alice.json(&["history", "@bob34", "--json"]).await[0]["chat"].as_i64().expect("chat");
    let (alice_sdk, _events) = sdk(&alice).await;
    for i in 1..250 {
        let text = if i == 20 { "the orchard key is under the mat".to_string() } else { format!("filler {i}") };
        alice_sdk.send_message(chat, &text, None).await.expect("send");
    }

    let mut tui = Tui::start(&bob, 24, 100);
    tui.wait_for("Alice: filler 249").await;
    tui.keys("\x06");
    tui.wait_for("Search all chats").await;
    tui.keys("orchard\r");
    tui.wait_for("1 found").await;
    tui.wait_for("the orchard key is under the mat").await;
    tui.keys("\r");
    let screen = tui
        .wait_until("the result selected in its history", |rows| {
            rows.iter().any(|r| r.contains("Alice: the orchard key is under the mat"))
                && !rows.iter().any(|r| r.contains("filler 249"))
                && rows.iter().any(|r| r.contains("↓ newer messages below"))
        })
        .await;
    println!("{screen}");
    {
        let parser = tui.terminal.lock().expect("screen");
        let s = parser.screen();
        let (rows, cols) = s.size();
        let row = (0..rows).find(|&r| s.contents_between(r, 0, r, cols).contains("orchard key")).expect("the row");
        let col = s.contents_between(row, 0, row, cols).find("the orchard").expect("col");
        let col = s.contents_between(row, 0, row, cols)[..col].chars().count() as u16;
        assert!(s.cell(row, col).is_some_and(|c| c.inverse()), "the found message is the selected one");
    }
    tui.keys("\x1b[F");
    tui.wait_for("Alice: filler 249").await;
    tui.keys("\x03");
    assert!(tui.exit_status().await.success());
    server.stop().await;
}
