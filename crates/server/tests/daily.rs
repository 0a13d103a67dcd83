//! Daily use (#18) through the Rust SDK against a real server on 127.0.0.1:0: reactions and
//! drafts, live on the other members' and devices' streams and through `get_difference`, and
//! bad input refused with nothing stored.

mod common;

use common::{code_of, InProcess, Person};
use heliograph_client::proto::{method::Direction, Difference, ErrorCode as E, MessageReactions, ReactionType, Update, UpdateKind as K};

fn emoji(e: &str) -> ReactionType {
    ReactionType::Emoji { emoji: e.into() }
}

/// (emoji or custom id, count, chosen) per reaction, in order.
fn counts(r: &MessageReactions) -> Vec<(String, u64, bool)> {
    r.results
        .iter()
        .map(|c| {
            let name = match &c.reaction {
                ReactionType::Emoji { emoji } => emoji.clone(),
                ReactionType::CustomEmoji { custom_emoji_id } => format!("custom:{custom_emoji_id}"),
            };
            (name, c.count, c.chosen)
        })
        .collect()
}

fn row(e: &str, n: u64, chosen: bool) -> (String, u64, bool) {
    (e.to_string(), n, chosen)
}

/// Every update after `pts` in the caller's own log.
async fn difference(p: &Person, pts: i64) -> Vec<Update> {
    match p.client.get_difference(pts, None).await.expect("difference") {
        Difference::Complete { updates, .. } | Difference::Slice { updates, .. } => updates,
        Difference::Empty { .. } => Vec::new(),
        other => panic!("{other:?}"),
    }
}

/// Reactions in a group: set, seen live by the other member with their own `chosen`, in
/// history, replayed by get_difference as they stand now; bad reactions refused.
#[tokio::test]
async fn reactions_reach_every_member_live_and_through_the_difference() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let mut bob = Person::sign_in(&server, 2).await;
    let group = ann.client.create_group("Friends", &[bob.id()]).await.expect("group");
    let sent = ann.client.send_message(group.id, "lunch?", None).await.expect("send");
    let id = sent.message.id;
    let bob_pts = bob.client.get_state().await.expect("state").pts;

    let mine = ann.client.react(group.id, id, &[emoji("👍"), emoji("🔥")]).await.expect("react");
    assert_eq!(counts(&mine), [row("👍", 1, true), row("🔥", 1, true)], "ties in code order");
    let live = bob.expect_update("reactions", |k| matches!(k, K::MessageReactions { .. })).await;
    let K::MessageReactions { chat_id, id: on, reactions } = live.kind else { unreachable!() };
    assert_eq!((chat_id, on), (group.id, id));
    assert_eq!(counts(&reactions), [row("👍", 1, false), row("🔥", 1, false)], "bob sees ann's, none chosen by him");
    assert_eq!(reactions.recent.len(), 2);
    assert!(reactions.recent.iter().all(|r| r.user_id == ann.id()), "who reacted: {:?}", reactions.recent);

    let both = bob.client.react(group.id, id, &[emoji("👍")]).await.expect("bob reacts");
    assert_eq!(counts(&both), [row("👍", 2, true), row("🔥", 1, false)]);
    let history = ann.client.history(group.id, None, Direction::Older, None).await.expect("history");
    let shown = history.iter().find(|m| m.id == id).and_then(|m| m.reactions.as_ref()).expect("history carries reactions");
    assert_eq!(counts(shown), [row("👍", 2, true), row("🔥", 1, true)], "ann's view in history");

    // Catch-up: both changes, each rendered as the reactions stand now.
    let replay: Vec<_> = difference(&bob, bob_pts).await.into_iter().filter(|u| matches!(u.kind, K::MessageReactions { .. })).collect();
    assert_eq!(replay.len(), 2, "{replay:?}");
    for u in &replay {
        let K::MessageReactions { reactions, .. } = &u.kind else { unreachable!() };
        assert_eq!(counts(reactions), [row("👍", 2, true), row("🔥", 1, false)]);
    }

    // Bad input: a clear error, nothing stored, nothing logged.
    let before = bob.client.get_state().await.expect("state").pts;
    let custom = ReactionType::CustomEmoji { custom_emoji_id: "12ab".into() };
    for (what, bad, code) in [
        ("text", vec![emoji("yes")], E::ReactionInvalid),
        ("two emoji in one", vec![emoji("👍👍")], E::ReactionInvalid),
        ("empty", vec![emoji("")], E::ReactionInvalid),
        ("a bad custom id", vec![custom], E::ReactionInvalid),
        ("four", vec![emoji("👍"), emoji("🔥"), emoji("🎉"), emoji("😢")], E::ReactionsTooMany),
    ] {
        assert_eq!(code_of(bob.client.react(group.id, id, &bad).await), code, "{what}");
    }
    assert_eq!(code_of(bob.client.react(group.id, 999, &[emoji("👍")]).await), E::MessageNotFound);
    assert_eq!(bob.client.get_state().await.expect("state").pts, before, "refusals log nothing");
    let after = bob.client.history(group.id, None, Direction::Older, None).await.expect("history");
    let kept = after.iter().find(|m| m.id == id).and_then(|m| m.reactions.as_ref()).expect("still there");
    assert_eq!(counts(kept), [row("👍", 2, true), row("🔥", 1, false)], "refusals change nothing");

    // Taking yours away.
    let left = bob.client.react(group.id, id, &[]).await.expect("unreact");
    assert_eq!(counts(&left), [row("👍", 1, false), row("🔥", 1, false)]);
}

