//! Drafts: the text a person typed in a chat and has not sent, one per (person, chat), kept
//! on the server so every device of theirs shows it ([`Event::DraftChanged`], in their own
//! log only). Sending a message in the chat clears it ([`clear_on_send`]).

use heliograph_core::*;

use super::{chats, log, messages, sql, Tx};
use crate::model::*;
use crate::Result;

/// Saves `text` as `actor`'s draft in `chat`, or clears it with `None`. A reply target must be
/// a message they can see. Nothing is logged when nothing changes.
pub async fn save<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, text: Option<&MessageText>, reply_to: Option<MessageId>) -> Result<()> {
    chats::view(tx, actor, chat).await?;
    let current = draft(tx, actor, chat).await?;
    match text {
        None if current.is_none() => return Ok(()),
        None => {
            tx.execute(sql!("DELETE FROM drafts WHERE user_id = $1 AND chat_id = $2"), &[&actor.0, &chat.0]).await?;
        }
        Some(text) => {
            if current.as_ref().is_some_and(|d| &d.text == text && d.reply_to == reply_to) {
                return Ok(());
            }
            if let Some(reply) = reply_to {
                messages::visible_message(tx, actor, chat, reply).await?;
            }
            tx.execute(
                sql!(
                    "INSERT INTO drafts (user_id, chat_id, text, reply_to, date) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id, chat_id) DO UPDATE SET text = excluded.text, reply_to = excluded.reply_to, date = excluded.date"
                ),
                &[&actor.0, &chat.0, &text.as_str(), &reply_to.map(|r| r.0), &now()],
            )
            .await?;
        }
    }
    log::user(tx, actor, Event::DraftChanged { chat }).await?;
    Ok(())
}

/// `user`'s draft in `chat`, if any (their own data: no membership check).
pub async fn draft<X: Tx>(tx: &mut X, user: UserId, chat: ChatId) -> Result<Option<SavedDraft>> {
    let row = tx
        .query_opt(sql!("SELECT text, reply_to, date FROM drafts WHERE user_id = $1 AND chat_id = $2"), &[&user.0, &chat.0], |r| {
            Ok((r.get::<String>(0)?, r.get::<Option<i64>>(1)?, r.get::<i64>(2)?))
        })
        .await?;
    let Some((text, reply_to, date)) = row else { return Ok(None) };
    let text = MessageText::parse(text).map_err(|e| crate::Error::internal(format!("a stored draft is not message text: {e}")))?;
    Ok(Some(SavedDraft { chat, text, reply_to: reply_to.map(MessageId), date }))
}

/// A send clears the sender's draft in that chat, as in Telegram (and tells their devices).
pub async fn clear_on_send<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<()> {
    if tx.execute(sql!("DELETE FROM drafts WHERE user_id = $1 AND chat_id = $2"), &[&actor.0, &chat.0]).await? > 0 {
        log::user(tx, actor, Event::DraftChanged { chat }).await?;
    }
    Ok(())
}
