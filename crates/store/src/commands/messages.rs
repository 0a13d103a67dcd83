//! Messages: sending (idempotent, sequenced), forwarding, editing, deleting, pinning, read
//! marks, history and the dialog list.

use heliograph_core::*;

use super::{chats, drafts, exists, log, people, reactions, rows, search, sql, Tx};
use crate::codec::{encode_entities, encode_keyboard};
use crate::model::*;
use crate::{Error, Result};

/// A live (not deleted) message.
pub async fn message<X: Tx>(tx: &mut X, chat: ChatId, id: MessageId) -> Result<Option<Message>> {
    tx.query_opt(
        sql!(concat!("SELECT ", message_cols!(), " FROM messages WHERE chat_id = $1 AND id = $2 AND NOT deleted")),
        &[&chat.0, &id.0],
        rows::message,
    )
    .await
}

async fn is_hidden<X: Tx>(tx: &mut X, user: UserId, chat: ChatId, id: MessageId) -> Result<bool> {
    exists(tx, sql!("SELECT 1 FROM hidden WHERE user_id = $1 AND chat_id = $2 AND msg_id = $3"), &[&user.0, &chat.0, &id.0]).await
}

/// A message `user` can see in a chat they are a member of.
pub async fn visible_message<X: Tx>(tx: &mut X, user: UserId, chat: ChatId, id: MessageId) -> Result<Message> {
    match message(tx, chat, id).await? {
        Some(m) if !is_hidden(tx, user, chat, id).await? => Ok(m),
        _ => Err(Error::MessageNotFound),
    }
}

/// The message an earlier send with this `random_id` made, as it is now (edited or deleted
/// since, maybe).
async fn earlier_send<X: Tx>(tx: &mut X, actor: UserId, random_id: i64) -> Result<Option<Sent>> {
    let Some((chat, id, pts)) = tx
        .query_opt(sql!("SELECT chat_id, msg_id, pts FROM sends WHERE user_id = $1 AND random_id = $2"), &[&actor.0, &random_id], |r| {
            Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?))
        })
        .await?
    else {
        return Ok(None);
    };
    let message = super::one(
        tx,
        sql!(concat!("SELECT ", message_cols!(), " FROM messages WHERE chat_id = $1 AND id = $2")),
        &[&chat, &id],
        rows::message,
    )
    .await?;
    Ok(Some(Sent { message, pts }))
}

