//! `messages.search` and `contacts.search` (search, #17): message search through
//! `heliograph_search::search` (authorization first and last, in the store), and the
//! directory of people and public chats.

use heliograph_core::{ChatId, Phone, UserId};
use heliograph_proto as proto;
use heliograph_search::{Kind, Query};

use super::{Outcome, SignedIn};
use crate::convert::{self, chat_of, users_for};
use crate::errors::{bad_params, Failure};
use crate::state::Shared;

/// Results per page unless asked.
const DEFAULT_LIMIT: u32 = 20;
/// Longest query, in characters.
const MAX_QUERY: usize = 256;

/// `messages.search`: the messages the caller can read now that match `q`, best first,
/// with snippets. `CHAT_NOT_FOUND` when `chat_id` is a chat the caller cannot read;
/// `BAD_PARAMS` for an empty or over-long query, an unknown `kind`, or a page out of range.
#[allow(clippy::too_many_arguments)]
pub async fn messages(
    s: &Shared,
    me: SignedIn,
    q: String,
    chat_id: Option<i64>,
    from_id: Option<i64>,
    kind: Option<String>,
    min_date: Option<i64>,
    max_date: Option<i64>,
    offset: u32,
    limit: Option<u32>,
) -> Outcome<proto::SearchResults> {
    if q.chars().count() > MAX_QUERY {
        return Err(Failure(bad_params(format!("a search is at most {MAX_QUERY} characters"))));
    }
    let kind = match kind.as_deref() {
        None => None,
        Some(k) => Some(
            Kind::parse(k)
                .ok_or_else(|| Failure(bad_params(format!("no message kind `{k}`: text, photo, video, audio, voice, file or link"))))?,
        ),
    };
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let query = Query { text: q, chat: chat_id.map(ChatId), from: from_id.map(UserId), kind, min_date, max_date, offset, limit };
    let hits = heliograph_search::search(&*s.store, &*s.search, me.user, &query).await?;
    let next_offset = (hits.len() as u32 == limit && offset + limit < heliograph_search::MAX_DEPTH).then_some(offset + limit);
    let mut chat_ids: Vec<ChatId> = hits.iter().map(|h| h.message.chat).collect();
    chat_ids.sort();
    chat_ids.dedup();
    let mut chats = Vec::with_capacity(chat_ids.len());
    for id in chat_ids {
        chats.push(chat_of(&*s.store, me.user, id).await?);
    }
    let mut authors: Vec<UserId> = hits.iter().map(|h| h.message.from).collect();
    authors.sort();
    authors.dedup();
    let users = s.store.users(&authors).await?;
    let users = users_for(&*s.store, me.user, &users).await?;
    let results = hits
        .iter()
        .map(|h| proto::SearchResult {
            message: convert::message(&h.message),
            snippet: h.snippet.text.clone(),
            highlights: h.snippet.highlights.iter().map(|&(o, l)| [o, l]).collect(),
        })
        .collect();
    Ok(proto::SearchResults { results, chats, users, next_offset })
}

/// `contacts.search`: people by name or username, public groups and channels by title or
/// username, best first (`limit` 1-50, default 20). A query that is a phone number finds
/// its account only through `discovery` (the owner's privacy setting, the lookup limits),
/// exactly as `contacts.add` would.
pub async fn directory(s: &Shared, me: SignedIn, q: String, limit: Option<u32>) -> Outcome<proto::Directory> {
    if q.trim().is_empty() || q.chars().count() > MAX_QUERY {
        return Err(Failure(bad_params(format!("search for 1 to {MAX_QUERY} characters"))));
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, 50);
    let mut found = s.store.directory(&q, limit).await?;
    if let Ok(phone) = Phone::parse(q.trim()) {
        if let Some(user) = s.phone_lookups.find(&*s.store, &s.phone_keys, me.user, &phone).await? {
            found.users.retain(|u| u.id != user.id);
            found.users.insert(0, user);
        }
    }
    let users = users_for(&*s.store, me.user, &found.users).await?;
    Ok(proto::Directory { users, chats: found.chats.iter().map(convert::chat_public).collect() })
}
