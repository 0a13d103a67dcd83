//! The suite both engines pass: relevance on a fixed corpus (exact words, prefixes,
//! phrases, Cyrillic, Arabic, CJK, accents, filters, paging, snippets), edits and deletes
//! reflected at once, and authorization (left, removed, deleted for me, never another's
//! chat). Each check takes a fresh store and the engine over it, and searches only through
//! [`crate::search`], as the server does.
//!
//! An engine's test file instantiates every check with one line:
//! `heliograph_search::search_conformance_tests!(|| async { MyHarness::new().await });`

use std::sync::Arc;

use async_trait::async_trait;
use heliograph_core::*;
use heliograph_store::{Draft, Edit, Store};

use crate::{search, Error, Index, Kind, Query};

/// A fresh, empty store and the engine searching it.
#[async_trait]
pub trait Harness: Send {
    async fn open(&mut self) -> (Arc<dyn Store>, Arc<dyn Index>);
}

#[macro_export]
macro_rules! search_conformance_tests {
    ($harness:expr) => {
        $crate::search_conformance_tests!(@each $harness; relevance, filters_and_paging, edits_and_deletes, authorization);
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let mut harness = ($harness)().await;
            let (store, index) = $crate::conformance::Harness::open(&mut harness).await;
            let run = $crate::conformance::$check(store, index);
            if tokio::time::timeout(std::time::Duration::from_secs(60), run).await.is_err() {
                panic!("search conformance check `{}` did not finish within 60 s", stringify!($check));
            }
        }
    )*};
}

struct World {
    store: Arc<dyn Store>,
    index: Arc<dyn Index>,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    /// alice and bob.
    group: ChatId,
    /// alice and carol.
    private: ChatId,
    /// bob and carol, without alice.
    other: ChatId,
    next_random: i64,
}

impl World {
    async fn new(store: Arc<dyn Store>, index: Arc<dyn Index>) -> World {
        let person = |n: u32, name: &'static str| {
            let store = store.clone();
            async move {
                store
                    .create_user(&heliograph_store::conformance::phone(n), &DisplayName::parse(name).expect("name"))
                    .await
                    .expect("create_user")
                    .id
            }
        };
        let (alice, bob, carol) = (person(1, "Alice").await, person(2, "Bob").await, person(3, "Carol").await);
        let title = |t: &str| Title::parse(t).expect("title");
        let group = store.create_chat(alice, ChatKind::Group, &title("Garden"), None, &[bob]).await.expect("group").id;
        let private = store.open_private(alice, carol).await.expect("private").id;
        let other = store.create_chat(bob, ChatKind::Group, &title("Other"), None, &[carol]).await.expect("other").id;
        World { store, index, alice, bob, carol, group, private, other, next_random: 1 }
    }

    async fn send(&mut self, who: UserId, chat: ChatId, text: &str) -> MessageId {
        self.next_random += 1;
        let draft = Draft {
            content: Content::Text(MessageText::parse(text.to_string()).expect("text")),
            entities: vec![],
            keyboard: None,
            reply_to: None,
        };
        self.store.send(who, chat, self.next_random, draft).await.expect("send").message.id
    }

    async fn find(&self, who: UserId, q: Query) -> Result<Vec<(ChatId, MessageId)>, Error> {
        let q = Query { limit: if q.limit == 0 { 20 } else { q.limit }, ..q };
        Ok(search(&*self.store, &*self.index, who, &q).await?.into_iter().map(|h| (h.message.chat, h.message.id)).collect())
    }

    /// The messages `who` finds for `text`, as a sorted set.
    async fn set(&self, who: UserId, text: &str) -> Vec<(ChatId, MessageId)> {
        let mut found = self.find(who, q(text)).await.unwrap_or_else(|e| panic!("search {text:?}: {e}"));
        found.sort();
        found
    }
}

fn q(text: &str) -> Query {
    Query { text: text.to_string(), limit: 20, ..Query::default() }
}

fn sorted(mut v: Vec<(ChatId, MessageId)>) -> Vec<(ChatId, MessageId)> {
    v.sort();
    v
}

