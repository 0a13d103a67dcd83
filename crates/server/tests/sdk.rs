//! One test per feature, through the Rust SDK against a real server on 127.0.0.1:0.

mod common;

use std::collections::HashSet;

use common::{code_of, InProcess, Person};
use heliograph_client::proto::{method::Direction, Content, ErrorCode as E, Peer, Role, UpdateKind as K};
use heliograph_client::{Client, Config, Event};

fn text(m: &heliograph_client::proto::Message) -> &str {
    m.content.text().unwrap_or("")
}

/// Profiles, usernames (unique, case-insensitive), resolving, sessions listed and revoked.
#[tokio::test]
async fn accounts_profiles_and_sessions() {
    let server = InProcess::start().await;
    let mut ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let me = ann.client.get_me().await.expect("get_me");
    assert_eq!(me.name, "Person 1");
    assert_eq!(me.phone, None, "the server keeps no readable number (only sign-in's answer carries the one given)");
    let me = ann.client.update_profile(Some("Ann"), Some("hello")).await.expect("profile");
    assert_eq!((me.name.as_str(), me.bio.as_deref()), ("Ann", Some("hello")));
    ann.client.set_username(Some("Ann_Smith")).await.expect("username");
    assert_eq!(code_of(bob.client.set_username(Some("ann_smith")).await), E::UsernameOccupied);
    assert_eq!(code_of(bob.client.set_username(Some("abc")).await), E::UsernameInvalid);
    match bob.client.resolve("@ANN_SMITH").await.expect("resolve") {
        Peer::User { user } => {
            assert_eq!(user.id, ann.id());
            assert_eq!(user.phone, None, "phone hidden from non-contacts");
        }
        other => panic!("{other:?}"),
    }
    // A second device; list; revoke it; its live connection is cut and its token is dead.
    let (phone, code) = common::test_phone(1);
    let (second, mut second_updates) = Client::connect(Config::new(server.url())).await.expect("connect");
    second.send_code(&phone).await.expect("code");
    let auth = second.sign_in(&phone, &code, None, Some("laptop")).await.expect("second device");
    assert!(!auth.new_account);
    assert_eq!(auth.user.phone.as_deref(), Some(phone.as_str()), "sign-in answers the number it was given");
    let sessions = ann.client.sessions().await.expect("sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    let laptop = sessions.iter().find(|s| s.device == "laptop").expect("laptop listed");
    ann.client.revoke_session(laptop.id).await.expect("revoke");
    let cut = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match second_updates.recv().await {
                Some(Event::SignedOut { error }) => return error.code,
                Some(_) => continue,
                None => panic!("stream ended"),
            }
        }
    })
    .await
    .expect("the revoked device is signed out");
    assert_eq!(cut, E::SessionRevoked);
    assert_eq!(code_of(second.get_me().await), E::AuthRequired);
    assert_eq!(ann.client.sessions().await.expect("sessions").len(), 1);
    let _ = ann.updates.recv();
}

/// No stored number is shown to anyone, mutual contacts included (numbers are sealed); contacts by phone and username; blocking.
#[tokio::test]
async fn contacts_privacy_and_blocking() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    bob.client.set_username(Some("bobby")).await.expect("username");
    let (bob_phone, _) = common::test_phone(2);
    let added = ann.client.add_contact_by_phone(&bob_phone).await.expect("add by phone");
    assert_eq!((added.id, added.contact, added.phone.clone()), (bob.id(), true, Some(bob_phone.clone())), "found by the number given");
    bob.client.add_contact_by_username("ann_nope").await.expect_err("unknown username");
    let ann_seen = bob.client.get_users(&[ann.id()]).await.expect("users").remove(0);
    assert_eq!(ann_seen.phone, None);
    let (ann_phone, _) = common::test_phone(1);
    bob.client.add_contact_by_phone(&ann_phone).await.expect("mutual now");
    let bob_seen = ann.client.get_users(&[bob.id()]).await.expect("users").remove(0);
    assert_eq!(bob_seen.phone, None, "mutual contacts too: the server cannot read a stored number");
    assert_eq!(ann.client.get_contacts().await.expect("contacts").len(), 1);

    let chat = ann.client.open_private(bob.id()).await.expect("open");
    ann.client.send_message(chat.id, "before block", None).await.expect("send");
    bob.client.block(ann.id()).await.expect("block");
    assert_eq!(code_of(ann.client.send_message(chat.id, "blocked?", None).await), E::UserBlocked);
    assert_eq!(code_of(bob.client.send_message(chat.id, "the blocker cannot write either", None).await), E::UserBlocked);
    assert_eq!(bob.client.get_blocked().await.expect("blocked")[0].id, ann.id());
    bob.client.unblock(ann.id()).await.expect("unblock");
    ann.client.send_message(chat.id, "after unblock", None).await.expect("send again");
    let history = bob.client.history(chat.id, None, Direction::Older, None).await.expect("history");
    assert_eq!(history.iter().map(text).collect::<Vec<_>>(), ["before block", "after unblock"]);
}

