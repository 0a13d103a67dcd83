//! Fan-out of live events to the connections that follow them.
//!
//! A publisher (the server, right after a commit) says *what* happened ([`Notice`]) to *whom*
//! ([`Topic`]); every subscriber following that topic gets the notice in its own bounded queue.
//! The bus is only the fast path: it stores nothing, and the update log stays the truth. A
//! notice nobody follows is gone; a subscriber that falls behind loses notices and is told so
//! ([`Delivery::Lagged`]) so its client can resync from the log.
//!
//! # Layout
//! - [`Topic`] and [`Notice`]: what is addressed and what travels. Both are serde types so a
//!   network bus (NATS) can carry them between nodes.
//! - [`Bus`]: the trait the server publishes and subscribes through.
//! - [`Subscription`]: one subscriber (one WebSocket connection): a single bounded queue, plus
//!   the set of topics it follows, which can change over its lifetime. Dropping it unsubscribes.
//! - [`Inbox`] and [`Topics`]: the two halves a bus engine builds a [`Subscription`] from.
//! - [`InProcessBus`]: the single-node engine.
//! - [`nats::NatsBus`]: the cluster engine: notices travel between nodes over NATS subjects,
//!   and each node fans out locally through an [`InProcessBus`].
//!
//! Architecture Invariant: [`Bus::publish`] never waits and never buffers beyond each
//! subscriber's own fixed capacity. A slow subscriber costs itself its notices, never the
//! publisher's time or the server's memory.
//!
//! Architecture Invariant: publishing to a topic costs one queue push per subscriber *online
//! and following it*; the bus knows nothing of chat membership in the database.

pub mod nats;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use heliograph_proto::Update;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

/// Where a notice is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Topic {
    /// Everything for one user's live sessions: their own update log, typing in their
    /// private chats and small groups.
    User(i64),
    /// A chat that keeps its own update log (channels, large groups): its log and its
    /// ephemeral events. Followed by the online members' connections, so a post costs one
    /// publish however many members the chat has.
    Chat(i64),
    /// Control messages for one session's connections (revocation).
    Session(i64),
    /// Credentials revoked anywhere: every node follows it, to forget what it cached.
    Revocations,
}

impl fmt::Display for Topic {
    /// `user.42`, `chat.7`, `session.3`: usable as a NATS subject.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::User(id) => write!(f, "user.{id}"),
            Topic::Chat(id) => write!(f, "chat.{id}"),
            Topic::Session(id) => write!(f, "session.{id}"),
            Topic::Revocations => f.write_str("revocations"),
        }
    }
}

/// What travels on the bus.
// Boxing the update would add an allocation per publish: a notice is already allocated once,
// in the `Arc` every subscriber shares.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A committed update, exactly as it stands in its log.
    Update(Update),
    /// Someone is typing (ephemeral: never stored, lost without harm).
    Typing { chat_id: i64, user_id: i64 },
    /// The session was revoked: its connections must close.
    SessionRevoked { session_id: i64 },
    /// A user's credentials changed (a bot's token was replaced, a session ended): every
    /// node drops what it cached of them at once (`Topic::Revocations`).
    CredentialsRevoked { user_id: i64 },
    /// Something clients do not render was appended to the topic's log at `pts` (a button
    /// press, in a bot's log): it wakes whoever reads that log directly (Bot API long polls).
    Appended { pts: i64 },
}

impl Notice {
    /// Urgent notices are never dropped for a full queue and overtake queued ones: a revoked
    /// session must not keep a live connection because it was slow to read.
    pub fn is_urgent(&self) -> bool {
        matches!(self, Notice::SessionRevoked { .. } | Notice::CredentialsRevoked { .. })
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The next notice. Shared: a notice published to 10,000 subscribers is allocated once.
    Notice(Arc<Notice>),
    /// At least one notice was dropped because the queue was full. The gap may lie before
    /// notices still queued; the client must resync from the update log.
    Lagged,
}

/// The fan-out service.
pub trait Bus: Send + Sync + 'static {
    /// Delivers `notice` to every current subscriber of `topic`, without waiting: a subscriber
    /// whose queue is full misses it and is marked lagged.
    fn publish(&self, topic: Topic, notice: Notice);

    /// A new subscriber following no topic yet, whose queue holds at most `capacity` notices
    /// (at least 1).
    fn subscribe(&self, capacity: usize) -> Subscription;