/// Exact words, prefixes, phrases, scripts and folding, ranking, snippets.
pub async fn relevance(store: Arc<dyn Store>, index: Arc<dyn Index>) {
    let mut w = World::new(store, index).await;
    let (a, b, g) = (w.alice, w.bob, w.group);
    let fox = w.send(a, g, "The quick brown fox jumps over the lazy dog").await;
    let bear = w.send(b, g, "A brown bear and a quick rabbit").await;
    let ru = w.send(b, g, "Привет, как дела?").await;
    let ar = w.send(a, g, "مرحبا بالعالم").await;
    let cjk = w.send(b, g, "我住在東京都").await;
    let fr = w.send(a, g, "Rendez-vous au café à midi").await;
    let short = w.send(a, g, "lighthouse").await;
    let long = w.send(b, g, "the lighthouse keeper wrote a very long letter about storms, ships, harbours and the sea").await;
    let cases: Vec<(&str, Vec<MessageId>)> = vec![
        ("fox", vec![fox]),
        ("FOX", vec![fox]),
        ("brown", vec![fox, bear]),
        ("qui", vec![fox, bear]),
        ("quick brown", vec![fox, bear]),
        ("\"quick brown\"", vec![fox]),
        ("\"brown quick\"", vec![]),
        ("привет", vec![ru]),
        ("ПРИВ", vec![ru]),
        ("дела", vec![ru]),
        ("مرحبا", vec![ar]),
        ("مَرْحَبًا", vec![ar]),
        ("東京", vec![cjk]),
        ("京都", vec![cjk]),
        ("大阪", vec![]),
        ("cafe", vec![fr]),
        ("CAFÉ", vec![fr]),
        ("rendez vous", vec![fr]),
        ("zebra", vec![]),
    ];
    for (text, expected) in cases {
        let want = sorted(expected.into_iter().map(|id| (g, id)).collect());
        assert_eq!(w.set(a, text).await, want, "search {text:?}");
    }
    let ranked = w.find(a, q("lighthouse")).await.expect("search");
    assert_eq!(ranked, vec![(g, short), (g, long)], "the short message that is all about it ranks first");
    let hits = search(&*w.store, &*w.index, a, &q("café")).await.expect("search");
    let s = &hits[0].snippet;
    let units: Vec<u16> = s.text.encode_utf16().collect();
    let marked: Vec<String> = s.highlights.iter().map(|&(o, l)| String::from_utf16_lossy(&units[o as usize..(o + l) as usize])).collect();
    assert_eq!(marked, ["café"], "the snippet marks the word as written");
    assert!(matches!(w.find(a, q("  !!! ")).await, Err(Error::Invalid(_))), "a query without words is refused");
}

/// From, chat, kind and date filters; paging.
pub async fn filters_and_paging(store: Arc<dyn Store>, index: Arc<dyn Index>) {
    let mut w = World::new(store, index).await;
    let (a, b, g, p) = (w.alice, w.bob, w.group, w.private);
    let m1 = w.send(a, g, "apples and pears").await;
    let m2 = w.send(b, g, "apples from the market, see https://example.com/market").await;
    let m3 = w.send(w.carol, p, "apples for you").await;
    let all = vec![(g, m1), (g, m2), (p, m3)];
    assert_eq!(w.set(a, "apples").await, sorted(all.clone()), "across all chats");
    let by = |from: Option<UserId>, chat: Option<ChatId>, kind: Option<Kind>| Query { from, chat, kind, ..q("apples") };
    assert_eq!(sorted(w.find(a, by(Some(b), None, None)).await.expect("from")), vec![(g, m2)], "from bob");
    assert_eq!(sorted(w.find(a, by(None, Some(p), None)).await.expect("chat")), vec![(p, m3)], "in one chat");
    assert_eq!(sorted(w.find(a, by(None, None, Some(Kind::Link))).await.expect("kind")), vec![(g, m2)], "with a link");
    assert_eq!(sorted(w.find(a, by(None, None, Some(Kind::Text))).await.expect("kind")), sorted(all.clone()), "text messages");
    assert!(w.find(a, by(None, None, Some(Kind::Photo))).await.expect("kind").is_empty(), "no photos");
    let now = heliograph_store::now();
    let future = Query { min_date: Some(now + 3600), ..q("apples") };
    assert!(w.find(a, future).await.expect("date").is_empty(), "nothing sent after an hour from now");
    let past = Query { max_date: Some(now - 3600), ..q("apples") };
    assert!(w.find(a, past).await.expect("date").is_empty(), "nothing sent before an hour ago");
    let window = Query { min_date: Some(now - 3600), max_date: Some(now + 3600), ..q("apples") };
    assert_eq!(sorted(w.find(a, window).await.expect("date")), sorted(all.clone()), "all within the hour");
    let mut paged = Vec::new();
    for offset in 0..3 {
        let page = w.find(a, Query { offset, limit: 1, ..q("apples") }).await.expect("page");
        assert_eq!(page.len(), 1, "page {offset}");
        paged.extend(page);
    }
    assert_eq!(sorted(paged), sorted(all), "three pages of one: each message once");
    assert!(w.find(a, Query { offset: 3, limit: 1, ..q("apples") }).await.expect("page").is_empty(), "past the end");
    assert!(matches!(w.find(a, Query { limit: 101, ..q("apples") }).await, Err(Error::Invalid(_))), "a page too large");
}

