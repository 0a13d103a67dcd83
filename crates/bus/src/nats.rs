//! The cluster bus: NATS carries notices between nodes.
//!
//! Every notice is published to the subject named after its topic (`{prefix}.user.42`), and
//! every node subscribes to the subjects its own connections follow, so a node receives only
//! what its users need. Delivery to local followers goes through an [`InProcessBus`], the same
//! code as on a single node; a node's own publishes come back to it through NATS like everyone
//! else's, which keeps one order per topic for every follower.
//!
//! NATS is plain core NATS here (no JetStream): it carries notifications only. Durability is
//! the store's alone; a notice lost on the way is recovered by clients through the update log
//! (`get_difference`), never by the bus.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Bus, InProcessBus, InProcessTopics, Inbox, Notice, Subscription, Topic, Topics};

/// How many published notices may wait for the NATS connection before new ones are dropped.
const OUTGOING: usize = 65_536;

enum Control {
    Follow(Topic),
    Unfollow(Topic),
    /// Answered once every earlier command took effect on the NATS server.
    Ready(oneshot::Sender<()>),
}

/// A [`Bus`] over NATS. Cheap to clone.
#[derive(Clone)]
pub struct NatsBus {
    local: InProcessBus,
    outgoing: mpsc::Sender<(Topic, Notice)>,
    control: mpsc::UnboundedSender<Control>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to NATS at {url}: {reason}")]
pub struct ConnectError {
    url: String,
    reason: String,
}

impl NatsBus {
    /// Connects to the NATS server at `url`. `prefix` namespaces the subjects, so several
    /// clusters (or test runs) can share one NATS server.
    pub async fn connect(url: &str, prefix: &str) -> Result<NatsBus, ConnectError> {
        let client = async_nats::ConnectOptions::new()
            .name("heliograph")
            .connect(url)
            .await
            .map_err(|e| ConnectError { url: url.to_string(), reason: e.to_string() })?;
        let local = InProcessBus::new();
        let (outgoing, out_rx) = mpsc::channel(OUTGOING);
        let (control, control_rx) = mpsc::unbounded_channel();
        tokio::spawn(publisher(client.clone(), prefix.to_string(), out_rx));
        tokio::spawn(subscriptions(client, prefix.to_string(), local.clone(), control_rx));
        Ok(NatsBus { local, outgoing, control })
    }
}

fn subject(prefix: &str, topic: Topic) -> String {
    format!("{prefix}.{topic}")
}

/// Publishes in order over one connection, so each topic keeps its order.
async fn publisher(client: async_nats::Client, prefix: String, mut rx: mpsc::Receiver<(Topic, Notice)>) {
    while let Some((topic, notice)) = rx.recv().await {
        let Ok(payload) = serde_json::to_vec(&notice) else { continue };
        if let Err(e) = client.publish(subject(&prefix, topic), payload.into()).await {
            tracing::warn!(error = %e, %topic, "NATS publish failed; followers will catch up from the log");
        }
    }
}

/// Keeps one NATS subscription per topic that at least one local follower follows.
async fn subscriptions(client: async_nats::Client, prefix: String, local: InProcessBus, mut control: mpsc::UnboundedReceiver<Control>) {
    let mut topics: HashMap<Topic, (usize, JoinHandle<()>)> = HashMap::new();
    while let Some(command) = control.recv().await {
        match command {
            Control::Follow(topic) => {
                if let Some((count, _)) = topics.get_mut(&topic) {
                    *count += 1;
                    continue;
                }
                match client.subscribe(subject(&prefix, topic)).await {
                    Ok(mut sub) => {
                        let local = local.clone();
                        let reader = tokio::spawn(async move {
                            while let Some(msg) = sub.next().await {
                                match serde_json::from_slice::<Notice>(&msg.payload) {
                                    Ok(notice) => local.publish(topic, notice),
                                    Err(e) => tracing::warn!(error = %e, %topic, "unreadable notice on NATS"),
                                }
                            }
                        });
                        topics.insert(topic, (1, reader));
                    }
                    Err(e) => tracing::error!(error = %e, %topic, "cannot subscribe on NATS; followers will catch up from the log"),
                }
            }
            Control::Unfollow(topic) => {
                let gone = match topics.get_mut(&topic) {
                    Some((count, _)) => {
                        *count -= 1;
                        *count == 0
                    }
                    None => false,
                };
                if gone {
                    if let Some((_, reader)) = topics.remove(&topic) {
                        // Dropping the subscriber unsubscribes it.
                        reader.abort();
                    }
                }
            }
            Control::Ready(reply) => {
                round_trip(&client, &prefix).await;
                let _ = reply.send(());
            }
        }
    }
}

/// Waits until the NATS server has processed everything this client sent so far. A flush only
/// writes to the socket; a message to ourselves coming back proves the server got there,
/// since it handles one connection's commands in order.
async fn round_trip(client: &async_nats::Client, prefix: &str) {
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let subject = format!("{prefix}._ready.{}.{n}", std::process::id());
    let probe = async {
        let mut sub = client.subscribe(subject.clone()).await.ok()?;
        client.publish(subject, Default::default()).await.ok()?;
        sub.next().await
    };
    if tokio::time::timeout(std::time::Duration::from_secs(5), probe).await.ok().flatten().is_none() {
        tracing::warn!("NATS round trip did not complete; followers will catch up from the log");
    }
}

/// A subscriber's topics: delivered locally, and announced to the subscription task.
struct NatsTopics {
    local: InProcessTopics,
    control: mpsc::UnboundedSender<Control>,
}

impl Topics for NatsTopics {
    fn follow(&mut self, topic: Topic) {
        if !self.local.is_following(topic) {
            self.local.follow(topic);
            let _ = self.control.send(Control::Follow(topic));
        }
    }

