//! The conformance suite: the checks every [`Store`] engine passes, written once against the
//! trait so the SQLite engine and any later engine (PostgreSQL) are held to the same contract.
//!
//! An engine's test file provides a [`Harness`] (where its databases live) and instantiates
//! every check as its own test with one line:
//!
//! ```text
//! heliograph_store::conformance_tests!(|| async { MyHarness::new() });
//! ```
//!
//! Each check is a `pub async fn` that panics with a message saying what broke. Most take a
//! freshly opened, empty store (opened with [`Limits::default`]); the few that need other
//! limits or a reopen take the [`Harness`] itself.
//!
//! The checks go through the [`Store`] trait only and assert the contract (durable
//! acknowledgement, idempotent sends, order, gapless sync, one authorization choke point:
//! ARCHITECTURE.md, Invariants 1-5), not an engine's table layout.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use heliograph_core::*;

use crate::{model::*, Error, Limits, Result, Store};

/// Where an engine's test databases live.
#[async_trait]
pub trait Harness: Send {
    /// Opens this harness's database with `limits`: empty on the first call, and the same
    /// database again, with everything committed so far, on every later call (the caller
    /// drops the stores it opened before). Panics when the engine cannot open it.
    async fn open(&mut self, limits: Limits) -> Arc<dyn Store>;
}

/// Instantiates every conformance check as a separate `#[tokio::test]` (multi-thread runtime,
/// 4 workers). The argument is a factory: a closure returning a future of a fresh
/// [`Harness`], called once per test. The calling crate must depend on `tokio`.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@store $harness;
            accounts,
            login_codes,
            usernames,
            contacts_and_blocks,
            phone_privacy,
            private_chat,
            idempotent_send,
            concurrent_sends,
            non_member_sees_nothing,
            roles,
            edit_delete_pin_forward,
            read_receipts,
            dialogs,
            groups,
            channel_fan_out,
            sync_pages,
            commit_feed,
            files_and_media,
            bot_accounts,
            bot_settings,
            message_markup,
            callback_buttons,
            // secret chats (#15)
            key_package_directory,
            key_package_claims_race,
            secret_commits,
            // daily use (#18)
            reactions,
            reactions_in_channels,
            group_moderation,
            drafts,
            // account (#16)
            sealed_phones_and_settings,
            reports,
            moderation,
            search_support,
            bench_corpus,
            transparency_log,
        );
        $crate::conformance_tests!(@harness $harness;
            large_group_own_log,
            sync_too_long,
            reopen_keeps_everything,
            bots_follow_own_logs,
        );
    };
    (@store $harness:expr; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let mut harness = ($harness)().await;
            let store = $crate::conformance::Harness::open(&mut harness, $crate::Limits::default()).await;
            $crate::conformance::within(stringify!($check), $crate::conformance::$check(store)).await;
        }
    )*};
    (@harness $harness:expr; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let mut harness = ($harness)().await;
            $crate::conformance::within(stringify!($check), $crate::conformance::$check(&mut harness)).await;
        }
    )*};
}

/// Runs a check with a deadline, so a deadlocked engine fails instead of hanging the run.
pub async fn within(name: &str, check: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_secs(60), check).await.is_err() {
        panic!("conformance check `{name}` did not finish within 60 s: the engine is stuck (deadlock?)");
    }
}

// --- helpers -------------------------------------------------------------------------------

trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: unexpected error {e:?} ({e})"),
        }
    }
}

#[track_caller]
fn refused<T: Debug>(result: Result<T>, want: Error, what: &str) {
    match result {
        Err(e) if e == want => {}
        other => panic!("{what}: expected Err({want:?}), got {other:?}"),
    }
}

/// What the store keeps of test number `n`: a hash and a sealed copy as the server would
/// make them (here opaque stand-ins: the store never looks inside either). The one helper
/// for test accounts: the store's own tests and the search suite use it too.
pub fn phone(n: u32) -> SealedPhone {
    let mut hash = [0u8; 32];
    hash[..4].copy_from_slice(&n.to_be_bytes());
    SealedPhone { hash: PhoneHash(hash), sealed: format!("sealed {n}").into_bytes() }
}

fn name(s: &str) -> DisplayName {
    DisplayName::parse(s).expect("test names are valid")
}

fn title(s: &str) -> Title {
    Title::parse(s).expect("test titles are valid")
}

fn uname(s: &str) -> Username {
    Username::parse(s).expect("test usernames are valid")
}

fn mtext(s: &str) -> MessageText {
    MessageText::parse(s.to_string()).expect("test texts are valid")
}

fn text(s: &str) -> Content {
    Content::Text(mtext(s))
}

fn draft(content: Content, reply_to: Option<MessageId>) -> Draft {
    Draft { content, entities: vec![], keyboard: None, reply_to }
}

fn edit_text(text: MessageText) -> Edit {
    Edit { text: Some((text, vec![])), keyboard: None }
}

#[allow(unreachable_patterns)]
fn body(m: &Message) -> &str {
    match &m.content {
        Content::Text(t) => t.as_str(),
        _ => "",
    }
}

/// Creates the user numbered `n`.
async fn person(store: &dyn Store, n: u32, who: &str) -> UserId {
    store.create_user(&phone(n), &name(who)).await.must("create_user").id
}

/// Creates users `first..first + count` concurrently (one group commit or a few), in order.
async fn crowd(store: &Arc<dyn Store>, first: u32, count: u32) -> Vec<UserId> {
    let mut tasks = Vec::new();
    for n in first..first + count {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { person(&*store, n, &format!("User {n}")).await }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("a create_user task panicked"));
    }
    ids
}

async fn state(store: &dyn Store, user: UserId) -> Pts {
    store.state(user).await.must("state")
}

/// Pages `pages` (a difference call from a pts) to the end; checks the pages chain.
async fn drain<F, Fut>(what: &str, from: Pts, mut pages: F) -> Vec<Logged>
where
    F: FnMut(Pts) -> Fut,
    Fut: std::future::Future<Output = Result<Difference>>,
{
    let mut pts = from;
    let mut out: Vec<Logged> = Vec::new();
    for _ in 0..100_000 {
        match pages(pts).await.must(what) {
            Difference::Empty { .. } => return out,
            Difference::Complete { events, pts: top } => {
                check_chain(what, pts, &events, top);
                out.extend(events);
                return out;
            }
            Difference::Slice { events, pts: next } => {
                check_chain(what, pts, &events, next);
                assert!(next > pts, "{what}: a Slice must move forward (from {pts}, got {next})");
                out.extend(events);
                pts = next;
            }
            Difference::TooLong { pts: top } => panic!("{what}: unexpected TooLong (top {top}) from {pts}"),
        }
    }
    panic!("{what}: the difference never completed");
}

#[track_caller]
fn check_chain(what: &str, from: Pts, events: &[Logged], to: Pts) {
    let mut last = from;
    for e in events {
        assert!(e.pts > last, "{what}: pts not strictly increasing after {from}: {:?}", events.iter().map(|e| e.pts).collect::<Vec<_>>());
        last = e.pts;
    }
    assert!(last <= to, "{what}: a page's pts ({to}) is below its last event ({last})");
}

/// Every event in `user`'s own log after `from`.
async fn log_of(store: &dyn Store, user: UserId, from: Pts) -> Vec<Logged> {
    drain("difference", from, |pts| store.difference(user, pts, 50)).await
}

/// Every event in `chat`'s own log after `from`, as `user` reads it.
async fn chat_log_of(store: &dyn Store, user: UserId, chat: ChatId, from: Pts) -> Vec<Logged> {
    drain("chat_difference", from, |pts| store.chat_difference(user, chat, pts, 50)).await
}

fn events(log: &[Logged]) -> Vec<Event> {
    log.iter().map(|l| l.event.clone()).collect()
}

/// Ids of the NewMessage events in `log` for `chat`, in log order.
fn new_ids(log: &[Logged], chat: ChatId) -> Vec<MessageId> {
    log.iter()
        .filter_map(|l| match &l.event {
            Event::NewMessage(m) if m.chat == chat => Some(m.id),
            _ => None,
        })
        .collect()
}

fn ids(range: std::ops::RangeInclusive<i64>) -> Vec<MessageId> {
    range.map(MessageId).collect()
}

fn msg_ids(ms: &[Message]) -> Vec<MessageId> {
    ms.iter().map(|m| m.id).collect()
}

async fn send(store: &dyn Store, who: UserId, chat: ChatId, random_id: i64, s: &str) -> Sent {
    store.send(who, chat, random_id, draft(text(s), None)).await.must("send")
}

async fn history_all(store: &dyn Store, who: UserId, chat: ChatId) -> Vec<Message> {
    store.history(who, chat, Page::Newer { after: None, limit: 10_000 }).await.must("history")
}

async fn view(store: &dyn Store, who: UserId, chat: ChatId) -> View {
    store.chat(who, chat).await.must("chat")
}

// --- accounts ------------------------------------------------------------------------------

/// Accounts are one per phone (create_user is idempotent) and sessions are created, listed, found by token hash and revoked only by their owner.
pub async fn accounts(store: Arc<dyn Store>) {
    let s = &*store;
    assert_eq!(s.user_by_phone(phone(1).hash).await.must("user_by_phone"), None, "no user before sign-up");
    let alice = s.create_user(&phone(1), &name("Alice")).await.must("create_user");
    assert_eq!(s.sealed_phone(alice.id).await.must("sealed_phone"), Some(phone(1).sealed), "the sealed copy is kept as given");
    assert_eq!(alice.name, "Alice");
    assert_eq!(alice.username, None);
    let again = s.create_user(&phone(1), &name("Somebody Else")).await.must("create_user again");
    assert_eq!(again, alice, "create_user for an existing phone must return the account unchanged");
    let bob = s.create_user(&phone(2), &name("Bob")).await.must("create_user bob");
    assert_ne!(bob.id, alice.id, "two phones are two accounts");
    assert_eq!(s.user_by_phone(phone(1).hash).await.must("user_by_phone"), Some(alice.clone()));
    let listed = s.users(&[bob.id, UserId(987_654_321), alice.id]).await.must("users");
    assert_eq!(listed, vec![bob.clone(), alice.clone()], "users() returns those that exist, in the order asked");

    let updated =
        s.update_profile(alice.id, Some(name("Alice A.")), Some(Bio::parse("hi there").expect("bio"))).await.must("update_profile");
    assert_eq!((updated.name.as_str(), updated.bio.as_str()), ("Alice A.", "hi there"));
    let updated = s.update_profile(alice.id, None, Some(Bio::parse("").expect("bio"))).await.must("update_profile");
    assert_eq!((updated.name.as_str(), updated.bio.as_str()), ("Alice A.", ""), "None leaves a field alone; an empty bio clears it");
    refused(
        s.update_profile(UserId(987_654_321), Some(name("X")), None).await,
        Error::UserNotFound,
        "update_profile of a nonexistent user",
    );

    // Sessions.
    let laptop = s.create_session(alice.id, &[1; 32], "laptop").await.must("create_session");
    let phone_s = s.create_session(alice.id, &[2; 32], "phone").await.must("create_session");
    let bobs = s.create_session(bob.id, &[3; 32], "bob's").await.must("create_session");
    assert_eq!((laptop.user, laptop.device.as_str()), (alice.id, "laptop"));
    assert_ne!(laptop.id, phone_s.id);
    let mine = s.sessions(alice.id).await.must("sessions");
    assert_eq!(mine.iter().map(|x| x.id).collect::<Vec<_>>(), vec![laptop.id, phone_s.id], "sessions lists the user's own sessions");
    let found = s.session_by_token(&[2; 32]).await.must("session_by_token").expect("a live session is found by its token hash");
    assert_eq!((found.id, found.user, found.device.as_str()), (phone_s.id, alice.id, "phone"));
    assert!(found.last_active >= phone_s.created);
    assert_eq!(s.session_by_token(&[9; 32]).await.must("session_by_token"), None, "an unknown token finds nothing");

    assert!(!s.revoke_session(bob.id, laptop.id).await.must("revoke_session"), "revoking someone else's session answers false");
    assert!(s.session_by_token(&[1; 32]).await.must("session_by_token").is_some(), "a failed revoke leaves the session alive");
    assert!(s.revoke_session(alice.id, laptop.id).await.must("revoke_session"), "revoking one's own session answers true");
    assert_eq!(s.session_by_token(&[1; 32]).await.must("session_by_token"), None, "a revoked token is no longer found");
    assert!(!s.revoke_session(alice.id, laptop.id).await.must("revoke_session"), "revoking twice answers false");
    assert_eq!(s.sessions(alice.id).await.must("sessions").iter().map(|x| x.id).collect::<Vec<_>>(), vec![phone_s.id]);
    assert_eq!(s.sessions(bob.id).await.must("sessions").iter().map(|x| x.id).collect::<Vec<_>>(), vec![bobs.id]);
}

/// Login codes are saved (replacing any pending one), count their attempts, and are deleted.
pub async fn login_codes(store: Arc<dyn Store>) {
    let s = &*store;
    let p = phone(10).hash;
    assert_eq!(s.login_attempt(p).await.must("login_attempt"), None, "no code pending");
    let code = LoginCodeHash { salt: vec![1, 2, 3], hash: vec![4, 5, 6], expires: 2_000_000_000, attempts: 0 };
    s.save_login_code(p, code.clone()).await.must("save_login_code");
    for n in 1..=3 {
        let got = s.login_attempt(p).await.must("login_attempt").expect("the pending code");
        assert_eq!(got, LoginCodeHash { attempts: n, ..code.clone() }, "attempt {n} returns the code with the new count");
    }
    let other = phone(11).hash;
    assert_eq!(s.login_attempt(other).await.must("login_attempt"), None, "codes are per phone");
    let fresh = LoginCodeHash { salt: vec![7], hash: vec![8], expires: 2_000_000_100, attempts: 0 };
    s.save_login_code(p, fresh.clone()).await.must("save_login_code");
    assert_eq!(
        s.login_attempt(p).await.must("login_attempt"),
        Some(LoginCodeHash { attempts: 1, ..fresh }),
        "a new code replaces the old one and its attempts"
    );
    s.delete_login_code(p).await.must("delete_login_code");
    assert_eq!(s.login_attempt(p).await.must("login_attempt"), None, "a deleted code is gone");
    s.delete_login_code(p).await.must("deleting a missing code is fine");
}

/// Usernames are unique case-insensitively across users and public chats, clearing one frees it, and resolve finds both kinds.
pub async fn usernames(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    assert_eq!(s.resolve(&uname("alice_w")).await.must("resolve"), None);

    let a = s.set_username(alice, Some(uname("Alice_W"))).await.must("set_username");
    assert_eq!(a.username.as_deref(), Some("Alice_W"), "the username is kept as typed");
    match s.resolve(&uname("aLiCe_w")).await.must("resolve") {
        Some(Resolved::User(u)) => assert_eq!(u.id, alice),
        other => panic!("resolve is case-insensitive and finds the user, got {other:?}"),
    }
    refused(s.set_username(bob, Some(uname("ALICE_W"))).await, Error::UsernameOccupied, "another case of a taken username");
    assert_eq!(s.users(&[bob]).await.must("users")[0].username, None, "a refused set_username changes nothing");
    // Re-setting one's own name in another case is allowed.
    let a = s.set_username(alice, Some(uname("alice_w"))).await.must("set_username own name, other case");
    assert_eq!(a.username.as_deref(), Some("alice_w"));

    // Channels share the namespace.
    let bob_before = state(s, bob).await;
    refused(
        s.create_chat(bob, ChatKind::Channel, &title("News"), Some(&uname("ALICE_w")), &[]).await,
        Error::UsernameOccupied,
        "a channel cannot take a user's username",
    );
    assert_eq!(s.dialogs(bob, None, 10).await.must("dialogs").len(), 0, "a refused create_chat leaves no chat behind");
    assert_eq!(state(s, bob).await, bob_before, "a refused create_chat logs nothing");
    let news = s.create_chat(bob, ChatKind::Channel, &title("News"), Some(&uname("HelioNews")), &[]).await.must("create public channel");
    assert_eq!(news.username.as_deref(), Some("HelioNews"));
    refused(s.set_username(alice, Some(uname("helionews"))).await, Error::UsernameOccupied, "a user cannot take a channel's username");
    refused(
        s.create_chat(alice, ChatKind::Channel, &title("News 2"), Some(&uname("HELIONEWS")), &[]).await,
        Error::UsernameOccupied,
        "two channels cannot share a username",
    );
    match s.resolve(&uname("helioNEWS")).await.must("resolve") {
        Some(Resolved::Chat(c)) => {
            assert_eq!(c.id, news.id);
            assert_eq!(c.kind, ChatKind::Channel);
        }
        other => panic!("resolve finds a public channel (the resolver need not be a member), got {other:?}"),
    }
    assert_eq!(s.resolve(&uname("nobody_here")).await.must("resolve"), None);

    // Changing or clearing frees the old name.
    s.set_username(alice, Some(uname("alice_two"))).await.must("change username");
    assert_eq!(s.resolve(&uname("alice_w")).await.must("resolve"), None, "a changed username no longer resolves");
    let b = s.set_username(bob, Some(uname("Alice_W"))).await.must("take a freed username");
    assert_eq!(b.username.as_deref(), Some("Alice_W"));
    let a = s.set_username(alice, None).await.must("clear username");
    assert_eq!(a.username, None);
    assert_eq!(s.resolve(&uname("alice_two")).await.must("resolve"), None, "a cleared username no longer resolves");
    s.set_username(bob, Some(uname("ALICE_TWO"))).await.must("a cleared username is free");
    match s.resolve(&uname("alice_two")).await.must("resolve") {
        Some(Resolved::User(u)) => assert_eq!(u.id, bob),
        other => panic!("resolve after reuse: {other:?}"),
    }
    assert_eq!(s.resolve(&uname("alice_w")).await.must("resolve"), None, "bob's change from Alice_W to ALICE_TWO freed Alice_W");
}

/// Contacts and blocks show in relations() and their lists; a block stops private sends both ways until it is lifted.
/// Who may find an account by phone: everybody until set, then what was set, per account.
pub async fn phone_privacy(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    assert_eq!(s.phone_privacy(alice).await.must("phone_privacy"), PhonePrivacy::Everybody, "the default");
    for privacy in [PhonePrivacy::Nobody, PhonePrivacy::Contacts, PhonePrivacy::Everybody, PhonePrivacy::Contacts] {
        s.set_phone_privacy(alice, privacy).await.must("set_phone_privacy");
        assert_eq!(s.phone_privacy(alice).await.must("phone_privacy"), privacy);
    }
    assert_eq!(s.phone_privacy(bob).await.must("phone_privacy"), PhonePrivacy::Everybody, "one account's setting is its own");
    let nobody = UserId(987_654_321);
    refused(s.set_phone_privacy(nobody, PhonePrivacy::Nobody).await, Error::UserNotFound, "set for a nonexistent account");
    refused(s.phone_privacy(nobody).await, Error::UserNotFound, "read for a nonexistent account");
}

