//! Secret chats (MLS) through the SDK against a real in-process server: the server as the
//! Delivery Service, real openmls clients (`heliograph-mls`) on every device.

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use common::{code_of, InProcess, Person};
use heliograph_client::proto::{self, ErrorCode, Request, SecretKind, UpdateKind};
use heliograph_mls::{Device, Incoming};

/// A signed-in person and their MLS device.
struct Dev {
    p: Person,
    d: Device,
}

impl Dev {
    async fn new(server: &InProcess, n: u32) -> Dev {
        let p = Person::sign_in(server, n).await;
        let d = Device::new(p.id(), p.session).expect("device");
        let dev = Dev { p, d };
        let kps: Vec<String> = dev.d.key_packages(3).expect("kps").iter().map(|k| B64.encode(k)).collect();
        let last = B64.encode(dev.d.key_package(true).expect("last resort"));
        let count: proto::KeyPackageCount =
            dev.p.client.call_as(Request::UploadKeyPackages { key_packages: kps, last_resort: Some(last) }).await.expect("upload");
        assert_eq!(count.one_time, 3);
        dev
    }

    async fn claim(&self, users: &[i64]) -> Vec<Vec<u8>> {
        let claimed: Vec<proto::ClaimedKeyPackage> =
            self.p.client.call_as(Request::ClaimKeyPackages { user_ids: users.to_vec() }).await.expect("claim");
        claimed.iter().map(|c| B64.decode(&c.key_package).expect("b64")).collect()
    }

    async fn commit(&self, chat_id: i64, c: &heliograph_mls::Commit) -> Result<proto::SecretSent, heliograph_client::ClientError> {
        self.p
            .client
            .call_as(Request::SecretCommit {
                chat_id,
                commit: B64.encode(&c.commit),
                group_info: B64.encode(&c.group_info),
                welcome: c.welcome.as_ref().map(|w| B64.encode(w)),
            })
            .await
    }

    async fn send(&self, chat_id: i64, gid: &[u8], random_id: i64, text: &str) -> proto::SecretSent {
        let message = B64.encode(self.d.encrypt(gid, text.as_bytes()).expect("encrypt"));
        self.p.client.call_as(Request::SecretSend { chat_id, random_id, message }).await.expect("secret.send")
    }

    /// Applies this person's secret-message updates (in log order) until `until` holds for one.
    async fn pump(&mut self, what: &str, until: impl Fn(&proto::SecretMessage, &Incoming) -> bool) -> Incoming {
        loop {
            let u = self.p.expect_update(what, |k| matches!(k, UpdateKind::SecretMessage { .. })).await;
            let UpdateKind::SecretMessage { message } = u.kind else { unreachable!() };
            if message.device_id == self.p.session && message.kind != SecretKind::Welcome {
                continue; // our own commit (merged on acceptance) or message
            }
            let got = self.d.process(&B64.decode(&message.data).expect("b64")).expect("process");
            if until(&message, &got) {
                return got;
            }
        }
    }

    async fn read(&mut self, text: &str) -> (i64, i64) {
        match self.pump(text, |_, g| matches!(g, Incoming::Application { .. })).await {
            Incoming::Application { from, plaintext } => {
                assert_eq!(String::from_utf8(plaintext).expect("utf8"), text);
                from
            }
            _ => unreachable!(),
        }
    }
}

/// Creates a secret chat of `owner`'s device with every device of `users` (their other devices too).
async fn secret_chat(owner: &Dev, users: &[i64]) -> (i64, Vec<u8>) {
    let (gid, info) = owner.d.create_group().expect("group");
    let chat: proto::Chat =
        owner.p.client.call_as(Request::CreateSecret { title: None, group_info: B64.encode(info) }).await.expect("secret.create");
    let kps = owner.claim(users).await;
    let c = owner.d.add(&gid, &kps).expect("add");
    let sent = owner.commit(chat.id, &c).await.expect("commit");
    assert_eq!(sent.epoch, 1);
    owner.d.merge_pending(&gid).expect("merge");
    (chat.id, gid)
}