    /// Resolves once every `follow` made so far is in effect, so that a notice published
    /// after this returns reaches those followers. Immediate for the in-process bus; a round
    /// trip to the server for a network bus.
    fn ready(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// State shared by both ends of one subscriber's queue, for what cannot wait in it.
#[derive(Debug, Default)]
struct Signal {
    lagged: AtomicBool,
    /// One slot for an urgent notice; a later one replaces an unread one (a revocation is
    /// final, so nothing is lost by keeping only the last).
    urgent: Mutex<Option<Arc<Notice>>>,
    /// Wakes a receiver waiting on an empty queue when `lagged` or `urgent` changes.
    wake: Notify,
}

/// The sending half of one subscriber's queue: what a bus engine keeps for every topic the
/// subscriber follows. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inbox {
    tx: mpsc::Sender<Arc<Notice>>,
    signal: Arc<Signal>,
}

impl Inbox {
    /// Queues `notice` without waiting. Returns `false` when it was dropped: the queue was
    /// full (the subscriber is now marked lagged) or the subscriber is gone.
    pub fn deliver(&self, notice: &Arc<Notice>) -> bool {
        if notice.is_urgent() {
            *lock(&self.signal.urgent) = Some(Arc::clone(notice));
            self.signal.wake.notify_one();
            return true;
        }
        match self.tx.try_send(Arc::clone(notice)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.signal.lagged.store(true, Ordering::Release);
                self.signal.wake.notify_one();
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// The subscriber dropped its end.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The topics one subscriber follows, as a bus engine keeps them. Dropping it must stop every
/// delivery to the subscriber's [`Inbox`].
pub trait Topics: Send + Sync + 'static {
    /// Starts delivering `topic`'s notices; following a topic twice changes nothing.
    fn follow(&mut self, topic: Topic);
    /// Stops delivering `topic`'s notices; notices already queued stay queued.
    fn unfollow(&mut self, topic: Topic);
    fn is_following(&self, topic: Topic) -> bool;
}

/// One subscriber: one bounded queue for all the topics it follows. Dropping it unsubscribes
/// from every topic.
pub struct Subscription {
    // Declared first so it drops first: the bus stops delivering before the queue closes.
    topics: Box<dyn Topics>,
    rx: mpsc::Receiver<Arc<Notice>>,
    signal: Arc<Signal>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("queued", &self.rx.len()).field("signal", &self.signal).finish_non_exhaustive()
    }
}

impl Subscription {
    /// For bus engines: makes the queue (`capacity` is raised to at least 1) and lets the
    /// engine build its topic set around the queue's [`Inbox`].
    pub fn new(capacity: usize, topics: impl FnOnce(Inbox) -> Box<dyn Topics>) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let signal = Arc::new(Signal::default());
        let topics = topics(Inbox { tx, signal: Arc::clone(&signal) });
        Subscription { topics, rx, signal }
    }

    /// Starts receiving `topic`'s notices.
    pub fn follow(&mut self, topic: Topic) {
        self.topics.follow(topic);
    }

    /// Stops receiving `topic`'s notices (those already queued are still received).
    pub fn unfollow(&mut self, topic: Topic) {
        self.topics.unfollow(topic);
    }

    pub fn is_following(&self, topic: Topic) -> bool {
        self.topics.is_following(topic)
    }

    /// Waits for the next delivery: an urgent notice first, then [`Delivery::Lagged`] if
    /// notices were dropped since the last report, then queued notices in publish order.
    /// Returns `None` only when the engine has closed the subscription.
    ///
    /// Cancel safe: it can be a branch of `tokio::select!` without losing anything.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.pending() {
                return Some(delivery);
            }
            tokio::select! {
                biased;
                // A wake-up only means "look at the signal again"; the flags are the truth, so
                // a wake-up lost to cancellation is harmless.
                () = self.signal.wake.notified() => continue,
                notice = self.rx.recv() => return notice.map(Delivery::Notice),
            }
        }
    }

    /// Like [`Subscription::recv`], without waiting: `None` when there is nothing to deliver.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.pending().or_else(|| self.rx.try_recv().ok().map(Delivery::Notice))
    }

    /// Whether notices were dropped since the last check, and resets the mark. Needed only by
    /// callers that read the queue some other way than [`Subscription::recv`].
    pub fn take_lagged(&self) -> bool {
        self.signal.lagged.swap(false, Ordering::AcqRel)
    }

    fn pending(&self) -> Option<Delivery> {
        if let Some(notice) = lock(&self.signal.urgent).take() {
            return Some(Delivery::Notice(notice));
        }
        self.take_lagged().then_some(Delivery::Lagged)
    }
}