/// Durable once committed. A repeated `random_id` from the same user returns the original
/// message and changes nothing.
pub async fn send<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, random_id: i64, draft: &Draft, forward: Option<Forward>) -> Result<Sent> {
    let Draft { content, entities, keyboard, reply_to } = draft;
    let reply_to = *reply_to;
    if let Some(sent) = earlier_send(tx, actor, random_id).await? {
        return Ok(sent);
    }
    let v = chats::view_for_update(tx, actor, chat).await?;
    // Checked again under the chat's lock where writers race: a concurrent retry of the same
    // send may have committed while this one waited for it. (A concurrent retry into another
    // chat collides on the `sends` key instead, and the whole command is retried, landing
    // above.)
    if X::CONCURRENT {
        if let Some(sent) = earlier_send(tx, actor, random_id).await? {
            return Ok(sent);
        }
    }
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    // #19: a group's admins decide what its other members may send.
    if v.chat.kind == ChatKind::Group && !v.membership.role.is_admin() {
        let allowed = super::restrictions::allowed(tx, chat, actor).await?;
        if !may_send(v.chat.kind, v.membership.role, allowed, Permissions::needed(content)) {
            return Err(Error::WriteForbidden);
        }
    }
    // account (#16): a banned, suspended or restricted account sends nothing.
    super::moderation::check_may_send(tx, actor).await?;
    super::secret::refuse_secret(tx, &v.chat).await?;
    if let Some(peer) = v.peer.filter(|&p| p != actor) {
        if people::is_blocked(tx, peer, actor).await? || people::is_blocked(tx, actor, peer).await? {
            return Err(Error::Blocked);
        }
    }
    if keyboard.is_some() && !people::is_bot(tx, actor).await? {
        return Err(Error::WriteForbidden);
    }
    if let Some(reply) = reply_to {
        visible_message(tx, actor, chat, reply).await?;
    }
    let id = MessageId(v.chat.top_message.0 + 1);
    let date = now();
    let (kind, media) = match content {
        Content::Text(_) => ("text", None),
        Content::Media(m) => (m.kind.as_str(), Some(m)),
    };
    tx.execute(
        sql!(
            "INSERT INTO messages (chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date,
                media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ),
        &[
            &chat.0,
            &id.0,
            &actor.0,
            &date,
            &kind,
            &content.text().map(MessageText::as_str),
            &reply_to.map(|r| r.0),
            &forward.map(|f| f.from_user.0),
            &forward.map(|f| f.from_chat.0),
            &forward.map(|f| f.message.0),
            &forward.map(|f| f.date),
            &media.map(|m| m.file.0),
            &media.map(|m| m.name.as_str()),
            &media.map(|m| m.mime.as_str()),
            &media.map(|m| m.size as i64),
            &media.and_then(|m| m.width.map(i64::from)),
            &media.and_then(|m| m.height.map(i64::from)),
            &media.and_then(|m| m.thumb.map(|t| t.0)),
            &encode_entities(entities),
            &encode_keyboard(keyboard.as_ref()),
        ],
    )
    .await?;
    tx.execute(sql!("UPDATE chats SET top_message = $2, activity = $3 WHERE id = $1"), &[&chat.0, &id.0, &now_ms()]).await?;
    tx.execute(sql!("UPDATE members SET read_inbox = $3 WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &actor.0, &id.0]).await?;
    let message = Message {
        chat,
        id,
        from: actor,
        date,
        content: content.clone(),
        entities: entities.clone(),
        keyboard: keyboard.clone(),
        reply_to,
        forward,
        edit_date: None,
    };
    let pts = log::for_chat(tx, &v.chat, actor, Event::NewMessage(message.clone())).await?;
    search::touched(tx, chat, id).await?;
    tx.execute(
        sql!("INSERT INTO sends (user_id, random_id, chat_id, msg_id, pts) VALUES ($1, $2, $3, $4, $5)"),
        &[&actor.0, &random_id, &chat.0, &id.0, &pts],
    )
    .await?;
    drafts::clear(tx, actor, chat).await?;
    Ok(Sent { message, pts })
}

pub async fn forward<X: Tx>(
    tx: &mut X,
    actor: UserId,
    from: ChatId,
    ids: &[MessageId],
    to: ChatId,
    random_ids: &[i64],
) -> Result<Vec<Sent>> {
    if ids.len() != random_ids.len() {
        return Err(Error::Invalid("forward needs one random_id per message".into()));
    }
    // The source is only read: the one chat this command locks is the target (in `send`).
    chats::view(tx, actor, from).await?;
    let mut sent = Vec::with_capacity(ids.len());
    for (&id, &random_id) in ids.iter().zip(random_ids) {
        let original = visible_message(tx, actor, from, id).await?;
        let origin = original.forward.unwrap_or(Forward { from_user: original.from, from_chat: from, message: id, date: original.date });
        // A copy keeps the formatting; buttons belong to the bot that posted the original.
        let draft = Draft { content: original.content, entities: original.entities, keyboard: None, reply_to: None };
        sent.push(send(tx, actor, to, random_id, &draft, Some(origin)).await?);
    }
    Ok(sent)
}

/// Changes text, formatting or keyboard of `actor`'s own message. Text can change on text
/// messages and as a caption on media; only bots may set a keyboard.
pub async fn edit<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, id: MessageId, edit: &Edit) -> Result<Message> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    let original = visible_message(tx, actor, chat, id).await?;
    if original.from != actor {
        return Err(Error::AuthorRequired);
    }
    if original.forward.is_some() {
        return Err(Error::Invalid("a forwarded message keeps its author's words: it cannot be edited".into()));
    }
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    if matches!(edit.keyboard, Some(Some(_))) && !people::is_bot(tx, actor).await? {
        return Err(Error::WriteForbidden);
    }
    let edited = now();
    let mut message = Message { edit_date: Some(edited), ..original };
    if let Some((text, entities)) = &edit.text {
        message.content = match message.content {
            Content::Text(_) => Content::Text(text.clone()),
            // On media the text is the caption.
            Content::Media(m) => Content::Media(Media { caption: Some(text.clone()), ..m }),
        };
        message.entities = entities.clone();
    }
    if let Some(keyboard) = &edit.keyboard {
        // Only buttons under a message change with it, as in Telegram: a reply keyboard, its
        // removal or a reply request was sent once and stays what it was.
        if keyboard.as_ref().is_some_and(|k| !k.is_inline()) {
            return Err(Error::Invalid("only an inline keyboard can be set by an edit".into()));
        }
        if message.keyboard.as_ref().is_none_or(Keyboard::is_inline) {
            message.keyboard = keyboard.clone();
        }
    }
    tx.execute(
        sql!("UPDATE messages SET text = $3, entities = $4, markup = $5, edit_date = $6 WHERE chat_id = $1 AND id = $2"),
        &[
            &chat.0,
            &id.0,
            &message.content.text().map(MessageText::as_str),
            &encode_entities(&message.entities),
            &encode_keyboard(message.keyboard.as_ref()),
            &edited,
        ],
    )
    .await?;
    log::for_chat(tx, &v.chat, actor, Event::EditMessage(message.clone())).await?;
    search::touched(tx, chat, id).await?;
    Ok(message)
}

