//! Several real `heliograph` processes as one cluster: three nodes on different loopback ports
//! sharing one PostgreSQL database and one NATS server.
//!
//! Needs both switches: `HELIOGRAPH_TEST_POSTGRES` (an admin URL; each test creates its own
//! database through it and drops it afterwards) and `HELIOGRAPH_TEST_NATS`. With either unset
//! the tests say so and pass; with both set and a service unreachable they fail.
//!
//! The nodes publish on NATS under the fixed prefix `heliograph`, so clusters of concurrent
//! runs on one NATS share subjects. Each test therefore moves its database's id sequences
//! (users, chats, sessions) to a random range: another run's notices then name users this run
//! does not have, and the tests never assume a silent bus. Within this binary the tests run
//! one at a time (`SERIAL`), which also bounds the PostgreSQL connections they hold.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::test_phone;
use heliograph_client::proto::method::Direction;
use heliograph_client::proto::{self, UpdateKind};
use heliograph_client::{Client, ClientError, Config as ClientConfig, Event, Updates};
use heliograph_testkit::{Binary, Server};

use heliograph_testkit::postgres::{connect as pg, Database, POSTGRES};
const NATS: &str = "HELIOGRAPH_TEST_NATS";

/// One cluster test at a time in this binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Both service URLs, or `None` (after a notice) when a switch is unset.
fn switches() -> Option<(String, String)> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (get(POSTGRES), get(NATS)) {
        (Some(pg), Some(nats)) => Some((pg, nats)),
        (pg, nats) => {
            let missing: Vec<&str> =
                [(POSTGRES, pg.is_none()), (NATS, nats.is_none())].into_iter().filter(|(_, m)| *m).map(|(n, _)| n).collect();
            println!("{} not set: cluster test not run (it needs PostgreSQL and NATS)", missing.join(" and "));
            None
        }
    }
}

// --- PostgreSQL: one fresh database per test ---

/// Moves the id sequences of `db` to a random range of their own (see the module comment).
/// Call once the schema exists (after a node started) and before anyone signs in.
async fn isolate_ids(db: &Database) {
    let base = 1_000_000 + rand::random_range(0..1_000_000i64) * 1_000_000;
    let client = pg(db.url()).await;
    for table in ["users", "chats", "sessions"] {
        client
            .batch_execute(&format!("ALTER TABLE {table} ALTER COLUMN id RESTART WITH {base}"))
            .await
            .unwrap_or_else(|e| panic!("restart {table} ids: {e:?}"));
    }
}

/// Fails loudly when nothing answers at the NATS URL (the nodes would only retry).
async fn check_nats(url: &str) {
    let addr = url.trim_start_matches("nats://").split(['/', '?']).next().unwrap_or_default().to_owned();
    let addr = addr.rsplit_once('@').map_or(addr.clone(), |(_, a)| a.to_owned());
    tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&addr))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("{NATS} is set but NATS at {url} cannot be reached"));
}

// --- the nodes: real `heliograph` processes ---

struct Cluster {
    nodes: Vec<Server>,
    _db: Database,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(admin: &str, nats: &str, count: usize) -> Cluster {
        check_nats(nats).await;
        let db = Database::create(admin).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let node =
            |n: usize| Binary::new().dev().lift_limits().database_of(&db).bus(nats).data(dir.path().join(format!("node{n}"))).start();
        // The first node applies the migrations; the others find the schema in place.
        let mut nodes = vec![node(0).await.expect("node 0 starts")];
        let others = futures_util::future::join_all((1..count).map(node)).await;
        nodes.extend(others.into_iter().enumerate().map(|(n, started)| started.unwrap_or_else(|e| panic!("node {} starts: {e}", n + 1))));
        isolate_ids(&db).await;
        Cluster { nodes, _db: db, _dir: dir }
    }

    /// Every node's URL, `first`'s own first: how a client near that node is configured.
    fn urls_from(&self, first: usize) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.nodes[(first + i) % self.nodes.len()].url()).collect()
    }
}

// --- people, through the SDK ---

struct Person {
    client: Client,
    updates: Updates,
    me: proto::User,
}

fn client_config(urls: Vec<String>) -> ClientConfig {
    let mut config = ClientConfig::new(urls[0].clone());
    config.urls = urls;
    config.reconnect_min = Duration::from_millis(100);
    config.reconnect_max = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(10);
    config
}

impl Person {
    async fn sign_in(urls: Vec<String>, n: u32) -> Person {
        let (client, updates) = Client::connect(client_config(urls)).await.expect("SDK connects");
        let (phone, code) = test_phone(n);
        client.send_code(&phone).await.expect("send_code");
        let auth = client.sign_in(&phone, &code, Some(&format!("Node person {n}")), Some("test")).await.expect("sign_in");
        Person { client, updates, me: auth.user }
    }