/// Alice with two devices and Bob with one: all three join by Welcome after its commit, and every message reaches the other two devices, decrypted, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_and_bob() {
    let server = InProcess::start().await;
    let mut a1 = Dev::new(&server, 1).await;
    let mut a2 = Dev::new(&server, 1).await;
    let mut b1 = Dev::new(&server, 2).await;
    let (chat, gid) = secret_chat(&a1, &[a1.p.id(), b1.p.id()]).await;
    for d in [&mut a2, &mut b1] {
        let joined = d.pump("welcome", |m, _| m.kind == SecretKind::Welcome).await;
        assert_eq!(joined, Incoming::Joined { group_id: gid.clone(), epoch: 1 });
    }
    let mut members = a1.d.members(&gid).expect("members");
    members.sort();
    assert_eq!(members, vec![(a1.p.id(), a1.p.session), (a1.p.id(), a2.p.session), (b1.p.id(), b1.p.session)]);

    a1.send(chat, &gid, 1, "hello from alice's laptop").await;
    assert_eq!(b1.read("hello from alice's laptop").await, (a1.p.id(), a1.p.session));
    assert_eq!(a2.read("hello from alice's laptop").await, (a1.p.id(), a1.p.session));
    b1.send(chat, &gid, 2, "hi alice, both of you").await;
    for d in [&mut a1, &mut a2] {
        assert_eq!(d.read("hi alice, both of you").await, (b1.p.id(), b1.p.session));
    }
    let devices: Vec<proto::SecretDevice> =
        b1.p.client.call_as(Request::GetSecretDevices { user_ids: vec![a1.p.id()] }).await.expect("devices");
    assert_eq!(devices.len(), 2, "Alice's two devices are listed");
    let history: Vec<proto::SecretMessage> =
        b1.p.client.call_as(Request::SecretHistory { chat_id: chat, after_id: 0, limit: None }).await.expect("history");
    let kinds: Vec<SecretKind> = history.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![SecretKind::Commit, SecretKind::Welcome, SecretKind::Application, SecretKind::Application]);
    assert_eq!(history.iter().map(|m| m.id).collect::<Vec<_>>(), vec![1, 2, 3, 4], "one gapless sequence");
    // The Bot API's and the cloud's ways in are closed.
    assert_eq!(code_of(a1.p.client.send_message(chat, "plain text", None).await), ErrorCode::SecretChat);
}

/// Three users race commits in one epoch: exactly one wins, the others get COMMIT_CONFLICT with the new epoch, process the winner and commit again; then every message reaches everyone once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_race() {
    let server = InProcess::start().await;
    let a = Dev::new(&server, 1).await;
    let mut b = Dev::new(&server, 2).await;
    let mut c = Dev::new(&server, 3).await;
    let (chat, gid) = secret_chat(&a, &[b.p.id(), c.p.id()]).await;
    for d in [&mut b, &mut c] {
        d.pump("welcome", |m, _| m.kind == SecretKind::Welcome).await;
    }
    let commits: Vec<_> = [&a, &b, &c].iter().map(|d| d.d.update(&gid).expect("update")).collect();
    let (ra, rb, rc) = tokio::join!(a.commit(chat, &commits[0]), b.commit(chat, &commits[1]), c.commit(chat, &commits[2]));
    let results = [ra, rb, rc];
    let winners: Vec<usize> = (0..3).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one commit per epoch: {results:?}");
    for r in &results {
        if let Err(heliograph_client::ClientError::Server(e)) = r {
            assert_eq!((e.code, e.epoch), (ErrorCode::CommitConflict, Some(2)), "the losers learn the current epoch");
        }
    }
    let mut devs = [a, b, c];
    devs[winners[0]].d.merge_pending(&gid).expect("merge the winner");
    // Each loser drops its commit, applies the ones that landed, and commits again.
    let mut landed = winners.len() as u64;
    for i in (0..3).filter(|i| !winners.contains(i)) {
        let d = &mut devs[i];
        d.d.clear_pending(&gid).expect("clear");
        while d.d.epoch(&gid).expect("epoch") < 1 + landed {
            d.pump("the winning commit", |m, _| m.kind == SecretKind::Commit).await;
        }
        let retry = d.d.update(&gid).expect("update again");
        d.commit(chat, &retry).await.expect("the retry lands");
        d.d.merge_pending(&gid).expect("merge");
        landed += 1;
    }
    for d in devs.iter_mut() {
        while d.d.epoch(&gid).expect("epoch") < 4 {
            d.pump("the other commits", |m, _| m.kind == SecretKind::Commit).await;
        }
    }
    for i in 0..3 {
        let text = format!("message {i}");
        devs[i].send(chat, &gid, 100 + i as i64, &text).await;
        for j in 0..3 {
            if j != i {
                devs[j].read(&text).await;
            }
        }
    }
}