pub async fn delete<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    // Channel posts have no per-reader copies: deleting one deletes it for everyone.
    let for_everyone = for_everyone || v.chat.kind == ChatKind::Channel;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    for &id in &ids {
        let m = visible_message(tx, actor, chat, id).await?;
        if for_everyone && m.from != actor && !can_delete_others(v.chat.kind, v.membership.role) {
            return Err(if v.chat.kind == ChatKind::Private { Error::AuthorRequired } else { Error::AdminRequired });
        }
    }
    if !for_everyone {
        for &id in &ids {
            tx.execute(
                sql!("INSERT INTO hidden (user_id, chat_id, msg_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
                &[&actor.0, &chat.0, &id.0],
            )
            .await?;
        }
        log::user(tx, actor, Event::DeleteMessages { chat, ids }).await?;
        return Ok(());
    }
    erase_in(tx, &v.chat, actor, &ids).await
}

/// Deletes `ids` of `chat` for everyone, with no membership or permission check: for an
/// operator's moderation action (`moderation::moderate`), which is audited instead.
pub async fn erase<X: Tx>(tx: &mut X, chat: ChatId, actor: UserId, ids: &[MessageId]) -> Result<()> {
    let c = tx.query_opt(super::dialect::CHAT_FOR_UPDATE, &[&chat.0], rows::chat).await?.ok_or(Error::ChatNotFound)?;
    erase_in(tx, &c, actor, ids).await
}

async fn erase_in<X: Tx>(tx: &mut X, chat_row: &Chat, actor: UserId, ids: &[MessageId]) -> Result<()> {
    let chat = chat_row.id;
    let ids = ids.to_vec();
    for &id in &ids {
        // The words go with the message: a deleted message keeps only its place in the sequence.
        tx.execute(
            sql!(
                "UPDATE messages SET deleted = TRUE, text = NULL, entities = NULL, markup = NULL, media_file = NULL, media_thumb = NULL
                 WHERE chat_id = $1 AND id = $2"
            ),
            &[&chat.0, &id.0],
        )
        .await?;
        reactions::forget(tx, chat, id).await?;
        search::touched(tx, chat, id).await?;
    }
    if chat_row.pinned.is_some_and(|p| ids.contains(&p)) {
        tx.execute(sql!("UPDATE chats SET pinned = NULL WHERE id = $1"), &[&chat.0]).await?;
        log::for_chat(tx, chat_row, actor, Event::Pinned { chat, id: None }).await?;
    }
    log::for_chat(tx, chat_row, actor, Event::DeleteMessages { chat, ids }).await?;
    Ok(())
}

pub async fn pin<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, id: Option<MessageId>) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    if !can_pin(v.chat.kind, v.membership.role) {
        return Err(Error::AdminRequired);
    }
    if let Some(id) = id {
        visible_message(tx, actor, chat, id).await?;
    }
    tx.execute(sql!("UPDATE chats SET pinned = $2 WHERE id = $1"), &[&chat.0, &id.map(|i| i.0)]).await?;
    log::for_chat(tx, &v.chat, actor, Event::Pinned { chat, id }).await?;
    Ok(())
}

