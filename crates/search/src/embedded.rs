//! The embedded engine: a tantivy index in `data_dir/search`, following the store's search
//! log.
//!
//! # Following the log
//! One thread (the follower) reads the log entries after the position the index's last
//! commit stands at, applies each one idempotently (delete the message's document by its
//! key, then add the message as it is now, if it still exists), and commits the batch with
//! the position of its last entry as the commit's payload: the words and the position
//! become durable together. After a crash the index opens at its last commit, reads its
//! position from the payload, and applies what follows again; applying an entry twice gives
//! the same document, so nothing is missing and nothing is left over. The follower is woken
//! by each commit of a message write (`wake`, called by the server's fan-out) and looks at
//! least once a second anyway; it never takes part in a send: the send path only appends a
//! small log row in its own transaction.
//!
//! # Rebuilding
//! [`rebuild`] (`heliograph reindex`) writes a new index in a sibling folder from the
//! store's messages, committed with the log position read before it started, then points
//! `search/CURRENT` at it (an atomic rename). A running follower sees the new pointer,
//! switches to the new index and applies the entries since its position; the old folder is
//! removed. Searches keep being answered from the old index until the switch.
//!
//! # Trimming the log
//! The log would grow by a row per message write forever. At most every [`TRIM_EVERY`], the
//! follower deletes the entries up to the position its index has committed: they are in the
//! index for good. While a rebuild runs, the entries after the position it started from are
//! needed by the new index, so a rebuild first writes `search/REBUILDING` (the new folder's
//! name), and the follower trims nothing while that file names a folder it does not follow
//! yet; it removes the file once it has switched. (A rebuild that died leaves the file
//! naming a folder that no longer exists or is older than an hour: it is ignored.)
//!
//! # Tokenizer
//! [`Words`]: `heliograph_core::words` (Unicode folding of case and diacritics, words as
//! runs of letters and digits, each Han or kana character a word), the same cut
//! PostgreSQL's `heliograph_words` makes. Ranking: BM25 times [`crate::recency`].

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use heliograph_core::*;
use heliograph_store::{Message, Store};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STRING};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocId, Index as Tantivy, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader, TantivyDocument, Term};
use tokio::sync::{watch, Notify};

use crate::{indexed_text, kinds, recency, Clause, Error, Find, Found, Index, Result};

/// Log entries applied per tantivy commit, at most.
const BATCH: u32 = 5_000;
/// How often the follower looks at the log when nothing woke it.
const IDLE: Duration = Duration::from_secs(1);
/// The index writer's memory (one indexing thread: the follower's).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// How often, at most, the follower trims the log it has applied (one small write).
pub const TRIM_EVERY: Duration = Duration::from_secs(5);
/// The file a running rebuild names its new folder in.
const REBUILDING: &str = "REBUILDING";
/// A rebuild that has not finished after this long has died.
const REBUILD_ABANDONED: Duration = Duration::from_secs(3600);
const TOKENIZER: &str = "heliograph";

/// The fields of a message's document.
#[derive(Clone, Copy)]
struct Fields {
    /// "chat:id", the key a re-index deletes by.
    key: tantivy::schema::Field,
    chat: tantivy::schema::Field,
    id: tantivy::schema::Field,
    from: tantivy::schema::Field,
    date: tantivy::schema::Field,
    kind: tantivy::schema::Field,
    text: tantivy::schema::Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        chat: b.add_i64_field("chat", INDEXED | FAST),
        id: b.add_i64_field("id", FAST),
        from: b.add_i64_field("from", INDEXED),
        date: b.add_i64_field("date", INDEXED | FAST),
        kind: b.add_text_field("kind", STRING),
        text: b.add_text_field("text", text),
    };
    (b.build(), fields)
}

/// tantivy's view of `heliograph_core::words`.
#[derive(Clone, Default)]
pub struct Words;

pub struct WordStream {
    words: std::vec::IntoIter<String>,
    token: Token,
}

impl Tokenizer for Words {
    type TokenStream<'a> = WordStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream {
        WordStream { words: heliograph_core::words::words(text).into_iter(), token: Token { position: usize::MAX, ..Token::default() } }
    }
}