/// A private chat live: messages, reply, forward, edit, delete, pin, read receipts, typing,
/// unread counts and the dialog list.
#[tokio::test]
async fn private_chat_end_to_end() {
    let server = InProcess::start().await;
    let mut ann = Person::sign_in(&server, 1).await;
    let mut bob = Person::sign_in(&server, 2).await;
    let chat = ann.client.open_private(bob.id()).await.expect("open");
    assert_eq!(chat.title, "Person 2");
    let first = ann.client.send_message(chat.id, "hello bob", None).await.expect("send");
    assert_eq!(first.message.id, 1);
    let got = bob.expect_update("new message", |k| matches!(k, K::NewMessage { .. })).await;
    let K::NewMessage { message } = got.kind else { unreachable!() };
    assert_eq!((message.id, message.from, text(&message)), (1, ann.id(), "hello bob"));

    let reply = bob.client.send_message(chat.id, "hi ann", Some(1)).await.expect("reply");
    assert_eq!((reply.message.id, reply.message.reply_to), (2, Some(1)));
    let edited = ann.client.edit_message(chat.id, 1, "hello, bob").await.expect("edit");
    assert!(edited.edit_date.is_some());
    assert_eq!(code_of(bob.client.edit_message(chat.id, 1, "not mine").await), E::MessageAuthorRequired);
    let e = bob.expect_update("edit", |k| matches!(k, K::EditMessage { .. })).await;
    assert!(matches!(e.kind, K::EditMessage { message } if text(&message) == "hello, bob"));

    // Unread, then read receipts flow back to the author.
    let dialogs = bob.client.get_dialogs(None, None).await.expect("dialogs");
    assert_eq!(dialogs.dialogs[0].unread_count, 0, "bob replied, so he read up to 2");
    ann.client.send_message(chat.id, "three", None).await.expect("send");
    ann.client.send_message(chat.id, "four", None).await.expect("send");
    let dialogs = bob.client.get_dialogs(None, None).await.expect("dialogs");
    assert_eq!((dialogs.dialogs[0].unread_count, dialogs.dialogs[0].last_message.as_ref().map(text)), (2, Some("four")));
    bob.client.read_history(chat.id, None).await.expect("read");
    assert_eq!(bob.client.get_dialogs(None, None).await.expect("dialogs").dialogs[0].unread_count, 0);
    let r = ann.expect_update("read receipt", |k| matches!(k, K::ReadOutbox { .. })).await;
    assert!(matches!(r.kind, K::ReadOutbox { max_id: 4, .. }), "{r:?}");

    // Typing reaches the other side only.
    ann.client.set_typing(chat.id).await.expect("typing");
    assert_eq!(bob.expect_typing().await, (chat.id, ann.id()));

    // Pin, forward (keeps the author), delete for me and for everyone.
    ann.client.pin_message(chat.id, Some(2)).await.expect("pin");
    bob.expect_update("pin", |k| matches!(k, K::PinnedMessage { id: Some(2), .. })).await;
    assert_eq!(bob.client.get_chat(chat.id).await.expect("chat").pinned_message_id, Some(2));
    let carol = Person::sign_in(&server, 3).await;
    let to_carol = bob.client.open_private(carol.id()).await.expect("open");
    let fwd = bob.client.forward_messages(chat.id, &[1], to_carol.id).await.expect("forward");
    let f = fwd[0].message.forward.as_ref().expect("forward info");
    assert_eq!((f.from_user, f.from_chat, f.message_id), (ann.id(), chat.id, 1));
    bob.client.delete_messages_for_me(chat.id, &[3]).await.expect("delete for me");
    let bob_ids: Vec<i64> = bob.client.history(chat.id, None, Direction::Older, None).await.expect("h").iter().map(|m| m.id).collect();
    let ann_ids: Vec<i64> = ann.client.history(chat.id, None, Direction::Older, None).await.expect("h").iter().map(|m| m.id).collect();
    assert_eq!((bob_ids, ann_ids.clone()), (vec![1, 2, 4], vec![1, 2, 3, 4]));
    assert_eq!(code_of(bob.client.delete_messages_for_everyone(chat.id, &[4]).await), E::MessageAuthorRequired);
    ann.client.delete_messages_for_everyone(chat.id, &[4]).await.expect("delete for everyone");
    bob.expect_update("delete", |k| matches!(k, K::DeleteMessages { ids, .. } if ids == &vec![4])).await;
    let bob_ids: Vec<i64> = bob.client.history(chat.id, None, Direction::Older, None).await.expect("h").iter().map(|m| m.id).collect();
    assert_eq!(bob_ids, vec![1, 2]);
    // The sequence continues after deletions: ids are never reused.
    assert_eq!(ann.client.send_message(chat.id, "five", None).await.expect("send").message.id, 5);
}

