//! `messages.*`: sending, forwarding, editing, deleting, pinning, reading, typing, history,
//! and pressing a bot's button. Sends are idempotent by `random_id` (a retry returns the
//! original message) and answered only once durable: both are the store's `send`.

use heliograph_core::{detect_entities, ChatId, Content, FileId, MediaKind, MessageId, MessageText, ReactionSet};
use heliograph_proto::{self as proto, method::Direction, ErrorCode};
use heliograph_store as store;

use super::{ids, page, Outcome, SignedIn};
use crate::convert;
use crate::errors::{bad_params, Failure};
use crate::state::Shared;

fn sent(sent: &store::Sent) -> proto::Sent {
    proto::Sent { message: convert::message(&sent.message), pts: sent.pts }
}

/// `messages.send`: a text message (checked `MessageText`: not empty, at most 4,096
/// characters; links and mentions detected as entities). Idempotent by `random_id`; answered
/// after the commit.
pub async fn send(s: &Shared, me: SignedIn, chat_id: i64, random_id: i64, text: String, reply_to: Option<i64>) -> Outcome<proto::Sent> {
    let text = MessageText::parse(text)?;
    let entities = detect_entities(text.as_str(), Vec::new());
    let draft = store::Draft { reply_to: reply_to.map(MessageId), entities, ..store::Draft::text(text) };
    let sent_message = s.store.send(me.user, ChatId(chat_id), random_id, draft).await?;
    Ok(sent(&sent_message))
}

/// `messages.send_media`: an uploaded file the caller may see, sent as `kind` with an optional
/// caption (a blank one is none). A photo must be an image the server could decode
/// (`PHOTO_INVALID`). Idempotent by `random_id`, like `messages.send`.
#[allow(clippy::too_many_arguments)]
pub async fn send_media(
    s: &Shared,
    me: SignedIn,
    chat_id: i64,
    random_id: i64,
    file_id: i64,
    kind: proto::MediaKind,
    caption: Option<String>,
    reply_to: Option<i64>,
) -> Outcome<proto::Sent> {
    let caption = caption.filter(|c| !c.trim().is_empty()).map(MessageText::parse).transpose()?;
    let file = s.store.file(me.user, FileId(file_id)).await?;
    let kind = convert::media_kind_from_wire(kind);
    if kind == MediaKind::Photo && file.width.is_none() {
        return Err(Failure(proto::Error::new(
            ErrorCode::PhotoInvalid,
            "the server could not read this file as an image (or it is too large to decode); send it as a document",
        )));
    }
    let entities = caption.as_ref().map(|c| detect_entities(c.as_str(), Vec::new())).unwrap_or_default();
    let content = Content::Media(file.into_media(kind, caption));
    let draft = store::Draft { content, entities, keyboard: None, reply_to: reply_to.map(MessageId) };
    let sent_message = s.store.send(me.user, ChatId(chat_id), random_id, draft).await?;
    Ok(sent(&sent_message))
}

/// `messages.forward`: up to `MAX_IDS_PER_REQUEST` messages, keeping their original author,
/// with one `random_id` per message (`BAD_PARAMS` otherwise), each idempotent.
pub async fn forward(
    s: &Shared,
    me: SignedIn,
    from_chat_id: i64,
    msg_ids: &[i64],
    to_chat_id: i64,
    random_ids: &[i64],
) -> Outcome<Vec<proto::Sent>> {
    let msg_ids = ids(msg_ids, MessageId)?;
    if random_ids.len() != msg_ids.len() {
        return Err(Failure(bad_params("give one random_id per forwarded message")));
    }
    let forwarded = s.store.forward(me.user, ChatId(from_chat_id), &msg_ids, ChatId(to_chat_id), random_ids).await?;
    Ok(forwarded.iter().map(sent).collect())
}

/// `messages.edit`: the author only; the new text checked and its entities detected as for
/// `messages.send`.
pub async fn edit(s: &Shared, me: SignedIn, chat_id: i64, id: i64, text: String) -> Outcome<proto::Message> {
    let text = MessageText::parse(text)?;
    let entities = detect_entities(text.as_str(), Vec::new());
    let edit = store::Edit { text: Some((text, entities)), keyboard: None };
    let message = s.store.edit(me.user, ChatId(chat_id), MessageId(id), edit).await?;
    Ok(convert::message(&message))
}

/// `messages.delete`: 1 to `MAX_IDS_PER_REQUEST` messages, for the caller or (`for_everyone`)
/// for all: the author, or an admin in groups and channels.
pub async fn delete(s: &Shared, me: SignedIn, chat_id: i64, msg_ids: &[i64], for_everyone: bool) -> Outcome<proto::Ok> {
    let msg_ids = ids(msg_ids, MessageId)?;
    if msg_ids.is_empty() {
        return Err(Failure(bad_params("name at least one message id")));
    }
    s.store.delete(me.user, ChatId(chat_id), &msg_ids, for_everyone).await?;
    Ok(proto::Ok {})
}