    fn id(&self) -> i64 {
        self.me.id
    }

    /// The next event `pick` accepts, skipping others; panics after 10 s.
    async fn expect<T>(&mut self, what: &str, pick: impl Fn(&Event) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(event)) => {
                    if let Some(t) = pick(&event) {
                        return t;
                    }
                }
                Ok(None) => panic!("update stream ended while waiting for {what}"),
                Err(_) => panic!("{} saw no {what} within 10 s", self.me.name),
            }
        }
    }

    async fn expect_message(&mut self, chat: i64, text: &str) -> proto::Message {
        self.expect(&format!("message {text:?} in chat {chat}"), |e| match e {
            Event::Update(proto::Update { kind: UpdateKind::NewMessage { message }, .. })
                if message.chat_id == chat && message.content.text() == Some(text) =>
            {
                Some(message.clone())
            }
            _ => None,
        })
        .await
    }

    async fn expect_typing(&mut self, chat: i64, user: i64) {
        self.expect(&format!("typing by {user} in chat {chat}"), |e| {
            matches!(e, Event::Typing { chat_id, user_id } if *chat_id == chat && *user_id == user).then_some(())
        })
        .await
    }

    async fn expect_read_outbox(&mut self, chat: i64, max: i64) {
        self.expect(&format!("read receipt up to {max} in chat {chat}"), |e| match e {
            Event::Update(proto::Update { kind: UpdateKind::ReadOutbox { chat_id, max_id }, .. }) if *chat_id == chat && *max_id >= max => {
                Some(())
            }
            _ => None,
        })
        .await
    }
}

/// Users on three different nodes chat in a private chat, a group and a channel, and each sees
/// the others' messages, typing and read receipts live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_different_nodes_chat_live() {
    let Some((admin, nats)) = switches() else { return };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(&admin, &nats, 3).await;
    let mut alice = Person::sign_in(cluster.urls_from(0), 7001).await;
    let mut bob = Person::sign_in(cluster.urls_from(1), 7002).await;
    let mut carol = Person::sign_in(cluster.urls_from(2), 7003).await;

    // Private chat: Alice (node 0) and Bob (node 1).
    let private = alice.client.open_private(bob.id()).await.expect("open private").id;
    alice.client.send_message(private, "hi Bob, from node 0", None).await.expect("send");
    let m = bob.expect_message(private, "hi Bob, from node 0").await;
    assert_eq!(m.from, alice.id());
    bob.client.set_typing(private).await.expect("typing");
    alice.expect_typing(private, bob.id()).await;
    bob.client.read_history(private, Some(m.id)).await.expect("read");
    alice.expect_read_outbox(private, m.id).await;
    bob.client.send_message(private, "hi Alice, from node 1", None).await.expect("send");
    alice.expect_message(private, "hi Alice, from node 1").await;

    // Group: all three, each on their own node.
    let group = alice.client.create_group("three nodes", &[bob.id(), carol.id()]).await.expect("create group").id;
    carol.client.send_message(group, "carol on node 2", None).await.expect("send");
    let m = alice.expect_message(group, "carol on node 2").await;
    bob.expect_message(group, "carol on node 2").await;
    alice.client.set_typing(group).await.expect("typing");
    bob.expect_typing(group, alice.id()).await;
    carol.expect_typing(group, alice.id()).await;
    bob.client.read_history(group, Some(m.id)).await.expect("read");
    carol.expect_read_outbox(group, m.id).await;
    bob.client.send_message(group, "bob on node 1", None).await.expect("send");
    alice.expect_message(group, "bob on node 1").await;
    carol.expect_message(group, "bob on node 1").await;

    // Channel: Alice posts, Bob and Carol follow it from other nodes.
    let name = format!("nodes{:08x}", rand::random::<u32>());
    let channel = alice.client.create_channel("cluster news", Some(&name)).await.expect("create channel").id;
    for person in [&mut bob, &mut carol] {
        person.client.join_by_username(&name).await.expect("join");
        // A node starts following a channel's topic (a NATS subscription) when the joiner's
        // connection sees its own `chat` update, which can come after the join's answer: a
        // post committed in between reaches the joiner only with the channel's next update
        // or reconnect. So wait for that update, as a client showing the channel would.
        person
            .expect("the joined channel", |e| {
                matches!(e, Event::Update(proto::Update { kind: UpdateKind::Chat { chat }, .. }) if chat.id == channel).then_some(())
            })
            .await;
    }
    alice.client.send_message(channel, "post seen on every node", None).await.expect("post");
    bob.expect_message(channel, "post seen on every node").await;
    carol.expect_message(channel, "post seen on every node").await;

    // History is the same whichever node answers.
    for person in [&alice, &bob, &carol] {
        let texts: Vec<String> = person
            .client
            .history(group, None, Direction::Newer, Some(100))
            .await
            .expect("history")
            .into_iter()
            .filter_map(|m| m.content.text().map(str::to_owned))
            .collect();
        assert!(texts.ends_with(&["carol on node 2".to_owned(), "bob on node 1".to_owned()]), "{texts:?}");
    }
    drop(cluster);
}