/// History pages in both directions from any message id, always oldest to newest.
#[tokio::test]
async fn history_paging_both_directions() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let chat = ann.client.open_private(bob.id()).await.expect("open");
    for i in 1..=30 {
        ann.client.send_message(chat.id, &format!("m{i}"), None).await.expect("send");
    }
    let ids = |ms: Vec<heliograph_client::proto::Message>| ms.iter().map(|m| m.id).collect::<Vec<_>>();
    let h = |from, dir, limit| bob.client.history(chat.id, from, dir, Some(limit));
    assert_eq!(ids(h(None, Direction::Older, 3).await.expect("h")), vec![28, 29, 30]);
    assert_eq!(ids(h(Some(28), Direction::Older, 3).await.expect("h")), vec![25, 26, 27]);
    assert_eq!(ids(h(None, Direction::Newer, 3).await.expect("h")), vec![1, 2, 3]);
    assert_eq!(ids(h(Some(10), Direction::Newer, 3).await.expect("h")), vec![11, 12, 13]);
    assert_eq!(ids(h(Some(29), Direction::Newer, 5).await.expect("h")), vec![30]);
    assert!(h(Some(1), Direction::Older, 5).await.expect("h").is_empty());
}

/// Groups: create, add, promote, remove, leave, invite links, and who may do what.
#[tokio::test]
async fn groups_membership_and_roles() {
    let server = InProcess::start().await;
    let mut ann = Person::sign_in(&server, 1).await;
    let mut bob = Person::sign_in(&server, 2).await;
    let carol = Person::sign_in(&server, 3).await;
    let dan = Person::sign_in(&server, 4).await;
    let group = ann.client.create_group("Team", &[bob.id()]).await.expect("create");
    assert_eq!((group.member_count, group.role), (2, Some(Role::Creator)));
    bob.expect_update("chat appears", |k| matches!(k, K::Chat { chat } if chat.id == group.id)).await;
    ann.client.send_message(group.id, "welcome", None).await.expect("send");
    bob.expect_update("group message", |k| matches!(k, K::NewMessage { message } if message.chat_id == group.id)).await;

    assert_eq!(code_of(bob.client.add_members(group.id, &[carol.id()]).await), E::ChatAdminRequired);
    assert_eq!(code_of(bob.client.export_invite(group.id).await), E::ChatAdminRequired);
    ann.client.add_members(group.id, &[carol.id()]).await.expect("add");
    bob.expect_update("participant", |k| matches!(k, K::Participant { user_id, role: Some(Role::Member), .. } if *user_id == carol.id()))
        .await;
    ann.client.set_admin(group.id, bob.id(), true).await.expect("promote");
    let link = bob.client.export_invite(group.id).await.expect("admin exports").link;
    assert!(link.contains("/+"), "{link}");
    let joined = dan.client.join_by_invite(&link).await.expect("join");
    assert_eq!(joined.member_count, 4);
    assert_eq!(code_of(dan.client.join_by_invite("+nope").await), E::InviteInvalid);
    // Admins delete others' messages for everyone; members cannot; nobody removes the creator.
    let m = carol.client.send_message(group.id, "spam", None).await.expect("send");
    assert_eq!(code_of(dan.client.delete_messages_for_everyone(group.id, &[m.message.id]).await), E::ChatAdminRequired);
    bob.client.delete_messages_for_everyone(group.id, &[m.message.id]).await.expect("admin deletes");
    assert_eq!(code_of(bob.client.remove_member(group.id, ann.id()).await), E::ChatAdminRequired);
    bob.client.remove_member(group.id, carol.id()).await.expect("admin removes a member");
    assert_eq!(code_of(carol.client.send_message(group.id, "still here?", None).await), E::ChatNotFound);
    dan.client.leave(group.id).await.expect("leave");
    assert_eq!(code_of(dan.client.history(group.id, None, Direction::Older, None).await), E::ChatNotFound);
    ann.client.set_title(group.id, "Team 2").await.expect("title");
    let members = ann.client.get_members(group.id, 0, None).await.expect("members");
    assert_eq!(members.iter().map(|m| (m.user.id, m.role)).collect::<Vec<_>>(), vec![(ann.id(), Role::Creator), (bob.id(), Role::Admin)]);
    let _ = ann.updates.recv();
}

