//! The update logs: each user's log (`user_updates`, sequenced by `users.pts`) and the own
//! log of each channel and large group (`chat_updates`, sequenced by `chats.pts`). An event
//! is stored as (kind, chat, a, b, ids); messages are read back as they are now.

use heliograph_core::*;

use super::{dialect, messages, one, sql, user_id, Tx};
use crate::model::*;
use crate::{Error, Result};

/// An event as stored: (kind, chat, a, b, ids).
type Encoded = (&'static str, i64, Option<i64>, Option<i64>, Option<String>);

fn encode(event: &Event) -> Encoded {
    match event {
        Event::NewMessage(m) => ("new_message", m.chat.0, Some(m.id.0), None, None),
        Event::EditMessage(m) => ("edit_message", m.chat.0, Some(m.id.0), None, None),
        Event::DeleteMessages { chat, ids } => {
            let ids = ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(",");
            ("delete_messages", chat.0, None, None, Some(ids))
        }
        Event::ReadInbox { chat, max_id } => ("read_inbox", chat.0, Some(max_id.0), None, None),
        Event::ReadOutbox { chat, max_id } => ("read_outbox", chat.0, Some(max_id.0), None, None),
        Event::Pinned { chat, id } => ("pinned", chat.0, id.map(|i| i.0), None, None),
        Event::Participant { chat, user, role, by } => {
            ("participant", chat.0, Some(user.0), Some(by.0), role.map(|r| r.as_str().to_string()))
        }
        Event::ChatChanged { chat } => ("chat", chat.0, None, None, None),
        Event::Reactions { chat, message, change: None } => ("reactions", chat.0, Some(message.0), None, None),
        Event::Reactions { chat, message, change: Some(c) } => {
            ("reactions", chat.0, Some(message.0), Some(c.by.0), Some(format!("{}|{}", encode_reactions(&c.old), encode_reactions(&c.new))))
        }
        Event::DraftChanged { chat } => ("draft", chat.0, None, None, None),
        Event::CallbackQuery { chat, message, from, data } => ("callback", chat.0, Some(message.0), Some(from.0), Some(data.clone())),
        Event::Mls(m) => ("mls", m.chat.0, Some(m.id.0), None, None),
    }
}

/// Reactions as a log row keeps them: their stored forms, comma-separated (neither an emoji
/// nor a custom emoji id holds a comma or a `|`).
fn encode_reactions(list: &[Reaction]) -> String {
    list.iter().map(Reaction::encode).collect::<Vec<_>>().join(",")
}

fn decode_reactions(stored: &str) -> Result<Vec<Reaction>> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Reaction::decode(s).ok_or_else(|| Error::internal(format!("the update log holds `{s}`, not a reaction"))))
        .collect()
}

/// A stored event's row: `pts, date, kind, chat_id, a, b, ids`.
pub type Stored = (Pts, i64, String, i64, Option<i64>, Option<i64>, Option<String>);

pub fn stored(r: &dyn super::Row) -> Result<Stored> {
    let read = || Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?));
    read().map_err(|e: Error| e.reading("the update log"))
}

/// Rebuilds an event from its row. Messages are read as they are now; a message deleted
/// since gives `None` (its deletion follows later in the same log).
pub async fn decode<X: Tx>(
    tx: &mut X,
    kind: &str,
    chat: i64,
    a: Option<i64>,
    b: Option<i64>,
    ids: Option<String>,
) -> Result<Option<Event>> {
    let chat = ChatId(chat);
    let a = a.unwrap_or(0);
    Ok(match kind {
        "new_message" => messages::message(tx, chat, MessageId(a)).await?.map(Event::NewMessage),
        "edit_message" => messages::message(tx, chat, MessageId(a)).await?.map(Event::EditMessage),
        "delete_messages" => {
            let ids = ids.unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).map(MessageId).collect();
            Some(Event::DeleteMessages { chat, ids })
        }
        "read_inbox" => Some(Event::ReadInbox { chat, max_id: MessageId(a) }),
        "read_outbox" => Some(Event::ReadOutbox { chat, max_id: MessageId(a) }),
        "pinned" => Some(Event::Pinned { chat, id: (a != 0).then_some(MessageId(a)) }),
        "participant" => {
            Some(Event::Participant { chat, user: UserId(a), role: ids.as_deref().and_then(Role::parse), by: UserId(b.unwrap_or(0)) })
        }
        "chat" => Some(Event::ChatChanged { chat }),
        "reactions" => {
            let change = match (b, ids.as_deref().and_then(|ids| ids.split_once('|'))) {
                (Some(by), Some((old, new))) => {
                    Some(ReactionChange { by: UserId(by), old: decode_reactions(old)?, new: decode_reactions(new)? })
                }
                _ => None,
            };
            Some(Event::Reactions { chat, message: MessageId(a), change })
        }
        "draft" => Some(Event::DraftChanged { chat }),
        "callback" => {
            Some(Event::CallbackQuery { chat, message: MessageId(a), from: UserId(b.unwrap_or(0)), data: ids.unwrap_or_default() })
        }
        "mls" => super::secret::message(tx, chat, MessageId(a)).await?.map(Event::Mls),
        other => return Err(Error::internal(format!("unknown update kind `{other}` in the log"))),
    })
}

