//! Reactions to messages (Telegram's model): each member sets up to
//! [`MAX_REACTIONS_PER_USER`] reactions on a message they can see; a change is logged as
//! [`Event::Reactions`] for every member, and the message's reactions are read as they stand
//! whenever that event is rendered.

use heliograph_core::*;

use super::{chats, log, messages, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// Sets `actor`'s reactions on message `id` to exactly `set` (empty: takes theirs away).
/// A reaction kept from before keeps its date; nothing is logged when nothing changes.
pub async fn react<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, id: MessageId, set: &ReactionSet) -> Result<Reactions> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    messages::visible_message(tx, actor, chat, id).await?;
    let current = chosen(tx, actor, chat, id).await?;
    if current == set.as_slice() {
        return load(tx, Some(actor), v.chat.kind, chat, id).await;
    }
    for old in current.iter().filter(|r| !set.as_slice().contains(r)) {
        tx.execute(
            sql!("DELETE FROM reactions WHERE chat_id = $1 AND msg_id = $2 AND user_id = $3 AND reaction = $4"),
            &[&chat.0, &id.0, &actor.0, &old.encode()],
        )
        .await?;
    }
    let date = now();
    for (pos, r) in set.as_slice().iter().enumerate() {
        tx.execute(
            sql!(
                "INSERT INTO reactions (chat_id, msg_id, user_id, reaction, pos, date) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (chat_id, msg_id, user_id, reaction) DO UPDATE SET pos = excluded.pos"
            ),
            &[&chat.0, &id.0, &actor.0, &r.encode(), &(pos as i64), &date],
        )
        .await?;
    }
    // Channel readers react anonymously: their log says only that the counts changed.
    let change = (v.chat.kind != ChatKind::Channel).then(|| ReactionChange { by: actor, old: current, new: set.as_slice().to_vec() });
    log::for_chat(tx, &v.chat, actor, Event::Reactions { chat, message: id, change }).await?;
    load(tx, Some(actor), v.chat.kind, chat, id).await
}

/// The reactions on those of `ids` that have any, as `viewer` (a member) sees them.
pub async fn of_messages<X: Tx>(tx: &mut X, viewer: UserId, chat: ChatId, ids: &[MessageId]) -> Result<Vec<Reactions>> {
    let v = chats::view(tx, viewer, chat).await?;
    let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else { return Ok(Vec::new()) };
    // One query finds the few reacted messages of a page; only those are counted.
    let reacted = tx
        .query(
            sql!("SELECT DISTINCT msg_id FROM reactions WHERE chat_id = $1 AND msg_id >= $2 AND msg_id <= $3 ORDER BY msg_id"),
            &[&chat.0, &lo.0, &hi.0],
            |r| Ok(MessageId(r.get(0)?)),
        )
        .await?;
    let mut out = Vec::new();
    for id in reacted.into_iter().filter(|id| ids.contains(id)) {
        out.push(load(tx, Some(viewer), v.chat.kind, chat, id).await?);
    }
    Ok(out)
}

/// The reactions on a message with no viewer (for a chat's own log): nothing is `chosen`.
pub async fn public<X: Tx>(tx: &mut X, chat: ChatId, id: MessageId) -> Result<Reactions> {
    let info = chats::load(tx, chat).await?.ok_or(Error::ChatNotFound)?;
    load(tx, None, info.kind, chat, id).await
}

/// `user`'s reactions on a message, in the order they chose them.
async fn chosen<X: Tx>(tx: &mut X, user: UserId, chat: ChatId, id: MessageId) -> Result<Vec<Reaction>> {
    tx.query(
        sql!("SELECT reaction FROM reactions WHERE chat_id = $1 AND msg_id = $2 AND user_id = $3 ORDER BY pos"),
        &[&chat.0, &id.0, &user.0],
        |r| reaction(&r.get::<String>(0)?),
    )
    .await
}

fn reaction(stored: &str) -> Result<Reaction> {
    Reaction::decode(stored).ok_or_else(|| Error::internal(format!("the reactions table holds `{stored}`, not a reaction")))
}

async fn load<X: Tx>(tx: &mut X, viewer: Option<UserId>, kind: ChatKind, chat: ChatId, id: MessageId) -> Result<Reactions> {
    let mine = match viewer {
        Some(v) => chosen(tx, v, chat, id).await?,
        None => Vec::new(),
    };
    let mut counts = tx
        .query(
            sql!("SELECT reaction, COUNT(*) FROM reactions WHERE chat_id = $1 AND msg_id = $2 GROUP BY reaction"),
            &[&chat.0, &id.0],
            |r| {
                let reaction = reaction(&r.get::<String>(0)?)?;
                Ok(ReactionCount { chosen: mine.contains(&reaction), reaction, count: r.get::<i64>(1)?.max(0) as u64 })
            },
        )
        .await?;
    // Ordered here, not in SQL: the engines collate text differently.
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reaction.cmp(&b.reaction)));
    // Channel readers are anonymous: only counts.
    let recent = if kind == ChatKind::Channel {
        Vec::new()
    } else {
        tx.query(
            sql!(
                "SELECT user_id, reaction FROM reactions WHERE chat_id = $1 AND msg_id = $2
                 ORDER BY date DESC, user_id DESC, pos LIMIT $3"
            ),
            &[&chat.0, &id.0, &i64::from(RECENT_REACTIONS)],
            |r| Ok((UserId(r.get(0)?), reaction(&r.get::<String>(1)?)?)),
        )
        .await?
    };
    Ok(Reactions { message: id, counts, recent })
}

/// Deleting messages for everyone takes their reactions with them.
pub async fn forget<X: Tx>(tx: &mut X, chat: ChatId, id: MessageId) -> Result<()> {
    tx.execute(sql!("DELETE FROM reactions WHERE chat_id = $1 AND msg_id = $2"), &[&chat.0, &id.0]).await?;
    Ok(())
}