/// In a channel the reactions go to the channel's own log: counts for every reader, no names.
#[tokio::test]
async fn channel_reactions_show_counts_and_no_names() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let channel = ann.client.create_channel("News", Some("daily_news")).await.expect("channel");
    bob.client.join_by_username("daily_news").await.expect("join");
    let post = ann.client.send_message(channel.id, "out now", None).await.expect("post");
    let pts = bob.client.get_chat_difference(channel.id, 0, None).await.expect("difference");
    let from = match pts {
        Difference::Complete { pts, .. } | Difference::Empty { pts } | Difference::Slice { pts, .. } | Difference::TooLong { pts } => pts,
    };
    let seen = bob.client.react(channel.id, post.message.id, &[emoji("🎉")]).await.expect("react");
    assert_eq!(counts(&seen), [row("🎉", 1, true)]);
    assert!(seen.recent.is_empty(), "channel readers stay anonymous");
    let Difference::Complete { updates, .. } = bob.client.get_chat_difference(channel.id, from, None).await.expect("difference") else {
        panic!("one update expected")
    };
    let [Update { kind: K::MessageReactions { reactions, .. }, log: Some(log), .. }] = &updates[..] else { panic!("{updates:?}") };
    assert_eq!(*log, channel.id);
    assert_eq!(counts(reactions), [row("🎉", 1, false)], "the chat's own log has no viewer");
    assert!(reactions.recent.is_empty());
}

/// A draft saved on one device reaches the person's other device live and through the
/// difference, shows in the dialog list, is cleared by a send, and is never seen by the other
/// member; one over the length limit is refused and changes nothing.
#[tokio::test]
async fn drafts_follow_their_owner_across_devices() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let mut laptop = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let chat = ann.client.open_private(bob.id()).await.expect("open");
    bob.client.send_message(chat.id, "hi", None).await.expect("send");
    let laptop_pts = laptop.client.get_state().await.expect("state").pts;

    ann.client.save_draft(chat.id, Some("see you at"), Some(1)).await.expect("save");
    let live = laptop.expect_update("draft", |k| matches!(k, K::Draft { .. })).await;
    let K::Draft { chat_id, draft: Some(d) } = live.kind else { panic!("{live:?}") };
    assert_eq!((chat_id, d.text.as_str(), d.reply_to), (chat.id, "see you at", Some(1)));
    let dialogs = laptop.client.get_dialogs(None, None).await.expect("dialogs");
    assert_eq!(dialogs.dialogs[0].draft.as_ref().map(|d| d.text.as_str()), Some("see you at"), "the dialog list carries it");
    let theirs = bob.client.get_dialogs(None, None).await.expect("dialogs");
    assert_eq!(theirs.dialogs[0].draft, None, "the other member never sees it");

    let too_long = "x".repeat(4097);
    assert_eq!(code_of(ann.client.save_draft(chat.id, Some(&too_long), None).await), E::MessageTooLong);
    assert_eq!(code_of(ann.client.save_draft(chat.id, Some("x"), Some(99)).await), E::MessageNotFound);
    assert_eq!(code_of(ann.client.save_draft(12345, Some("x"), None).await), E::ChatNotFound);
    let still = ann.client.get_dialogs(None, None).await.expect("dialogs");
    assert_eq!(still.dialogs[0].draft.as_ref().map(|d| d.text.as_str()), Some("see you at"), "refusals keep the draft");

    ann.client.send_message(chat.id, "see you at noon", None).await.expect("send");
    let cleared = laptop.expect_update("draft cleared", |k| matches!(k, K::Draft { draft: None, .. })).await;
    assert!(matches!(cleared.kind, K::Draft { chat_id, draft: None } if chat_id == chat.id));

    let replay: Vec<_> = difference(&laptop, laptop_pts).await.into_iter().filter(|u| matches!(u.kind, K::Draft { .. })).collect();
    assert_eq!(replay.len(), 2, "saved and cleared: {replay:?}");
    assert!(replay.iter().all(|u| matches!(u.kind, K::Draft { draft: None, .. })), "rendered as it stands now: cleared");
    let bobs = difference(&bob, 0).await;
    assert!(!bobs.iter().any(|u| matches!(u.kind, K::Draft { .. })), "bob's log has no draft of ann's");
}