impl TokenStream for WordStream {
    fn advance(&mut self) -> bool {
        match self.words.next() {
            Some(w) => {
                self.token.position = self.token.position.wrapping_add(1);
                self.token.text = w;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Index(e.to_string())
}

/// One index folder, opened.
struct Opened {
    name: String,
    index: Tantivy,
    reader: IndexReader,
    fields: Fields,
}

fn open_folder(root: &Path, name: &str) -> Result<Opened> {
    let path = root.join(name);
    std::fs::create_dir_all(&path).map_err(failed)?;
    let (schema, fields) = schema();
    let dir = tantivy::directory::MmapDirectory::open(&path).map_err(failed)?;
    let index = Tantivy::open_or_create(dir, schema).map_err(failed)?;
    index.tokenizers().register(TOKENIZER, Words);
    let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(failed)?;
    Ok(Opened { name: name.to_string(), index, reader, fields })
}

/// The position the index's last commit stands at.
fn committed_position(index: &Tantivy) -> Result<i64> {
    let metas = index.load_metas().map_err(failed)?;
    Ok(metas.payload.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0))
}

fn current_name(root: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(root.join("CURRENT")) {
        Ok(name) => Ok(Some(name.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(e)),
    }
}

/// Points `root/CURRENT` at `name`, atomically.
fn set_current(root: &Path, name: &str) -> Result<()> {
    let tmp = root.join("CURRENT.tmp");
    std::fs::write(&tmp, name).map_err(failed)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(failed)?;
    std::fs::rename(&tmp, root.join("CURRENT")).map_err(failed)?;
    std::fs::File::open(root).and_then(|f| f.sync_all()).map_err(failed)
}

fn key(chat: ChatId, id: MessageId) -> String {
    format!("{}:{}", chat.0, id.0)
}

fn document(f: &Fields, m: &Message) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(f.key, key(m.chat, m.id));
    doc.add_i64(f.chat, m.chat.0);
    doc.add_i64(f.id, m.id.0);
    doc.add_i64(f.from, m.from.0);
    doc.add_i64(f.date, m.date);
    for kind in kinds(m) {
        doc.add_text(f.kind, kind);
    }
    doc.add_text(f.text, indexed_text(m));
    doc
}

/// The embedded engine (see the module's documentation).
pub struct Embedded {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    root: PathBuf,
    current: RwLock<Arc<Opened>>,
    /// The log position the searchable index holds.
    applied: watch::Sender<i64>,
    wake: Notify,
    stop: AtomicBool,
}

impl Embedded {
    /// Opens (or creates) the index under `root` and starts following the store's log.
    /// Needs a multi-threaded tokio runtime (the follower thread waits on the store through it).
    pub fn open(store: Arc<dyn Store>, root: &Path) -> Result<Embedded> {
        std::fs::create_dir_all(root).map_err(failed)?;
        let name = match current_name(root)? {
            Some(name) => name,
            None => {
                set_current(root, "0")?;
                "0".to_string()
            }
        };
        remove_others(root, &name);
        let opened = open_folder(root, &name)?;
        let position = committed_position(&opened.index)?;
        let writer = opened.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(failed)?;
        let shared = Arc::new(Shared {
            store,
            root: root.to_path_buf(),
            current: RwLock::new(Arc::new(opened)),
            applied: watch::channel(position).0,
            wake: Notify::new(),
            stop: AtomicBool::new(false),
        });
        let handle = tokio::runtime::Handle::current();
        let follower = shared.clone();
        std::thread::Builder::new()
            .name("search-follower".into())
            .spawn(move || follow(&follower, &handle, writer, position))
            .map_err(failed)?;
        Ok(Embedded { shared })
    }

    /// The log position the searchable index holds.
    pub fn position(&self) -> i64 {
        *self.shared.applied.borrow()
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

/// Removes index folders other than `keep` (left by a rebuild that did not finish, or
/// replaced by one that did).
fn remove_others(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    // A rebuild under way (in another process) is writing this one.
    let marker = root.join(REBUILDING);
    let age = std::fs::metadata(&marker).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).unwrap_or(REBUILD_ABANDONED);
    let building = std::fs::read_to_string(&marker).ok().filter(|_| age < REBUILD_ABANDONED).map(|n| n.trim().to_owned());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if building.as_deref() == Some(name.as_str()) {
            continue;
        }
        if name != keep && entry.path().is_dir() && name.chars().all(|c| c.is_ascii_digit()) {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(folder = %name, error = %e, "could not remove an old search index");
            }
        }
    }
}

/// Whether the log may be trimmed now: no rebuild is under way that needs the entries
/// after the position it started from. Removes the marker of a rebuild that finished (its
/// folder is the one followed) or died.
fn may_trim(root: &Path, following: &str) -> bool {
    let marker = root.join(REBUILDING);
    let Ok(name) = std::fs::read_to_string(&marker) else { return true };
    let age = std::fs::metadata(&marker).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).unwrap_or_default();
    let name = name.trim();
    if name == following || !root.join(name).is_dir() && age > Duration::from_secs(60) || age > REBUILD_ABANDONED {
        let _ = std::fs::remove_file(&marker);
        return true;
    }
    false
}