/// Channels: public @name, join by name, only admins post, posts reach subscribers live
/// through the chat's own log, and cost no per-subscriber log rows.
#[tokio::test]
async fn channels_broadcast_through_their_own_log() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let mut readers = Vec::new();
    for n in 2..6 {
        readers.push(Person::sign_in(&server, n).await);
    }
    let channel = ann.client.create_channel("News", Some("daily_news")).await.expect("create");
    assert!(channel.chat_pts.is_some(), "channels keep their own log");
    for r in &readers {
        let joined = r.client.join_by_username("@Daily_News").await.expect("join by name");
        assert_eq!((joined.id, joined.role), (channel.id, Some(Role::Member)));
    }
    let before: Vec<i64> = futures_util::future::join_all(readers.iter().map(|r| r.client.get_state()))
        .await
        .into_iter()
        .map(|s| s.expect("state").pts)
        .collect();
    assert_eq!(code_of(readers[0].client.send_message(channel.id, "can I post?", None).await), E::ChatWriteForbidden);
    let post = ann.client.send_message(channel.id, "first post", None).await.expect("post");
    for r in readers.iter_mut() {
        let u = r.expect_update("channel post", |k| matches!(k, K::NewMessage { message } if message.chat_id == channel.id)).await;
        assert_eq!(u.log, Some(channel.id), "delivered from the channel's own log");
        assert_eq!(u.pts, post.pts);
    }
    let after: Vec<i64> = futures_util::future::join_all(readers.iter().map(|r| r.client.get_state()))
        .await
        .into_iter()
        .map(|s| s.expect("state").pts)
        .collect();
    assert_eq!(before, after, "a post writes nothing into subscribers' own logs");
    let diff = readers[0].client.get_chat_difference(channel.id, post.pts - 1, None).await.expect("chat difference");
    assert!(matches!(diff, heliograph_client::proto::Difference::Complete { ref updates, .. } if updates.len() == 1), "{diff:?}");
}