    fn unfollow(&mut self, topic: Topic) {
        if self.local.is_following(topic) {
            self.local.unfollow(topic);
            let _ = self.control.send(Control::Unfollow(topic));
        }
    }

    fn is_following(&self, topic: Topic) -> bool {
        self.local.is_following(topic)
    }
}

impl Drop for NatsTopics {
    fn drop(&mut self) {
        for topic in self.local.following.iter().copied() {
            let _ = self.control.send(Control::Unfollow(topic));
        }
    }
}

impl Bus for NatsBus {
    fn publish(&self, topic: Topic, notice: Notice) {
        if self.outgoing.try_send((topic, notice)).is_err() {
            tracing::warn!(%topic, "NATS publish queue full; notice dropped (clients catch up from the log)");
        }
    }

    fn subscribe(&self, capacity: usize) -> Subscription {
        let control = self.control.clone();
        Subscription::new(capacity, |inbox: Inbox| Box::new(NatsTopics { local: self.local.topics(inbox), control }))
    }

    fn ready(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            if self.control.send(Control::Ready(tx)).is_ok() {
                let _ = rx.await;
            }
        })
    }
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").finish_non_exhaustive()
    }
}

/// Against a real NATS server, named by `HELIOGRAPH_TEST_NATS` (e.g. `nats://127.0.0.1:4222`).
/// Without it these tests say so and pass; with it and no server, they fail.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;
    use std::time::Duration;

    fn url() -> Option<String> {
        let url = std::env::var("HELIOGRAPH_TEST_NATS").ok();
        if url.is_none() {
            eprintln!("HELIOGRAPH_TEST_NATS not set: NATS bus tests not run against a server");
        }
        url
    }

    fn prefix() -> String {
        format!("test{}", std::process::id() as u64 * 1000 + rand_suffix())
    }

    fn rand_suffix() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() as u64 % 1000).unwrap_or(0)
    }

    async fn next(sub: &mut Subscription) -> Notice {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await.expect("a notice within 5 s") {
            Some(Delivery::Notice(n)) => (*n).clone(),
            other => panic!("{other:?}"),
        }
    }

    fn typing(user_id: i64) -> Notice {
        Notice::Typing { chat_id: 1, user_id }
    }

    /// A notice published on one node reaches a follower on another, in order; unfollowed
    /// topics stop arriving.
    #[tokio::test]
    async fn notices_cross_nodes_in_order() {
        let Some(url) = url() else { return };
        let prefix = prefix();
        let a = NatsBus::connect(&url, &prefix).await.expect("node A connects");
        let b = NatsBus::connect(&url, &prefix).await.expect("node B connects");
        let mut on_b = b.subscribe(100);
        on_b.follow(Topic::User(7));
        b.ready().await;
        for i in 0..50 {
            a.publish(Topic::User(7), typing(i));
        }
        a.publish(Topic::User(8), typing(999));
        for i in 0..50 {
            assert_eq!(next(&mut on_b).await, typing(i));
        }
        on_b.unfollow(Topic::User(7));
        on_b.follow(Topic::Chat(3));
        b.ready().await;
        a.publish(Topic::User(7), typing(1000));
        a.publish(Topic::Chat(3), typing(1001));
        assert_eq!(next(&mut on_b).await, typing(1001), "unfollowed topic skipped, other topic of another kind arrives");
        // Revocations travel too, and overtake queued notices.
        a.publish(Topic::Chat(3), Notice::SessionRevoked { session_id: 5 });
        assert_eq!(next(&mut on_b).await, Notice::SessionRevoked { session_id: 5 });
    }

    /// A node's own publishes reach its own followers through NATS.
    #[tokio::test]
    async fn local_followers_receive_local_publishes() {
        let Some(url) = url() else { return };
        let bus = NatsBus::connect(&url, &prefix()).await.expect("connects");
        let mut one = bus.subscribe(10);
        let mut two = bus.subscribe(10);
        one.follow(Topic::Chat(9));
        two.follow(Topic::Chat(9));
        bus.ready().await;
        bus.publish(Topic::Chat(9), typing(1));
        assert_eq!(next(&mut one).await, typing(1));
        assert_eq!(next(&mut two).await, typing(1));
        drop(one);
        bus.ready().await;
        bus.publish(Topic::Chat(9), typing(2));
        assert_eq!(next(&mut two).await, typing(2), "the topic stays subscribed while one follower remains");
    }

    /// With the switch on and no server there, connecting fails loudly.
    #[tokio::test]
    async fn unreachable_server_is_an_error() {
        let err = NatsBus::connect("nats://127.0.0.1:1", "x").await.expect_err("nothing listens on port 1");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }
}