/// Deletes the log entries up to `position` unless a rebuild needs them.
fn trim(shared: &Shared, rt: &tokio::runtime::Handle, position: i64) {
    let following = match shared.current.read() {
        Ok(current) => current.name.clone(),
        Err(_) => return,
    };
    if !may_trim(&shared.root, &following) {
        return;
    }
    if let Err(e) = rt.block_on(shared.store.trim_search_log(position)) {
        tracing::warn!(error = %e, "could not trim the search log");
    }
}

/// The follower's loop (its own thread: tantivy's writes block).
fn follow(shared: &Shared, rt: &tokio::runtime::Handle, mut writer: IndexWriter, mut position: i64) {
    let mut trimmed = (std::time::Instant::now(), 0i64);
    while !shared.stop.load(Ordering::SeqCst) {
        if position > trimmed.1 && trimmed.0.elapsed() >= TRIM_EVERY {
            trim(shared, rt, position);
            trimmed = (std::time::Instant::now(), position);
        }
        // A rebuild pointed CURRENT elsewhere: follow the new index from its own position.
        match switch_if_rebuilt(shared) {
            Ok(Some((w, p))) => {
                writer = w;
                position = p;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not switch to the rebuilt search index"),
        }
        match apply_batch(shared, rt, &mut writer, position) {
            Ok(Some(next)) => {
                position = next;
                shared.applied.send_replace(position);
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "search indexing failed; retrying");
                let _ = writer.rollback();
            }
        }
        rt.block_on(async {
            let _ = tokio::time::timeout(IDLE, shared.wake.notified()).await;
        });
    }
}

/// Applies the entries after `position` (one tantivy commit); the new position, or `None`
/// when there was nothing to apply.
fn apply_batch(shared: &Shared, rt: &tokio::runtime::Handle, writer: &mut IndexWriter, position: i64) -> Result<Option<i64>> {
    let entries = rt.block_on(shared.store.search_log(position, BATCH))?;
    let Some(last) = entries.last().map(|e| e.seq) else { return Ok(None) };
    let opened = shared.current.read().map_err(failed)?.clone();
    let f = opened.fields;
    for e in &entries {
        writer.delete_term(Term::from_field_text(f.key, &key(e.chat, e.id)));
        if let Some(m) = &e.message {
            writer.add_document(document(&f, m)).map_err(failed)?;
        }
    }
    let mut commit = writer.prepare_commit().map_err(failed)?;
    commit.set_payload(&last.to_string());
    commit.commit().map_err(failed)?;
    opened.reader.reload().map_err(failed)?;
    Ok(Some(last))
}

fn switch_if_rebuilt(shared: &Shared) -> Result<Option<(IndexWriter, i64)>> {
    let Some(name) = current_name(&shared.root)? else { return Ok(None) };
    let old = shared.current.read().map_err(failed)?.name.clone();
    if name == old {
        return Ok(None);
    }
    let opened = open_folder(&shared.root, &name)?;
    let position = committed_position(&opened.index)?;
    let writer = opened.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(failed)?;
    *shared.current.write().map_err(failed)? = Arc::new(opened);
    shared.applied.send_replace(position);
    tracing::info!(index = %name, position, "switched to the rebuilt search index");
    remove_others(&shared.root, &name);
    may_trim(&shared.root, &name);
    Ok(Some((writer, position)))
}

/// Builds a new index under `root` from every message in the store and makes it the
/// current one; a server following the old one switches to it. Returns the messages
/// indexed. Safe while a server runs: it only reads the store.
pub async fn rebuild(store: &dyn Store, root: &Path) -> Result<u64> {
    std::fs::create_dir_all(root).map_err(failed)?;
    let current = current_name(root)?.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    let name = (current + 1).to_string();
    let _ = std::fs::remove_dir_all(root.join(&name));
    // Before the position is read: a follower trims nothing from here on (see the module's
    // documentation), so every entry after that position is still there after the switch.
    std::fs::write(root.join(REBUILDING), &name).map_err(failed)?;
    let built = build_into(store, root, &name).await;
    if built.is_err() {
        let _ = std::fs::remove_file(root.join(REBUILDING));
        let _ = std::fs::remove_dir_all(root.join(&name));
    }
    built
}