/// The same send retried 5 times yields one message.
#[tokio::test]
async fn retried_send_is_idempotent() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let chat = ann.client.open_private(bob.id()).await.expect("open");
    let random_id = heliograph_client::random_id();
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(ann.client.send_message_with_random_id(chat.id, random_id, "once", None).await.expect("send"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every retry returns the original");
    let history = bob.client.history(chat.id, None, Direction::Older, None).await.expect("history");
    assert_eq!(history.len(), 1);
}

/// Offline catch-up: 1,000 messages arrive across 3 chats while a client is away; on
/// reconnect it receives exactly those, in order, without duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_client_catches_up_without_gaps_or_duplicates() {
    // 1,000 sends as fast as the server answers: lift the per-session rate limit.
    let server = InProcess::start_with(|c| c.limits.requests_burst = 1_000_000).await;
    let bob = Person::sign_in(&server, 2).await;
    let ann = Person::sign_in(&server, 1).await;
    let carol = Person::sign_in(&server, 3).await;
    let private_ann = ann.client.open_private(bob.id()).await.expect("open");
    let private_carol = carol.client.open_private(bob.id()).await.expect("open");
    let group = ann.client.create_group("trio", &[bob.id(), carol.id()]).await.expect("group");
    // Bob goes offline after seeing everything so far.
    let mut bob = bob;
    let (token, state) = {
        let mut seen = 0;
        while seen < 1 {
            if let Ok(Some(Event::Update(_))) = tokio::time::timeout(std::time::Duration::from_millis(500), bob.updates.recv()).await {
                seen += 1;
            } else {
                break;
            }
        }
        while let Ok(Some(_)) = tokio::time::timeout(std::time::Duration::from_millis(200), bob.updates.recv()).await {}
        (bob.token.clone(), bob.client.state())
    };
    drop(bob);
    let chats = [(private_ann.id, &ann), (private_carol.id, &carol), (group.id, &ann)];
    let mut expected = Vec::new();
    for i in 0..1000 {
        let (chat, sender) = chats[i % 3];
        let text = format!("away {i}");
        sender.client.send_message(chat, &text, None).await.expect("send");
        expected.push(text);
    }
    let mut config = Config::new(server.url());
    config.token = Some(token);
    config.state = state;
    let (_bob, mut updates) = Client::connect(config).await.expect("reconnect");
    let mut got = Vec::new();
    let mut pts_seen = HashSet::new();
    while got.len() < 1000 {
        match tokio::time::timeout(std::time::Duration::from_secs(20), updates.recv()).await.expect("catch-up in time") {
            Some(Event::Update(u)) => {
                assert!(pts_seen.insert((u.log, u.pts)), "duplicate pts {}", u.pts);
                if let K::NewMessage { message } = u.kind {
                    assert!(matches!(message.content, Content::Text { .. }));
                    got.push(text(&message).to_string());
                }
            }
            Some(_) => {}
            None => panic!("stream ended"),
        }
    }
    assert_eq!(got, expected, "exactly the missed messages, in order");
    // And nothing more arrives.
    if let Ok(Some(Event::Update(u))) = tokio::time::timeout(std::time::Duration::from_millis(300), updates.recv()).await {
        panic!("unexpected extra update {u:?}");
    }
}

// --- bots ------------------------------------------------------------------------------------

/// A server whose store the test also holds, to act as a bot where the wire protocol has no
/// method for it (posting a keyboard is the Bot API's) and to look at a bot's log.
async fn server_with_store() -> (InProcess, std::sync::Arc<dyn heliograph_store::Store>) {
    use heliograph_store::sqlite::{Options, SqliteStore};
    InProcess::start_on(|data| std::sync::Arc::new(SqliteStore::open(&data.join("heliograph.db"), Options::default()).expect("store")))
        .await
}