pub async fn contacts_and_blocks(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let nobody = UserId(987_654_321);

    let none = Relation::default();
    assert_eq!(s.relations(alice, &[bob, carol]).await.must("relations"), vec![none, none]);
    s.add_contact(alice, bob).await.must("add_contact");
    s.add_contact(alice, bob).await.must("add_contact twice is fine");
    refused(s.add_contact(alice, nobody).await, Error::UserNotFound, "add a nonexistent contact");
    let r = s.relations(alice, &[bob, carol]).await.must("relations");
    assert_eq!(r[0], Relation { contact: true, contact_of: false, blocked: false });
    assert!(!r[0].mutual());
    assert_eq!(r[1], none);
    assert_eq!(s.relations(bob, &[alice]).await.must("relations")[0], Relation { contact: false, contact_of: true, blocked: false });
    s.add_contact(bob, alice).await.must("add_contact");
    assert!(s.relations(alice, &[bob]).await.must("relations")[0].mutual(), "both directions make a mutual contact");
    assert!(s.relations(bob, &[alice]).await.must("relations")[0].mutual());
    s.add_contact(alice, carol).await.must("add_contact");
    let list: Vec<UserId> = s.contacts(alice).await.must("contacts").iter().map(|u| u.id).collect();
    assert_eq!(list.len(), 2);
    assert!(list.contains(&bob) && list.contains(&carol), "contacts lists every contact: {list:?}");
    s.remove_contact(alice, carol).await.must("remove_contact");
    assert_eq!(s.contacts(alice).await.must("contacts").iter().map(|u| u.id).collect::<Vec<_>>(), vec![bob]);
    assert_eq!(s.relations(alice, &[carol]).await.must("relations")[0], none);

    // Blocks.
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    send(s, alice, chat, 1, "hello").await;
    s.set_blocked(bob, alice, true).await.must("block");
    assert_eq!(s.blocked(bob).await.must("blocked").iter().map(|u| u.id).collect::<Vec<_>>(), vec![alice]);
    assert!(s.relations(bob, &[alice]).await.must("relations")[0].blocked);
    assert!(!s.relations(alice, &[bob]).await.must("relations")[0].blocked, "`blocked` is the viewer's own block");
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    refused(s.send(alice, chat, 2, draft(text("are you there?"), None)).await, Error::Blocked, "the blocked user sends");
    refused(s.send(bob, chat, 3, draft(text("go away"), None)).await, Error::Blocked, "the blocker sends");
    assert_eq!(view(s, alice, chat).await.chat.top_message, MessageId(1), "a refused send assigns no id");
    assert_eq!((state(s, alice).await, state(s, bob).await), (a0, b0), "a refused send logs nothing");
    // A block does not reach into groups.
    let group = s.create_chat(carol, ChatKind::Group, &title("Both"), None, &[alice, bob]).await.must("create_chat").id;
    send(s, alice, group, 4, "in a group").await;

    s.set_blocked(bob, alice, false).await.must("unblock");
    assert!(s.blocked(bob).await.must("blocked").is_empty());
    let sent = send(s, alice, chat, 2, "are you there?").await;
    assert_eq!(sent.message.id, MessageId(2), "after unblocking, sends work again and the sequence has no gap");
    send(s, bob, chat, 3, "yes").await;
    refused(s.set_blocked(alice, nobody, true).await, Error::UserNotFound, "block a nonexistent user");
}

// --- private chats and sequencing ----------------------------------------------------------

/// A private chat is one chat for both people, its ids run 1,2,3 with no gap, both logs get every message with rising pts, and history pages both ways oldest first.
pub async fn private_chat(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let chat = s.open_private(alice, bob).await.must("open_private");
    assert_eq!(chat.kind, ChatKind::Private);
    assert_eq!(chat.member_count, 2);
    assert_eq!(chat.top_message, MessageId(0));
    assert!(!chat.own_log, "a private chat never keeps its own log");
    assert_eq!(s.open_private(alice, bob).await.must("open_private again").id, chat.id, "open_private is idempotent");
    assert_eq!(s.open_private(bob, alice).await.must("open_private reversed").id, chat.id, "both people get the same chat");
    refused(s.open_private(alice, UserId(987_654_321)).await, Error::UserNotFound, "a private chat with nobody");
    let v = view(s, alice, chat.id).await;
    assert_eq!((v.peer, v.membership.user), (Some(bob), alice));
    assert_eq!(s.chat_info(chat.id).await.must("chat_info"), Some(v.chat.clone()), "chat_info is the chat without a viewer");
    assert_eq!(s.chat_info(ChatId(987_654_321)).await.must("chat_info"), None, "chat_info of a nonexistent chat");
    assert_eq!(view(s, bob, chat.id).await.peer, Some(alice));

    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    let mut sents = Vec::new();
    for i in 1..=10 {
        let who = if i % 3 == 0 { bob } else { alice };
        let sent = send(s, who, chat.id, i, &format!("message {i}")).await;
        assert_eq!(sent.message.id, MessageId(i), "message ids are the chat's gapless sequence from 1");
        assert_eq!((sent.message.chat, sent.message.from, body(&sent.message)), (chat.id, who, format!("message {i}").as_str()));
        sents.push(sent);
    }
    assert_eq!(view(s, bob, chat.id).await.chat.top_message, MessageId(10));
    for (who, from) in [(alice, a0), (bob, b0)] {
        let log = log_of(s, who, from).await;
        assert_eq!(new_ids(&log, chat.id), ids(1..=10), "each member's log has every message once, in order");
        for sent in sents.iter().filter(|x| x.message.from == who) {
            let at = log.iter().find(|l| matches!(&l.event, Event::NewMessage(m) if m.id == sent.message.id)).expect("logged");
            assert_eq!(at.pts, sent.pts, "Sent.pts is the sender's log position of the message");
            assert_eq!(at.log, Log::User(who));
            assert_eq!(at.event, Event::NewMessage(sent.message.clone()), "the logged message is the one sent");
        }
        assert_eq!(log.last().map(|l| l.pts), Some(state(s, who).await), "state() is the last pts");
    }

    // A reply must point at a message that exists.
    let reply = s.send(bob, chat.id, 11, draft(text("re"), Some(MessageId(2)))).await.must("reply");
    assert_eq!((reply.message.id, reply.message.reply_to), (MessageId(11), Some(MessageId(2))));
    refused(s.send(bob, chat.id, 12, draft(text("re"), Some(MessageId(99)))).await, Error::MessageNotFound, "reply to a missing message");

    // History, both directions, always oldest first.
    let older = |before: Option<i64>, limit| s.history(alice, chat.id, Page::Older { before: before.map(MessageId), limit });
    assert_eq!(msg_ids(&older(None, 3).await.must("history")), ids(9..=11));
    assert_eq!(msg_ids(&older(Some(9), 3).await.must("history")), ids(6..=8));
    assert_eq!(msg_ids(&older(Some(3), 3).await.must("history")), ids(1..=2));
    assert_eq!(msg_ids(&older(Some(1), 3).await.must("history")), vec![]);
    let newer = |after: Option<i64>, limit| s.history(bob, chat.id, Page::Newer { after: after.map(MessageId), limit });
    assert_eq!(msg_ids(&newer(None, 4).await.must("history")), ids(1..=4));
    assert_eq!(msg_ids(&newer(Some(4), 4).await.must("history")), ids(5..=8));
    assert_eq!(msg_ids(&newer(Some(8), 4).await.must("history")), ids(9..=11));
    assert_eq!(msg_ids(&newer(Some(11), 4).await.must("history")), vec![]);
    let all = history_all(s, alice, chat.id).await;
    assert_eq!(all[..10], sents.iter().map(|x| x.message.clone()).collect::<Vec<_>>()[..], "history returns the messages as sent");
}

/// A repeated (user, random_id) returns the original message and pts and changes nothing; the same random_id from another user is another message.
pub async fn idempotent_send(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    let first = send(s, alice, chat, 42, "once").await;
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    for i in 0..4 {
        let again = s.send(alice, chat, 42, draft(text(&format!("retry {i}")), None)).await.must("retry");
        assert_eq!(again, first, "retry {i} must return the original message and pts");
    }
    assert_eq!(view(s, alice, chat).await.chat.top_message, MessageId(1), "retries add no message");
    assert_eq!((state(s, alice).await, state(s, bob).await), (a0, b0), "retries log nothing");
    assert_eq!(history_all(s, bob, chat).await.len(), 1);
    let bobs = send(s, bob, chat, 42, "mine").await;
    assert_eq!(bobs.message.id, MessageId(2), "the same random_id from another user is a new message");
    assert_eq!(bobs.message.from, bob);
    assert_eq!(send(s, alice, chat, 43, "next").await.message.id, MessageId(3));
    assert_eq!(
        s.send(alice, chat, 42, draft(text("late retry"), None)).await.must("late retry"),
        first,
        "a late retry still answers the original"
    );
}

/// 8 tasks x 50 concurrent sends into one group get ids exactly 1..=400 and every member's log holds all 400 in order; concurrent retries of one random_id make one message.
pub async fn concurrent_sends(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let members = [alice, bob, carol];
    let chat = s.create_chat(alice, ChatKind::Group, &title("Busy"), None, &[bob, carol]).await.must("create_chat").id;
    let before: Vec<Pts> = [state(s, alice).await, state(s, bob).await, state(s, carol).await].to_vec();

    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let store = store.clone();
        let who = members[t as usize % 3];
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..50 {
                let random_id = t * 1_000 + i;
                sent.push(store.send(who, chat, random_id, draft(text(&format!("{t}/{i}")), None)).await.must("concurrent send"));
            }
            sent
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a sending task panicked"));
    }
    let mut got: Vec<i64> = all.iter().map(|x| x.message.id.0).collect();
    got.sort();
    assert_eq!(got, (1..=400).collect::<Vec<_>>(), "400 concurrent sends get ids 1..=400, no gap, no duplicate");
    assert_eq!(view(s, bob, chat).await.chat.top_message, MessageId(400));
    assert_eq!(msg_ids(&history_all(s, carol, chat).await), ids(1..=400));

    for (i, &m) in members.iter().enumerate() {
        let log = log_of(s, m, before[i]).await;
        assert_eq!(new_ids(&log, chat), ids(1..=400), "member {m}'s log has the 400 messages in id order (pts order is commit order)");
        let by_id: BTreeMap<MessageId, Pts> =
            log.iter().filter_map(|l| if let Event::NewMessage(x) = &l.event { Some((x.id, l.pts)) } else { None }).collect();
        for sent in all.iter().filter(|x| x.message.from == m) {
            assert_eq!(by_id.get(&sent.message.id), Some(&sent.pts), "Sent.pts matches the sender's log");
        }
    }

    // Concurrent retries of one random_id.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { store.send(bob, chat, 777_777, draft(text("only once"), None)).await.must("concurrent retry") },
        ));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("a retrying task panicked"));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "every concurrent retry answers the same message and pts: {answers:?}");
    assert_eq!(answers[0].message.id, MessageId(401));
    assert_eq!(view(s, alice, chat).await.chat.top_message, MessageId(401), "concurrent retries make exactly one message");
}

// --- authorization -------------------------------------------------------------------------

/// A non-member gets ChatNotFound from every chat-taking method, exactly as for a nonexistent chat, and nothing changes.
pub async fn non_member_sees_nothing(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let mallory = person(s, 3, "Mallory").await;
    let leaver = person(s, 4, "Leaver").await;
    let private = s.open_private(alice, bob).await.must("open_private").id;
    let group = s.create_chat(alice, ChatKind::Group, &title("Secret"), None, &[bob, leaver]).await.must("create group").id;
    let channel = s.create_chat(alice, ChatKind::Channel, &title("Closed"), None, &[bob, leaver]).await.must("create channel").id;
    for chat in [private, group, channel] {
        send(s, alice, chat, chat.0 * 100 + 1, "secret 1").await;
        send(s, alice, chat, chat.0 * 100 + 2, "secret 2").await;
        s.pin(alice, chat, Some(MessageId(1))).await.must("pin");
    }
    s.remove_member(leaver, group, leaver).await.must("leave group");
    s.remove_member(leaver, channel, leaver).await.must("leave channel");
    // Mallory's own chat, with a message she could forward.
    let own = s.create_chat(mallory, ChatKind::Group, &title("Mine"), None, &[]).await.must("create own").id;
    send(s, mallory, own, 1, "mine").await;

    let snapshot = move || async move {
        let mut out = Vec::new();
        for chat in [private, group, channel] {
            let v = view(s, alice, chat).await;
            out.push(format!("{:?} {:?}", v.chat, history_all(s, alice, chat).await));
            out.push(format!("{:?}", s.members(alice, chat, 0, 100).await.must("members")));
        }
        for u in [alice, bob, mallory, leaver] {
            out.push(format!("{u}: pts {}", state(s, u).await));
        }
        out.push(format!("{:?}", view(s, mallory, own).await.chat));
        out
    };
    let before = snapshot().await;

    let unknown = ChatId(987_654_321);
    let m1 = MessageId(1);
    let mut rid = 10_000;
    for (who, label) in [(mallory, "a stranger"), (leaver, "a former member")] {
        for (chat, what) in
            [(private, "private chat"), (group, "group"), (channel, "channel"), (unknown, "nonexistent chat"), (ChatId(0), "chat 0")]
        {
            if who == leaver && chat == private {
                continue;
            }
            let ctx = |method: &str| format!("{label} calls {method} on a {what}");
            let nf = || Error::ChatNotFound;
            rid += 10;
            refused(s.chat(who, chat).await, nf(), &ctx("chat"));
            refused(s.send(who, chat, rid, draft(text("hi"), None)).await, nf(), &ctx("send"));
            refused(s.send(who, chat, rid + 1, draft(text("hi"), Some(m1))).await, nf(), &ctx("send with reply"));
            refused(s.forward(who, chat, &[m1], own, &[rid + 2]).await, nf(), &ctx("forward from"));
            if who == mallory {
                refused(s.forward(who, own, &[m1], chat, &[rid + 3]).await, nf(), &ctx("forward to"));
            }
            refused(s.edit(who, chat, m1, edit_text(mtext("changed"))).await, nf(), &ctx("edit"));
            refused(s.delete(who, chat, &[m1], true).await, nf(), &ctx("delete for everyone"));
            refused(s.delete(who, chat, &[m1], false).await, nf(), &ctx("delete for me"));
            refused(s.pin(who, chat, Some(m1)).await, nf(), &ctx("pin"));
            refused(s.pin(who, chat, None).await, nf(), &ctx("unpin"));
            refused(s.read(who, chat, None).await, nf(), &ctx("read"));
            refused(s.read(who, chat, Some(m1)).await, nf(), &ctx("read up to"));
            refused(s.history(who, chat, Page::Older { before: None, limit: 10 }).await, nf(), &ctx("history older"));
            refused(s.history(who, chat, Page::Newer { after: None, limit: 10 }).await, nf(), &ctx("history newer"));
            refused(s.members(who, chat, 0, 10).await, nf(), &ctx("members"));
            refused(s.add_members(who, chat, &[who]).await, nf(), &ctx("add_members (self)"));
            refused(s.add_members(who, chat, &[bob]).await, nf(), &ctx("add_members (other)"));
            refused(s.remove_member(who, chat, alice).await, nf(), &ctx("remove_member"));
            refused(s.remove_member(who, chat, who).await, nf(), &ctx("remove_member (leave)"));
            refused(s.set_title(who, chat, &title("Owned")).await, nf(), &ctx("set_title"));
            refused(s.set_admin(who, chat, who, true).await, nf(), &ctx("set_admin"));
            refused(s.set_admin(who, chat, bob, false).await, nf(), &ctx("set_admin (other)"));
            refused(s.export_invite(who, chat).await, nf(), &ctx("export_invite"));
            refused(s.typing_audience(who, chat).await, nf(), &ctx("typing_audience"));
            refused(s.chat_difference(who, chat, 0, 10).await, nf(), &ctx("chat_difference"));
        }
    }
    // The forward origin must be readable too: a member cannot forward out of a chat they are not in.
    refused(
        s.forward(mallory, group, &[m1], own, &[99_999]).await,
        Error::ChatNotFound,
        "forward out of a foreign group into one's own chat",
    );

    let after = snapshot().await;
    assert_eq!(before, after, "refused calls must change nothing (chats, histories, members, logs)");
    for u in [mallory, leaver] {
        let seen: Vec<ChatId> = s.dialogs(u, None, 100).await.must("dialogs").iter().map(|d| d.view.chat.id).collect();
        assert!(
            !seen.contains(&private) && !seen.contains(&group) && !seen.contains(&channel),
            "dialogs of {u} must not list chats they are not in: {seen:?}"
        );
        assert!(
            !s.own_log_chats(u).await.must("own_log_chats").iter().any(|(c, _)| *c == channel),
            "own_log_chats lists only the user's chats"
        );
    }
}