/// `messages.pin`: pins `id`, or unpins with `null`: admins in groups and channels, both
/// sides in private chats.
pub async fn pin(s: &Shared, me: SignedIn, chat_id: i64, id: Option<i64>) -> Outcome<proto::Ok> {
    s.store.pin(me.user, ChatId(chat_id), id.map(MessageId)).await?;
    Ok(proto::Ok {})
}

/// `messages.read`: marks the chat read up to `max_id` (the top message when absent).
pub async fn read(s: &Shared, me: SignedIn, chat_id: i64, max_id: Option<i64>) -> Outcome<proto::Ok> {
    s.store.read(me.user, ChatId(chat_id), max_id.map(MessageId)).await?;
    Ok(proto::Ok {})
}

/// `messages.typing`: tells the chat's other members the caller is typing; through the bus
/// only, never stored.
pub async fn typing(s: &Shared, me: SignedIn, chat_id: i64) -> Outcome<proto::Ok> {
    s.typing(me.user, ChatId(chat_id)).await?;
    Ok(proto::Ok {})
}

/// `messages.history`: a page of the chat's messages, oldest to newest, older or newer than
/// `from_id` (`limit` up to `MAX_PAGE`).
pub async fn history(
    s: &Shared,
    me: SignedIn,
    chat_id: i64,
    from_id: Option<i64>,
    direction: Direction,
    limit: Option<u32>,
) -> Outcome<Vec<proto::Message>> {
    let limit = page(limit);
    let page = match direction {
        Direction::Older => store::Page::Older { before: from_id.map(MessageId), limit },
        Direction::Newer => store::Page::Newer { after: from_id.map(MessageId), limit },
    };
    let messages = s.store.history(me.user, ChatId(chat_id), page).await?;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
    let mut reactions = s.store.reactions(me.user, ChatId(chat_id), &ids).await?.into_iter().peekable();
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        let mut wire = convert::message(m);
        // Both lists run in id order.
        if reactions.peek().is_some_and(|r| r.message == m.id) {
            wire.reactions = reactions.next().map(|r| convert::reactions(&r));
        }
        out.push(wire);
    }
    Ok(out)
}

/// `messages.press_button`: presses the callback button carrying `data` under a bot's
/// message. The press is durable in the bot's log; the bot's answer is waited for up to
/// `callbacks::WAIT` and is best effort (none in time: `{"alert": false}`).
pub async fn press_button(s: &Shared, me: SignedIn, chat_id: i64, message_id: i64, data: &str) -> Outcome<proto::CallbackAnswer> {
    let (bot, pts) = s.store.press_button(me.user, ChatId(chat_id), MessageId(message_id), data).await?;
    // The press is durable in the bot's log; the answer is best effort.
    let answer = s.callbacks.wait(bot, pts).await.unwrap_or_default();
    Ok(proto::CallbackAnswer { text: answer.text.filter(|t| !t.is_empty()), alert: answer.alert, url: answer.url })
}

// --- daily use (#18) ---------------------------------------------------------------------

/// `messages.react`: sets the caller's reactions on a message they can see to exactly
/// `reactions` (each one emoji or a custom emoji id, `REACTION_INVALID` otherwise; at most
/// `MAX_REACTIONS_PER_USER`, `REACTIONS_TOO_MANY` past it; repeats count once). Every member
/// is told by a `message_reactions` update. Answers the reactions as they stand.
pub async fn react(s: &Shared, me: SignedIn, chat_id: i64, id: i64, reactions: &[proto::ReactionType]) -> Outcome<proto::MessageReactions> {
    let set = ReactionSet::parse(reactions.iter().map(convert::reaction_from_wire).collect::<Result<_, _>>()?)?;
    let now = s.store.react(me.user, ChatId(chat_id), MessageId(id), set).await?;
    Ok(convert::reactions(&now))
}

/// `messages.save_draft`: keeps `text` (checked as message text: at most 4,096 characters,
/// `MESSAGE_TOO_LONG`) as the caller's draft in a chat they are in, or clears it when `text`
/// is absent or blank. The caller's other devices get a `draft` update.
pub async fn save_draft(s: &Shared, me: SignedIn, chat_id: i64, text: Option<String>, reply_to: Option<i64>) -> Outcome<proto::Ok> {
    let text = text.filter(|t| !t.trim().is_empty()).map(MessageText::parse).transpose()?;
    s.store.save_draft(me.user, ChatId(chat_id), text, reply_to.map(MessageId)).await?;
    Ok(proto::Ok {})
}