/// The single-node bus: subscribers' inboxes by topic, in memory.
///
/// Publishing to a topic locks that topic only (after a brief lookup under the map's lock),
/// so publishes to different chats run in parallel, while publishes to one topic are
/// serialized: every subscriber of a topic sees its notices in the same order.
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    registry: Arc<Registry>,
}

/// Subscribers of one topic, by subscriber id.
type Followers = HashMap<u64, Inbox>;

#[derive(Debug, Default)]
struct Registry {
    /// Only topics with at least one follower are present, so the map is bounded by what
    /// online connections follow. Lock order: this map, then a topic's followers.
    topics: Mutex<HashMap<Topic, Arc<Mutex<Followers>>>>,
    next_id: AtomicU64,
}

impl InProcessBus {
    pub fn new() -> InProcessBus {
        InProcessBus::default()
    }

    /// How many subscribers follow `topic` now.
    pub fn followers(&self, topic: Topic) -> usize {
        let followers = lock(&self.registry.topics).get(&topic).cloned();
        followers.map_or(0, |f| lock(&f).len())
    }

    /// A topic set delivering into `inbox`: for engines that fan out locally through this one.
    pub(crate) fn topics(&self, inbox: Inbox) -> InProcessTopics {
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        InProcessTopics { registry: Arc::clone(&self.registry), id, inbox, following: HashSet::new() }
    }

    /// How many topics have at least one follower.
    pub fn topic_count(&self) -> usize {
        lock(&self.registry.topics).len()
    }
}

impl Bus for InProcessBus {
    fn publish(&self, topic: Topic, notice: Notice) {
        let Some(followers) = lock(&self.registry.topics).get(&topic).cloned() else {
            return;
        };
        let notice = Arc::new(notice);
        let followers = lock(&followers);
        for inbox in followers.values() {
            inbox.deliver(&notice);
        }
    }

    fn subscribe(&self, capacity: usize) -> Subscription {
        Subscription::new(capacity, |inbox| Box::new(self.topics(inbox)))
    }
}

impl Registry {
    fn add(&self, topic: Topic, id: u64, inbox: Inbox) {
        // Holding the map's lock while inserting keeps `remove` from dropping the topic's
        // entry between our lookup and our insert, which would orphan this follower.
        let mut topics = lock(&self.topics);
        let followers = topics.entry(topic).or_default();
        lock(followers).insert(id, inbox);
    }

    fn remove(&self, topic: Topic, id: u64) {
        let mut topics = lock(&self.topics);
        let Some(followers) = topics.get(&topic) else { return };
        let now_empty = {
            let mut followers = lock(followers);
            followers.remove(&id);
            followers.is_empty()
        };
        if now_empty {
            topics.remove(&topic);
        }
    }
}

/// One subscriber's topics in an [`InProcessBus`].
#[derive(Debug)]
pub(crate) struct InProcessTopics {
    registry: Arc<Registry>,
    id: u64,
    inbox: Inbox,
    following: HashSet<Topic>,
}

impl Topics for InProcessTopics {
    fn follow(&mut self, topic: Topic) {
        if self.following.insert(topic) {
            self.registry.add(topic, self.id, self.inbox.clone());
        }
    }

    fn unfollow(&mut self, topic: Topic) {
        if self.following.remove(&topic) {
            self.registry.remove(topic, self.id);
        }
    }

    fn is_following(&self, topic: Topic) -> bool {
        self.following.contains(&topic)
    }
}

impl Drop for InProcessTopics {
    fn drop(&mut self) {
        for topic in self.following.drain() {
            self.registry.remove(topic, self.id);
        }
    }
}