/// What each person's update stream delivered: (chat, message id) -> how often, and when.
#[derive(Default)]
struct Received {
    count: HashMap<(i64, i64), u32>,
    times: Vec<Instant>,
    connected: Vec<Instant>,
    disconnected: Vec<Instant>,
}

/// Under a steady load of sends on all three nodes, one node is killed with SIGKILL. Its
/// clients move to the other nodes within 5 s; every acknowledged message reaches each member
/// exactly once (live or by catch-up) and is in the history exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_loss_under_load_loses_and_duplicates_nothing() {
    let Some((admin, nats)) = switches() else { return };
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start(&admin, &nats, 3).await;

    // Six people, two per node; person i prefers node i % 3.
    const PEOPLE: usize = 6;
    const VICTIM: usize = 0;
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        people.push(Person::sign_in(cluster.urls_from(i % 3), 7100 + i as u32).await);
    }
    let ids: Vec<i64> = people.iter().map(Person::id).collect();
    let group = people[0].client.create_group("node loss", &ids[1..]).await.expect("group").id;
    // Private chats between neighbours, which are on different nodes: (0,1), (2,3), (4,5).
    let mut members: HashMap<i64, Vec<usize>> = HashMap::from([(group, (0..PEOPLE).collect())]);
    let mut private_of = vec![0; PEOPLE];
    for pair in 0..PEOPLE / 2 {
        let (a, b) = (2 * pair, 2 * pair + 1);
        let chat = people[a].client.open_private(ids[b]).await.expect("private").id;
        members.insert(chat, vec![a, b]);
        private_of[a] = chat;
        private_of[b] = chat;
    }

    // Readers: record every delivered message, and connection changes.
    let received: Vec<Arc<Mutex<Received>>> = (0..PEOPLE).map(|_| Arc::default()).collect();
    let stop = tokio_util::sync::CancellationToken::new(); // stops the senders
    let stop_reading = tokio_util::sync::CancellationToken::new();
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    let acked: Arc<Mutex<Vec<(usize, i64, i64, String)>>> = Arc::default(); // (sender, chat, id, text)
    let started = Instant::now();
    for (i, person) in people.into_iter().enumerate() {
        let Person { client, mut updates, .. } = person;
        let rec = received[i].clone();
        let stop_reading = stop_reading.clone();
        readers.push(tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    e = updates.recv() => e,
                    () = stop_reading.cancelled() => return,
                };
                let now = Instant::now();
                let mut r = rec.lock().expect("lock");
                match event {
                    Some(Event::Update(proto::Update { kind: UpdateKind::NewMessage { message }, .. })) => {
                        *r.count.entry((message.chat_id, message.id)).or_default() += 1;
                        r.times.push(now);
                    }
                    Some(Event::Connected) => r.connected.push(now),
                    Some(Event::Disconnected) => r.disconnected.push(now),
                    Some(_) => {}
                    None => return,
                }
            }
        }));
        // Senders: one message every 20 ms, alternating between the group and a private chat,
        // retrying a send whose fate is unknown with the same random id.
        let (acked, stop_sending, targets) = (acked.clone(), stop.clone(), [group, private_of[i]]);
        senders.push(tokio::spawn(async move {
            let mut n = 0usize;
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            while !stop_sending.is_cancelled() {
                ticker.tick().await;
                let chat = targets[n % 2];
                let text = format!("p{i}-m{n}");
                let random_id = heliograph_client::random_id();
                let give_up = Instant::now() + Duration::from_secs(20);
                let sent = loop {
                    match client.send_message_with_random_id(chat, random_id, &text, None).await {
                        Ok(sent) => break sent,
                        Err(ClientError::Disconnected | ClientError::Timeout) if Instant::now() < give_up => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("person {i}: send {text} failed: {e}"),
                    }
                };
                assert_eq!(sent.message.content.text(), Some(text.as_str()), "a retry returned another message");
                acked.lock().expect("lock").push((i, chat, sent.message.id, text));
                n += 1;
            }
            client // keeps the update stream alive until the readers are done
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = acked.lock().expect("lock").len();
    let killed_at = Instant::now();
    cluster.nodes[VICTIM].kill().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.cancel();
    let mut clients = Vec::new();
    for s in senders {
        clients.push(s.await.expect("sender"));
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(before_kill > 50, "the load ran before the kill ({before_kill} acknowledged)");
    assert!(acked.len() > before_kill + 50, "the load went on after the kill ({} acknowledged in all)", acked.len());

    // Everyone receives every acknowledged message of their chats: wait for catch-up to finish.
    let mut expected: Vec<HashSet<(i64, i64)>> = vec![HashSet::new(); PEOPLE];
    for (_, chat, id, _) in &acked {
        for &member in &members[chat] {
            expected[member].insert((*chat, *id));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let missing: usize =
            (0..PEOPLE).map(|p| expected[p].iter().filter(|k| !received[p].lock().expect("lock").count.contains_key(k)).count()).sum();
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} deliveries of acknowledged messages still missing 15 s after the load stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Late duplicates would arrive now, if any.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_reading.cancel();
    for r in readers {
        r.await.expect("reader");
    }

    // Exactly once per recipient; nothing that was not acknowledged (every send was retried
    // until acknowledged, so everything committed was acknowledged).
    for p in 0..PEOPLE {
        let r = received[p].lock().expect("lock");
        for (key, times) in &r.count {
            assert_eq!(*times, 1, "person {p} got message {key:?} {times} times");
            assert!(expected[p].contains(key), "person {p} got message {key:?} that was never acknowledged");
        }
        assert_eq!(r.count.len(), expected[p].len(), "person {p}");
    }

    // History, read through a surviving node: each chat is 1..=n with every acknowledged
    // message exactly once at its acknowledged id.
    let reader = &clients[1];
    let mut by_chat: BTreeMap<i64, BTreeMap<i64, String>> = BTreeMap::new();
    for (_, chat, id, text) in &acked {
        assert!(
            by_chat.entry(*chat).or_default().insert(*id, text.clone()).is_none(),
            "two sends acknowledged as message {id} of chat {chat}"
        );
    }
    for (chat, want) in &by_chat {
        let reader = if members[chat].contains(&1) { reader } else { &clients[members[chat][0]] };
        let mut stored = BTreeMap::new();
        let mut from = None;
        loop {
            let page = reader.history(*chat, from, Direction::Newer, Some(1000)).await.expect("history");
            let Some(last) = page.last() else { break };
            from = Some(last.id);
            for m in page {
                assert!(
                    stored.insert(m.id, m.content.text().unwrap_or_default().to_owned()).is_none(),
                    "message {} twice in chat {chat}",
                    m.id
                );
            }
        }
        let ids: Vec<i64> = stored.keys().copied().collect();
        assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "chat {chat}: the sequence has a gap");
        let texts: HashSet<&String> = stored.values().collect();
        assert_eq!(texts.len(), stored.len(), "chat {chat}: a text stored twice");
        assert_eq!(&stored, want, "chat {chat}: history differs from what was acknowledged");
    }

    // Reconnection of the killed node's people, and how long deliveries stopped.
    let victims: Vec<usize> = (0..PEOPLE).filter(|p| p % 3 == VICTIM).collect();
    let mut worst_reconnect = Duration::ZERO;
    for &p in &victims {
        let r = received[p].lock().expect("lock");
        let back = r.connected.iter().find(|t| **t > killed_at).unwrap_or_else(|| panic!("person {p} never reconnected after the kill"));
        worst_reconnect = worst_reconnect.max(*back - killed_at);
    }
    // The longest pause between two consecutive deliveries to one person, around the kill
    // (from 1 s before to 5 s after), worst over `people`.
    let gap = |people: &[usize]| -> Duration {
        let mut worst = Duration::ZERO;
        for p in people {
            let times = received[*p].lock().expect("lock").times.clone();
            let around: Vec<Instant> = times
                .into_iter()
                .filter(|t| *t + Duration::from_secs(1) >= killed_at && *t <= killed_at + Duration::from_secs(5))
                .collect();
            for w in around.windows(2) {
                worst = worst.max(w[1] - w[0]);
            }
        }
        worst
    };
    let everyone: Vec<usize> = (0..PEOPLE).collect();
    let survivors: Vec<usize> = (0..PEOPLE).filter(|p| p % 3 != VICTIM).collect();
    println!(
        "node loss: {} messages acknowledged ({} before the kill) over {:.1} s; the killed node's clients reconnected after {} ms; \
         delivery interrupted (longest pause between two deliveries to one person around the kill): {} ms for the killed node's clients, {} ms for the others, {} ms overall",
        acked.len(),
        before_kill,
        started.elapsed().as_secs_f64(),
        worst_reconnect.as_millis(),
        gap(&victims).as_millis(),
        gap(&survivors).as_millis(),
        gap(&everyone).as_millis(),
    );
    assert!(worst_reconnect < Duration::from_secs(5), "the killed node's clients took {worst_reconnect:?} to reconnect");
    drop(clients);
}
