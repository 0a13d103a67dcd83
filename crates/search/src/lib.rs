//! Message search for Heliograph, over two engines behind one trait ([`Index`]).
//!
//! # Layout
//! - [`query`]: what people type, parsed once (words, phrases, the prefix being typed).
//! - [`embedded`]: the default engine, a tantivy index in the data folder that follows the
//!   store's search log (`crates/store/src/commands/search.rs`): it applies every entry after
//!   the position its last commit stands at and commits the new position in the same tantivy
//!   commit, so a crash resumes exactly there; [`embedded::rebuild`] makes a new one from the
//!   store while the old one serves.
//! - [`postgres`]: PostgreSQL's own full-text search over `messages.words` (a generated
//!   `tsvector` with a GIN index, migration 0007), transactional with the message, for
//!   clusters: every node answers from the one database.
//! - [`snippet`]: highlighted snippets, made from the message as the store holds it now.
//! - [`conformance`]: the suite both engines pass.
//!
//! Words are cut and folded by `heliograph_core::words` in both engines (PostgreSQL spells
//! the same steps in SQL), so they find the same messages.
//!
//! # Authorization
//! [`search`] is the one way to search messages: the store names the chats the user may read
//! ([`Store::search_scope`], through the store's one access check) before any engine is
//! asked, the engine searches only those, and every hit goes through
//! [`Store::visible_messages`] (the same choke point as history: membership now, deleted, deleted
//! for me) before it is shown. An index a moment behind the store can only lose a result,
//! never show one the user may not read.
//!
//! Architecture Invariant: an engine never decides who may read what; it is handed the chats.

pub mod conformance;
pub mod embedded;
pub mod postgres;
pub mod query;
pub mod snippet;

use async_trait::async_trait;
use heliograph_core::words::has_link;
use heliograph_core::*;
use heliograph_store::{Message, Store};

pub use query::Clause;
pub use snippet::Snippet;

/// Most results in one page.
pub const MAX_LIMIT: u32 = 100;
/// Furthest page: offset + limit at most this (deep paging costs the engine each time).
pub const MAX_DEPTH: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] heliograph_store::Error),
    #[error("the search index failed: {0}")]
    Index(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The kinds of message a search can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Photo,
    Video,
    Audio,
    Voice,
    /// Documents (`document` messages).
    File,
    /// Messages whose text holds a link ([`heliograph_core::words::has_link`]).
    Link,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "text" => Kind::Text,
            "photo" => Kind::Photo,
            "video" => Kind::Video,
            "audio" => Kind::Audio,
            "voice" => Kind::Voice,
            "file" | "document" => Kind::File,
            "link" => Kind::Link,
            _ => return None,
        })
    }

    /// The kind as indexed: a message's stored kind, or `link`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Photo => "photo",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Voice => "voice",
            Kind::File => "document",
            Kind::Link => "link",
        }
    }
}

/// A search as asked.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    /// Only this chat.
    pub chat: Option<ChatId>,
    /// Only messages from this user.
    pub from: Option<UserId>,
    pub kind: Option<Kind>,
    /// Unix seconds, inclusive.
    pub min_date: Option<i64>,
    pub max_date: Option<i64>,
    pub offset: u32,
    pub limit: u32,
}

/// What an engine is asked: the parsed query, limited to `chats`.
#[derive(Debug, Clone)]
pub struct Find<'a> {
    pub clauses: &'a [Clause],
    pub chats: &'a [ChatId],
    pub query: &'a Query,
    /// Whose deleted-for-me messages the engine may leave out early (they are dropped
    /// afterwards in any case).
    pub user: UserId,
    /// The best this many, ranked.
    pub limit: usize,
    /// Now, in Unix seconds: the recency part of ranking.
    pub now: i64,
}

/// A message an engine found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub chat: ChatId,
    pub id: MessageId,
    pub score: f32,
}