/// Locks a std mutex, ignoring poisoning: every critical section here leaves the data
/// consistent even if a thread panicked inside it (they only insert, remove or push).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typing(n: i64) -> Notice {
        Notice::Typing { chat_id: 1, user_id: n }
    }

    /// Everything deliverable now, without waiting.
    fn drain(sub: &mut Subscription) -> Vec<Delivery> {
        std::iter::from_fn(|| sub.try_recv()).collect()
    }

    fn notices(ns: impl IntoIterator<Item = i64>) -> Vec<Delivery> {
        ns.into_iter().map(|n| Delivery::Notice(Arc::new(typing(n)))).collect()
    }

    #[test]
    fn every_follower_of_a_topic_gets_each_notice_and_others_get_none() {
        let bus = InProcessBus::new();
        let mut subs: Vec<_> = (0..3).map(|_| bus.subscribe(8)).collect();
        for sub in &mut subs {
            sub.follow(Topic::Chat(1));
        }
        let mut other = bus.subscribe(8);
        other.follow(Topic::Chat(2));

        bus.publish(Topic::Chat(1), typing(7));

        for sub in &mut subs {
            assert_eq!(drain(sub), notices([7]));
        }
        assert_eq!(drain(&mut other), vec![]);
    }

    #[test]
    fn one_queue_follows_topics_added_and_removed_over_time() {
        let bus = InProcessBus::new();
        let mut sub = bus.subscribe(8);
        sub.follow(Topic::User(1));
        bus.publish(Topic::Chat(5), typing(1));
        sub.follow(Topic::Chat(5));
        sub.follow(Topic::Chat(5)); // twice is once
        bus.publish(Topic::Chat(5), typing(2));
        bus.publish(Topic::User(1), typing(3));
        sub.unfollow(Topic::Chat(5));
        bus.publish(Topic::Chat(5), typing(4));

        assert_eq!(drain(&mut sub), notices([2, 3]));
        assert!(sub.is_following(Topic::User(1)) && !sub.is_following(Topic::Chat(5)));
        assert_eq!(bus.followers(Topic::Chat(5)), 0);
        assert_eq!(bus.topic_count(), 1, "a topic nobody follows is forgotten");
    }

    #[test]
    fn dropping_a_subscription_unsubscribes_it_everywhere() {
        let bus = InProcessBus::new();
        let mut keep = bus.subscribe(8);
        keep.follow(Topic::Chat(1));
        let mut gone = bus.subscribe(8);
        gone.follow(Topic::Chat(1));
        gone.follow(Topic::User(2));
        assert_eq!(bus.followers(Topic::Chat(1)), 2);

        drop(gone);

        assert_eq!(bus.followers(Topic::Chat(1)), 1);
        assert_eq!(bus.followers(Topic::User(2)), 0);
        assert_eq!(bus.topic_count(), 1);
        bus.publish(Topic::Chat(1), typing(1));
        assert_eq!(drain(&mut keep), notices([1]));
    }

    #[test]
    fn a_full_queue_drops_and_marks_lagged_without_blocking() {
        let bus = InProcessBus::new();
        let mut slow = bus.subscribe(2);
        slow.follow(Topic::Chat(1));
        let mut fast = bus.subscribe(100_000);
        fast.follow(Topic::Chat(1));

        // Far more than the slow queue holds; publish must return every time.
        for n in 0..10_000 {
            bus.publish(Topic::Chat(1), typing(n));
        }

        // The lag is reported first, then what fit in the queue; nothing more was kept.
        let mut expect = vec![Delivery::Lagged];
        expect.extend(notices([0, 1]));
        assert_eq!(drain(&mut slow), expect);
        assert!(!slow.take_lagged(), "reading the lag resets it");
        assert_eq!(drain(&mut fast).len(), 10_000, "a slow subscriber costs others nothing");

        bus.publish(Topic::Chat(1), typing(5));
        assert_eq!(drain(&mut slow), notices([5]), "once drained it receives again");
    }

    #[test]
    fn take_lagged_reports_a_drop_once() {
        let bus = InProcessBus::new();
        let sub = {
            let mut sub = bus.subscribe(1);
            sub.follow(Topic::User(1));
            sub
        };
        assert!(!sub.take_lagged());
        bus.publish(Topic::User(1), typing(1));
        bus.publish(Topic::User(1), typing(2));
        assert!(sub.take_lagged());
        assert!(!sub.take_lagged());
    }

    #[test]
    fn each_subscriber_sees_notices_in_publish_order() {
        let bus = InProcessBus::new();
        let mut a = bus.subscribe(1000);
        let mut b = bus.subscribe(1000);
        a.follow(Topic::Chat(1));
        b.follow(Topic::Chat(1));
        b.follow(Topic::User(9));
        for n in 0..500 {
            let topic = if n % 3 == 0 { Topic::User(9) } else { Topic::Chat(1) };
            bus.publish(topic, typing(n));
        }
        assert_eq!(drain(&mut a), notices((0..500).filter(|n| n % 3 != 0)));
        assert_eq!(drain(&mut b), notices(0..500));
    }

    #[test]
    fn a_revocation_reaches_even_a_full_queue_first() {
        let bus = InProcessBus::new();
        let mut sub = bus.subscribe(1);
        sub.follow(Topic::User(1));
        sub.follow(Topic::Session(3));
        bus.publish(Topic::User(1), typing(1));
        bus.publish(Topic::Session(3), Notice::SessionRevoked { session_id: 3 });

        let first = sub.try_recv();
        assert_eq!(first, Some(Delivery::Notice(Arc::new(Notice::SessionRevoked { session_id: 3 }))));
        assert_eq!(drain(&mut sub), notices([1]));
    }

    /// Runs `sub.recv()` in a task and lets it park on the empty queue before returning.
    async fn parked(mut sub: Subscription) -> tokio::task::JoinHandle<(Subscription, Option<Delivery>)> {
        let task = tokio::spawn(async move {
            let got = sub.recv().await;
            (sub, got)
        });
        // Current-thread runtime: yielding runs the task up to its first wait.
        tokio::task::yield_now().await;
        task
    }

    #[tokio::test]
    async fn recv_reports_the_lag_before_queued_notices() {
        let bus = InProcessBus::new();
        let mut sub = bus.subscribe(1);
        sub.follow(Topic::User(1));
        bus.publish(Topic::User(1), typing(1));
        bus.publish(Topic::User(1), typing(2)); // dropped
        assert_eq!(sub.recv().await, Some(Delivery::Lagged));
        assert_eq!(sub.recv().await, notices([1]).pop());
    }

    #[tokio::test]
    async fn a_parked_recv_wakes_for_a_notice_a_lag_or_a_revocation() {
        let bus = InProcessBus::new();
        let mut sub = bus.subscribe(1);
        sub.follow(Topic::User(1));
        sub.follow(Topic::Session(3));

        let waiter = parked(sub).await;
        bus.publish(Topic::User(1), typing(1));
        let (sub, got) = waiter.await.expect("waiter");
        assert_eq!(got, notices([1]).pop());

        let waiter = parked(sub).await;
        bus.publish(Topic::User(1), typing(2));
        bus.publish(Topic::User(1), typing(3)); // dropped before the waiter runs
        let (mut sub, got) = waiter.await.expect("waiter");
        assert_eq!(got, Some(Delivery::Lagged));
        assert_eq!(drain(&mut sub), notices([2]));

        let waiter = parked(sub).await;
        bus.publish(Topic::Session(3), Notice::SessionRevoked { session_id: 3 });
        let (_, got) = waiter.await.expect("waiter");
        assert_eq!(got, Some(Delivery::Notice(Arc::new(Notice::SessionRevoked { session_id: 3 }))));
    }

    #[test]
    fn notices_and_topics_round_trip_through_json() {
        let update: Update = serde_json::from_value(serde_json::json!({
            "pts": 4, "pts_count": 1, "date": 1_700_000_000,
            "type": "read_inbox", "chat_id": 9, "max_id": 12
        }))
        .expect("an update");
        for notice in
            [Notice::Update(update), typing(3), Notice::SessionRevoked { session_id: 8 }, Notice::CredentialsRevoked { user_id: 4 }]
        {
            let json = serde_json::to_string(&notice).expect("serialize");
            assert_eq!(serde_json::from_str::<Notice>(&json).expect(&json), notice);
        }
        for topic in [Topic::User(1), Topic::Chat(-5), Topic::Session(2), Topic::Revocations] {
            let json = serde_json::to_string(&topic).expect("serialize");
            assert_eq!(serde_json::from_str::<Topic>(&json).expect(&json), topic);
        }
        assert_eq!(Topic::Chat(7).to_string(), "chat.7");
        assert_eq!(Topic::Revocations.to_string(), "revocations");
    }
}
