//! Sync: the top of a user's log, and pages of a log from a pts (`get_difference`).

use heliograph_core::*;

use super::{chats, log, sql, Sql, Tx};
use crate::model::*;
use crate::{Error, Result};

pub async fn state<X: Tx>(tx: &mut X, user: UserId) -> Result<Pts> {
    tx.query_opt(sql!("SELECT pts FROM users WHERE id = $1"), &[&user.0], super::int).await?.ok_or(Error::UserNotFound)
}

/// One page of the log `log` (owned by `owner`) after `from`, whose top is `top`.
async fn page_of<X: Tx>(tx: &mut X, sql: &Sql, owner: i64, log: Log, from: Pts, top: Pts, limit: u32) -> Result<Difference> {
    let from = from.max(0);
    // A page of nothing would answer a Slice that does not move, and a client would loop.
    let limit = limit.max(1);
    if from >= top {
        return Ok(Difference::Empty { pts: top });
    }
    if top - from > tx.limits().difference_horizon {
        return Ok(Difference::TooLong { pts: top });
    }
    let rows = tx.query(sql, &[&owner, &from, &i64::from(limit)], log::stored).await?;
    let mut last = from;
    let mut events = Vec::with_capacity(rows.len());
    for (pts, date, kind, chat, a, b, ids) in rows {
        last = pts;
        if let Some(event) = log::decode(tx, &kind, chat, a, b, ids).await? {
            events.push(Logged { log, pts, date, event });
        }
    }
    Ok(if last < top { Difference::Slice { events, pts: last } } else { Difference::Complete { events, pts: last } })
}

pub async fn difference<X: Tx>(tx: &mut X, user: UserId, pts: Pts, limit: u32) -> Result<Difference> {
    let top = state(tx, user).await?;
    page_of(
        tx,
        sql!("SELECT pts, date, kind, chat_id, a, b, ids FROM user_updates WHERE user_id = $1 AND pts > $2 ORDER BY pts LIMIT $3"),
        user.0,
        Log::User(user),
        pts,
        top,
        limit,
    )
    .await
}

pub async fn chat_difference<X: Tx>(tx: &mut X, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> Result<Difference> {
    let v = chats::view(tx, user, chat).await?;
    if !v.chat.own_log {
        return Err(Error::Invalid("this chat has no log of its own; its updates are in your log".into()));
    }
    page_of(
        tx,
        sql!("SELECT pts, date, kind, chat_id, a, b, ids FROM chat_updates WHERE chat_id = $1 AND pts > $2 ORDER BY pts LIMIT $3"),
        chat.0,
        Log::Chat(chat),
        pts,
        v.chat.pts,
        limit,
    )
    .await
}