/// `POST /bot<token>/getMe` over plain HTTP/1.1: the status code.
async fn bot_api_status(server: &InProcess, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.expect("connect");
    let request = format!("POST /bot{token}/getMe HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.expect("read");
    let head = String::from_utf8_lossy(&response);
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an HTTP answer: {head}"))
}

/// bots.create (a `User` with `bot: true` and a `"<id>:<secret>"` token whose secret the store
/// keeps as its hash), bots.list (each owner's own), bots.revoke_token (owner only; the old
/// token stops working, on the store and on the Bot API).
#[tokio::test]
async fn bots_are_created_listed_and_given_new_tokens() {
    use heliograph_server::codes::hash_token;
    let (server, store) = server_with_store().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;

    let created = ann.client.create_bot("Weather", "@Weather_Bot").await.expect("create");
    let bot = &created.bot;
    assert!(bot.bot, "{bot:?}");
    assert_eq!((bot.name.as_str(), bot.username.as_deref(), bot.phone.as_deref()), ("Weather", Some("Weather_Bot"), None));
    let (id, secret) = created.token.split_once(':').expect("ID:SECRET");
    assert_eq!(id.parse::<i64>().expect("numeric id"), bot.id);
    assert!(secret.len() >= 32 && !secret.contains(':'), "{secret}");
    let session = store.session_by_token(&hash_token(secret)).await.expect("store").expect("the secret's hash is the bot's session");
    assert_eq!(session.user.0, bot.id);
    assert_eq!(bot_api_status(&server, &created.token).await, 200, "the token works on the Bot API");

    // Usernames: must end in "bot", and are unique with everyone else's.
    assert_eq!(code_of(ann.client.create_bot("Weather", "weather_report").await), E::UsernameInvalid);
    assert_eq!(code_of(ann.client.create_bot("Weather", "wb").await), E::UsernameInvalid);
    assert_eq!(code_of(bob.client.create_bot("Other", "weather_bot").await), E::UsernameOccupied);
    assert_eq!(code_of(ann.client.create_bot("", "empty_name_bot").await), E::NameInvalid);
    let second = ann.client.create_bot("News", "news_bot").await.expect("second bot");
    // Others see a bot as a bot, without a phone.
    let seen = bob.client.get_users(&[bot.id]).await.expect("users").remove(0);
    assert!(seen.bot && seen.phone.is_none(), "{seen:?}");
    assert!(!bob.client.get_me().await.expect("me").bot);
    match bob.client.resolve("weather_bot").await.expect("resolve") {
        Peer::User { user } => assert!(user.bot && user.id == bot.id),
        other => panic!("{other:?}"),
    }

    let mine: Vec<i64> = ann.client.bots().await.expect("list").iter().map(|u| u.id).collect();
    assert_eq!(mine, [bot.id, second.bot.id], "oldest first");
    assert!(bob.client.bots().await.expect("list").is_empty(), "only the owner's bots");

    // Only the owner gets a new token; the old one dies at once.
    assert_eq!(code_of(bob.client.revoke_bot_token(bot.id).await), E::UserNotFound);
    assert_eq!(code_of(ann.client.revoke_bot_token(bob.id()).await), E::UserNotFound, "a person is not a bot");
    let renewed = ann.client.revoke_bot_token(bot.id).await.expect("revoke");
    let (new_id, new_secret) = renewed.token.split_once(':').expect("ID:SECRET");
    assert_eq!(new_id, id);
    assert_ne!(new_secret, secret);
    assert!(store.session_by_token(&hash_token(secret)).await.expect("store").is_none(), "the old token is dead");
    assert!(store.session_by_token(&hash_token(new_secret)).await.expect("store").is_some());
    assert_eq!(bot_api_status(&server, &created.token).await, 401, "the old token is refused");
    assert_eq!(bot_api_status(&server, &renewed.token).await, 200, "the new one works");
    // The second bot's token was not touched.
    assert_eq!(bot_api_status(&server, &second.token).await, 200);
}

/// messages.press_button: a bot's keyboard and formatting reach the person; a press is logged
/// for the bot (durably, whether or not it answers) and, unanswered, returns `{alert: false}`
/// after the server's wait, without holding up the person's other requests; unknown data is
/// BUTTON_DATA_INVALID, a non-member gets CHAT_NOT_FOUND.
#[tokio::test]
async fn pressing_a_bots_button_reaches_the_bot() {
    use heliograph_core::{Button, ButtonAction, ChatId, Entity, EntityKind, Keyboard, MessageText, UserId};
    use heliograph_store::{Difference, Draft, Event as StoreEvent};
    let (server, store) = server_with_store().await;
    let mut ann = Person::sign_in(&server, 1).await;
    let eve = Person::sign_in(&server, 3).await;
    let bot = ann.client.create_bot("Menu", "menu_bot").await.expect("create").bot;
    let bot_id = UserId(bot.id);

    // The bot posts a menu to Ann (as the Bot API's sendMessage would).
    let chat = store.open_private(bot_id, UserId(ann.id())).await.expect("open");
    let yes = Button::new("Yes".into(), ButtonAction::Callback("yes".into())).expect("button");
    let no = Button::new("No".into(), ButtonAction::Callback("no".into())).expect("button");
    let docs = Button::new("Docs".into(), ButtonAction::Url("https://example.org/docs".into())).expect("button");
    let keyboard = Keyboard::new(vec![vec![yes, no], vec![docs]]).expect("keyboard");
    let draft = Draft {
        entities: vec![Entity { kind: EntityKind::Bold, offset: 0, length: 4 }],
        keyboard,
        ..Draft::text(MessageText::parse("Pick one".to_string()).expect("text"))
    };
    let sent = store.send(bot_id, chat.id, 1, draft).await.expect("the bot posts");
    let update = ann.expect_update("the bot's menu", |k| matches!(k, K::NewMessage { .. })).await;
    let K::NewMessage { message } = update.kind else { unreachable!() };
    assert_eq!((message.id, message.from), (sent.message.id.0, bot.id));
    let wire = serde_json::to_value(&message).expect("json");
    assert_eq!(
        wire["reply_markup"],
        serde_json::json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}],
                                                [{"text": "Docs", "url": "https://example.org/docs"}]]})
    );
    assert_eq!(wire["entities"], serde_json::json!([{"type": "bold", "offset": 0, "length": 4}]));
    let history = ann.client.history(chat.id.0, None, Direction::Older, None).await.expect("history");
    assert_eq!(history[0].reply_markup, message.reply_markup, "history shows the keyboard too");

    // The bot does not answer: the press returns after the wait, with no text; meanwhile
    // Ann's other requests on the same connection are answered at once.
    let started = std::time::Instant::now();
    let press = tokio::spawn({
        let client = ann.client.clone();
        async move { client.press_button(chat.id.0, message.id, "yes").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let quick = std::time::Instant::now();
    ann.client.get_me().await.expect("other calls go on");
    assert!(quick.elapsed() < std::time::Duration::from_secs(2), "a waiting press held up another call");
    let answer = press.await.expect("join").expect("press");
    assert_eq!(answer, heliograph_client::proto::CallbackAnswer { text: None, alert: false, url: None });
    let waited = started.elapsed();
    assert!(waited >= heliograph_server::callbacks::WAIT - std::time::Duration::from_millis(500), "answered after {waited:?}");
    assert!(waited < heliograph_server::callbacks::WAIT + std::time::Duration::from_secs(5), "answered after {waited:?}");

    // The press is in the bot's log, for the Bot API to hand out.
    let presses: Vec<(ChatId, i64, i64, String)> = match store.difference(bot_id, 0, 100).await.expect("bot log") {
        Difference::Complete { events, .. } | Difference::Slice { events, .. } => events
            .into_iter()
            .filter_map(|l| match l.event {
                StoreEvent::CallbackQuery { chat, message, from, data } => Some((chat, message.0, from.0, data)),
                _ => None,
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(presses, [(chat.id, message.id, ann.id(), "yes".to_string())]);

    // Data no button carries, a message without buttons, a message that does not exist.
    assert_eq!(code_of(ann.client.press_button(chat.id.0, message.id, "maybe").await), E::ButtonDataInvalid);
    assert_eq!(code_of(ann.client.press_button(chat.id.0, message.id, "").await), E::ButtonDataInvalid);
    let own = ann.client.send_message(chat.id.0, "no buttons here", None).await.expect("send");
    assert_eq!(code_of(ann.client.press_button(chat.id.0, own.message.id, "yes").await), E::ButtonDataInvalid);
    let missing = code_of(ann.client.press_button(chat.id.0, 999, "yes").await);
    assert!(matches!(missing, E::MessageNotFound | E::ButtonDataInvalid), "{missing:?}");
    // A non-member learns nothing.
    assert_eq!(code_of(eve.client.press_button(chat.id.0, message.id, "yes").await), E::ChatNotFound);
    assert_eq!(code_of(eve.client.press_button(9_999_999, 1, "yes").await), E::ChatNotFound);
    // None of the refusals reached the bot.
    match store.difference(bot_id, 0, 100).await.expect("bot log") {
        Difference::Complete { events, .. } => {
            assert_eq!(events.iter().filter(|l| matches!(l.event, StoreEvent::CallbackQuery { .. })).count(), 1)
        }
        other => panic!("{other:?}"),
    }
}
