//! Accountability (issue 16, first part) at the user's boundary: sealed phone numbers after an
//! upgrade of a schema-4 database (the real binary, its backup and its log), the operator's
//! `heliograph admin unseal`, reports, and every moderation action: audited, told to the
//! affected user, and obeyed.

mod common;

use std::path::Path;

use common::{code_of, test_phone, InProcess, Person};
use heliograph_client::proto::{ErrorCode as E, UpdateKind};
use heliograph_client::{Client, Config as ClientConfig, ModerationTarget};
use heliograph_testkit::Binary;

/// The store's SQLite migrations of schema 1 to 4: a database as the build before sealed
/// phones made it.
const SCHEMA_4: [&str; 4] = [
    include_str!("../../store/src/sqlite/schema.sql"),
    include_str!("../../store/src/sqlite/0002_files.sql"),
    include_str!("../../store/src/sqlite/0003_bots.sql"),
    include_str!("../../store/src/sqlite/0004_privacy.sql"),
];

/// Three accounts of the old build: Ann (anybody may find her), Ben (his contacts only: Ann is
/// one), Cy (nobody); and a message between Ann and Ben.
fn old_database(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    for sql in SCHEMA_4 {
        conn.execute_batch(sql).expect("old migration");
    }
    let (ann, ben, cy) = (test_phone(1).0, test_phone(2).0, test_phone(3).0);
    conn.execute_batch(&format!(
        "PRAGMA user_version = 4;
         INSERT INTO users (id, phone, name, created, find_by_phone) VALUES (1, '{ann}', 'Ann', 10, 0), (2, '{ben}', 'Ben', 10, 1), (3, '{cy}', 'Cy', 10, 2);
         INSERT INTO contacts (owner, contact) VALUES (2, 1);
         INSERT INTO chats (id, kind, title, creator, member_count, top_message, created, activity, pair) VALUES (1, 'private', '', 1, 2, 1, 12, 12, '1:2');
         INSERT INTO members (chat_id, user_id, role, joined) VALUES (1, 1, 'member', 12), (1, 2, 'member', 12);
         INSERT INTO messages (chat_id, id, from_id, date, kind, text) VALUES (1, 1, 1, 13, 'text', 'from the old build');
         INSERT INTO login_codes (phone, salt, hash, expires) VALUES ('{cy}', x'00', x'00', 99);"
    ))
    .expect("old rows");
}

async fn signed_in(url: &str, n: u32, name: Option<&str>) -> (Client, i64, bool) {
    let (client, _updates) = Client::connect(ClientConfig::new(url)).await.expect("SDK connects");
    let (phone, code) = test_phone(n);
    client.send_code(&phone).await.expect("send_code");
    let auth = client.sign_in(&phone, &code, name, Some("test")).await.expect("sign_in");
    (client, auth.user.id, auth.new_account)
}

/// Every file under `dir` that holds one of `numbers` (digits only), with the number.
fn files_holding(dir: &Path, numbers: &[String]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            for n in numbers {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push((path.display().to_string(), n.clone()));
                }
            }
        }
    }
    found
}