/// Roles decide: subscribers cannot post, only admins manage, only authors edit, only admins delete others' messages, nobody removes the creator.
pub async fn roles(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let dave = person(s, 4, "Dave").await;

    // Channel: admins post, subscribers read.
    let channel = s.create_chat(alice, ChatKind::Channel, &title("Announcements"), None, &[bob]).await.must("create channel").id;
    let top = view(s, alice, channel).await.chat.top_message;
    refused(s.send(bob, channel, 1, draft(text("me too"), None)).await, Error::WriteForbidden, "a subscriber posts");
    assert_eq!(view(s, alice, channel).await.chat.top_message, top);
    refused(s.members(bob, channel, 0, 10).await, Error::AdminRequired, "a subscriber lists subscribers");
    send(s, alice, channel, 2, "news").await;
    s.set_admin(alice, channel, bob, true).await.must("promote in channel");
    assert_eq!(send(s, bob, channel, 3, "admin news").await.message.id, MessageId(2), "a channel admin may post");
    refused(s.set_admin(bob, channel, carol, true).await, Error::AdminRequired, "only the creator appoints admins");

    // Group.
    let group = s.create_chat(alice, ChatKind::Group, &title("Team"), None, &[bob, carol]).await.must("create group").id;
    let roles_of = move |chat| async move {
        let mut r: Vec<(UserId, Role)> = s.members(alice, chat, 0, 100).await.must("members").iter().map(|m| (m.user, m.role)).collect();
        r.sort();
        r
    };
    assert_eq!(roles_of(group).await, vec![(alice, Role::Creator), (bob, Role::Member), (carol, Role::Member)]);
    let before = format!("{:?}", view(s, alice, group).await.chat);
    refused(s.add_members(bob, group, &[dave]).await, Error::AdminRequired, "a member adds someone");
    refused(s.set_title(bob, group, &title("Mine now")).await, Error::AdminRequired, "a member renames");
    refused(s.export_invite(bob, group).await, Error::AdminRequired, "a member exports the invite");
    refused(s.remove_member(bob, group, carol).await, Error::AdminRequired, "a member removes another member");
    refused(s.set_admin(bob, group, bob, true).await, Error::AdminRequired, "a member promotes themself");
    refused(s.pin(bob, group, None).await, Error::AdminRequired, "a member pins in a group");
    assert_eq!(format!("{:?}", view(s, alice, group).await.chat), before, "refused management changes nothing");

    let m_alice = send(s, alice, group, 10, "by alice").await.message.id;
    let m_bob = send(s, bob, group, 11, "by bob").await.message.id;
    refused(s.edit(bob, group, m_alice, edit_text(mtext("by bob now"))).await, Error::AuthorRequired, "edit someone else's message");
    refused(
        s.edit(alice, group, m_bob, edit_text(mtext("by alice now"))).await,
        Error::AuthorRequired,
        "even the creator cannot edit others' messages",
    );
    refused(s.delete(bob, group, &[m_alice], true).await, Error::AdminRequired, "a member deletes another's message for everyone");
    assert_eq!(history_all(s, carol, group).await.len(), 2, "a refused delete hides nothing");
    s.delete(bob, group, &[m_bob], true).await.must("a member deletes their own message for everyone");

    s.set_admin(alice, group, carol, true).await.must("promote carol");
    assert_eq!(roles_of(group).await, vec![(alice, Role::Creator), (bob, Role::Member), (carol, Role::Admin)]);
    s.delete(carol, group, &[m_alice], true).await.must("an admin deletes another's message for everyone");
    assert!(history_all(s, bob, group).await.is_empty());
    s.set_title(carol, group, &title("Team 2")).await.must("an admin renames");
    s.add_members(carol, group, &[dave]).await.must("an admin adds");
    s.set_admin(alice, group, dave, true).await.must("promote dave");
    refused(s.remove_member(carol, group, dave).await, Error::AdminRequired, "an admin removes another admin");
    refused(s.remove_member(carol, group, alice).await, Error::AdminRequired, "an admin removes the creator");
    refused(s.set_admin(carol, group, alice, false).await, Error::AdminRequired, "an admin demotes the creator");
    assert!(s.set_admin(alice, group, alice, false).await.is_err(), "the creator's role cannot change");
    s.remove_member(carol, group, bob).await.must("an admin removes a member");
    s.remove_member(alice, group, dave).await.must("the creator removes an admin");
    assert_eq!(roles_of(group).await, vec![(alice, Role::Creator), (carol, Role::Admin)], "the creator is still there");
    s.set_admin(alice, group, carol, false).await.must("demote carol");
    refused(s.set_title(carol, group, &title("Team 3")).await, Error::AdminRequired, "a demoted admin is a member again");
    // A creator who leaves hands the chat on, so it is never left without one.
    s.set_admin(alice, group, carol, true).await.must("promote carol again");
    s.remove_member(alice, group, alice).await.must("the creator leaves");
    let left: Vec<(UserId, Role)> = s.members(carol, group, 0, 100).await.must("members").iter().map(|m| (m.user, m.role)).collect();
    assert_eq!(left, vec![(carol, Role::Creator)], "the admin became the creator");
    s.set_title(carol, group, &title("Carol's")).await.must("the new creator manages the chat");

    // Private chats have no admins: each may delete only their own messages for everyone.
    let private = s.open_private(alice, bob).await.must("open_private").id;
    let m = send(s, alice, private, 20, "mine").await.message.id;
    assert!(s.delete(bob, private, &[m], true).await.is_err(), "in a private chat nobody deletes the other's message for everyone");
    assert!(s.add_members(alice, private, &[carol]).await.is_err(), "a private chat takes no members");
    assert_eq!(view(s, bob, private).await.chat.member_count, 2);
}

/// Edit sets edit_date and logs EditMessage; delete for everyone hides from all and logs DeleteMessages; delete for me hides and logs for the actor only; pin logs Pinned; forward keeps the origin.
pub async fn edit_delete_pin_forward(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    for i in 1..=4 {
        send(s, alice, chat, i, &format!("text {i}")).await;
    }
    let sent_date = history_all(s, bob, chat).await[0].date;

    // Edit.
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    let edited = s.edit(alice, chat, MessageId(1), edit_text(mtext("text 1, fixed"))).await.must("edit");
    assert_eq!(
        (edited.id, body(&edited), edited.from, edited.date),
        (MessageId(1), "text 1, fixed", alice, sent_date),
        "edit keeps id, author and date"
    );
    let edit_date = edited.edit_date.expect("edit sets edit_date");
    assert!(edit_date >= sent_date);
    assert_eq!(history_all(s, bob, chat).await[0], edited, "history shows the edit");
    for (who, from) in [(alice, a0), (bob, b0)] {
        assert_eq!(
            events(&log_of(s, who, from).await),
            vec![Event::EditMessage(edited.clone())],
            "an edit is logged once for every member"
        );
    }
    refused(s.edit(alice, chat, MessageId(99), edit_text(mtext("nope"))).await, Error::MessageNotFound, "edit a missing message");

    // Delete for everyone.
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    s.delete(alice, chat, &[MessageId(2)], true).await.must("delete for everyone");
    for (who, from) in [(alice, a0), (bob, b0)] {
        assert_eq!(msg_ids(&history_all(s, who, chat).await), vec![MessageId(1), MessageId(3), MessageId(4)]);
        assert_eq!(
            events(&log_of(s, who, from).await),
            vec![Event::DeleteMessages { chat, ids: vec![MessageId(2)] }],
            "a delete for everyone is logged for every member"
        );
    }
    refused(s.edit(alice, chat, MessageId(2), edit_text(mtext("back"))).await, Error::MessageNotFound, "edit a deleted message");
    refused(s.delete(alice, chat, &[MessageId(2)], true).await, Error::MessageNotFound, "delete a deleted message");
    refused(s.send(bob, chat, 50, draft(text("re"), Some(MessageId(2)))).await, Error::MessageNotFound, "reply to a deleted message");

    // Delete for me.
    let unread = move |who| async move {
        s.dialogs(who, None, 10).await.must("dialogs").iter().find(|d| d.view.chat.id == chat).expect("the chat is listed").unread
    };
    assert_eq!(unread(bob).await, 3, "a message deleted for everyone is not unread");
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    s.delete(bob, chat, &[MessageId(3)], false).await.must("delete for me");
    assert_eq!(unread(bob).await, 2, "a message deleted for me is not unread");
    assert_eq!(msg_ids(&history_all(s, bob, chat).await), vec![MessageId(1), MessageId(4)], "hidden for the actor");
    assert_eq!(msg_ids(&history_all(s, alice, chat).await), vec![MessageId(1), MessageId(3), MessageId(4)], "still there for the other");
    assert_eq!(events(&log_of(s, bob, b0).await), vec![Event::DeleteMessages { chat, ids: vec![MessageId(3)] }]);
    assert_eq!(state(s, alice).await, a0, "a delete for me is logged only for the actor");
    refused(
        s.edit(bob, chat, MessageId(3), edit_text(mtext("x"))).await,
        Error::MessageNotFound,
        "a message deleted for me is gone for me",
    );

    // Pin and unpin (both may pin in a private chat).
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    s.pin(bob, chat, Some(MessageId(4))).await.must("pin");
    assert_eq!(view(s, alice, chat).await.chat.pinned, Some(MessageId(4)));
    s.pin(alice, chat, None).await.must("unpin");
    assert_eq!(view(s, bob, chat).await.chat.pinned, None);
    for (who, from) in [(alice, a0), (bob, b0)] {
        assert_eq!(
            events(&log_of(s, who, from).await),
            vec![Event::Pinned { chat, id: Some(MessageId(4)) }, Event::Pinned { chat, id: None }],
            "pin and unpin are logged for every member"
        );
    }
    refused(s.pin(alice, chat, Some(MessageId(2))).await, Error::MessageNotFound, "pin a deleted message");

    // Forward keeps the origin, and forwarding a forward keeps the first origin.
    let group = s.create_chat(bob, ChatKind::Group, &title("Fwd"), None, &[alice]).await.must("create_chat").id;
    let fwd = s.forward(alice, chat, &[MessageId(1), MessageId(4)], group, &[70, 71]).await.must("forward");
    assert_eq!(fwd.iter().map(|f| f.message.id).collect::<Vec<_>>(), ids(1..=2), "forwards take the next ids of the target");
    let origin = fwd[0].message.forward.expect("a forward records its origin");
    assert_eq!((origin.from_user, origin.from_chat, origin.message, origin.date), (alice, chat, MessageId(1), sent_date));
    assert_eq!((fwd[0].message.from, body(&fwd[0].message)), (alice, "text 1, fixed"));
    let again = s.forward(bob, group, &[MessageId(1)], chat, &[72]).await.must("forward a forward");
    assert_eq!(again[0].message.forward, Some(origin), "forwarding a forward keeps the original origin");
    assert_eq!(
        s.forward(alice, chat, &[MessageId(1), MessageId(4)], group, &[70, 71]).await.must("forward retry"),
        fwd,
        "forwards are idempotent"
    );
    refused(s.forward(bob, chat, &[MessageId(3)], group, &[73]).await, Error::MessageNotFound, "forward a message deleted for me");
    assert!(s.forward(alice, chat, &[MessageId(1)], group, &[]).await.is_err(), "forward needs one random_id per message");
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    refused(
        s.forward(alice, chat, &[MessageId(4), MessageId(2)], group, &[74, 75]).await,
        Error::MessageNotFound,
        "a forward with a deleted message",
    );
    assert_eq!(view(s, bob, group).await.chat.top_message, MessageId(2), "a failed forward is all or nothing");
    assert_eq!((state(s, alice).await, state(s, bob).await), (a0, b0), "a failed forward logs nothing");
}

/// read() moves read_inbox forward only, unread counts follow, and authors get ReadOutbox.
pub async fn read_receipts(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    for i in 1..=5 {
        send(s, alice, chat, i, &format!("m{i}")).await;
    }
    let unread = move |who| async move {
        let ds = s.dialogs(who, None, 100).await.must("dialogs");
        ds.iter().find(|d| d.view.chat.id == chat).expect("the chat is in the dialogs").unread
    };
    assert_eq!(unread(bob).await, 5);
    assert_eq!(unread(alice).await, 0, "one's own messages are never unread");

    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    s.read(bob, chat, Some(MessageId(3))).await.must("read");
    assert_eq!(view(s, bob, chat).await.membership.read_inbox, MessageId(3));
    assert_eq!(unread(bob).await, 2);
    assert_eq!(
        events(&log_of(s, alice, a0).await),
        vec![Event::ReadOutbox { chat, max_id: MessageId(3) }],
        "the author learns their messages were read"
    );
    assert_eq!(view(s, alice, chat).await.membership.read_outbox, MessageId(3));
    assert_eq!(
        events(&log_of(s, bob, b0).await),
        vec![Event::ReadInbox { chat, max_id: MessageId(3) }],
        "the reader's other devices learn it too"
    );

    let (a1, b1) = (state(s, alice).await, state(s, bob).await);
    s.read(bob, chat, Some(MessageId(2))).await.must("read backwards");
    assert_eq!(view(s, bob, chat).await.membership.read_inbox, MessageId(3), "read_inbox never moves backwards");
    assert_eq!((state(s, alice).await, state(s, bob).await), (a1, b1), "a read that moves nothing logs nothing");

    s.read(bob, chat, None).await.must("read all");
    assert_eq!(view(s, bob, chat).await.membership.read_inbox, MessageId(5));
    assert_eq!(unread(bob).await, 0);
    assert_eq!(events(&log_of(s, alice, a1).await), vec![Event::ReadOutbox { chat, max_id: MessageId(5) }]);

    send(s, bob, chat, 6, "reply").await;
    assert_eq!(unread(bob).await, 0);
    assert_eq!(unread(alice).await, 1);
    s.read(alice, chat, None).await.must("alice reads");
    assert_eq!(unread(alice).await, 0);
    assert!(view(s, alice, chat).await.membership.read_inbox >= MessageId(6));
    assert_eq!(view(s, bob, chat).await.membership.read_outbox, MessageId(6));

    // Groups: every author whose messages were read is told.
    let carol = person(s, 3, "Carol").await;
    let group = s.create_chat(alice, ChatKind::Group, &title("G"), None, &[bob, carol]).await.must("create_chat").id;
    send(s, alice, group, 10, "a").await;
    send(s, bob, group, 11, "b").await;
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);
    s.read(carol, group, None).await.must("carol reads");
    assert!(events(&log_of(s, alice, a0).await).contains(&Event::ReadOutbox { chat: group, max_id: MessageId(2) }), "alice is told");
    assert!(events(&log_of(s, bob, b0).await).contains(&Event::ReadOutbox { chat: group, max_id: MessageId(2) }), "bob is told");
}

/// dialogs() orders chats by last activity, pages with the (activity, chat id) cursor, and shows the right last message and unread count.
pub async fn dialogs(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let dave = person(s, 4, "Dave").await;
    let tick = || tokio::time::sleep(Duration::from_millis(5));
    let quiet = s.create_chat(alice, ChatKind::Group, &title("Quiet"), None, &[bob]).await.must("create_chat").id;
    tick().await;
    let with_bob = s.open_private(alice, bob).await.must("open_private").id;
    send(s, alice, with_bob, 1, "to bob").await;
    tick().await;
    let with_carol = s.open_private(carol, alice).await.must("open_private").id;
    send(s, alice, with_carol, 2, "to carol").await;
    tick().await;
    let team = s.create_chat(alice, ChatKind::Group, &title("Team"), None, &[bob, carol]).await.must("create_chat").id;
    send(s, bob, team, 3, "team news").await;
    tick().await;
    let with_dave = s.open_private(dave, alice).await.must("open_private").id;
    send(s, dave, with_dave, 4, "from dave").await;

    let all = s.dialogs(alice, None, 100).await.must("dialogs");
    let order: Vec<ChatId> = all.iter().map(|d| d.view.chat.id).collect();
    assert_eq!(order, vec![with_dave, team, with_carol, with_bob, quiet], "dialogs run from the most recent activity");
    let lasts: Vec<Option<&str>> = all.iter().map(|d| d.last_message.as_ref().map(body)).collect();
    assert_eq!(lasts, vec![Some("from dave"), Some("team news"), Some("to carol"), Some("to bob"), None], "last_message");
    assert_eq!(all.iter().map(|d| d.unread).collect::<Vec<_>>(), vec![1, 1, 0, 0, 0], "unread counts");
    assert_eq!(all[0].view.peer, Some(dave));
    assert_eq!(all[1].view.peer, None);
    assert!(all.iter().all(|d| d.view.membership.user == alice && d.view.membership.chat == d.view.chat.id));
    assert_eq!(all[0].last_message.as_ref().map(|m| (m.id, m.from)), Some((MessageId(1), dave)));

    // Paging with the cursor.
    let mut paged = Vec::new();
    let mut cursor = None;
    for round in 0..10 {
        let page = s.dialogs(alice, cursor, 2).await.must("dialogs page");
        assert!(page.len() <= 2, "a page holds at most `limit` dialogs");
        let Some(last) = page.last() else { break };
        cursor = Some((last.view.chat.activity, last.view.chat.id));
        paged.extend(page.iter().map(|d| d.view.chat.id));
        assert!(round < 5, "paging never ends");
    }
    assert_eq!(paged, order, "pages chain without gap or duplicate");

    tick().await;
    send(s, alice, with_bob, 5, "again").await;
    let order: Vec<ChatId> = s.dialogs(alice, None, 100).await.must("dialogs").iter().map(|d| d.view.chat.id).collect();
    assert_eq!(order, vec![with_bob, with_dave, team, with_carol, quiet], "a new message moves its chat to the top");
    let bobs: Vec<ChatId> = s.dialogs(bob, None, 100).await.must("dialogs").iter().map(|d| d.view.chat.id).collect();
    assert_eq!(bobs, vec![with_bob, team, quiet], "each user sees only their own chats");
}

// --- groups and channels -------------------------------------------------------------------

/// Groups are created with members; add, remove and leave log Participant events; invites and public usernames let people join.
pub async fn groups(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let dave = person(s, 4, "Dave").await;
    let erin = person(s, 5, "Erin").await;
    let frank = person(s, 6, "Frank").await;

    refused(
        s.create_chat(alice, ChatKind::Group, &title("X"), None, &[bob, UserId(987_654_321)]).await,
        Error::UserNotFound,
        "create with a nonexistent member",
    );
    let marks = [state(s, alice).await, state(s, bob).await, state(s, carol).await];
    let g = s.create_chat(alice, ChatKind::Group, &title("Friends"), None, &[bob, carol, bob, alice]).await.must("create_chat");
    assert_eq!((g.kind, g.title.as_str(), g.creator, g.member_count, g.own_log), (ChatKind::Group, "Friends", alice, 3, false));
    let chat = g.id;
    for (i, who) in [alice, bob, carol].into_iter().enumerate() {
        assert_eq!(
            events(&log_of(s, who, marks[i]).await),
            vec![Event::ChatChanged { chat }],
            "every first member is told of the new chat"
        );
        assert_eq!(view(s, who, chat).await.chat, g);
    }
    assert_eq!(s.members(bob, chat, 0, 10).await.must("members").len(), 3);
    let page: Vec<UserId> = s.members(bob, chat, 1, 1).await.must("members").iter().map(|m| m.user).collect();
    assert_eq!(page.len(), 1, "members() pages");
    send(s, bob, chat, 1, "before dave").await;

    // Add.
    let marks = [state(s, alice).await, state(s, bob).await, state(s, carol).await, state(s, dave).await];
    let grown = s.add_members(alice, chat, &[dave]).await.must("add_members");
    assert_eq!(grown.member_count, 4);
    let joined = Event::Participant { chat, user: dave, role: Some(Role::Member), by: alice };
    for (i, who) in [alice, bob, carol].into_iter().enumerate() {
        assert_eq!(events(&log_of(s, who, marks[i]).await), vec![joined.clone()], "members are told who joined");
    }
    let dave_log = events(&log_of(s, dave, marks[3]).await);
    assert!(
        !dave_log.is_empty()
            && dave_log.iter().all(|e| matches!(e, Event::ChatChanged { chat: c } | Event::Participant { chat: c, .. } if *c == chat)),
        "the new member is told: {dave_log:?}"
    );
    assert_eq!(view(s, dave, chat).await.membership.role, Role::Member);
    let d = s.dialogs(dave, None, 10).await.must("dialogs");
    assert_eq!(d.iter().map(|d| (d.view.chat.id, d.unread)).collect::<Vec<_>>(), vec![(chat, 0)], "nothing from before joining is unread");
    s.add_members(alice, chat, &[dave]).await.must("adding a member again is harmless");
    assert_eq!(view(s, alice, chat).await.chat.member_count, 4);

    // Remove and leave.
    let marks = [state(s, alice).await, state(s, bob).await, state(s, carol).await, state(s, dave).await];
    s.remove_member(alice, chat, carol).await.must("remove_member");
    let removed = Event::Participant { chat, user: carol, role: None, by: alice };
    for (i, who) in [alice, bob, carol, dave].into_iter().enumerate() {
        assert_eq!(events(&log_of(s, who, marks[i]).await), vec![removed.clone()], "everyone, the removed one included, is told");
    }
    refused(s.chat(carol, chat).await, Error::ChatNotFound, "a removed member no longer sees the chat");
    let marks = [state(s, alice).await, state(s, bob).await, state(s, dave).await];
    s.remove_member(bob, chat, bob).await.must("leave");
    let left = Event::Participant { chat, user: bob, role: None, by: bob };
    for (i, who) in [alice, bob, dave].into_iter().enumerate() {
        assert_eq!(events(&log_of(s, who, marks[i]).await), vec![left.clone()], "everyone, the leaver included, is told");
    }
    assert_eq!(view(s, alice, chat).await.chat.member_count, 2);
    let c0 = state(s, carol).await;
    send(s, alice, chat, 2, "after they left").await;
    assert_eq!(state(s, carol).await, c0, "a former member's log gets nothing more");

    // Invites.
    let invite = s.export_invite(alice, chat).await.must("export_invite");
    assert!(!invite.is_empty());
    assert_eq!(s.export_invite(alice, chat).await.must("export_invite again"), invite, "the invite is stable");
    refused(s.join(erin, JoinBy::Invite(format!("{invite}x"))).await, Error::InviteInvalid, "a wrong invite");
    let a0 = state(s, alice).await;
    let joined = s.join(erin, JoinBy::Invite(invite.clone())).await.must("join by invite");
    assert_eq!((joined.id, joined.member_count), (chat, 3));
    assert_eq!(events(&log_of(s, alice, a0).await), vec![Event::Participant { chat, user: erin, role: Some(Role::Member), by: erin }]);
    assert_eq!(s.join(erin, JoinBy::Invite(invite)).await.must("join twice").member_count, 3, "joining twice is harmless");
    assert_eq!(msg_ids(&history_all(s, erin, chat).await).last(), Some(&MessageId(2)));

    // Public channel by username.
    let channel =
        s.create_chat(alice, ChatKind::Channel, &title("Helio News"), Some(&uname("HelioNews")), &[]).await.must("create channel");
    assert!(channel.own_log, "a channel always keeps its own log");
    send(s, alice, channel.id, 3, "first post").await;
    let joined = s.join(frank, JoinBy::Username(uname("helionews"))).await.must("join by username");
    assert_eq!((joined.id, joined.member_count), (channel.id, 2));
    assert_eq!(view(s, frank, channel.id).await.membership.role, Role::Member);
    assert_eq!(msg_ids(&history_all(s, frank, channel.id).await), vec![MessageId(1)], "a subscriber reads the channel's history");
    refused(s.send(frank, channel.id, 4, draft(text("hi"), None)).await, Error::WriteForbidden, "a subscriber posts");
    refused(s.join(frank, JoinBy::Username(uname("nobody_here"))).await, Error::ChatNotFound, "join an unknown username");
    s.set_username(bob, Some(uname("bob_the_user"))).await.must("set_username");
    refused(s.join(frank, JoinBy::Username(uname("bob_the_user"))).await, Error::ChatNotFound, "join a user's username");
    s.remove_member(frank, channel.id, frank).await.must("unsubscribe");
    refused(s.chat(frank, channel.id).await, Error::ChatNotFound, "after leaving a channel");
}