/// [`rebuild`]'s work, into folder `name`.
async fn build_into(store: &dyn Store, root: &Path, name: &str) -> Result<u64> {
    // Read first: entries after this position are applied by the follower after the switch.
    let position = store.search_log_head().await?;
    let opened = open_folder(root, name)?;
    let mut writer: IndexWriter = opened.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(failed)?;
    let mut after = (ChatId(0), MessageId(0));
    let mut count = 0u64;
    loop {
        let page = store.search_corpus(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = (last.chat, last.id);
        for m in &page {
            writer.add_document(document(&opened.fields, m)).map_err(failed)?;
        }
        count += page.len() as u64;
    }
    let mut commit = writer.prepare_commit().map_err(failed)?;
    commit.set_payload(&position.to_string());
    commit.commit().map_err(failed)?;
    writer.wait_merging_threads().map_err(failed)?;
    set_current(root, name)?;
    Ok(count)
}

#[async_trait]
impl Index for Embedded {
    async fn catch_up(&self, timeout: Duration) -> Result<bool> {
        let head = self.shared.store.search_log_head().await?;
        let mut applied = self.shared.applied.subscribe();
        if *applied.borrow() >= head {
            return Ok(true);
        }
        Index::wake(self);
        Ok(tokio::time::timeout(timeout, applied.wait_for(|&p| p >= head)).await.is_ok_and(|r| r.is_ok()))
    }

    fn wake(&self) {
        self.shared.wake.notify_one();
    }

    async fn find(&self, find: Find<'_>) -> Result<Vec<Found>> {
        let opened = self.shared.current.read().map_err(failed)?.clone();
        let query = build(&opened.fields, &find);
        let (limit, now) = (find.limit, find.now);
        tokio::task::spawn_blocking(move || run(&opened, query.as_ref(), limit, now)).await.map_err(failed)?
    }
}

fn run(opened: &Opened, query: &dyn Query, limit: usize, now: i64) -> Result<Vec<Found>> {
    let searcher = opened.reader.searcher();
    let top = TopDocs::with_limit(limit).tweak_score(move |segment: &SegmentReader| {
        let date = segment.fast_fields().i64("date").ok();
        move |doc: DocId, score: Score| recency(score, date.as_ref().and_then(|d| d.first(doc)).unwrap_or(now), now)
    });
    let docs = searcher.search(query, &top).map_err(failed)?;
    let mut out = Vec::with_capacity(docs.len());
    for (score, address) in docs {
        let fast = searcher.segment_reader(address.segment_ord).fast_fields();
        let chat = fast.i64("chat").map_err(failed)?.first(address.doc_id);
        let id = fast.i64("id").map_err(failed)?.first(address.doc_id);
        if let (Some(chat), Some(id)) = (chat, id) {
            out.push(Found { chat: ChatId(chat), id: MessageId(id), score });
        }
    }
    Ok(out)
}

/// The tantivy query for `find`: every clause, and the filters as conditions that do not
/// change the score.
fn build(f: &Fields, find: &Find<'_>) -> Box<dyn Query> {
    let word = |w: &str| Term::from_field_text(f.text, w);
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for clause in find.clauses {
        let q: Box<dyn Query> = match clause {
            Clause::Word(w) => Box::new(TermQuery::new(word(w), IndexRecordOption::WithFreqs)),
            // The whole word scores (BM25); a longer word starting with it matches too.
            Clause::Prefix(w) => Box::new(BooleanQuery::new(vec![
                (Occur::Should, Box::new(TermQuery::new(word(w), IndexRecordOption::WithFreqs)) as Box<dyn Query>),
                (Occur::Should, Box::new(PhrasePrefixQuery::new(vec![word(w)]))),
            ])),
            Clause::Phrase(ws) => Box::new(PhraseQuery::new(ws.iter().map(|w| word(w)).collect())),
        };
        must.push((Occur::Must, q));
    }
    let filter = |q: Box<dyn Query>| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>);
    must.push(filter(Box::new(TermSetQuery::new(find.chats.iter().map(|c| Term::from_field_i64(f.chat, c.0))))));
    let q = find.query;
    if let Some(from) = q.from {
        must.push(filter(Box::new(TermQuery::new(Term::from_field_i64(f.from, from.0), IndexRecordOption::Basic))));
    }
    if let Some(kind) = q.kind {
        must.push(filter(Box::new(TermQuery::new(Term::from_field_text(f.kind, kind.as_str()), IndexRecordOption::Basic))));
    }
    if q.min_date.is_some() || q.max_date.is_some() {
        let bound = |d: Option<i64>| d.map_or(Bound::Unbounded, |d| Bound::Included(Term::from_field_i64(f.date, d)));
        must.push(filter(Box::new(RangeQuery::new(bound(q.min_date), bound(q.max_date)))));
    }
    Box::new(BooleanQuery::new(must))
}