/// A search engine over message words.
#[async_trait]
pub trait Index: Send + Sync + 'static {
    /// Waits until the index holds every message write committed before this call (the
    /// embedded engine catches up with the log; PostgreSQL is always there). Gives up after
    /// `timeout`, answering false, and the search runs on what is indexed.
    async fn catch_up(&self, timeout: std::time::Duration) -> Result<bool>;
    /// A message write was committed: an engine that follows the log looks at it now.
    fn wake(&self) {}
    /// The best matches among `find.chats`, best first.
    async fn find(&self, find: Find<'_>) -> Result<Vec<Found>>;
}

/// The ranking both engines use: relevance times a recency factor that is 2 for a message
/// sent now, 1.5 at 30 days, and falls towards 1 for old ones.
pub fn recency(relevance: f32, date: i64, now: i64) -> f32 {
    let days = ((now - date).max(0) as f32) / 86_400.0;
    relevance * (1.0 + 1.0 / (1.0 + days / 30.0))
}

/// The words a message is indexed under: its text or caption, and its file's name.
pub fn indexed_text(m: &Message) -> String {
    let text = m.content.text().map(MessageText::as_str).unwrap_or("");
    match &m.content {
        Content::Media(media) => format!("{text} {}", media.name),
        Content::Text(_) => text.to_string(),
    }
}

/// The kinds a message is found under: its own, and `link` when its text holds one.
pub fn kinds(m: &Message) -> Vec<&'static str> {
    let own = match &m.content {
        Content::Text(_) => "text",
        Content::Media(media) => media.kind.as_str(),
    };
    let mut out = vec![own];
    if m.content.text().is_some_and(|t| has_link(t.as_str())) {
        out.push("link");
    }
    out
}

/// A message found, as its reader sees it now, with its snippet.
#[derive(Debug, Clone)]
pub struct Hit {
    pub message: Message,
    pub snippet: Snippet,
    pub score: f32,
}

/// Searches the messages `user` may read: authorization first (the store names the chats),
/// then the engine, then every hit checked again and shown as it is now.
pub async fn search(store: &dyn Store, index: &dyn Index, user: UserId, query: &Query) -> Result<Vec<Hit>> {
    if query.limit == 0 || query.limit > MAX_LIMIT {
        return Err(Error::Invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    if query.offset + query.limit > MAX_DEPTH {
        return Err(Error::Invalid(format!("results are shown up to the {MAX_DEPTH}th; narrow the search")));
    }
    let clauses = query::parse(&query.text);
    if clauses.is_empty() {
        return Err(Error::Invalid("the search has no word to look for".into()));
    }
    let chats = store.search_scope(user, query.chat).await?;
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    index.catch_up(CATCH_UP).await?;
    let now = heliograph_store::now();
    let wanted = (query.offset + query.limit) as usize;
    // Some hits may be dropped below (deleted for this user, or since); ask for a few more,
    // and again for more while a page comes out short and the engine had more.
    let mut ask = wanted + wanted / 4 + 8;
    loop {
        let found = index.find(Find { clauses: &clauses, chats: &chats, query, user, limit: ask, now }).await?;
        let exhausted = found.len() < ask;
        let keys: Vec<(ChatId, MessageId)> = found.iter().map(|f| (f.chat, f.id)).collect();
        let visible = store.visible_messages(user, &keys).await?;
        if visible.len() >= wanted || exhausted || ask >= MAX_DEPTH as usize * 2 {
            let marks = query::marks(&clauses);
            let mut scores = found.iter().map(|f| ((f.chat, f.id), f.score));
            return Ok(visible
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit as usize)
                .map(|message| {
                    let score = scores.find(|(k, _)| *k == (message.chat, message.id)).map_or(0.0, |(_, s)| s);
                    let snippet = snippet::snippet(&indexed_text(&message), &marks);
                    Hit { message, snippet, score }
                })
                .collect());
        }
        ask *= 2;
    }
}

/// How long a search waits for the embedded index to hold what was committed before it.
pub const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);