/// A group that grows past large_group_threshold switches to its own log (members told via ChatChanged) and later messages go to chat_difference, not member logs.
pub async fn large_group_own_log(h: &mut dyn Harness) {
    let store = h.open(Limits { large_group_threshold: 3, ..Limits::default() }).await;
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let dave = person(s, 4, "Dave").await;
    let erin = person(s, 5, "Erin").await;

    let g = s.create_chat(alice, ChatKind::Group, &title("Growing"), None, &[bob]).await.must("create_chat");
    assert!(!g.own_log, "2 members <= threshold 3");
    let chat = g.id;
    send(s, alice, chat, 1, "small").await;
    assert_eq!(s.typing_audience(alice, chat).await.must("typing_audience"), Some(vec![bob]), "a small group's typing goes to its members");
    let small = s.chat_difference(alice, chat, 0, 10).await;
    assert!(matches!(small, Err(Error::Invalid(_))), "a small group has no log of its own to ask for: {small:?}");
    let with_carol = s.add_members(alice, chat, &[carol]).await.must("add to 3");
    assert!(!with_carol.own_log, "3 members is not past threshold 3");

    let marks = [state(s, alice).await, state(s, bob).await, state(s, carol).await, state(s, dave).await];
    let big = s.add_members(alice, chat, &[dave]).await.must("add the 4th");
    assert!(big.own_log, "4 members is past threshold 3: the group keeps its own log");
    assert!(view(s, bob, chat).await.chat.own_log, "every member sees the switch");
    for (i, who) in [alice, bob, carol, dave].into_iter().enumerate() {
        let log = events(&log_of(s, who, marks[i]).await);
        assert!(log.contains(&Event::ChatChanged { chat }), "member {i} is told the chat changed: {log:?}");
    }
    assert_eq!(s.typing_audience(bob, chat).await.must("typing_audience"), None, "a large group's typing goes to its topic");
    for who in [alice, bob, carol, dave] {
        let listed = s.own_log_chats(who).await.must("own_log_chats");
        assert_eq!(listed.iter().map(|(c, _)| *c).collect::<Vec<_>>(), vec![chat], "own_log_chats lists the grown group");
    }

    let marks = [state(s, alice).await, state(s, bob).await, state(s, carol).await, state(s, dave).await];
    let cpts = view(s, alice, chat).await.chat.pts;
    let sent = send(s, bob, chat, 2, "large now").await;
    assert_eq!(sent.message.id, MessageId(2), "the sequence continues across the switch");
    for (i, who) in [alice, bob, carol, dave].into_iter().enumerate() {
        assert_eq!(state(s, who).await, marks[i], "after the switch a message adds nothing to member logs");
        let log = chat_log_of(s, who, chat, cpts).await;
        assert_eq!(events(&log), vec![Event::NewMessage(sent.message.clone())], "the message is in the chat's own log");
        assert_eq!(log[0].log, Log::Chat(chat));
        assert_eq!(log[0].pts, sent.pts, "Sent.pts is the position in the log the message went to");
    }
    assert_eq!(view(s, carol, chat).await.chat.pts, sent.pts);
    assert_eq!(s.own_log_chats(dave).await.must("own_log_chats"), vec![(chat, sent.pts)], "own_log_chats reports the chat's pts");

    // Joining and leaving a large group is logged in the chat's log.
    let cpts = sent.pts;
    let e0 = state(s, erin).await;
    s.add_members(alice, chat, &[erin]).await.must("add erin");
    let log = events(&chat_log_of(s, alice, chat, cpts).await);
    assert!(
        log.contains(&Event::Participant { chat, user: erin, role: Some(Role::Member), by: alice }),
        "a join is in the chat's log: {log:?}"
    );
    assert!(state(s, erin).await > e0, "the new member is told in their own log");
    assert_eq!(marks[0], state(s, alice).await, "existing members' logs get nothing");
    let m = send(s, erin, chat, 3, "hello all").await;
    assert!(chat_log_of(s, erin, chat, 0).await.iter().any(|l| l.event == Event::NewMessage(m.message.clone())));

    // Created large: own log from the start.
    let big2 = s.create_chat(alice, ChatKind::Group, &title("Big from the start"), None, &[bob, carol, dave]).await.must("create large");
    assert!(big2.own_log, "a group created with more than the threshold keeps its own log");
}

/// A channel post costs one row in the channel's log and none in any subscriber's log.
pub async fn channel_fan_out(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let subscribers = crowd(&store, 100, 50).await;
    let channel = s.create_chat(alice, ChatKind::Channel, &title("Broadcast"), None, &subscribers).await.must("create channel");
    assert_eq!((channel.member_count, channel.own_log), (51, true));
    let before: Vec<Pts> = {
        let mut v = Vec::new();
        for &u in subscribers.iter().chain([alice].iter()) {
            v.push(state(s, u).await);
        }
        v
    };
    let cpts = view(s, alice, channel.id).await.chat.pts;
    let post = send(s, alice, channel.id, 1, "to everyone").await;
    for (i, &u) in subscribers.iter().chain([alice].iter()).enumerate() {
        assert_eq!(state(s, u).await, before[i], "a channel post adds no row to user {u}'s log");
    }
    for &u in [subscribers[0], subscribers[49], alice].iter() {
        let log = chat_log_of(s, u, channel.id, cpts).await;
        assert_eq!(events(&log), vec![Event::NewMessage(post.message.clone())], "exactly one new event in the channel's log");
        assert_eq!(log[0].pts, cpts + 1);
    }
    assert_eq!(view(s, subscribers[7], channel.id).await.chat.pts, cpts + 1);
    assert!(s.own_log_chats(subscribers[3]).await.must("own_log_chats").contains(&(channel.id, cpts + 1)));
    // Edits, pins and deletes are one row each too.
    s.edit(alice, channel.id, post.message.id, edit_text(mtext("to everyone!"))).await.must("edit post");
    s.pin(alice, channel.id, Some(post.message.id)).await.must("pin post");
    s.delete(alice, channel.id, &[post.message.id], true).await.must("delete post");
    for (i, &u) in subscribers.iter().enumerate() {
        assert_eq!(state(s, u).await, before[i], "edit/pin/delete add no rows to subscriber logs");
    }
    let log = chat_log_of(s, subscribers[1], channel.id, cpts + 1).await;
    let kinds: Vec<bool> =
        log.iter().map(|l| matches!(l.event, Event::EditMessage(_) | Event::Pinned { .. } | Event::DeleteMessages { .. })).collect();
    assert!(kinds.iter().all(|k| *k) && log.len() >= 3, "the channel log has the edit, pin and delete: {log:?}");
    assert!(history_all(s, subscribers[2], channel.id).await.is_empty(), "a deleted post is gone for every subscriber");
}

// --- sync ----------------------------------------------------------------------------------

/// difference() from 0 returns everything, small limits give Slice pages then Complete that chain with no gap or duplicate, and the current pts answers Empty.
pub async fn sync_pages(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    assert_eq!(state(s, alice).await, 0, "a new user's log is empty");
    assert_eq!(s.difference(alice, 0, 10).await.must("difference"), Difference::Empty { pts: 0 });
    refused(s.state(UserId(987_654_321)).await, Error::UserNotFound, "state of nobody");
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    for i in 1..=23 {
        send(s, if i % 2 == 0 { alice } else { bob }, chat, i, &format!("n{i}")).await;
    }
    s.read(alice, chat, None).await.must("read");
    let top = state(s, alice).await;
    assert!(top >= 24, "23 messages and a read mark are at least 24 events");

    let whole = match s.difference(alice, 0, 1_000).await.must("difference") {
        Difference::Complete { events, pts } => {
            assert_eq!(pts, top, "a Complete difference ends at the current pts");
            events
        }
        other => panic!("a difference that fits answers Complete, got {other:?}"),
    };
    assert_eq!(whole.iter().map(|l| l.pts).collect::<Vec<_>>(), (1..=top).collect::<Vec<_>>(), "the log is gapless from 1");
    assert!(whole.iter().all(|l| l.log == Log::User(alice)));
    assert_eq!(new_ids(&whole, chat), ids(1..=23));
    assert_eq!(whole.last().map(|l| &l.event), Some(&Event::ReadInbox { chat, max_id: MessageId(23) }));

    let mut pages = Vec::new();
    let mut pts = 0;
    loop {
        match s.difference(alice, pts, 7).await.must("difference page") {
            Difference::Slice { events, pts: next } => {
                assert_eq!(events.len(), 7, "a Slice is a full page");
                assert_eq!(events.last().map(|l| l.pts), Some(next), "a Slice ends at its last event");
                pages.extend(events);
                pts = next;
            }
            Difference::Complete { events, pts: next } => {
                assert!(events.len() <= 7);
                assert_eq!(next, top);
                pages.extend(events);
                break;
            }
            other => panic!("paging: unexpected {other:?}"),
        }
    }
    assert_eq!(pages, whole, "pages chain into the whole log without gap or duplicate");
    assert_eq!(s.difference(alice, top, 7).await.must("difference"), Difference::Empty { pts: top }, "nothing new answers Empty");
    match s.difference(alice, 0, 0).await {
        Ok(Difference::Slice { pts, .. }) => {
            assert!(pts > 0, "a limit of 0 must not answer a Slice that stands still (clients would loop)")
        }
        Ok(Difference::Complete { .. }) | Err(Error::Invalid(_)) => {}
        other => panic!("difference with limit 0: {other:?}"),
    }
    match s.difference(alice, top - 1, 7).await.must("difference") {
        Difference::Complete { events, pts } => {
            assert_eq!((events.len(), pts), (1, top));
            assert_eq!(events[0], whole[whole.len() - 1]);
        }
        other => panic!("one behind: {other:?}"),
    }
    // Bob's log is his own.
    let bobs = log_of(s, bob, 0).await;
    assert_eq!(new_ids(&bobs, chat), ids(1..=23));
    assert!(bobs.iter().all(|l| l.log == Log::User(bob)));
    assert_eq!(bobs.last().map(|l| l.pts), Some(state(s, bob).await));
}

/// A pts further behind than difference_horizon answers TooLong, for user logs and chat logs.
pub async fn sync_too_long(h: &mut dyn Harness) {
    let store = h.open(Limits { difference_horizon: 10, ..Limits::default() }).await;
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    let channel = s.create_chat(alice, ChatKind::Channel, &title("C"), None, &[bob]).await.must("create channel").id;
    let c0 = view(s, bob, channel).await.chat.pts;
    for i in 1..=20 {
        send(s, alice, chat, i, "x").await;
        send(s, alice, channel, 100 + i, "y").await;
    }
    let top = state(s, bob).await;
    assert_eq!(
        s.difference(bob, 0, 100).await.must("difference"),
        Difference::TooLong { pts: top },
        "too far behind answers TooLong with the current pts"
    );
    assert_eq!(s.difference(bob, top - 11, 100).await.must("difference"), Difference::TooLong { pts: top });
    match s.difference(bob, top - 10, 100).await.must("difference") {
        Difference::Complete { events, pts } => assert_eq!((events.len(), pts), (10, top), "within the horizon is a normal difference"),
        other => panic!("within the horizon: {other:?}"),
    }
    let ctop = view(s, bob, channel).await.chat.pts;
    assert!(ctop - c0 >= 20);
    assert_eq!(s.chat_difference(bob, channel, c0, 100).await.must("chat_difference"), Difference::TooLong { pts: ctop });
    match s.chat_difference(bob, channel, ctop - 3, 100).await.must("chat_difference") {
        Difference::Complete { events, pts } => assert_eq!((events.len(), pts), (3, ctop)),
        other => panic!("chat log within the horizon: {other:?}"),
    }
}

/// take_commit_feed() answers once; the feed carries exactly the committed log entries in pts order per log, and nothing from failed commands.
pub async fn commit_feed(store: Arc<dyn Store>) {
    let s = &*store;
    let mut feed = store.take_commit_feed().expect("the first take_commit_feed returns the feed");
    assert!(store.take_commit_feed().is_none(), "the feed can be taken only once");
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let mallory = person(s, 3, "Mallory").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;

    // Failing commands, alone and mixed into the same group commits as good ones. A forward
    // of [existing, missing] fails after it has written and logged its first copy.
    send(s, alice, chat, 1, "first").await;
    refused(s.send(mallory, chat, 2, draft(text("FAILED-SEND"), None)).await, Error::ChatNotFound, "non-member send");
    refused(s.edit(alice, chat, MessageId(5), edit_text(mtext("FAILED-EDIT"))).await, Error::MessageNotFound, "edit of a missing message");
    refused(
        s.forward(alice, chat, &[MessageId(1), MessageId(99)], chat, &[3, 4]).await,
        Error::MessageNotFound,
        "a forward failing halfway",
    );
    assert_eq!(view(s, alice, chat).await.chat.top_message, MessageId(1), "a failed forward leaves no copy behind");
    let mut tasks = Vec::new();
    for i in 0..30i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => store.send(alice, chat, 100 + i, draft(text(&format!("ok {i}")), None)).await.map(|_| ()),
                1 => store.send(mallory, chat, 100 + i, draft(text("FAILED-SEND"), None)).await.map(|_| ()),
                _ => store.forward(bob, chat, &[MessageId(1), MessageId(999)], chat, &[100 + i, 200 + i]).await.map(|_| ()),
            }
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.expect("task panicked");
        assert_eq!(r.is_ok(), i % 3 == 0, "task {i}: {r:?}");
    }
    send(s, bob, chat, 1, "last").await;
    s.read(alice, chat, None).await.must("read");

    let tops: BTreeMap<UserId, Pts> =
        [(alice, state(s, alice).await), (bob, state(s, bob).await), (mallory, state(s, mallory).await)].into();
    let mut got: BTreeMap<UserId, Vec<Logged>> = BTreeMap::new();
    let caught_up =
        |got: &BTreeMap<UserId, Vec<Logged>>| tops.iter().all(|(u, top)| got.get(u).and_then(|v| v.last()).map_or(0, |l| l.pts) >= *top);
    while !caught_up(&got) {
        let batch = tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .expect("committed events reach the feed within 10 s")
            .expect("the feed stays open while the store is");
        for l in batch {
            match l.log {
                Log::User(u) => got.entry(u).or_default().push(l),
                Log::Chat(c) => panic!("no chat log is involved here, got an event for {c}"),
            }
        }
    }
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(100), feed.recv()).await {
        panic!("the feed carried more than was committed: {extra:?}");
    }
    for (u, top) in &tops {
        let fed = got.remove(u).unwrap_or_default();
        let logged = log_of(s, *u, 0).await;
        assert_eq!(fed, logged, "the feed carries exactly user {u}'s log, in pts order (up to {top})");
    }
    assert!(got.is_empty(), "events for users who had none: {got:?}");
    let history = history_all(s, alice, chat).await;
    assert_eq!(msg_ids(&history), ids(1..=12), "failed commands left no message and no gap");
    assert!(history.iter().all(|m| !body(m).starts_with("FAILED") && m.forward.is_none()), "failed commands left nothing");
}

/// After the store is dropped and the same database reopened, users, sessions, messages, logs and idempotency records are all there.
pub async fn reopen_keeps_everything(h: &mut dyn Harness) {
    let store = h.open(Limits::default()).await;
    let alice = person(&*store, 1, "Alice").await;
    let bob = person(&*store, 2, "Bob").await;
    store.set_username(alice, Some(uname("alice_keeps"))).await.must("set_username");
    let session = store.create_session(alice, &[7; 32], "laptop").await.must("create_session");
    let chat = store.open_private(alice, bob).await.must("open_private").id;
    let group = store.create_chat(alice, ChatKind::Group, &title("Kept"), None, &[bob]).await.must("create_chat").id;
    let mut sents = Vec::new();
    for i in 1..=5 {
        sents.push(send(&*store, alice, chat, i, &format!("kept {i}")).await);
    }
    send(&*store, bob, group, 1, "group kept").await;
    store.read(bob, chat, Some(MessageId(3))).await.must("read");
    let before_history = history_all(&*store, bob, chat).await;
    let before_logs = (log_of(&*store, alice, 0).await, log_of(&*store, bob, 0).await);
    let before_view = view(&*store, bob, chat).await;
    drop(store);

    let store = h.open(Limits::default()).await;
    let s = &*store;
    assert!(store.take_commit_feed().is_some(), "a reopened store has its own feed");
    assert_eq!(
        s.user_by_phone(phone(1).hash).await.must("user_by_phone").map(|u| (u.id, u.username)),
        Some((alice, Some("alice_keeps".to_string())))
    );
    match s.resolve(&uname("ALICE_KEEPS")).await.must("resolve") {
        Some(Resolved::User(u)) => assert_eq!(u.id, alice),
        other => panic!("the username survives a reopen: {other:?}"),
    }
    let found = s.session_by_token(&[7; 32]).await.must("session_by_token").expect("the session survives a reopen");
    assert_eq!(found.id, session.id);
    assert_eq!(history_all(s, bob, chat).await, before_history, "messages survive a reopen");
    assert_eq!((log_of(s, alice, 0).await, log_of(s, bob, 0).await), before_logs, "logs survive a reopen");
    assert_eq!(view(s, bob, chat).await, before_view, "chat and membership survive a reopen");
    assert_eq!(
        s.send(alice, chat, 3, draft(text("retry"), None)).await.must("retry after reopen"),
        sents[2],
        "idempotency survives a reopen"
    );
    let next = send(s, bob, chat, 6, "after reopen").await;
    assert_eq!(next.message.id, MessageId(6), "the sequence continues after a reopen");
    assert_eq!(next.pts, before_logs.1.last().map_or(0, |l| l.pts) + 1, "the log continues after a reopen");
    assert_eq!(s.open_private(bob, alice).await.must("open_private").id, chat);
}

