//! `helio upload` and `helio download` against a real server: a file goes up (resuming an
//! upload the profile remembers), comes down byte-identical, and no bar is drawn when stdout
//! is not a terminal.

mod common;

use common::{InProcess, Person};
use heliograph_client::files::{hash_file, Files};
use heliograph_client::proto::UPLOAD_PART_SIZE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_resumes_and_download_is_identical() {
    let server = InProcess::start().await;
    let mut alice = Person::new(&server, 1, "Alice");
    let mut bob = Person::new(&server, 2, "Bob");
    alice.login("alice_files").await;
    bob.login("bob_files").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("notes.bin");
    let data: Vec<u8> = (0..3 * UPLOAD_PART_SIZE + 777).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &data).expect("write");
    let (sha256, size) = hash_file(&path).await.expect("hash");

    // An interrupted earlier run: the profile remembers the upload, the server holds part 1.
    std::fs::write(alice.profile.path().join("uploads.json"), format!(r#"{{"{sha256}:{size}":"earlier-run"}}"#)).expect("uploads.json");
    let session: serde_json::Value =
        serde_json::from_slice(&std::fs::read(alice.profile.path().join("session.json")).expect("session")).expect("json");
    let files = Files::new(&alice.server, session["token"].as_str().expect("token")).expect("files");
    files.put_part("earlier-run", 1, data[UPLOAD_PART_SIZE as usize..2 * UPLOAD_PART_SIZE as usize].to_vec()).await.expect("part 1");

    let out = alice.ok(&["upload", "@bob_files", path.to_str().expect("utf-8"), "--caption", "the notes", "--json"]).await;
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{out:?}: {e}"));
    assert_eq!(line["sha256"], sha256.as_str());
    assert!(files.upload_state("earlier-run").await.expect("state").parts.is_empty(), "the remembered upload was the one completed");
    let uploads = std::fs::read_to_string(alice.profile.path().join("uploads.json")).expect("uploads.json");
    assert_eq!(uploads.trim(), "{}", "a finished upload is forgotten");

    let target = tmp.path().join("got.bin");
    let message = line["id"].as_i64().expect("id").to_string();
    let out = bob.ok(&["download", "@alice_files", &message, "-o", target.to_str().expect("utf-8")]).await;
    assert_eq!(out.trim(), target.to_str().expect("utf-8"), "prints where it went, and no progress bar");
    assert_eq!(std::fs::read(&target).expect("read"), data, "byte-identical");
}