/// The phone canary: a schema-4 database upgraded by the real binary keeps no number in
/// clear in its files, its backup or its log; sign-in, uniqueness and finding by number under
/// each privacy setting still work; the holder of the disclosure key can open a number, and
/// doing so is in the audit log first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_sealed_after_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    old_database(&data.join("heliograph.db"));
    let config = dir.path().join("heliograph.toml");
    std::fs::write(&config, "[accountability]\noperators = [1]\n").expect("config");
    let mut server = Binary::new()
        .dev()
        .data(&data)
        .env("RUST_LOG", "debug")
        .args(["--config", config.to_str().expect("utf-8")])
        .start()
        .await
        .expect("the upgraded server starts");
    let url = server.ws_url();

    // Sign-in finds the old accounts by their number; a new number is a new account, once.
    let (ann, ann_id, new) = signed_in(&url, 1, None).await;
    assert_eq!((ann_id, new), (1, false), "Ann keeps her account");
    let (dee, dee_id, new) = signed_in(&url, 4, Some("Dee")).await;
    assert!(new && dee_id > 3, "a new number, a new account");
    assert_eq!(signed_in(&url, 4, Some("Dee again")).await.1, dee_id, "numbers stay unique");
    let history = ann.history(1, None, Default::default(), None).await.expect("history");
    assert_eq!(history[0].content.text(), Some("from the old build"));

    // Finding by number follows each account's setting, as before.
    let cases = [
        (&ann, 2, Some(2), "Ben lets his contacts find him; Ann is one"),
        (&dee, 2, None, "Dee is not Ben's contact"),
        (&ann, 3, None, "Cy lets nobody find him"),
        (&dee, 1, Some(1), "Ann lets everybody find her"),
    ];
    for (who, n, want, why) in cases {
        let got = who.add_contact_by_phone(&test_phone(n).0).await;
        match want {
            Some(id) => assert_eq!(got.expect(why).id, id, "{why}"),
            None => assert_eq!(code_of(got), E::UserNotFound, "{why}"),
        }
    }

    // The operator opens Ben's number with the private key the server made at first start.
    let key = data.join("disclosure-private.key");
    assert!(key.is_file(), "the disclosure key pair was made in the data folder");
    let unseal = Binary::new()
        .command(["admin", "unseal", "2", "--reason", "test order 7"])
        .args(["--key", key.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")])
        .output()
        .expect("heliograph admin unseal");
    assert!(unseal.status.success(), "{}", String::from_utf8_lossy(&unseal.stderr));
    assert_eq!(String::from_utf8_lossy(&unseal.stdout).trim(), test_phone(2).0);
    let entry = ann.audit_log(None, None).await.expect("the operator reads the audit log").pop().expect("an entry");
    assert_eq!((entry.action.as_str(), entry.operator_id, entry.user_id, entry.reason.as_str()), ("unseal", 0, Some(2), "test order 7"));
    let other = dir.path().join("other.key");
    let made = Binary::new().command(["admin", "disclosure-key", other.to_str().expect("utf-8")]).output().expect("disclosure-key");
    assert!(made.status.success());
    let wrong = Binary::new()
        .command([
            "admin",
            "unseal",
            "2",
            "--reason",
            "x",
            "--key",
            other.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
        ])
        .output()
        .expect("unseal with another key");
    assert!(!wrong.status.success() && wrong.stdout.is_empty(), "another private key opens nothing");

    // The canary: no number in clear anywhere the operator's disk keeps.
    let backup = dir.path().join("backup.db");
    let backed = Binary::new()
        .command(["backup", backup.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")])
        .output()
        .expect("heliograph backup");
    assert!(backed.status.success(), "{}", String::from_utf8_lossy(&backed.stderr));
    let log = server.log();
    server.stop().await;
    let numbers: Vec<String> = (1..=4).map(|n| test_phone(n).0.trim_start_matches('+').to_string()).collect();
    assert_eq!(files_holding(dir.path(), &numbers), vec![], "numbers in clear in the data folder, the backup or the log");
    assert!(log.contains("sealed the phone numbers"), "the upgrade says what it did: {log}");
}

/// Reports: made by a member who can see the message, copied with its context, one per
/// message, limited per reporter; the queue is for operators only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_reach_the_queue() {
    let server = InProcess::start_with(|c| {
        c.accountability.operators = vec![1];
        c.limits.reports_per_hour = 4;
    })
    .await;
    let op = Person::sign_in(&server, 1).await;
    let (ann, bob, carol) = (Person::sign_in(&server, 2).await, Person::sign_in(&server, 3).await, Person::sign_in(&server, 4).await);
    let group = ann.client.create_group("G", &[bob.id()]).await.expect("group").id;
    let mut ids = Vec::new();
    for text in ["buy pills", "cheap", "now", "really"] {
        ids.push(bob.client.send_message(group, text, None).await.expect("send").message.id);
    }
    let refused = [
        (carol.client.report_message(group, ids[0], "spam", None, &[]).await, E::ChatNotFound),
        (ann.client.report_message(group, 999, "spam", None, &[]).await, E::MessageNotFound),
        (ann.client.report_message(group, ids[0], "rude", None, &[]).await, E::BadParams),
        (bob.client.report_message(group, ids[0], "spam", None, &[]).await, E::BadParams),
    ];
    for (i, (got, want)) in refused.into_iter().enumerate() {
        assert_eq!(code_of(got), want, "refusal {i}");
    }
    let report = ann.client.report_message(group, ids[0], "spam", Some("ads all day"), &[ids[1]]).await.expect("report");
    assert_eq!((report.message.text.as_str(), report.message.from_id, report.context.len()), ("buy pills", bob.id(), 1));
    assert_eq!(ann.client.report_message(group, ids[0], "spam", None, &[]).await.expect("again").id, report.id, "one report per message");
    ann.client.report_message(group, ids[2], "other", None, &[]).await.expect("second report");
    assert_eq!(
        code_of(ann.client.report_message(group, ids[3], "spam", None, &[]).await),
        E::FloodWait,
        "4 reports an hour, refused and repeated ones counted"
    );

    assert_eq!(code_of(ann.client.moderation_reports(false, None, None).await), E::OperatorRequired);
    let queue = op.client.moderation_reports(false, None, None).await.expect("queue");
    assert_eq!(queue.iter().map(|r| r.message.id).collect::<Vec<_>>(), vec![ids[0], ids[2]], "the flooded report was not made");
    let case = op.client.moderation_report(report.id).await.expect("case");
    assert_eq!((case.reporter.id, case.sender.id, case.reporter_reports.len(), case.sender_reported.len()), (ann.id(), bob.id(), 2, 2));
    assert_eq!(case.report.comment, "ads all day");
}

/// Waits for the moderation notice in `person`'s stream: a new message containing `needle`.
async fn notice(person: &mut Person, needle: &str) -> String {
    let update = person
        .expect_update(
            &format!("a notice with {needle:?}"),
            |k| matches!(k, UpdateKind::NewMessage { message } if message.content.text().is_some_and(|t| t.contains(needle))),
        )
        .await;
    match update.kind {
        UpdateKind::NewMessage { message } => message.content.text().unwrap_or_default().to_string(),
        _ => unreachable!(),
    }
}

/// Every moderation action is in the audit log, reaches the affected user with the reason
/// and how to appeal, and is obeyed by the server; bad actions change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_audited_told_and_obeyed() {
    let server = InProcess::start_with(|c| {
        c.accountability.operators = vec![1];
        c.accountability.appeal = "write to abuse@example.org".into();
    })
    .await;
    let op = Person::sign_in(&server, 1).await;
    let mut ann = Person::sign_in(&server, 2).await;
    let mut bob = Person::sign_in(&server, 3).await;
    let mut cy = Person::sign_in(&server, 4).await;
    let group = ann.client.create_group("G", &[bob.id(), cy.id()]).await.expect("group").id;
    let spam = bob.client.send_message(group, "spam", None).await.expect("send").message.id;
    let second = bob.client.send_message(group, "more spam", None).await.expect("send").message.id;
    let report = ann.client.report_message(group, spam, "spam", None, &[]).await.expect("report");
    let other = ann.client.report_message(group, second, "spam", None, &[]).await.expect("report");

    // Bad input: a clear error, nothing written.
    let t = |report_id, user_id| ModerationTarget { report_id, user_id, ..Default::default() };
    let bad = [
        (ann.client.moderate("ban", "x", t(None, Some(bob.id()))).await, E::OperatorRequired),
        (op.client.moderate("vaporize", "x", t(None, Some(bob.id()))).await, E::BadParams),
        (op.client.moderate("ban", " ", t(None, Some(bob.id()))).await, E::BadParams),
        (op.client.moderate("suspend", "x", t(None, Some(bob.id()))).await, E::BadParams),
        (op.client.moderate("dismiss", "x", t(Some(999), None)).await, E::BadParams),
        (op.client.moderate("restrict", "x", t(None, Some(987_654))).await, E::UserNotFound),
    ];
    for (i, (got, want)) in bad.into_iter().enumerate() {
        assert_eq!(code_of(got), want, "bad action {i}");
    }
    assert_eq!(op.client.audit_log(None, None).await.expect("audit").len(), 0, "refused actions write nothing");

    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64 + 3600;
    // delete_message on the report: gone for everyone; Bob is told.
    let deleted = op.client.moderate("delete_message", "rule 1: no spam", t(Some(report.id), None)).await.expect("delete");
    let told = notice(&mut bob, "rule 1: no spam").await;
    assert!(told.contains("deleted") && told.contains("abuse@example.org"), "{told}");
    let left = cy.client.history(group, None, Default::default(), None).await.expect("history");
    assert!(!left.iter().any(|m| m.id == spam), "the message is gone for everyone");
    // dismiss: the report is closed, nobody is told.
    let dismissed = op.client.moderate("dismiss", "looks fine", t(Some(other.id), None)).await.expect("dismiss");
    assert!(!dismissed.notified);
    assert_eq!(op.client.moderation_reports(false, None, None).await.expect("queue"), vec![], "the queue is empty");
    // restrict: Bob reads but cannot send.
    op.client.moderate("restrict", "rule 2: flooding", t(None, Some(bob.id()))).await.expect("restrict");
    notice(&mut bob, "rule 2: flooding").await;
    assert_eq!(code_of(bob.client.send_message(group, "still here", None).await), E::AccountRestricted);
    assert!(bob.client.history(group, None, Default::default(), None).await.is_ok(), "a restricted account still reads");
    // suspend Cy for an hour: no sending, no new sign-in.
    let suspended = op.client.moderate(
        "suspend",
        "rule 3: threats",
        ModerationTarget { user_id: Some(cy.id()), until: Some(hour), ..Default::default() },
    );
    assert_eq!(suspended.await.expect("suspend").until, Some(hour));
    let told = notice(&mut cy, "rule 3: threats").await;
    assert!(told.contains("suspended until"), "{told}");
    assert_eq!(code_of(cy.client.send_message(group, "hi", None).await), E::AccountRestricted);
    let (device, _u) = Client::connect(ClientConfig::new(server.url())).await.expect("connect");
    let (phone, code) = test_phone(4);
    device.send_code(&phone).await.expect("code");
    assert_eq!(code_of(device.sign_in(&phone, &code, None, None).await), E::AccountRestricted, "a suspended account cannot sign in");
    // ban Bob for good: no sign-in either.
    op.client.moderate("ban", "rule 4: repeat", t(None, Some(bob.id()))).await.expect("ban");
    notice(&mut bob, "rule 4: repeat").await;
    let (phone, code) = test_phone(3);
    device.send_code(&phone).await.expect("code");
    assert_eq!(code_of(device.sign_in(&phone, &code, None, None).await), E::AccountRestricted, "a banned account cannot sign in");
    // take_down the group: nobody can open or post; its creator is told.
    op.client
        .moderate("take_down", "rule 5: a spam ring", ModerationTarget { chat_id: Some(group), ..Default::default() })
        .await
        .expect("take down");
    notice(&mut ann, "rule 5: a spam ring").await;
    assert_eq!(code_of(ann.client.get_chat(group).await), E::ChatNotFound);
    assert_eq!(code_of(ann.client.send_message(group, "hello?", None).await), E::ChatNotFound);

    let log = op.client.audit_log(None, None).await.expect("audit");
    let seen: Vec<(&str, Option<i64>, &str)> = log.iter().map(|e| (e.action.as_str(), e.user_id, e.reason.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            ("delete_message", Some(bob.id()), "rule 1: no spam"),
            ("dismiss", Some(bob.id()), "looks fine"),
            ("restrict", Some(bob.id()), "rule 2: flooding"),
            ("suspend", Some(cy.id()), "rule 3: threats"),
            ("ban", Some(bob.id()), "rule 4: repeat"),
            ("take_down", Some(ann.id()), "rule 5: a spam ring"),
        ]
    );
    assert!(log.iter().all(|e| e.operator_id == op.id()) && log[0].id == deleted.id && log[0].report_id == Some(report.id));
}