// --- files ---------------------------------------------------------------------------------

/// Files are recorded per uploader against a quota; a file is visible to its uploader and to
/// members of chats where a live message carries it (or its thumbnail), and to nobody else,
/// exactly as if it did not exist; media messages keep their details through history, edits
/// (caption), forwards and deletes.
pub async fn files_and_media(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let mallory = person(s, 3, "Mallory").await;
    let new = |size: u64, thumb: Option<FileId>| NewFile {
        sha256: [7; 32],
        size,
        name: "cat.png".into(),
        mime: "image/png".into(),
        width: Some(640),
        height: Some(480),
        thumb,
    };
    let thumb = s
        .create_file(alice, NewFile { name: "thumb.jpg".into(), mime: "image/jpeg".into(), ..new(100, None) }, 10_000)
        .await
        .must("create thumb");
    let photo = s.create_file(alice, new(5_000, Some(thumb.id)), 10_000).await.must("create file");
    assert_eq!((photo.owner, photo.size, photo.sha256, photo.thumb), (alice, 5_000, [7; 32], Some(thumb.id)), "the file as recorded");
    assert_eq!(s.file_usage(alice).await.must("usage"), 5_100, "usage counts every file of the owner");
    refused(s.create_file(alice, new(4_901, None), 10_000).await, Error::QuotaExceeded { used: 5_100, quota: 10_000 }, "over quota");
    assert_eq!(s.file_usage(alice).await.must("usage"), 5_100, "a refused file is not recorded");
    assert_eq!(s.file_refs([7; 32]).await.must("refs"), 2, "both records of the content count, the refused one not");
    assert_eq!(s.file_refs([8; 32]).await.must("refs"), 0, "content nobody recorded");
    assert_eq!(s.file(alice, photo.id).await.must("owner sees"), photo, "the owner sees their file");
    for who in [bob, mallory] {
        refused(s.file(who, photo.id).await, Error::FileNotFound, "not yet shared");
    }
    refused(s.file(alice, FileId(987_654)).await, Error::FileNotFound, "no such file");

    let chat = s.open_private(alice, bob).await.must("open_private").id;
    let media = Media {
        kind: MediaKind::Photo,
        file: photo.id,
        name: photo.name.clone(),
        mime: photo.mime.clone(),
        size: photo.size,
        width: photo.width,
        height: photo.height,
        thumb: photo.thumb,
        caption: Some(mtext("look")),
    };
    let sent = s.send(alice, chat, 1, draft(Content::Media(media.clone()), None)).await.must("send media");
    assert_eq!(sent.message.content, Content::Media(media.clone()), "the sent message carries the media");
    let again = s.send(alice, chat, 1, draft(Content::Media(media.clone()), None)).await.must("retry media");
    assert_eq!(again.message.id, sent.message.id, "a retried media send returns the original");
    let history = history_all(s, bob, chat).await;
    assert_eq!(history.last().map(|m| &m.content), Some(&Content::Media(media.clone())), "history shows the media");
    assert_eq!(s.file(bob, photo.id).await.must("member sees").id, photo.id, "a member sees a file sent in their chat");
    assert_eq!(s.file(bob, thumb.id).await.must("member sees thumb").id, thumb.id, "and its thumbnail");
    refused(s.file(mallory, photo.id).await, Error::FileNotFound, "a stranger sees nothing");

    let edited = s.edit(alice, chat, sent.message.id, edit_text(mtext("new caption"))).await.must("edit caption");
    assert_eq!(
        edited.content,
        Content::Media(Media { caption: Some(mtext("new caption")), ..media.clone() }),
        "an edit changes the caption only"
    );

    // Without a caption.
    let bare = Media { caption: None, ..media.clone() };
    let sent2 = s.send(alice, chat, 2, draft(Content::Media(bare.clone()), None)).await.must("send bare media");
    assert_eq!(history_all(s, alice, chat).await.last().map(|m| &m.content), Some(&Content::Media(bare)), "no caption stays none");

    // Forwarded into Mallory's group, Mallory sees it there.
    let group = s.create_chat(bob, ChatKind::Group, &title("G"), None, &[mallory]).await.must("create group").id;
    s.forward(bob, chat, &[sent.message.id], group, &[50]).await.must("forward media");
    assert_eq!(s.file(mallory, photo.id).await.must("forwarded").id, photo.id, "a forward shares the file");

    // Deleted for everyone everywhere: nobody but the owner sees it any more.
    s.delete(bob, group, &[MessageId(1)], true).await.must("delete in group");
    refused(s.file(mallory, photo.id).await, Error::FileNotFound, "deleted: not visible");
    s.delete(alice, chat, &[sent.message.id, sent2.message.id], true).await.must("delete in private");
    refused(s.file(bob, photo.id).await, Error::FileNotFound, "deleted: not visible to the member");
    assert!(s.file(alice, photo.id).await.is_ok(), "the owner still sees it");
}

// --- bots ----------------------------------------------------------------------------------

/// A bot owned by `owner`, with a token hash made from `n`.
async fn make_bot(store: &dyn Store, owner: UserId, n: u8, username: &str) -> UserId {
    store.create_bot(owner, &name(&format!("Bot {n}")), &uname(username), &token(n)).await.must("create_bot").id
}

fn token(n: u8) -> Vec<u8> {
    vec![n; 32]
}

fn bold(offset: u32, length: u32) -> Entity {
    Entity { kind: EntityKind::Bold, offset, length }
}

/// A keyboard of one row with a callback button per `data`.
fn keyboard(data: &[&str]) -> Keyboard {
    let row = data.iter().map(|d| Button::new(format!("press {d}"), ButtonAction::Callback(d.to_string())).expect("button")).collect();
    Keyboard::new(vec![row]).expect("keyboard").expect("not empty")
}

/// Bots are users with an owner and no phone, in the shared username namespace; their one
/// session holds the token's hash, which only their owner can replace.
pub async fn bot_accounts(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    s.set_username(bob, Some(uname("bob_person"))).await.must("set_username");
    s.create_chat(bob, ChatKind::Channel, &title("News"), Some(&uname("news_channel")), &[]).await.must("public channel");

    let helper = s.create_bot(alice, &name("Helper"), &uname("helper_bot"), &token(1)).await.must("create_bot");
    assert_eq!((helper.name.as_str(), helper.bot_owner), ("Helper", Some(alice)));
    assert_eq!(s.sealed_phone(helper.id).await.must("sealed_phone"), None, "a bot has no phone");
    assert_eq!(helper.username.as_deref(), Some("helper_bot"));
    assert!(helper.is_bot() && !s.users(&[alice]).await.must("users")[0].is_bot());
    assert_eq!(s.resolve(&uname("Helper_Bot")).await.must("resolve"), Some(Resolved::User(helper.clone())), "a bot resolves by username");
    assert_eq!(s.users(&[helper.id]).await.must("users"), vec![helper.clone()]);
    for (taken, what) in [("helper_bot", "another bot's"), ("BOB_PERSON", "a person's"), ("news_channel", "a channel's")] {
        refused(s.create_bot(bob, &name("Copy"), &uname(taken), &token(9)).await, Error::UsernameOccupied, &format!("{what} username"));
    }
    refused(s.set_username(bob, Some(uname("helper_bot"))).await, Error::UsernameOccupied, "a person takes a bot's username");
    assert_eq!(s.session_by_token(&token(9)).await.must("session_by_token"), None, "a refused bot leaves no session behind");
    let second = make_bot(s, alice, 2, "second_bot").await;
    let bobs = make_bot(s, bob, 3, "bobs_bot").await;
    let listed = |users: Vec<User>| users.iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(listed(s.bots(alice).await.must("bots")), vec![helper.id, second], "an owner's bots, oldest first");
    assert_eq!(listed(s.bots(bob).await.must("bots")), vec![bobs], "only one's own bots");
    assert_eq!(listed(s.bots(bobs).await.must("bots")), vec![], "a bot owns no bots");

    // The token.
    let session = s.session_by_token(&token(1)).await.must("session_by_token").expect("the first token works");
    assert_eq!((session.user, session.device.as_str()), (helper.id, "bot"));
    for (owner, bot, what) in [(bob, helper.id, "another owner's bot"), (alice, bob, "a person"), (alice, UserId(987_654), "nobody")] {
        refused(s.replace_bot_token(owner, bot, &token(7)).await, Error::UserNotFound, what);
    }
    assert!(s.session_by_token(&token(1)).await.must("session_by_token").is_some(), "a refused replacement changes nothing");
    s.create_session(helper.id, &token(4), "bot").await.must("a second session");
    s.replace_bot_token(alice, helper.id, &token(5)).await.must("replace_bot_token");
    for old in [1, 4] {
        assert_eq!(s.session_by_token(&token(old)).await.must("session_by_token"), None, "every old token of the bot stops working");
    }
    let new = s.session_by_token(&token(5)).await.must("session_by_token").expect("the new token works");
    assert_eq!(new.user, helper.id);
    assert_eq!(s.sessions(helper.id).await.must("sessions").len(), 1, "one session after a replacement");
    assert!(s.session_by_token(&token(2)).await.must("session_by_token").is_some(), "other bots keep their tokens");
}

/// A bot's settings: `confirmed` never moves down, a new webhook clears the last error.
pub async fn bot_settings(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bot = make_bot(s, alice, 1, "settings_bot").await;
    assert_eq!(s.bot(alice).await.must("bot"), None, "a person is not a bot");
    assert_eq!(s.bot(UserId(987_654)).await.must("bot"), None);
    let fresh = s.bot(bot).await.must("bot").expect("a bot has settings");
    assert_eq!(fresh.user.id, bot);
    assert_eq!(
        (fresh.confirmed, &fresh.webhook, &fresh.webhook_error, &fresh.allowed_updates, fresh.commands.as_str()),
        (0, &None, &None, &None, ""),
        "a new bot's settings"
    );
    refused(s.update_bot(alice, BotChange::Confirm(1)).await, Error::UserNotFound, "settings of a person");

    let hook = |url: &str, set: i64| Webhook { url: url.into(), secret: Some("s3cret".into()), max_connections: 40, set };
    // (change, confirmed, webhook, webhook_error) after it.
    type Case = (BotChange, Pts, Option<Webhook>, Option<(i64, String)>);
    let cases: Vec<Case> = vec![
        (BotChange::Confirm(5), 5, None, None),
        (BotChange::Confirm(3), 5, None, None),
        (BotChange::Confirm(5), 5, None, None),
        (BotChange::WebhookError(Some((100, "no webhook yet".into()))), 5, None, Some((100, "no webhook yet".into()))),
        (BotChange::Webhook(Some(hook("https://example.org/a", 200))), 5, Some(hook("https://example.org/a", 200)), None),
        (BotChange::Confirm(9), 9, Some(hook("https://example.org/a", 200)), None),
        (
            BotChange::WebhookError(Some((300, "connection refused".into()))),
            9,
            Some(hook("https://example.org/a", 200)),
            Some((300, "connection refused".into())),
        ),
        (BotChange::WebhookError(None), 9, Some(hook("https://example.org/a", 200)), None),
        (
            BotChange::WebhookError(Some((400, "timeout".into()))),
            9,
            Some(hook("https://example.org/a", 200)),
            Some((400, "timeout".into())),
        ),
        (BotChange::Webhook(Some(hook("https://example.org/b", 500))), 9, Some(hook("https://example.org/b", 500)), None),
        (BotChange::Webhook(None), 9, None, None),
    ];
    for (i, (change, confirmed, webhook, error)) in cases.into_iter().enumerate() {
        let what = format!("case {i}: {change:?}");
        let returned = s.update_bot(bot, change).await.must(&what);
        assert_eq!(s.bot(bot).await.must("bot").as_ref(), Some(&returned), "{what}: update_bot returns the settings as stored");
        assert_eq!((returned.confirmed, returned.webhook, returned.webhook_error), (confirmed, webhook, error), "{what}");
    }
    let hook_none = Webhook { secret: None, max_connections: 1, ..hook("https://example.org/c", 600) };
    let b = s.update_bot(bot, BotChange::Webhook(Some(hook_none.clone()))).await.must("webhook without a secret");
    assert_eq!(b.webhook, Some(hook_none));
    let b = s.update_bot(bot, BotChange::AllowedUpdates(Some("[\"message\"]".into()))).await.must("allowed_updates");
    assert_eq!(b.allowed_updates.as_deref(), Some("[\"message\"]"));
    let b = s.update_bot(bot, BotChange::Commands("{\"default\":[]}".into())).await.must("commands");
    assert_eq!((b.commands.as_str(), b.allowed_updates.as_deref(), b.confirmed), ("{\"default\":[]}", Some("[\"message\"]"), 9));
    let b = s.update_bot(bot, BotChange::AllowedUpdates(None)).await.must("allowed_updates: all");
    assert_eq!(b.allowed_updates, None);

    // Profile settings: each kept under its own key, replaced, removed; a person has none.
    let chat = s.open_private(alice, bot).await.must("open_private").id;
    let settings = [
        BotSetting::Name("de".into()),
        BotSetting::Description(String::new()),
        BotSetting::Description("de".into()),
        BotSetting::ShortDescription("fr".into()),
        BotSetting::MenuButton(None),
        BotSetting::MenuButton(Some(chat)),
        BotSetting::DefaultRights { channels: false },
        BotSetting::DefaultRights { channels: true },
    ];
    for (i, setting) in settings.iter().enumerate() {
        assert_eq!(s.bot_setting(bot, setting.clone()).await.must("bot_setting"), None, "{setting:?} unset at first");
        s.update_bot(bot, BotChange::Setting(setting.clone(), Some(format!("value {i}")))).await.must("set");
    }
    for (i, setting) in settings.iter().enumerate() {
        assert_eq!(s.bot_setting(bot, setting.clone()).await.must("bot_setting"), Some(format!("value {i}")), "{setting:?}");
    }
    let name = BotSetting::Name("de".into());
    s.update_bot(bot, BotChange::Setting(name.clone(), Some("Der Bot".into()))).await.must("replace");
    assert_eq!(s.bot_setting(bot, name.clone()).await.must("bot_setting").as_deref(), Some("Der Bot"), "replaced");
    s.update_bot(bot, BotChange::Setting(name.clone(), None)).await.must("remove");
    assert_eq!(s.bot_setting(bot, name.clone()).await.must("bot_setting"), None, "removed");
    assert_eq!(s.bot_setting(bot, settings[2].clone()).await.must("bot_setting").as_deref(), Some("value 2"), "others stay");
    refused(s.update_bot(alice, BotChange::Setting(name.clone(), Some("x".into()))).await, Error::UserNotFound, "a person's setting");
    assert_eq!(s.bot_setting(alice, name).await.must("bot_setting"), None, "nothing stored for a person");
}

/// Entities and keyboards are stored with the message and read back everywhere it is read;
/// only bots attach keyboards; edits change text, keyboard or both; copies keep formatting but
/// not buttons.
pub async fn message_markup(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let bot = make_bot(s, alice, 1, "markup_bot").await;
    let chat = s.open_private(alice, bot).await.must("open_private with a bot").id;
    let a0 = state(s, alice).await;

    let k = keyboard(&["yes", "no"]);
    let d = Draft { content: text("Hello world"), entities: vec![bold(0, 5), bold(6, 5)], keyboard: Some(k.clone()), reply_to: None };
    let sent = s.send(bot, chat, 1, d.clone()).await.must("a bot sends a keyboard");
    assert_eq!((&sent.message.entities, &sent.message.keyboard), (&d.entities, &Some(k.clone())));
    assert_eq!(s.send(bot, chat, 1, d).await.must("retry").message, sent.message, "a retry answers the stored message");
    assert_eq!(history_all(s, alice, chat).await, vec![sent.message.clone()], "history has entities and keyboard");
    assert_eq!(events(&log_of(s, alice, a0).await), vec![Event::NewMessage(sent.message.clone())], "the difference has them too");

    // People format but have no buttons.
    let mine = Draft { content: text("plain and bold"), entities: vec![bold(10, 4)], keyboard: None, reply_to: Some(sent.message.id) };
    let own = s.send(alice, chat, 2, mine).await.must("a person sends entities");
    assert_eq!((own.message.entities.clone(), own.message.keyboard.clone()), (vec![bold(10, 4)], None));
    let with_keys = Draft { content: text("buttons?"), entities: vec![], keyboard: Some(keyboard(&["x"])), reply_to: None };
    refused(s.send(alice, chat, 3, with_keys).await, Error::WriteForbidden, "a person's keyboard");
    refused(
        s.edit(alice, chat, own.message.id, Edit { text: None, keyboard: Some(Some(keyboard(&["x"]))) }).await,
        Error::WriteForbidden,
        "a person's keyboard by edit",
    );
    let plain = s.edit(alice, chat, own.message.id, Edit { text: Some((mtext("plain now"), vec![])), keyboard: None }).await.must("edit");
    assert_eq!((body(&plain), plain.entities.clone()), ("plain now", vec![]), "an edit replaces the entities with its own");

    // Edits: the keyboard alone, the text alone, both, removal.
    let id = sent.message.id;
    let k2 = keyboard(&["maybe"]);
    // (edit, text, entities, keyboard) after it.
    let cases: Vec<(Edit, &str, Vec<Entity>, Option<Keyboard>)> = vec![
        (Edit { text: None, keyboard: Some(Some(k2.clone())) }, "Hello world", vec![bold(0, 5), bold(6, 5)], Some(k2.clone())),
        (Edit { text: Some((mtext("Bye"), vec![bold(0, 3)])), keyboard: None }, "Bye", vec![bold(0, 3)], Some(k2.clone())),
        (Edit { text: Some((mtext("Hi again"), vec![])), keyboard: Some(Some(k.clone())) }, "Hi again", vec![], Some(k.clone())),
        (Edit { text: None, keyboard: Some(None) }, "Hi again", vec![], None),
        (Edit { text: Some((mtext("Hi"), vec![bold(0, 2)])), keyboard: None }, "Hi", vec![bold(0, 2)], None),
    ];
    for (i, (edit, want_text, want_entities, want_keyboard)) in cases.into_iter().enumerate() {
        let what = format!("edit case {i}");
        let a0 = state(s, alice).await;
        let edited = s.edit(bot, chat, id, edit).await.must(&what);
        assert_eq!((body(&edited), &edited.entities, &edited.keyboard), (want_text, &want_entities, &want_keyboard), "{what}");
        assert!(edited.edit_date.is_some(), "{what}: marked edited");
        let stored = history_all(s, alice, chat).await.into_iter().find(|m| m.id == id).expect("still there");
        assert_eq!(stored, edited, "{what}: history reads the edit");
        assert_eq!(events(&log_of(s, alice, a0).await), vec![Event::EditMessage(edited)], "{what}: the edit is logged");
    }
    refused(s.edit(alice, chat, id, edit_text(mtext("mine now"))).await, Error::AuthorRequired, "edit a bot's message");

    // A copy keeps the formatting, never the buttons.
    let keyed = s.edit(bot, chat, id, Edit { text: None, keyboard: Some(Some(k.clone())) }).await.must("keyboard back");
    let other = s.open_private(alice, bob).await.must("open_private").id;
    let copy = s.forward(alice, chat, &[id], other, &[10]).await.must("forward").remove(0).message;
    assert_eq!((body(&copy), &copy.entities, &copy.keyboard), ("Hi", &keyed.entities, &None), "a forward keeps entities, not buttons");
    assert_eq!(history_all(s, bob, other).await, vec![copy]);
}

