//! Drives the real `helio` binary against a real in-process server, with one profile folder
//! per user.

mod common;

use std::time::Duration;

use common::{Person, TestServer};
use serde_json::Value;
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
    let server = TestServer::start().await;
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
    let server = TestServer::start().await;
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
    let server = TestServer::start().await;
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
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let profile = tempfile::tempdir().expect("dir");
    let url = format!("http://127.0.0.1:{port}");
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