/// An edit replaces the words found; a delete for everyone removes the message for all, a
/// delete for me only for me: at once, with no waiting by the caller.
pub async fn edits_and_deletes(store: Arc<dyn Store>, index: Arc<dyn Index>) {
    let mut w = World::new(store, index).await;
    let (a, b, g) = (w.alice, w.bob, w.group);
    let m = w.send(a, g, "the old wording").await;
    let gone = w.send(b, g, "ephemeral words").await;
    let mine = w.send(b, g, "private remark").await;
    assert_eq!(w.set(a, "wording").await, vec![(g, m)]);
    let edit = Edit { text: Some((MessageText::parse("the new phrasing".into()).expect("text"), vec![])), keyboard: None };
    w.store.edit(a, g, m, edit).await.expect("edit");
    assert!(w.set(a, "wording").await.is_empty(), "the old words are gone after the edit");
    assert_eq!(w.set(b, "phrasing").await, vec![(g, m)], "the new words are found");
    w.store.delete(b, g, &[gone], true).await.expect("delete for everyone");
    assert!(w.set(a, "ephemeral").await.is_empty(), "deleted for everyone: not for alice");
    assert!(w.set(b, "ephemeral").await.is_empty(), "nor for bob");
    w.store.delete(a, g, &[mine], false).await.expect("delete for me");
    assert!(w.set(a, "remark").await.is_empty(), "deleted for alice");
    assert_eq!(w.set(b, "remark").await, vec![(g, mine)], "still there for bob");
}

/// Results never include a chat the user cannot read now.
pub async fn authorization(store: Arc<dyn Store>, index: Arc<dyn Index>) {
    let mut w = World::new(store, index).await;
    let (a, b, c) = (w.alice, w.bob, w.carol);
    let (g, o) = (w.group, w.other);
    let theirs = w.send(b, o, "treasure map").await;
    assert!(w.set(a, "treasure").await.is_empty(), "a chat alice was never in");
    assert_eq!(w.set(c, "treasure").await, vec![(o, theirs)], "carol is in it");
    let in_other = Query { chat: Some(o), ..q("treasure") };
    assert!(
        matches!(w.find(a, in_other.clone()).await, Err(Error::Store(heliograph_store::Error::ChatNotFound))),
        "asking in a chat alice is not in: ChatNotFound, as for no chat at all"
    );
    // Left.
    let left = w.send(b, g, "garden party").await;
    assert_eq!(w.set(a, "party").await, vec![(g, left)]);
    w.store.remove_member(a, g, a).await.expect("leave");
    assert!(w.set(a, "party").await.is_empty(), "left: not found");
    assert!(matches!(w.find(a, Query { chat: Some(g), ..q("party") }).await, Err(Error::Store(heliograph_store::Error::ChatNotFound))));
    assert_eq!(w.set(b, "party").await, vec![(g, left)], "bob still finds it");
    // Removed.
    let h = w.store.create_chat(b, ChatKind::Group, &Title::parse("Club").expect("title"), None, &[c]).await.expect("club").id;
    let said = w.send(b, h, "club rules").await;
    assert_eq!(w.set(c, "rules").await, vec![(h, said)]);
    w.store.remove_member(b, h, c).await.expect("remove");
    assert!(w.set(c, "rules").await.is_empty(), "removed: not found");
    assert_eq!(w.set(c, "treasure").await, vec![(o, theirs)], "her other chats still are");
}