/// Pressing a callback button logs a CallbackQuery in the log of the bot that posted it, and
/// only for a button that is there, under a message the presser can see.
pub async fn callback_buttons(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let mallory = person(s, 3, "Mallory").await;
    let bot = make_bot(s, alice, 1, "buttons_bot").await;
    let other_bot = make_bot(s, alice, 2, "other_bot").await;
    let group = s.create_chat(alice, ChatKind::Group, &title("Votes"), None, &[bob, bot, other_bot]).await.must("group").id;
    let vote = Draft { content: text("Lunch?"), entities: vec![], keyboard: Some(keyboard(&["pizza", "soup"])), reply_to: None };
    let poll = s.send(bot, group, 1, vote).await.must("bot posts buttons").message.id;
    let plain = send(s, alice, group, 2, "no buttons here").await.message.id;
    let unkeyed = s.send(other_bot, group, 3, draft(text("nothing to press"), None)).await.must("a bot without buttons").message.id;

    let b0 = state(s, bot).await;
    let o0 = state(s, other_bot).await;
    let people = [state(s, alice).await, state(s, bob).await];
    let (to, pts) = s.press_button(bob, group, poll, "soup").await.must("press_button");
    assert_eq!(to, bot, "the query goes to the bot that posted the message");
    let log = log_of(s, bot, b0).await;
    assert_eq!(events(&log), vec![Event::CallbackQuery { chat: group, message: poll, from: bob, data: "soup".into() }]);
    assert_eq!((log[0].log, log[0].pts), (Log::User(bot), pts), "the query's id is its pts in the bot's log");
    let (_, again) = s.press_button(alice, group, poll, "pizza").await.must("press again");
    assert_eq!(again, pts + 1, "every press is its own query");
    assert_eq!(state(s, other_bot).await, o0, "other bots are not told");
    assert_eq!([state(s, alice).await, state(s, bob).await], people, "people's logs are not touched");

    // (presser, message, data, error)
    let cases = [
        (bob, poll, "salad", Error::ButtonNotFound, "data no button carries"),
        (bob, poll, "", Error::ButtonNotFound, "empty data"),
        (bob, plain, "pizza", Error::ButtonNotFound, "a person's message"),
        (bob, unkeyed, "pizza", Error::ButtonNotFound, "a bot's message without buttons"),
        (bob, MessageId(99), "pizza", Error::MessageNotFound, "a missing message"),
        (mallory, poll, "pizza", Error::ChatNotFound, "a non-member"),
    ];
    for (who, message, data, want, what) in cases {
        refused(s.press_button(who, group, message, data).await, want, what);
    }
    refused(s.press_button(bob, ChatId(987_654), poll, "pizza").await, Error::ChatNotFound, "a missing chat");
    s.delete(bob, group, &[poll], false).await.must("delete for me");
    refused(s.press_button(bob, group, poll, "pizza").await, Error::MessageNotFound, "a message deleted for the presser");
    s.press_button(alice, group, poll, "pizza").await.must("others still see it");
    s.edit(bot, group, poll, Edit { text: None, keyboard: Some(Some(keyboard(&["pasta"]))) }).await.must("new buttons");
    refused(s.press_button(alice, group, poll, "pizza").await, Error::ButtonNotFound, "a button edited away");
    s.press_button(alice, group, poll, "pasta").await.must("the new button");
    let presses = log_of(s, bot, b0).await.iter().filter(|l| matches!(l.event, Event::CallbackQuery { .. })).count();
    assert_eq!(presses, 4, "one log row per accepted press");
}

/// A bot follows its own log only: events of a chat that keeps its own log (channels, large
/// groups) are also appended to the log of every bot member, while people's logs stay
/// untouched. Also `member` and `find_private`.
pub async fn bots_follow_own_logs(h: &mut dyn Harness) {
    let store = h.open(Limits { large_group_threshold: 3, ..Limits::default() }).await;
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let bot = make_bot(s, alice, 1, "follow_bot").await;
    let bot2 = make_bot(s, alice, 2, "outside_bot").await;

    let channel = s.create_chat(alice, ChatKind::Channel, &title("Posts"), None, &[bob, bot]).await.must("channel").id;
    let large = s.create_chat(alice, ChatKind::Group, &title("Large"), None, &[bob, carol, bot]).await.must("large group");
    assert!(large.own_log, "4 members is past threshold 3");
    let small = s.create_chat(alice, ChatKind::Group, &title("Small"), None, &[bot]).await.must("small group");
    assert!(!small.own_log);
    for (rid, (chat, what)) in [(channel, "channel"), (large.id, "large group"), (small.id, "small group")].into_iter().enumerate() {
        let people = [state(s, alice).await, state(s, bob).await, state(s, carol).await];
        let (b0, o0) = (state(s, bot).await, state(s, bot2).await);
        let sent = send(s, alice, chat, rid as i64 + 1, what).await;
        let log = log_of(s, bot, b0).await;
        assert_eq!(events(&log), vec![Event::NewMessage(sent.message.clone())], "{what}: the bot member's log has the message");
        assert_eq!(log[0].log, Log::User(bot));
        assert_eq!(state(s, bot2).await, o0, "{what}: a bot that is not a member gets nothing");
        if chat == small.id {
            assert_eq!(state(s, alice).await, people[0] + 1, "a small group logs per member, as before");
            continue;
        }
        assert_eq!([state(s, alice).await, state(s, bob).await, state(s, carol).await], people, "{what}: people's logs stay untouched");
        assert_eq!(new_ids(&chat_log_of(s, bob, chat, 0).await, chat), vec![sent.message.id], "{what}: the chat's log has it");
        // Edits and deletions reach the bot too.
        let b1 = state(s, bot).await;
        let edited = s.edit(alice, chat, sent.message.id, edit_text(mtext("changed"))).await.must("edit");
        assert_eq!(events(&log_of(s, bot, b1).await), vec![Event::EditMessage(edited)], "{what}: edits are copied to the bot");
        let b2 = state(s, bot).await;
        s.delete(alice, chat, &[sent.message.id], true).await.must("delete");
        assert_eq!(
            events(&log_of(s, bot, b2).await),
            vec![Event::DeleteMessages { chat, ids: vec![sent.message.id] }],
            "{what}: deletions are copied to the bot"
        );
    }

    // A bot that joins later is followed from then on; one that leaves is not.
    let b0 = state(s, bot2).await;
    s.add_members(alice, channel, &[bot2]).await.must("add a bot to the channel");
    let post = send(s, alice, channel, 12, "for both bots").await;
    assert!(log_of(s, bot2, b0).await.iter().any(|l| l.event == Event::NewMessage(post.message.clone())), "a bot added later follows");
    s.remove_member(alice, channel, bot2).await.must("remove the bot");
    let b1 = state(s, bot2).await;
    send(s, alice, channel, 13, "after it left").await;
    assert_eq!(state(s, bot2).await, b1, "a removed bot is no longer followed");
    // A bot joining a large group is told once, in its own log.
    let b0 = state(s, bot2).await;
    s.add_members(alice, large.id, &[bot2]).await.must("add a bot to the large group");
    let joined = events(&log_of(s, bot2, b0).await);
    let told = Event::Participant { chat: large.id, user: bot2, role: Some(Role::Member), by: alice };
    assert_eq!(joined, vec![told], "the joining bot is told once, by a Participant event naming itself");

    // member()
    let m = s.member(bob, channel, bot).await.must("member").expect("the bot is a member");
    assert_eq!((m.chat, m.user, m.role), (channel, bot, Role::Member));
    assert_eq!(s.member(alice, channel, alice).await.must("member").map(|m| m.role), Some(Role::Creator), "oneself");
    assert_eq!(s.member(bob, channel, carol).await.must("member"), None, "not a member");
    assert_eq!(s.member(bot, large.id, bot2).await.must("member").map(|m| m.user), Some(bot2));
    refused(s.member(carol, channel, bob).await, Error::ChatNotFound, "asked by a non-member");
    refused(s.member(carol, ChatId(987_654), carol).await, Error::ChatNotFound, "a missing chat");

    // find_private never creates.
    assert_eq!(s.find_private(bob, bot).await.must("find_private"), None, "nobody opened it");
    assert_eq!(s.find_private(bot, bob).await.must("find_private"), None);
    assert_eq!(s.find_private(bob, bot).await.must("find_private"), None, "asking does not create it");
    let opened = s.open_private(bob, bot).await.must("open_private");
    for (a, b) in [(bob, bot), (bot, bob)] {
        assert_eq!(s.find_private(a, b).await.must("find_private").map(|c| c.id), Some(opened.id), "found from either side");
    }
    assert_eq!(s.open_private(bot, bob).await.must("open again").id, opened.id);
    let self_chat = s.open_private(carol, carol).await.must("saved messages");
    assert_eq!(s.find_private(carol, carol).await.must("find_private").map(|c| c.id), Some(self_chat.id));
}

// --- daily use (#18): reactions, drafts ------------------------------------------------------

fn emoji(e: &str) -> Reaction {
    Reaction::emoji(e).expect("test emoji are emoji")
}

fn set(rs: &[&str]) -> ReactionSet {
    ReactionSet::parse(rs.iter().map(|e| emoji(e)).collect()).expect("test sets are small")
}

/// (reaction, count, chosen) of each count, in order.
fn counts(r: &Reactions) -> Vec<(String, u64, bool)> {
    r.counts
        .iter()
        .map(|c| {
            let name = match &c.reaction {
                Reaction::Emoji(e) => e.clone(),
                Reaction::CustomEmoji(id) => format!("custom:{id}"),
            };
            (name, c.count, c.chosen)
        })
        .collect()
}

/// Members set several reactions each (most counted first, each viewer sees their own as chosen, recent names who), every change is one logged event per member, an unchanged set logs nothing, non-members and hidden or missing messages are refused, and a delete for everyone takes the reactions with it.
pub async fn reactions(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let eve = person(s, 3, "Eve").await;
    let group = s.create_chat(alice, ChatKind::Group, &title("Friends"), None, &[bob]).await.must("create group").id;
    send(s, alice, group, 1, "one").await;
    send(s, alice, group, 2, "two").await;
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);

    let mine = s.react(alice, group, MessageId(1), set(&["👍", "🔥"])).await.must("react");
    assert_eq!(counts(&mine), vec![("👍".into(), 1, true), ("🔥".into(), 1, true)], "the actor sees theirs chosen");
    let custom = Reaction::custom_emoji("5368324170671202286").expect("an id");
    let bobs = s.react(bob, group, MessageId(1), ReactionSet::parse(vec![emoji("🔥"), custom.clone()]).expect("two")).await.must("react");
    assert_eq!(
        counts(&bobs),
        vec![("🔥".into(), 2, true), ("👍".into(), 1, false), ("custom:5368324170671202286".into(), 1, true)],
        "most set first; each viewer's own are chosen"
    );
    assert_eq!(bobs.recent.len(), 4, "recent names every reaction in a small group");
    assert!(bobs.recent.contains(&(bob, custom.clone())) && bobs.recent.contains(&(alice, emoji("👍"))), "recent: {:?}", bobs.recent);
    let changes = vec![
        Event::Reactions {
            chat: group,
            message: MessageId(1),
            change: Some(ReactionChange { by: alice, old: vec![], new: vec![emoji("👍"), emoji("🔥")] }),
        },
        Event::Reactions {
            chat: group,
            message: MessageId(1),
            change: Some(ReactionChange { by: bob, old: vec![], new: vec![emoji("🔥"), custom.clone()] }),
        },
    ];
    for (who, from) in [(alice, a0), (bob, b0)] {
        assert_eq!(events(&log_of(s, who, from).await), changes, "each change is logged once for every member, with who and how");
    }
    let seen = s.reactions(alice, group, &[MessageId(1), MessageId(2)]).await.must("reactions");
    assert_eq!(seen.len(), 1, "only reacted messages are listed");
    assert_eq!(counts(&seen[0]), vec![("🔥".into(), 2, true), ("👍".into(), 1, true), ("custom:5368324170671202286".into(), 1, false)]);
    assert_eq!(
        counts(&s.public_reactions(group, MessageId(1)).await.must("public")).iter().filter(|c| c.2).count(),
        0,
        "no viewer, nothing chosen"
    );

    // The same set again changes and logs nothing; a smaller one takes the rest away.
    let before = state(s, bob).await;
    s.react(alice, group, MessageId(1), set(&["🔥", "👍"])).await.must("reorder");
    s.react(alice, group, MessageId(1), set(&["🔥", "👍"])).await.must("same again");
    let reorder = log_of(s, bob, before).await;
    assert_eq!(reorder.len(), 1, "a new order is one change, the same set again none: {reorder:?}");
    assert_eq!(
        events(&reorder),
        vec![Event::Reactions {
            chat: group,
            message: MessageId(1),
            change: Some(ReactionChange { by: alice, old: vec![emoji("👍"), emoji("🔥")], new: vec![emoji("🔥"), emoji("👍")] }),
        }]
    );
    let now = s.react(alice, group, MessageId(1), set(&["🔥"])).await.must("take one away");
    assert_eq!(counts(&now), vec![("🔥".into(), 2, true), ("custom:5368324170671202286".into(), 1, false)]);

    // Refusals change nothing.
    let (a1, b1) = (state(s, alice).await, state(s, bob).await);
    refused(s.react(eve, group, MessageId(1), set(&["👍"])).await, Error::ChatNotFound, "a non-member reacts");
    refused(s.react(alice, group, MessageId(99), set(&["👍"])).await, Error::MessageNotFound, "react to a missing message");
    refused(s.reactions(eve, group, &[MessageId(1)]).await, Error::ChatNotFound, "a non-member reads reactions");
    s.delete(bob, group, &[MessageId(2)], false).await.must("hide for bob");
    let b2 = state(s, bob).await;
    refused(s.react(bob, group, MessageId(2), set(&["👍"])).await, Error::MessageNotFound, "react to a message hidden for me");
    assert_eq!((state(s, alice).await, state(s, bob).await), (a1, b2), "refused reactions log nothing");
    assert_eq!(b2, b1 + 1, "only the hide was logged");

    // Gone with the message.
    s.delete(alice, group, &[MessageId(1)], true).await.must("delete for everyone");
    send(s, alice, group, 3, "three").await;
    assert!(s.reactions(alice, group, &[MessageId(1), MessageId(3)]).await.must("reactions").is_empty(), "deleted with the message");
}

/// Admins restrict what members send (the group's permissions, a member's own restriction,
/// with an end), ban people out and let them back: `send` and `join` obey; refusals change
/// nothing; admins are never restricted.
pub async fn group_moderation(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let group = s.create_chat(alice, ChatKind::Group, &title("Team"), None, &[bob, carol]).await.must("create").id;
    s.set_admin(alice, group, carol, true).await.must("carol is an admin");
    let text_only = Permissions::NONE.with(Permissions::TEXT, true);
    let untouched = s.standing(alice, group, bob).await.must("standing");
    assert_eq!((untouched.banned, untouched.restricted), (None, None));
    assert_eq!(s.chat_settings(bob, group).await.must("settings").allowed, Permissions::ALL, "everything until set");

    // A member's own restriction; refusals first.
    refused(s.restrict_member(bob, group, carol, Permissions::NONE, None).await, Error::AdminRequired, "a member restricts");
    assert!(matches!(s.restrict_member(alice, group, carol, Permissions::NONE, None).await, Err(Error::Invalid(_))), "an admin");
    refused(s.restrict_member(alice, group, UserId(987_654), Permissions::NONE, None).await, Error::UserNotFound, "not a member");
    s.restrict_member(alice, group, bob, Permissions::NONE, None).await.must("restrict bob");
    let b0 = state(s, bob).await;
    refused(s.send(bob, group, 1, draft(text("hi"), None)).await, Error::WriteForbidden, "a restricted member sends");
    assert_eq!(state(s, bob).await, b0, "a refused send logs nothing");
    assert_eq!(s.standing(carol, group, bob).await.must("standing").restricted, Some((Permissions::NONE, None)));
    send(s, carol, group, 2, "admins are never restricted").await;
    s.restrict_member(alice, group, bob, text_only, Some(now() + 3_600)).await.must("text only, for an hour");
    send(s, bob, group, 3, "text again").await;
    s.restrict_member(alice, group, bob, Permissions::NONE, Some(now() - 1)).await.must("a restriction already over");
    send(s, bob, group, 4, "an ended restriction holds nothing back").await;
    s.restrict_member(alice, group, bob, Permissions::ALL, None).await.must("lift");
    assert_eq!(s.standing(alice, group, bob).await.must("standing").restricted, None, "lifted");

    // The group's permissions, for every member who is not an admin.
    refused(s.set_chat_permissions(bob, group, Permissions::NONE).await, Error::AdminRequired, "a member sets permissions");
    s.set_chat_permissions(carol, group, Permissions::NONE).await.must("an admin sets permissions");
    refused(s.send(bob, group, 5, draft(text("hi"), None)).await, Error::WriteForbidden, "nobody but admins sends");
    send(s, alice, group, 6, "the creator still does").await;
    s.set_chat_permissions(alice, group, Permissions::ALL).await.must("open again");
    send(s, bob, group, 7, "members send again").await;
    s.set_description(alice, group, "Our team\nchat").await.must("description");
    assert_eq!(s.chat_settings(bob, group).await.must("settings").description, "Our team\nchat");
    assert!(matches!(s.set_description(alice, group, &"d".repeat(256)).await, Err(Error::Invalid(_))), "too long");
    refused(s.set_description(bob, group, "mine").await, Error::AdminRequired, "a member describes");
    let dm = s.open_private(alice, bob).await.must("open").id;
    assert!(s.set_chat_permissions(alice, dm, Permissions::NONE).await.is_err(), "no permissions in private chats");

    // Bans: out, kept out, let back in.
    let invite = s.export_invite(alice, group).await.must("invite");
    refused(s.ban_member(bob, group, carol, None).await, Error::AdminRequired, "a member bans");
    refused(s.ban_member(carol, group, alice, None).await, Error::AdminRequired, "an admin bans the creator");
    s.ban_member(carol, group, bob, None).await.must("ban bob");
    assert_eq!(s.member(alice, group, bob).await.must("member"), None, "banned is out");
    assert_eq!(s.standing(alice, group, bob).await.must("standing").banned, Some(None), "for ever");
    assert!(matches!(s.join(bob, JoinBy::Invite(invite.clone())).await, Err(Error::Invalid(_))), "kept out");
    refused(s.send(bob, group, 8, draft(text("hi"), None)).await, Error::ChatNotFound, "a banned person sees nothing");
    s.unban_member(alice, group, bob, true).await.must("unban");
    s.join(bob, JoinBy::Invite(invite.clone())).await.must("back by the link");
    s.ban_member(alice, group, bob, Some(now() - 1)).await.must("a ban already over");
    s.join(bob, JoinBy::Invite(invite.clone())).await.must("an ended ban keeps nobody out");
    s.ban_member(alice, group, bob, Some(now() + 3_600)).await.must("ban for an hour");
    s.add_members(alice, group, &[bob]).await.must("an admin adds him back");
    assert_eq!(s.standing(alice, group, bob).await.must("standing").banned, None, "adding lifted the ban");
    // unbanChatMember on a member who was not banned removes them, unless only_if_banned.
    s.unban_member(alice, group, bob, true).await.must("only if banned");
    assert!(s.member(alice, group, bob).await.must("member").is_some(), "still a member");
    s.unban_member(alice, group, bob, false).await.must("unban a member");
    assert_eq!(s.member(alice, group, bob).await.must("member"), None, "removed, free to come back");
    s.join(bob, JoinBy::Invite(invite)).await.must("and he comes back");
    // A stranger can be banned before they ever join.
    let eve = person(s, 5, "Eve").await;
    s.ban_member(alice, group, eve, None).await.must("ban a stranger");
    refused(s.ban_member(alice, group, UserId(987_654), None).await, Error::UserNotFound, "no such user");
    refused(s.standing(eve, group, bob).await, Error::ChatNotFound, "a non-member reads nothing");
}