/// Bad input gets a clear error and stores nothing: malformed bytes, replays, an old epoch, a commit as an application message, someone else's key package, a key package claimed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input() {
    let server = InProcess::start().await;
    let a = Dev::new(&server, 1).await;
    let mut b = Dev::new(&server, 2).await;
    let (chat, gid) = secret_chat(&a, &[b.p.id()]).await;
    b.pump("welcome", |m, _| m.kind == SecretKind::Welcome).await;
    let old = a.d.encrypt(&gid, b"epoch 1").expect("encrypt");
    let fine = B64.encode(a.d.encrypt(&gid, b"fine").expect("encrypt"));
    let send = |random_id: i64, message: String| {
        a.p.client.call_as::<proto::SecretSent>(Request::SecretSend { chat_id: chat, random_id, message })
    };
    let sent = send(1, fine.clone()).await.expect("send");
    assert_eq!(send(1, fine.clone()).await.expect("retry"), sent, "a retry (same random_id) answers the original");
    let replayed_app = send(2, fine).await;
    let history = |p: &Person| {
        let client = p.client.clone();
        async move {
            client
                .call_as::<Vec<proto::SecretMessage>>(Request::SecretHistory { chat_id: chat, after_id: 0, limit: None })
                .await
                .expect("history")
                .len()
        }
    };
    let before = history(&a.p).await;

    // Move to epoch 2, so `old` is stale.
    let u = b.d.update(&gid).expect("update");
    b.commit(chat, &u).await.expect("commit");
    b.d.merge_pending(&gid).expect("merge");
    let replayed_commit = b.commit(chat, &u).await;
    let stale_app =
        a.p.client.call_as::<proto::SecretSent>(Request::SecretSend { chat_id: chat, random_id: 5, message: B64.encode(&old) }).await;
    let cases: Vec<(&str, Result<proto::SecretSent, heliograph_client::ClientError>, ErrorCode)> = vec![
        (
            "not base64",
            a.p.client.call_as(Request::SecretSend { chat_id: chat, random_id: 6, message: "%%%".into() }).await,
            ErrorCode::BadParams,
        ),
        (
            "not MLS",
            a.p.client.call_as(Request::SecretSend { chat_id: chat, random_id: 7, message: B64.encode(b"hello") }).await,
            ErrorCode::MlsInvalid,
        ),
        (
            "a commit sent as a message",
            a.p.client.call_as(Request::SecretSend { chat_id: chat, random_id: 8, message: B64.encode(&u.commit) }).await,
            ErrorCode::MlsInvalid,
        ),
        ("a replayed commit", replayed_commit, ErrorCode::CommitConflict),
        ("an old epoch", stale_app, ErrorCode::MlsWrongEpoch),
        ("a replayed message", replayed_app, ErrorCode::MlsReplay),
        (
            "garbage as a commit",
            a.p.client
                .call_as(Request::SecretCommit {
                    chat_id: chat,
                    commit: B64.encode([0u8; 40]),
                    group_info: B64.encode([0u8; 4]),
                    welcome: None,
                })
                .await,
            ErrorCode::MlsInvalid,
        ),
    ];
    for (what, result, code) in cases {
        assert_eq!(code_of(result), code, "{what}");
    }
    assert_eq!(history(&a.p).await, before + 1, "only b's valid commit was stored");

    // Someone else's key package (Bob's, uploaded by Alice) and a package claimed twice.
    let bobs = B64.encode(b.d.key_package(false).expect("kp"));
    assert_eq!(
        code_of(
            a.p.client.call_as::<proto::KeyPackageCount>(Request::UploadKeyPackages { key_packages: vec![bobs], last_resort: None }).await
        ),
        ErrorCode::KeyPackageInvalid
    );
    let again = B64.encode(a.d.key_package(false).expect("kp"));
    a.p.client
        .call_as::<proto::KeyPackageCount>(Request::UploadKeyPackages { key_packages: vec![again.clone()], last_resort: None })
        .await
        .expect("upload");
    assert_eq!(
        code_of(
            a.p.client.call_as::<proto::KeyPackageCount>(Request::UploadKeyPackages { key_packages: vec![again], last_resort: None }).await
        ),
        ErrorCode::BadParams,
        "a package already in the directory is refused"
    );
}

/// The canary: random marker texts sent through a secret chat, and every device's private signature key, appear nowhere in the server's data folder (database, WAL, blobs), in any encoding the server uses (raw, base64).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_never_reaches_the_server() {
    let server = InProcess::start().await;
    let a = Dev::new(&server, 1).await;
    let mut b = Dev::new(&server, 2).await;
    let (chat, gid) = secret_chat(&a, &[b.p.id()]).await;
    b.pump("welcome", |m, _| m.kind == SecretKind::Welcome).await;
    let markers: Vec<String> = (0..5).map(|i| format!("canary-{i}-{:016x}", rand_u64(i))).collect();
    for (i, m) in markers.iter().enumerate() {
        a.send(chat, &gid, 10 + i as i64, m).await;
        b.read(m).await;
    }
    let mut secrets: Vec<Vec<u8>> = markers.iter().map(|m| m.clone().into_bytes()).collect();
    for d in [&a.d, &b.d] {
        let key = d.signature_private_key();
        assert_eq!(key.len(), 32, "an Ed25519 private key was read");
        secrets.push(key);
    }
    let encoded: Vec<Vec<u8>> = secrets.iter().map(|s| B64.encode(s).into_bytes()).collect();
    secrets.extend(encoded);
    let mut files = 0;
    let mut stack = vec![server.data().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            files += 1;
            for s in &secrets {
                assert!(!bytes.windows(s.len()).any(|w| w == s.as_slice()), "a secret is in {}", path.display());
            }
        }
    }
    assert!(files >= 2, "the database and its WAL were searched");
}

/// A random-looking marker part (no extra dependency: hashed time and index).
fn rand_u64(i: usize) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((i, std::time::SystemTime::now()))
}
