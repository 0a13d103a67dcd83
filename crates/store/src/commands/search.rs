//! What search needs from the store: the search log an embedded index follows, the chats a
//! user may search (authorization first), the results as the user may see them now
//! (authorization last, through the same choke point as history), and the directory of
//! people and public chats.
//!
//! Message words are not indexed here: the embedded index (`crates/search`, tantivy) reads
//! the log and the messages; on PostgreSQL the database indexes them itself
//! (`messages.words`, migration 0007), and `crates/search` queries that column.

use heliograph_core::words::words;
use heliograph_core::*;

use super::{chats, int, messages, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// A message was sent, edited or deleted for everyone: the embedded index must look at it
/// again. Written in the same transaction as the change (nothing when the database indexes
/// words itself).
pub async fn touched<X: Tx>(tx: &mut X, chat: ChatId, id: MessageId) -> Result<()> {
    if X::SEARCH_LOG {
        tx.execute(sql!("INSERT INTO search_log (chat_id, msg_id) VALUES ($1, $2)"), &[&chat.0, &id.0]).await?;
    }
    Ok(())
}

/// The position of the newest search-log entry (0 for none).
pub async fn log_head<X: Tx>(tx: &mut X) -> Result<i64> {
    if !X::SEARCH_LOG {
        return Ok(0);
    }
    super::one(tx, sql!("SELECT COALESCE(MAX(seq), 0) FROM search_log"), &[], int).await
}

/// Deletes the search-log entries up to `upto`: an index has them for good. The newest
/// entry stays, so that [`log_head`] still tells the position. Returns how many went.
pub async fn trim_log<X: Tx>(tx: &mut X, upto: i64) -> Result<u64> {
    if !X::SEARCH_LOG {
        return Ok(0);
    }
    tx.execute(sql!("DELETE FROM search_log WHERE seq <= $1 AND seq < (SELECT MAX(seq) FROM search_log)"), &[&upto]).await
}

/// Up to `limit` search-log entries after `after`, oldest first, each with its message as
/// it is now (`None`: deleted since, or never there).
pub async fn log_after<X: Tx>(tx: &mut X, after: i64, limit: u32) -> Result<Vec<SearchEntry>> {
    if !X::SEARCH_LOG {
        return Ok(Vec::new());
    }
    let keys = tx
        .query(
            sql!("SELECT seq, chat_id, msg_id FROM search_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &i64::from(limit)],
            |r| Ok((r.get::<i64>(0)?, ChatId(r.get(1)?), MessageId(r.get(2)?))),
        )
        .await?;
    let mut out = Vec::with_capacity(keys.len());
    for (seq, chat, id) in keys {
        let message = messages::message(tx, chat, id).await?;
        out.push(SearchEntry { seq, chat, id, message });
    }
    Ok(out)
}

/// Every live message after `after` in (chat, id) order, `limit` at a time: what a rebuilt
/// index starts from.
pub async fn corpus<X: Tx>(tx: &mut X, after: (ChatId, MessageId), limit: u32) -> Result<Vec<Message>> {
    tx.query(
        sql!(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE NOT deleted AND (chat_id > $1 OR (chat_id = $1 AND id > $2)) ORDER BY chat_id, id LIMIT $3"
        )),
        &[&after.0 .0, &after.1 .0, &i64::from(limit)],
        rows::message,
    )
    .await
}

/// The chats `user` may search now: `chat` alone (through the choke point, so
/// `ChatNotFound` for a chat they cannot read), or every chat they are a member of.
pub async fn scope<X: Tx>(tx: &mut X, user: UserId, chat: Option<ChatId>) -> Result<Vec<ChatId>> {
    if let Some(chat) = chat {
        chats::view(tx, user, chat).await?;
        return Ok(vec![chat]);
    }
    tx.query(sql!("SELECT chat_id FROM members WHERE user_id = $1 ORDER BY chat_id"), &[&user.0], |r| Ok(ChatId(r.get(0)?))).await
}

/// The messages among `found` that `user` may see now, in the order given: each through
/// the choke point of history ([`chats::view`], then not deleted, not deleted for them).
/// An index a moment behind the store can name a message deleted or a chat left since; it
/// is dropped here.
pub async fn visible<X: Tx>(tx: &mut X, user: UserId, found: &[(ChatId, MessageId)]) -> Result<Vec<Message>> {
    let mut readable: Vec<(ChatId, bool)> = Vec::new();
    let mut out = Vec::with_capacity(found.len());
    for &(chat, id) in found {
        let may = match readable.iter().find(|(c, _)| *c == chat) {
            Some(&(_, may)) => may,
            None => {
                let may = match chats::view(tx, user, chat).await {
                    Ok(_) => true,
                    Err(Error::ChatNotFound) => false,
                    Err(e) => return Err(e),
                };
                readable.push((chat, may));
                may
            }
        };
        if !may {
            continue;
        }
        match messages::visible_message(tx, user, chat, id).await {
            Ok(m) => out.push(m),
            Err(Error::MessageNotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// People (by name or username) and public groups and channels (by title or username)
/// matching `query`, best first: exact username, username prefix, a name word starting with
/// the query, then the rest; chats with more members first within a rank. Phone numbers
/// are never matched here (finding by number has its own limits and privacy check).
pub async fn directory<X: Tx>(tx: &mut X, query: &str, limit: u32) -> Result<Directory> {
    let name = words(query).join(" ");
    let handle = query.trim().trim_start_matches('@').to_lowercase();
    if name.is_empty() {
        return Ok(Directory::default());
    }
    let limit = i64::from(limit);
    let users = tx
        .query(
            sql!(concat!(
                "SELECT ",
                user_cols!(),
                " FROM users WHERE heliograph_words(name) LIKE '%' || $1 || '%' OR substr(lower(username), 1, length($2)) = $2
                 ORDER BY CASE WHEN lower(username) = $2 THEN 0 WHEN substr(lower(username), 1, length($2)) = $2 THEN 1
                   WHEN ' ' || heliograph_words(name) LIKE '% ' || $1 || '%' THEN 2 ELSE 3 END, id LIMIT $3"
            )),
            &[&name, &handle, &limit],
            rows::user,
        )
        .await?;
    let chats = tx
        .query(
            sql!(concat!(
                "SELECT ",
                chat_cols!(),
                " FROM chats WHERE username IS NOT NULL AND kind <> 'private'
                 AND (heliograph_words(title) LIKE '%' || $1 || '%' OR substr(lower(username), 1, length($2)) = $2)
                 ORDER BY CASE WHEN lower(username) = $2 THEN 0 WHEN substr(lower(username), 1, length($2)) = $2 THEN 1
                   WHEN ' ' || heliograph_words(title) LIKE '% ' || $1 || '%' THEN 2 ELSE 3 END, member_count DESC, id LIMIT $3"
            )),
            &[&name, &handle, &limit],
            rows::chat,
        )
        .await?;
    Ok(Directory { users, chats })
}