/// In a channel (its own log) a reaction is one row in the chat's log and none in readers' logs, its counts are shown and who reacted is not.
pub async fn reactions_in_channels(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let readers = crowd(&store, 100, 3).await;
    let channel = s.create_chat(alice, ChatKind::Channel, &title("News"), None, &readers).await.must("create channel").id;
    send(s, alice, channel, 1, "post").await;
    let cpts = view(s, alice, channel).await.chat.pts;
    let before = state(s, readers[0]).await;
    for &r in &readers {
        s.react(r, channel, MessageId(1), set(&["🎉"])).await.must("react in a channel");
    }
    assert_eq!(state(s, readers[0]).await, before, "no row in a reader's own log");
    let log = chat_log_of(s, readers[1], channel, cpts).await;
    assert_eq!(
        events(&log),
        vec![Event::Reactions { chat: channel, message: MessageId(1), change: None }; 3],
        "one row per change in the channel's log, not who"
    );
    let seen = s.reactions(readers[0], channel, &[MessageId(1)]).await.must("reactions").pop().expect("reacted");
    assert_eq!(counts(&seen), vec![("🎉".into(), 3, true)]);
    assert!(seen.recent.is_empty(), "channel readers stay anonymous");
    assert!(s.public_reactions(channel, MessageId(1)).await.must("public").recent.is_empty());
}

/// A draft is kept per person and chat, listed with the dialogs, logged only in its owner's log (saved, changed, cleared; unchanged logs nothing), cleared by a send in that chat, and refused for non-members and replies to missing messages.
pub async fn drafts(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let eve = person(s, 3, "Eve").await;
    let chat = s.open_private(alice, bob).await.must("open_private").id;
    let other = s.open_private(alice, eve).await.must("open_private").id;
    send(s, bob, chat, 1, "hi").await;
    let (a0, b0) = (state(s, alice).await, state(s, bob).await);

    s.save_draft(alice, chat, Some(mtext("half a thought")), Some(MessageId(1))).await.must("save");
    s.save_draft(alice, chat, Some(mtext("half a thought")), Some(MessageId(1))).await.must("save the same");
    s.save_draft(alice, other, Some(mtext("for Eve")), None).await.must("save in another chat");
    let d = s.draft(alice, chat).await.must("draft").expect("saved");
    assert_eq!((d.text.as_str(), d.reply_to), ("half a thought", Some(MessageId(1))));
    assert_eq!(s.draft(alice, other).await.must("draft").map(|d| d.text.as_str().to_owned()).as_deref(), Some("for Eve"), "one per chat");
    assert_eq!(s.draft(bob, chat).await.must("draft"), None, "one per person");
    assert_eq!(
        events(&log_of(s, alice, a0).await),
        vec![Event::DraftChanged { chat }, Event::DraftChanged { chat: other }],
        "logged for its owner, once per change"
    );
    assert_eq!(state(s, bob).await, b0, "never in the other member's log");
    let listed = s.dialogs(alice, None, 10).await.must("dialogs");
    let row = listed.iter().find(|x| x.view.chat.id == chat).expect("listed");
    assert_eq!(row.draft.as_ref().map(|d| d.text.as_str()), Some("half a thought"), "dialogs carry the draft");

    refused(s.save_draft(alice, chat, Some(mtext("x")), Some(MessageId(99))).await, Error::MessageNotFound, "reply to a missing message");
    refused(s.save_draft(eve, chat, Some(mtext("x")), None).await, Error::ChatNotFound, "a non-member's draft");
    assert_eq!(
        s.draft(alice, chat).await.must("draft").map(|d| d.text.as_str().to_owned()).as_deref(),
        Some("half a thought"),
        "refusals keep the draft"
    );

    // Sending clears it (and says so); clearing what is not there logs nothing.
    let a1 = state(s, alice).await;
    send(s, alice, chat, 2, "the whole thought").await;
    assert_eq!(s.draft(alice, chat).await.must("draft"), None, "a send clears the draft");
    let after = events(&log_of(s, alice, a1).await);
    assert_eq!(after.last(), Some(&Event::DraftChanged { chat }), "the clearing is logged: {after:?}");
    let a2 = state(s, alice).await;
    s.save_draft(alice, chat, None, None).await.must("clear nothing");
    assert_eq!(state(s, alice).await, a2, "clearing no draft logs nothing");
    s.save_draft(alice, other, None, None).await.must("clear");
    assert_eq!(s.draft(alice, other).await.must("draft"), None);
    assert_eq!(events(&log_of(s, alice, a2).await), vec![Event::DraftChanged { chat: other }]);
}

// --- accountability (account, #16) ---------------------------------------------------------

/// Numbers are found by their hash only; a setting is recorded once and then compared.
pub async fn sealed_phones_and_settings(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    assert_eq!(s.phones_to_seal(10).await.must("phones_to_seal"), vec![], "a new account has no clear number");
    assert_eq!(s.user_by_phone(phone(1).hash).await.must("user_by_phone").map(|u| u.id), Some(alice));
    assert_eq!(s.user_by_phone(phone(2).hash).await.must("user_by_phone"), None);
    let other = SealedPhone { hash: phone(9).hash, sealed: b"other".to_vec() };
    s.seal_phone(alice, &other).await.must("seal_phone");
    assert_eq!(s.user_by_phone(phone(9).hash).await.must("user_by_phone").map(|u| u.id), Some(alice), "sealing replaces the hash");
    assert_eq!(s.sealed_phone(alice).await.must("sealed_phone"), Some(b"other".to_vec()));
    refused(s.sealed_phone(UserId(987_654_321)).await, Error::UserNotFound, "sealed_phone of nobody");
    assert!(s.settle_setting("k", b"one").await.must("settle"), "the first value is recorded");
    assert!(s.settle_setting("k", b"one").await.must("settle"), "the same value matches");
    assert!(!s.settle_setting("k", b"two").await.must("settle"), "another value does not, and does not replace it");
    assert!(s.settle_setting("k", b"one").await.must("settle"));
}

fn new_report(chat: ChatId, message: i64, context: &[i64]) -> NewReport {
    NewReport {
        chat,
        message: MessageId(message),
        reason: ReportReason::Spam,
        comment: "ads".into(),
        context: context.iter().copied().map(MessageId).collect(),
    }
}

/// A report is made only by someone who can see the message, copies it and the chosen context, and is made once per message.
pub async fn reports(store: Arc<dyn Store>) {
    let s = &*store;
    let (alice, bob, carol, dave) =
        (person(s, 1, "Alice").await, person(s, 2, "Bob").await, person(s, 3, "Carol").await, person(s, 4, "Dave").await);
    let chat = s.create_chat(alice, ChatKind::Group, &title("G"), None, &[bob, carol]).await.must("group").id;
    send(s, bob, chat, 1, "buy now").await;
    send(s, bob, chat, 2, "cheap pills").await;
    send(s, carol, chat, 3, "stop it").await;
    refused(s.report(dave, new_report(chat, 1, &[])).await, Error::ChatNotFound, "a non-member reports");
    refused(s.report(carol, new_report(chat, 99, &[])).await, Error::MessageNotFound, "a missing message");
    refused(s.report(carol, new_report(chat, 1, &[98])).await, Error::MessageNotFound, "context the reporter cannot see");
    assert!(matches!(s.report(carol, new_report(chat, 3, &[])).await, Err(Error::Invalid(_))), "one's own message");
    let too_long = NewReport { comment: "x".repeat(NewReport::COMMENT_MAX + 1), ..new_report(chat, 1, &[]) };
    assert!(matches!(s.report(carol, too_long).await, Err(Error::Invalid(_))));
    assert_eq!(s.reports(false, 0, 100).await.must("reports"), vec![], "refused reports leave nothing");

    let r = s.report(carol, new_report(chat, 1, &[2, 1, 2])).await.must("report");
    assert_eq!((r.reporter, r.chat, r.message.id, r.message.from, r.message.text.as_str()), (carol, chat, MessageId(1), bob, "buy now"));
    assert_eq!(r.context.iter().map(|m| (m.id, m.text.as_str())).collect::<Vec<_>>(), vec![(MessageId(2), "cheap pills")]);
    assert_eq!((r.reason, r.comment.as_str(), r.resolution), (ReportReason::Spam, "ads", None));
    assert_eq!(s.report(carol, new_report(chat, 1, &[])).await.must("again"), r, "a second report of one message is the first");
    let by_alice = s.report(alice, new_report(chat, 2, &[])).await.must("report");
    assert_eq!(s.reports(true, 0, 100).await.must("reports").iter().map(|r| r.id).collect::<Vec<_>>(), vec![r.id, by_alice.id]);
    assert_eq!(s.reports(true, r.id, 100).await.must("reports").len(), 1, "after");
    assert_eq!(s.report_by_id(r.id).await.must("report_by_id"), Some(r.clone()));
    let (made, against) = s.user_reports(bob, 10).await.must("user_reports");
    assert_eq!((made.len(), against.iter().map(|r| r.id).collect::<Vec<_>>()), (0, vec![by_alice.id, r.id]), "newest first");
    let (made, _) = s.user_reports(carol, 10).await.must("user_reports");
    assert_eq!(made, vec![r]);
}

fn action(operator: UserId, kind: ModerationAction) -> Action {
    Action {
        operator,
        kind,
        report: None,
        user: None,
        chat: None,
        message: None,
        until: None,
        reason: "rule 1".into(),
        notice: Some("notice".into()),
    }
}

/// Every action is applied, audited and told to the affected user in one transaction; a refused action changes nothing.
pub async fn moderation(store: Arc<dyn Store>) {
    let s = &*store;
    let (op, bob, carol) = (person(s, 1, "Operator").await, person(s, 2, "Bob").await, person(s, 3, "Carol").await);
    let group = s.create_chat(carol, ChatKind::Group, &title("G"), None, &[bob]).await.must("group").id;
    send(s, bob, group, 1, "spam").await;
    send(s, bob, group, 2, "more spam").await;
    let private = s.open_private(bob, carol).await.must("private").id;
    send(s, bob, private, 3, "hi").await;
    let report = s.report(carol, new_report(group, 1, &[])).await.must("report");

    // Refusals change nothing.
    let refusals = [
        Action { report: None, ..action(op, ModerationAction::Dismiss) },
        Action { report: Some(999), ..action(op, ModerationAction::Dismiss) },
        Action { user: Some(bob), ..action(op, ModerationAction::Suspend) },
        Action { user: Some(bob), until: Some(1), ..action(op, ModerationAction::Ban) },
        Action { chat: Some(private), message: Some(MessageId(1)), ..action(op, ModerationAction::DeleteMessage) },
        Action { chat: Some(private), ..action(op, ModerationAction::TakeDown) },
    ];
    for a in refusals {
        assert!(matches!(s.moderate(a.clone()).await, Err(Error::Invalid(_))), "{a:?} is refused");
    }
    refused(
        s.moderate(Action { user: Some(UserId(987_654_321)), ..action(op, ModerationAction::Restrict) }).await,
        Error::UserNotFound,
        "nobody",
    );
    assert_eq!(s.audit_log(0, 100).await.must("audit_log"), vec![], "refused actions write nothing");
    assert_eq!(s.sanctions(bob).await.must("sanctions"), vec![]);

    // Restrict: bob sends nothing anywhere, and is told.
    let before = state(s, bob).await;
    let done = s.moderate(Action { user: Some(bob), ..action(op, ModerationAction::Restrict) }).await.must("restrict");
    let (told, notice) = done.notified.clone().expect("bob is told");
    assert_eq!((told, body(&notice.message)), (bob, "notice"));
    let log = log_of(s, bob, before).await;
    assert!(
        events(&log).iter().any(|e| matches!(e, Event::NewMessage(m) if m.id == notice.message.id && m.chat == notice.message.chat)),
        "the notice is in bob's log"
    );
    assert_eq!(
        s.sanctions(bob).await.must("sanctions"),
        vec![Sanction { kind: SanctionKind::Restrict, until: None, reason: "rule 1".into() }]
    );
    for chat in [group, private] {
        let sent = s.send(bob, chat, 10 + chat.0, draft(text("again"), None)).await;
        assert!(matches!(sent, Err(Error::Sanctioned { kind: SanctionKind::Restrict, .. })), "{sent:?}");
    }
    send(s, carol, group, 20, "others still send").await;

    // Delete the reported message: gone for everyone, the report closed, its author told.
    let done = s
        .moderate(Action { report: Some(report.id), notice: Some("deleted".into()), ..action(op, ModerationAction::DeleteMessage) })
        .await
        .must("delete");
    assert_eq!((done.entry.user, done.entry.chat, done.entry.message), (Some(bob), Some(group), Some(MessageId(1))));
    assert_eq!(done.notified.map(|(u, _)| u), Some(bob));
    assert!(!history_all(s, carol, group).await.iter().any(|m| m.id == MessageId(1)), "the message is gone");
    let closed = s.report_by_id(report.id).await.must("report").expect("the report stays");
    assert_eq!((closed.resolution, closed.resolved_by), (Some(ModerationAction::DeleteMessage), Some(op)));
    assert_eq!(s.reports(true, 0, 100).await.must("open reports"), vec![], "no open report left");

    // Ban with an expiry, then take the group down: nobody can open it; its creator is told.
    let until = now() + 3600;
    s.moderate(Action { user: Some(bob), until: Some(until), ..action(op, ModerationAction::Ban) }).await.must("ban");
    assert_eq!(s.sanctions(bob).await.must("sanctions")[0].kind, SanctionKind::Ban, "the most severe first");
    let done = s.moderate(Action { chat: Some(group), ..action(op, ModerationAction::TakeDown) }).await.must("take down");
    assert_eq!(done.notified.map(|(u, _)| u), Some(carol));
    refused(s.chat(carol, group).await, Error::ChatNotFound, "a taken-down chat");
    refused(s.send(carol, group, 30, draft(text("x"), None)).await, Error::ChatNotFound, "posting in it");
    assert!(!s.dialogs(carol, None, 100).await.must("dialogs").iter().any(|d| d.view.chat.id == group), "it leaves the dialog list");

    let log = s.audit_log(0, 100).await.must("audit_log");
    let kinds: Vec<ModerationAction> = log.iter().map(|e| e.kind).collect();
    use ModerationAction as M;
    assert_eq!(kinds, vec![M::Restrict, M::DeleteMessage, M::Ban, M::TakeDown]);
    assert!(log.windows(2).all(|w| w[0].id < w[1].id) && log.iter().all(|e| e.operator == op && e.reason == "rule 1"));
    assert_eq!((log[1].report, log[2].until), (Some(report.id), Some(until)));
    assert_eq!(s.audit_log(log[1].id, 100).await.must("after").len(), 2);
}

// --- search --------------------------------------------------------------------------------

/// What search engines rely on: the scope is the user's chats (a chat they cannot read is
/// `ChatNotFound`), `visible_messages` drops what they may not see now, the corpus holds
/// live messages only, the search log (where the engine keeps one) names every message
/// write with the message as it is now, and the directory finds people and public chats.
pub async fn search_support(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice Liddell").await;
    let bob = person(s, 2, "Bob Builder").await;
    let carol = person(s, 3, "Carol Ёлкина").await;
    s.set_username(bob, Some(uname("bobby"))).await.must("username");
    let group = s.create_chat(alice, ChatKind::Group, &title("Garden"), None, &[bob]).await.must("group").id;
    let public =
        s.create_chat(bob, ChatKind::Channel, &title("Café Néon news"), Some(&uname("neon_news")), &[carol]).await.must("channel").id;
    let other = s.create_chat(bob, ChatKind::Group, &title("Other"), None, &[carol]).await.must("other").id;
    let head0 = s.search_log_head().await.must("head");
    let m1 = send(s, alice, group, 1, "first words").await.message.id;
    let m2 = send(s, bob, group, 2, "second words").await.message.id;
    let m3 = send(s, bob, other, 3, "elsewhere").await.message.id;
    s.edit(alice, group, m1, edit_text(mtext("first words, edited"))).await.must("edit");
    s.delete(bob, group, &[m2], true).await.must("delete for everyone");

    let mut scope = s.search_scope(alice, None).await.must("scope");
    scope.sort();
    assert_eq!(scope, vec![group], "alice searches her chats only");
    assert_eq!(s.search_scope(alice, Some(group)).await.must("scope of one"), vec![group]);
    refused(s.search_scope(alice, Some(other)).await, Error::ChatNotFound, "a chat alice is not in");
    refused(s.search_scope(alice, Some(ChatId(999_999))).await, Error::ChatNotFound, "a chat that does not exist");

    let asked = [(group, m1), (group, m2), (other, m3), (group, MessageId(77))];
    let seen: Vec<_> = s.visible_messages(alice, &asked).await.must("visible").iter().map(|m| (m.chat, m.id)).collect();
    assert_eq!(seen, vec![(group, m1)], "deleted, not a member, missing: dropped");
    let seen = s.visible_messages(bob, &[(other, m3), (group, m1)]).await.must("visible");
    assert_eq!(seen.iter().map(|m| (m.chat, m.id)).collect::<Vec<_>>(), vec![(other, m3), (group, m1)], "in the order asked");
    assert_eq!(body(&seen[1]), "first words, edited", "as it is now");
    s.delete(alice, group, &[m1], false).await.must("delete for me");
    assert!(s.visible_messages(alice, &[(group, m1)]).await.must("visible").is_empty(), "deleted for alice");
    assert_eq!(s.visible_messages(bob, &[(group, m1)]).await.must("visible").len(), 1, "still there for bob");

    let corpus: Vec<_> = s.search_corpus((ChatId(0), MessageId(0)), 100).await.must("corpus").iter().map(|m| (m.chat, m.id)).collect();
    let mut want = vec![(group, m1), (other, m3)];
    want.sort();
    assert_eq!(corpus, want, "live messages in (chat, id) order");
    let rest = s.search_corpus(want[0], 100).await.must("corpus page");
    assert_eq!(rest.iter().map(|m| (m.chat, m.id)).collect::<Vec<_>>(), want[1..].to_vec(), "paged after a key");

    let head = s.search_log_head().await.must("head");
    if head > 0 {
        let log = s.search_log(head0, 100).await.must("log");
        let keys: Vec<_> = log.iter().map(|e| (e.chat, e.id)).collect();
        assert_eq!(keys, vec![(group, m1), (group, m2), (other, m3), (group, m1), (group, m2)], "every write, in commit order");
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq), "positions rise");
        assert_eq!(log.last().map(|e| e.seq), Some(head), "the head is the last entry");
        assert!(log.iter().filter(|e| e.id == m2).all(|e| e.message.is_none()), "a deleted message reads as gone");
        assert_eq!(log[0].message.as_ref().map(body), Some("first words, edited"), "entries read the message as it is now");
        assert_eq!(s.search_log(head, 100).await.must("log").len(), 0, "nothing after the head");
    }

    let found = s.directory("bob", 10).await.must("directory");
    assert_eq!(found.users.iter().map(|u| u.id).collect::<Vec<_>>(), vec![bob], "by name");
    let found = s.directory("@bobb", 10).await.must("directory");
    assert_eq!(found.users.iter().map(|u| u.id).collect::<Vec<_>>(), vec![bob], "by username prefix");
    let found = s.directory("елкина", 10).await.must("directory");
    assert_eq!(found.users.iter().map(|u| u.id).collect::<Vec<_>>(), vec![carol], "folded: case and diacritics");
    let found = s.directory("cafe neon", 10).await.must("directory");
    assert_eq!(
        found.chats.iter().map(|c| (c.id, c.member_count)).collect::<Vec<_>>(),
        vec![(public, 2)],
        "a public channel, with its members"
    );
    assert!(s.directory("garden", 10).await.must("directory").chats.is_empty(), "a chat without a username is not public");
    assert!(s.directory("other", 10).await.must("directory").chats.is_empty(), "nor is this one");
    assert_eq!(s.directory("neon_", 10).await.must("directory").chats.len(), 1, "an underscore is a character, not a wildcard");
    assert!(s.directory("...", 10).await.must("directory").users.is_empty(), "no word, nothing");
    assert!(s.directory("+15550000001", 10).await.must("directory").users.is_empty(), "never by phone number");
    let _ = alice;
}