/// Appends `event` to `user`'s log; returns its pts. On PostgreSQL the UPDATE locks the
/// user's row until COMMIT, so the next event in this log waits for this one: no gap.
pub async fn user<X: Tx>(tx: &mut X, user: UserId, event: Event) -> Result<Pts> {
    let pts: Pts = one(tx, sql!("UPDATE users SET pts = pts + 1 WHERE id = $1 RETURNING pts"), &[&user.0], super::int).await?;
    let date = now();
    let (kind, chat, a, b, ids) = encode(&event);
    tx.execute(
        sql!("INSERT INTO user_updates (user_id, pts, date, kind, chat_id, a, b, ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
        &[&user.0, &pts, &date, &kind, &chat, &a, &b, &ids],
    )
    .await?;
    tx.logged(Logged { log: Log::User(user), pts, date, event });
    Ok(pts)
}

/// Appends `event` to a chat's own log; returns its pts. A bot follows its own log only (the
/// Bot API reads nothing else), so the event is also appended to the user log of every bot
/// member but `except` (who is told on their own): a channel post costs one row more per bot,
/// none per person. The bots' rows are taken after the chat's, in ascending id order.
pub async fn chat<X: Tx>(tx: &mut X, chat: ChatId, event: Event, except: Option<UserId>) -> Result<Pts> {
    let pts: Pts = one(tx, sql!("UPDATE chats SET pts = pts + 1 WHERE id = $1 RETURNING pts"), &[&chat.0], super::int).await?;
    let date = now();
    let (kind, _, a, b, ids) = encode(&event);
    tx.execute(
        sql!("INSERT INTO chat_updates (chat_id, pts, date, kind, a, b, ids) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[&chat.0, &pts, &date, &kind, &a, &b, &ids],
    )
    .await?;
    tx.logged(Logged { log: Log::Chat(chat), pts, date, event: event.clone() });
    for bot in bot_member_ids(tx, chat).await? {
        if Some(bot) != except {
            user(tx, bot, event.clone()).await?;
        }
    }
    Ok(pts)
}

/// Logs an event every member must see: once in the chat's own log, or once per member.
/// Returns the pts `actor` should see it at.
pub async fn for_chat<X: Tx>(tx: &mut X, chat: &Chat, actor: UserId, event: Event) -> Result<Pts> {
    if chat.own_log {
        return self::chat(tx, chat.id, event, None).await;
    }
    let mut actor_pts = 0;
    for member in member_ids(tx, chat.id).await? {
        let pts = user(tx, member, event.clone()).await?;
        if member == actor {
            actor_pts = pts;
        }
    }
    Ok(actor_pts)
}

/// The chat's bot members in ascending id order: the order their rows are locked in.
pub async fn bot_member_ids<X: Tx>(tx: &mut X, chat: ChatId) -> Result<Vec<UserId>> {
    tx.query(dialect::BOT_MEMBERS, &[&chat.0], user_id).await
}

/// Members in ascending id order: the order their rows are locked in.
pub async fn member_ids<X: Tx>(tx: &mut X, chat: ChatId) -> Result<Vec<UserId>> {
    tx.query(sql!("SELECT user_id FROM members WHERE chat_id = $1 ORDER BY user_id"), &[&chat.0], user_id).await
}