/// Marks read up to `max_id` (the top message when `None`); never moves backwards.
pub async fn read<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    let top = v.chat.top_message;
    let max = max_id.unwrap_or(top).min(top);
    if max <= v.membership.read_inbox {
        return Ok(());
    }
    tx.execute(sql!("UPDATE members SET read_inbox = $3 WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &actor.0, &max.0]).await?;
    if v.chat.own_log {
        // Read receipts are not broadcast in channels and large groups.
        log::user(tx, actor, Event::ReadInbox { chat, max_id: max }).await?;
        return Ok(());
    }
    // Tell the authors whose messages are now read.
    let authors = tx
        .query(
            sql!(
                "SELECT m.user_id FROM members m WHERE m.chat_id = $1 AND m.user_id <> $2 AND m.read_outbox < $3
                 AND EXISTS (SELECT 1 FROM messages g WHERE g.chat_id = $1 AND g.from_id = m.user_id AND g.id > m.read_outbox AND g.id <= $3)
                 ORDER BY m.user_id"
            ),
            &[&chat.0, &actor.0, &max.0],
            super::user_id,
        )
        .await?;
    if X::CONCURRENT {
        tx.lock_users(&[&[actor][..], &authors].concat()).await?;
    }
    log::user(tx, actor, Event::ReadInbox { chat, max_id: max }).await?;
    for author in authors {
        tx.execute(sql!("UPDATE members SET read_outbox = $3 WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &author.0, &max.0]).await?;
        log::user(tx, author, Event::ReadOutbox { chat, max_id: max }).await?;
    }
    Ok(())
}

/// A page of history, oldest first.
pub async fn history<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>> {
    chats::view(tx, actor, chat).await?;
    history_unchecked(tx, actor, chat, page).await
}

/// A page of history for a member (the caller has authorized).
async fn history_unchecked<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>> {
    macro_rules! visible {
        () => {
            "chat_id = $1 AND NOT deleted AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = $2 AND h.chat_id = $1 AND h.msg_id = messages.id)"
        };
    }
    let (sql, bound, limit) = match page {
        Page::Older { before, limit } => (
            sql!(concat!("SELECT ", message_cols!(), " FROM messages WHERE ", visible!(), " AND id < $3 ORDER BY id DESC LIMIT $4")),
            before.map_or(i64::MAX, |b| b.0),
            limit,
        ),
        Page::Newer { after, limit } => (
            sql!(concat!("SELECT ", message_cols!(), " FROM messages WHERE ", visible!(), " AND id > $3 ORDER BY id ASC LIMIT $4")),
            after.map_or(0, |a| a.0),
            limit,
        ),
    };
    let mut messages = tx.query(sql, &[&chat.0, &actor.0, &bound, &i64::from(limit)], rows::message).await?;
    if matches!(page, Page::Older { .. }) {
        messages.reverse();
    }
    Ok(messages)
}

pub async fn dialogs<X: Tx>(tx: &mut X, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> Result<Vec<Dialog>> {
    let (activity, id) = before.map_or((i64::MAX, i64::MAX), |(a, ch)| (a, ch.0));
    let memberships = tx
        .query(
            sql!(
                "SELECT m.chat_id, m.user_id, m.role, m.joined, m.read_inbox, m.read_outbox FROM members m JOIN chats c ON c.id = m.chat_id
                 WHERE m.user_id = $1 AND (c.activity < $2 OR (c.activity = $2 AND c.id < $3)) AND c.taken_down IS NULL
                 ORDER BY c.activity DESC, c.id DESC LIMIT $4"
            ),
            &[&user.0, &activity, &id, &i64::from(limit)],
            rows::member,
        )
        .await?;
    let mut out = Vec::with_capacity(memberships.len());
    for membership in memberships {
        let chat = chats::load(tx, membership.chat).await?.ok_or(Error::ChatNotFound)?;
        let peer = chats::private_peer(tx, &chat, user).await?;
        let last_message = history_unchecked(tx, user, chat.id, Page::Older { before: None, limit: 1 }).await?.pop();
        let unread = super::one(
            tx,
            sql!(
                "SELECT COUNT(*) FROM messages WHERE chat_id = $1 AND id > $2 AND from_id <> $3 AND NOT deleted
                 AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = $3 AND h.chat_id = $1 AND h.msg_id = messages.id)"
            ),
            &[&chat.id.0, &membership.read_inbox.0, &user.0],
            super::int,
        )
        .await?;
        let draft = drafts::draft(tx, user, chat.id).await?;
        out.push(Dialog { view: View { chat, membership, peer }, last_message, unread: unread.max(0) as u64, draft });
    }
    Ok(out)
}