// --- secret chats (MLS, #15) ------------------------------------------------------------------

/// A signed-in device of `user` (its session id is the MLS device id).
async fn device(store: &dyn Store, user: UserId, n: u8) -> SessionId {
    store.create_session(user, &[n; 32], &format!("device {n}")).await.must("create_session").id
}

fn sha(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn packages(device: SessionId, key: &[u8], one_time: &[&str], last_resort: Option<&str>) -> KeyPackageUpload {
    let wrap = |s: &str| (s.as_bytes().to_vec(), sha(s.as_bytes()));
    KeyPackageUpload {
        device,
        signature_key: key.to_vec(),
        one_time: one_time.iter().map(|s| wrap(s)).collect(),
        last_resort: last_resort.map(wrap),
    }
}

/// Key packages: uploaded only for one's own device with its one signature key, each stored once; one-time packages are handed out once, the last-resort one again and again; the claimer's own device is skipped.
pub async fn key_package_directory(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let a1 = device(s, alice, 1).await;
    let b1 = device(s, bob, 2).await;
    assert_eq!(s.upload_key_packages(bob, packages(b1, b"kb", &["b-1", "b-2"], Some("b-last"))).await.must("upload"), 2);
    let refused = [
        ("someone else's device", s.upload_key_packages(alice, packages(b1, b"kb", &["x"], None)).await),
        ("another signature key", s.upload_key_packages(bob, packages(b1, b"other", &["y"], None)).await),
        ("a package stored before", s.upload_key_packages(bob, packages(b1, b"kb", &["z", "b-1"], None)).await),
    ];
    for (what, result) in refused {
        assert!(matches!(result, Err(Error::Invalid(_))), "{what} is refused: {result:?}");
    }
    assert_eq!(s.key_package_count(bob, b1).await.must("count"), 2, "refused uploads stored nothing (not even `z`)");
    s.upload_key_packages(alice, packages(a1, b"ka", &["a-1"], None)).await.must("upload alice");

    let mut got = Vec::new();
    for _ in 0..4 {
        let claimed = s.claim_key_packages(&[bob, alice], a1).await.must("claim");
        assert!(claimed.iter().all(|c| c.device != a1), "the claimer's own device is skipped");
        got.extend(claimed.into_iter().map(|c| (String::from_utf8(c.data).expect("utf8"), c.last_resort)));
    }
    let expect = [("b-1", false), ("b-2", false), ("b-last", true), ("b-last", true)].map(|(d, l)| (d.to_string(), l)).to_vec();
    assert_eq!(got, expect, "one-time packages once each, oldest first, then the last-resort one");
    assert_eq!(s.key_package_count(bob, b1).await.must("count"), 0);
    let devices = s.mls_devices(&[alice, bob]).await.must("devices");
    assert_eq!(devices.iter().map(|d| (d.user, d.device, d.active)).collect::<Vec<_>>(), vec![(alice, a1, true), (bob, b1, true)]);
    assert_eq!(devices[1].signature_key, b"kb".to_vec());
}

/// Concurrent claims never hand out one one-time package twice (16 claimers, 10 packages: 10 distinct one-time packages, then only the last-resort one).
pub async fn key_package_claims_race(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let a1 = device(s, alice, 1).await;
    let b1 = device(s, bob, 2).await;
    let names: Vec<String> = (0..10).map(|i| format!("pkg-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    s.upload_key_packages(bob, packages(b1, b"kb", &refs, Some("last"))).await.must("upload");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.claim_key_packages(&[bob], a1).await.must("concurrent claim") }));
    }
    let mut one_time = Vec::new();
    let mut last = 0;
    for t in tasks {
        for c in t.await.expect("a claiming task panicked") {
            if c.last_resort {
                last += 1;
            } else {
                one_time.push(String::from_utf8(c.data).expect("utf8"));
            }
        }
    }
    one_time.sort();
    let mut expect = names.clone();
    expect.sort();
    assert_eq!(one_time, expect, "each one-time package handed out exactly once");
    assert_eq!(last, 6, "the other claims got the last-resort package");
}

fn mls_commit(device: SessionId, epoch: u64, tag: &str, members: &[UserId], welcome: bool) -> MlsCommit {
    MlsCommit {
        device,
        epoch,
        data: format!("commit {tag}").into_bytes(),
        hash: sha(format!("commit {tag}").as_bytes()),
        welcome: welcome.then(|| (format!("welcome {tag}").into_bytes(), sha(format!("welcome {tag}").as_bytes()))),
        state: format!("state {tag}").into_bytes(),
        group_info: format!("info {tag}").into_bytes(),
        members: members.to_vec(),
    }
}

fn mls_in(log: &[Logged], chat: ChatId) -> Vec<(MessageId, MlsKind, Vec<u8>)> {
    log.iter()
        .filter_map(|l| match &l.event {
            Event::Mls(m) if m.chat == chat => Some((m.id, m.kind, m.data.clone())),
            _ => None,
        })
        .collect()
}

/// Secret chats: one commit per epoch even when they race (the others get CommitConflict with the current epoch, nothing stored), the members follow the tree, the Welcome comes after its commit, application messages only for the current epoch, replays refused, cloud sends refused, all in the members' logs in one sequence.
pub async fn secret_commits(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = person(s, 1, "Alice").await;
    let bob = person(s, 2, "Bob").await;
    let carol = person(s, 3, "Carol").await;
    let a1 = device(s, alice, 1).await;
    let b1 = device(s, bob, 2).await;
    let start =
        MlsGroup { chat: ChatId(0), group_id: b"g1".to_vec(), epoch: 0, state: b"state 0".to_vec(), group_info: b"info 0".to_vec() };
    let chat = s.create_secret(alice, &title("Secret"), start.clone()).await.must("create_secret").id;
    assert!(matches!(s.create_secret(alice, &title("Secret"), start).await, Err(Error::Invalid(_))), "one chat per MLS group id");
    let bob_from = state(s, bob).await;

    // Alice adds Bob: the commit, then its Welcome; Bob is a member now.
    let sent = s.mls_commit(alice, chat, mls_commit(a1, 0, "add bob", &[alice, bob], true)).await.must("commit");
    assert_eq!(sent.message.id, MessageId(1));
    let g = s.mls_group(bob, chat).await.must("group");
    assert_eq!((g.epoch, g.state.as_slice(), g.group_info.as_slice()), (1, &b"state add bob"[..], &b"info add bob"[..]));
    let got = mls_in(&log_of(s, bob, bob_from).await, chat);
    assert_eq!(got.iter().map(|(i, k, _)| (i.0, *k)).collect::<Vec<_>>(), vec![(1, MlsKind::Commit), (2, MlsKind::Welcome)]);
    assert_eq!(s.secret_chats(bob).await.must("secret_chats"), vec![(chat, 1)]);

    // Three commits race for epoch 1: exactly one wins, the others learn epoch 2.
    let mut tasks = Vec::new();
    for (i, (who, dev)) in [(alice, a1), (bob, b1), (alice, a1)].into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.mls_commit(who, chat, mls_commit(dev, 1, &format!("race {i}"), &[alice, bob], false)).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("a committing task panicked") {
            Ok(_) => wins += 1,
            Err(Error::CommitConflict { epoch }) => assert_eq!(epoch, 2, "the loser is told the current epoch"),
            Err(e) => panic!("unexpected answer to a racing commit: {e:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one commit per epoch");
    assert_eq!(s.mls_history(alice, chat, MessageId(0), 100).await.must("history").len(), 3, "the losers stored nothing");

    // Bad input changes nothing.
    let app = |random_id: i64, epoch: u64, data: &str| MlsSend {
        device: a1,
        random_id,
        epoch,
        data: data.as_bytes().to_vec(),
        hash: sha(data.as_bytes()),
    };
    let sent = s.mls_send(alice, chat, app(1, 2, "ciphertext 1")).await.must("send");
    assert_eq!(s.mls_send(alice, chat, app(1, 2, "ciphertext 1")).await.must("retry"), sent, "a retry answers the original");
    let refused = [
        ("an old epoch", s.mls_send(alice, chat, app(2, 1, "ciphertext 2")).await.map(|_| ())),
        ("a replay", s.mls_send(bob, chat, app(3, 2, "ciphertext 1")).await.map(|_| ())),
        ("a replayed commit", s.mls_commit(alice, chat, mls_commit(a1, 2, "add bob", &[alice, bob], false)).await.map(|_| ())),
        ("a stranger's commit", s.mls_commit(carol, chat, mls_commit(a1, 2, "carol", &[carol], false)).await.map(|_| ())),
        ("a cloud message", s.send(alice, chat, 9, draft(text("plain"), None)).await.map(|_| ())),
        ("a cloud member change", s.add_members(alice, chat, &[carol]).await.map(|_| ())),
    ];
    let codes: Vec<(&str, String)> = refused.iter().map(|(w, r)| (*w, format!("{:?}", r.as_ref().err()))).collect();
    assert!(matches!(refused[0].1, Err(Error::WrongEpoch { got: 1, epoch: 2 })), "{codes:?}");
    assert!(matches!(refused[1].1, Err(Error::MlsReplay)), "{codes:?}");
    assert!(matches!(refused[2].1, Err(Error::MlsReplay)), "{codes:?}");
    assert!(matches!(refused[3].1, Err(Error::ChatNotFound)), "{codes:?}");
    assert!(matches!(refused[4].1, Err(Error::SecretChat)), "{codes:?}");
    assert!(matches!(refused[5].1, Err(Error::SecretChat)), "{codes:?}");
    assert_eq!(s.mls_history(bob, chat, MessageId(0), 100).await.must("history").len(), 4);

    // Bob's devices all leave the tree: he is no longer a member, and the removal reached him.
    let bob_from = state(s, bob).await;
    s.mls_commit(alice, chat, mls_commit(a1, 2, "remove bob", &[alice], false)).await.must("remove commit");
    assert!(matches!(s.mls_group(bob, chat).await, Err(Error::ChatNotFound)));
    let bob_log = log_of(s, bob, bob_from).await;
    assert_eq!(mls_in(&bob_log, chat).len(), 1, "the removed member gets the commit that removed him");
    assert!(bob_log.iter().any(|l| matches!(l.event, Event::Participant { user, role: None, .. } if user == bob)));
    assert_eq!(
        s.mls_history(alice, chat, MessageId(0), 100).await.must("history").iter().map(|m| m.id.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5],
        "one gapless sequence"
    );
}

/// `heliograph bench-corpus` on this engine: the accounts and chats it makes are ordinary
/// ones (the reader's session signs in, history and search scope see the imported
/// messages), the same seed writes the same corpus, and a database with accounts is refused.
pub async fn bench_corpus(store: Arc<dyn Store>) {
    let s = &*store;
    let spec = crate::corpus::Spec {
        chats: 7,
        messages: 12_345,
        reader_chats: 3,
        authors: 4,
        seed: 9,
        phones: (0..=4).map(|n| phone(100 + n)).collect(),
        reader_session: vec![7; 32],
        device: "corpus".into(),
    };
    let heard = std::sync::Mutex::new(Vec::new());
    let seeded = s.seed_corpus(&spec, &|n| heard.lock().expect("progress").push(n)).await.must("seed");
    assert_eq!(seeded.messages, 12_345);
    assert_eq!(heard.into_inner().expect("progress").last(), Some(&12_345), "progress reaches the end");
    let session = s.session_by_token(&[7; 32]).await.must("session").expect("the reader's session signs in");
    assert_eq!(session.user, seeded.reader);
    let mut scope = s.search_scope(seeded.reader, None).await.must("scope");
    scope.sort();
    assert_eq!(scope, seeded.reader_chats, "the reader is in its chats only");
    let first = seeded.reader_chats[0];
    let history = history_all(s, seeded.reader, first).await;
    assert_eq!(history.len(), 1764, "12,345 messages over 7 chats: 1,764 in the first");
    assert!(history.windows(2).all(|w| w[0].id.0 + 1 == w[1].id.0 && w[0].date <= w[1].date), "gapless ids, dates in order");
    assert_eq!(view(s, seeded.reader, first).await.chat.top_message, history[history.len() - 1].id, "the chat knows its newest message");
    let mut all = Vec::new();
    let mut after = (ChatId(0), MessageId(0));
    loop {
        let page = s.search_corpus(after, 5_000).await.must("corpus");
        let Some(last) = page.last() else { break };
        after = (last.chat, last.id);
        all.extend(page);
    }
    assert_eq!(all.len(), 12_345, "a rebuilt index reads every message");
    for kind in [&seeded.queries.common, &seeded.queries.rare, &seeded.queries.phrases, &seeded.queries.prefixes, &seeded.queries.scripts] {
        assert!(!kind.is_empty(), "every kind of query is drawn: {:?}", seeded.queries);
    }
    let again = s.seed_corpus(&spec, &|_| {}).await;
    assert!(matches!(again, Err(Error::Invalid(_))), "a second corpus into the same database: {again:?}");
}

/// RFC 6962's Merkle tree hash, written from the RFC: the oracle the log's tree is held to.
fn oracle_root(leaves: &[Vec<u8>]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    match leaves {
        [] => Sha256::digest(b"").into(),
        [one] => Sha256::new().chain_update([0u8]).chain_update(one).finalize().into(),
        _ => {
            let k = leaves.len().next_power_of_two() / 2;
            let (l, r) = (oracle_root(&leaves[..k]), oracle_root(&leaves[k..]));
            Sha256::new().chain_update([1u8]).chain_update(l).chain_update(r).finalize().into()
        }
    }
}

/// The transparency log: every moderation action appends one entry in its transaction; the
/// tree's root after every append equals RFC 6962's hash of the entries so far (a second,
/// independent implementation); every entry's inclusion proof and the consistency proof
/// between every pair of sizes verify; hash tiles hold the leaves; and nothing is served
/// beyond the tree.
pub async fn transparency_log(store: Arc<dyn Store>) {
    use tlog_tiles::{check_record, check_tree, record_hash, Hash};
    let s = &*store;
    let op = person(s, 1, "Operator").await;
    let people = crowd(&store, 2, 40).await;
    assert_eq!(s.transparency_size().await.must("size"), 0);
    assert_eq!(s.transparency_root(0).await.must("root"), oracle_root(&[]), "the empty tree");
    let mut entries = Vec::new();
    let mut roots = vec![oracle_root(&[])];
    for (k, &p) in people.iter().enumerate() {
        let done = s.moderate(Action { user: Some(p), ..action(op, ModerationAction::Restrict) }).await.must("restrict");
        assert_eq!(s.transparency_size().await.must("size"), k as u64 + 1, "one entry per action");
        let entry = s.transparency_entries(k as u64, 10).await.must("entries");
        assert_eq!(entry.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&entry[0]).expect("an entry is JSON");
        assert_eq!(
            (v["kind"].as_str(), v["action"].as_str(), v["audit"].as_i64()),
            (Some("moderation"), Some("restrict"), Some(done.entry.id))
        );
        let mut keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["action", "audit", "date", "kind", "v"], "the public entry names no account and no reason");
        entries.push(entry[0].clone());
        let root = s.transparency_root(k as u64 + 1).await.must("root");
        assert_eq!(root, oracle_root(&entries), "the root after {} entries", k + 1);
        roots.push(root);
    }
    let n = entries.len() as u64;
    for size in 1..=n {
        for i in 0..size {
            let proof: Vec<Hash> = s.transparency_prove_entry(size, i).await.must("inclusion").into_iter().map(Hash).collect();
            check_record(&proof, size, Hash(roots[size as usize]), i, record_hash(&entries[i as usize]))
                .unwrap_or_else(|e| panic!("entry {i} in the tree of {size}: {e}"));
        }
        for old in 1..size {
            let proof: Vec<Hash> = s.transparency_prove_consistency(size, old).await.must("consistency").into_iter().map(Hash).collect();
            check_tree(&proof, size, Hash(roots[size as usize]), old, Hash(roots[old as usize]))
                .unwrap_or_else(|e| panic!("the tree of {old} is a prefix of the tree of {size}: {e}"));
            if old > 1 {
                assert!(
                    check_tree(&proof, size, Hash(roots[size as usize]), old, Hash(roots[old as usize - 1])).is_err(),
                    "a wrong old root fails"
                );
            }
        }
    }
    // The level-0 tile of the tree is its leaves' hashes; tiles outside the tree are not served.
    let tile = s.transparency_tile(&format!("tile/8/0/000.p/{n}"), n).await.must("tile").expect("the edge tile");
    let leaves: Vec<u8> = entries.iter().flat_map(|e| record_hash(e).0).collect();
    assert_eq!(tile, leaves);
    for outside in [
        format!("tile/8/0/000.p/{}", n + 1),
        "tile/8/0/000".into(),
        "tile/8/1/000.p/1".into(),
        "tile/8/0/001.p/1".into(),
        "nonsense".into(),
    ] {
        assert_eq!(s.transparency_tile(&outside, n).await.must("tile"), None, "{outside}");
    }
}
