//! `helio secret`: secret chats from the terminal, end to end through a real server; each
//! profile's MLS device lives in its profile folder between runs.

mod common;

use common::{InProcess, Person};

/// Alice (two profiles: two devices) and Bob exchange encrypted messages with `helio secret`; a device that signs in after the chat began cannot read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_chat_from_the_terminal() {
    let server = InProcess::start().await;
    let mut alice = Person::new(&server, 1, "Alice");
    let mut alice2 = Person::new(&server, 1, "Alice");
    let mut bob = Person::new(&server, 2, "Bob");
    alice.login("alice_s").await;
    alice2.login("alice_s").await;
    bob.login("bob_s").await;
    for p in [&alice2, &bob] {
        assert!(p.ok(&["secret", "init"]).await.contains("ready"));
    }
    let chat = alice.ok(&["secret", "create", "@bob_s"]).await.trim().to_string();
    assert!(chat.parse::<i64>().is_ok(), "{chat}");
    alice.ok(&["secret", "send", &chat, "meet at the usual place"]).await;
    let alice_id = alice.id.to_string();
    for p in [&bob, &alice2] {
        let read = p.ok(&["secret", "read", &chat]).await;
        assert_eq!(read.trim(), format!("{alice_id}\tmeet at the usual place"), "every device decrypts");
    }
    bob.ok(&["secret", "send", &chat, "see you there"]).await;
    for p in [&alice, &alice2] {
        assert!(p.ok(&["secret", "read", &chat]).await.contains("\tsee you there"));
    }
    assert_eq!(bob.ok(&["secret", "read", &chat]).await, "", "nothing new: nothing printed twice");

    // A third device of Alice's, made after the chat began, is not in it.
    let mut alice3 = Person::new(&server, 1, "Alice");
    alice3.login("alice_s").await;
    assert_eq!(alice3.ok(&["secret", "read", &chat]).await, "", "a later device reads nothing from before it");
    let out = alice3.run_with(&["secret", "send", &chat, "hello?"], "").await;
    assert!(!out.status.success(), "a device outside the group cannot send");
}
