//! Files over HTTP through the SDK's `files` helpers against a real server: uploads in
//! shuffled, repeated parts; resuming; every documented refusal (leaving no data behind);
//! download authorization and `Range`; images and decompression bombs.

mod common;

use std::path::{Path, PathBuf};

use common::{code_of, InProcess, Person};
use heliograph_client::files::{hash_file, Files};
use heliograph_client::proto::{CompleteUpload, Content, ErrorCode as E, MediaKind, UPLOAD_PART_SIZE};
use heliograph_client::ClientError;
use rand::RngCore;

const MIB: u64 = 1024 * 1024;

fn files(server: &InProcess, who: &Person) -> Files {
    Files::new(&server.url(), &who.token).expect("files client")
}

/// Writes `size` random bytes to `dir/name`.
fn random_file(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    let mut data = vec![0u8; size as usize];
    rand::rng().fill_bytes(&mut data);
    std::fs::write(&path, &data).expect("write test file");
    path
}

fn part(path: &Path, n: u64) -> Vec<u8> {
    let data = std::fs::read(path).expect("read");
    let start = (n * UPLOAD_PART_SIZE) as usize;
    data[start..(start + UPLOAD_PART_SIZE as usize).min(data.len())].to_vec()
}

/// Files (not folders) under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

fn upload_dir(server: &InProcess, who: &Person, id: &str) -> PathBuf {
    server.data().join("uploads").join(who.id().to_string()).join(id)
}

fn server_code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> E {
    code_of(r)
}

/// A 100 MiB file sent in shuffled parts, some twice, arrives byte-identical for a member of
/// the chat it was sent to (whole and by `Range`); the same bytes uploaded again are stored
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn big_upload_in_shuffled_repeated_parts_arrives_identical() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let path = random_file(tmp.path(), "big.bin", 100 * MIB + 12_345);
    let (sha256, size) = hash_file(&path).await.expect("hash");
    let count = size.div_ceil(UPLOAD_PART_SIZE);
    let mut order: Vec<u64> = (0..count).chain((0..count).step_by(7)).collect();
    rand::seq::SliceRandom::shuffle(&mut order[..], &mut rand::rng());
    let up = files(&server, &ann);
    let data = std::fs::read(&path).expect("read");
    for &n in &order {
        let start = (n * UPLOAD_PART_SIZE) as usize;
        let bytes = data[start..(start + UPLOAD_PART_SIZE as usize).min(data.len())].to_vec();
        up.put_part("big-1", n, bytes).await.expect("part");
    }
    drop(data);
    assert_eq!(up.upload_state("big-1").await.expect("state").parts, (0..count).collect::<Vec<_>>());
    let file = up
        .complete(
            "big-1",
            &CompleteUpload { size, sha256: sha256.clone(), name: "big.bin".into(), mime: Some("application/x-test".into()) },
        )
        .await
        .expect("complete");
    assert_eq!((file.size, file.sha256.as_str()), (size, sha256.as_str()));
    assert!(!upload_dir(&server, &ann, "big-1").exists(), "the parts are gone once stored");

    let chat = ann.client.open_private(bob.id()).await.expect("chat").id;
    let sent = ann.client.send_media(chat, 77, file.id, MediaKind::Document, Some("the data")).await.expect("send_media");
    let again = ann.client.send_media(chat, 77, file.id, MediaKind::Document, Some("the data")).await.expect("retry");
    assert_eq!(sent.message.id, again.message.id, "send_media is idempotent");
    let Content::Media(media) = &sent.message.content else { panic!("not media: {:?}", sent.message.content) };
    assert_eq!((media.file_id, media.size, media.name.as_str(), media.caption.as_deref()), (file.id, size, "big.bin", Some("the data")));

    let out = tmp.path().join("down.bin");
    let mut sink = tokio::fs::File::create(&out).await.expect("create");
    let total = files(&server, &bob).download(file.id, 0, &mut sink, |_, _| {}).await.expect("download");
    assert_eq!(total, size);
    assert_eq!(hash_file(&out).await.expect("hash").0, sha256, "byte-identical");

    // A range: the middle of the file.
    let mut middle = Vec::new();
    let http = reqwest::Client::new();
    let r = http
        .get(format!("http://{}/files/{}", server.addr(), file.id))
        .bearer_auth(&bob.token)
        .header("Range", "bytes=1000000-1000999")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 1000000-1000999/{size}").as_str());
    assert_eq!(r.headers()["content-type"], "application/x-test");
    assert!(r.headers()["content-disposition"].to_str().expect("ascii").contains("big.bin"));
    middle.extend_from_slice(&r.bytes().await.expect("body"));
    assert_eq!(middle, std::fs::read(&path).expect("read")[1_000_000..1_001_000]);

    // Identical content again: a new file record, the same stored object.
    let objects = count_files(&server.data().join("files"));
    let copy = up.upload(&path, "big-2", &sha256, size, None, |_| {}).await.expect("second upload");
    assert_ne!(copy.id, file.id);
    assert_eq!(count_files(&server.data().join("files")), objects, "identical content is stored once");
}

/// An upload interrupted halfway resumes: only the missing parts are sent, and it completes.
#[tokio::test]
async fn interrupted_upload_resumes() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let path = random_file(tmp.path(), "movie.mp4", 5 * MIB + 100);
    let (sha256, size) = hash_file(&path).await.expect("hash");
    let up = files(&server, &ann);
    let count = size.div_ceil(UPLOAD_PART_SIZE);
    for n in (0..count).filter(|n| n % 2 == 0) {
        up.put_part("movie", n, part(&path, n)).await.expect("part");
    }
    // "The connection dropped": a new client asks what the server has and sends the rest.
    let mut first_progress = None;
    let file = files(&server, &ann)
        .upload(&path, "movie", &sha256, size, Some("video/mp4"), |done| {
            first_progress.get_or_insert(done);
        })
        .await
        .expect("resumed upload");
    let held: u64 =
        (0..count).filter(|n| n % 2 == 0).map(|n| if n + 1 < count { UPLOAD_PART_SIZE } else { size - n * UPLOAD_PART_SIZE }).sum();
    assert_eq!(first_progress, Some(held), "the parts already sent are not sent again");
    assert_eq!((file.size, file.sha256, file.mime.as_str()), (size, sha256, "video/mp4"));
}

/// Each refusal has its documented code, and leaves nothing behind: no stored object, no file
/// record (quota unchanged), and no upload folder where the upload cannot go on.
#[tokio::test]
async fn refusals_are_clear_and_leave_nothing() {
    let server = InProcess::start_with(|c| {
        c.files.max_size = 2 * MIB;
        c.files.quota = Some(3 * MIB);
    })
    .await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let mallory = Person::sign_in(&server, 3).await;
    let up = files(&server, &ann);
    let tmp = tempfile::tempdir().expect("tmp");
    let objects = || count_files(&server.data().join("files"));
    let path = random_file(tmp.path(), "a.bin", MIB + 10);
    let (sha256, size) = hash_file(&path).await.expect("hash");
    let complete = |id: &'static str, size: u64, sha256: String| {
        let up = up.clone();
        async move { up.complete(id, &CompleteUpload { size, sha256, name: "a.bin".into(), mime: None }).await }
    };

    // Wrong SHA-256: refused, the upload discarded.
    for n in 0..3 {
        up.put_part("bad-hash", n, part(&path, n)).await.expect("part");
    }
    assert_eq!(server_code(complete("bad-hash", size, "00".repeat(32)).await), E::FileHashMismatch);
    assert!(!upload_dir(&server, &ann, "bad-hash").exists(), "a mismatched upload is discarded");
    assert_eq!(objects(), 0, "a mismatched upload stores nothing");

    // A missing part: refused, the parts kept so the upload can go on.
    up.put_part("gap", 0, part(&path, 0)).await.expect("part");
    up.put_part("gap", 2, part(&path, 2)).await.expect("part");
    assert_eq!(server_code(complete("gap", size, sha256.clone()).await), E::FilePartsMissing);
    assert_eq!(up.upload_state("gap").await.expect("state").parts, vec![0, 2], "kept to resume");
    up.put_part("gap", 1, part(&path, 1)).await.expect("the missing part");
    let first = complete("gap", size, sha256.clone()).await.expect("then it completes");

    // A part of the wrong size: too long is refused on arrival, nothing kept; a short part in
    // the middle is refused at completion.
    assert_eq!(server_code(up.put_part("sizes", 0, vec![1; UPLOAD_PART_SIZE as usize + 1]).await), E::FilePartInvalid);
    assert_eq!(server_code(up.put_part("sizes", 0, Vec::new()).await), E::FilePartInvalid);
    assert_eq!(count_files(&upload_dir(&server, &ann, "sizes")), 0, "a refused part is not kept");
    up.put_part("sizes", 0, vec![1; 1000]).await.expect("short part");
    up.put_part("sizes", 1, vec![1; 1000]).await.expect("short part");
    assert_eq!(server_code(complete("sizes", UPLOAD_PART_SIZE + 1000, "00".repeat(32)).await), E::FilePartInvalid);

    // Too large: a part past the limit, or a size past it.
    assert_eq!(server_code(up.put_part("huge", 4, vec![1; 10]).await), E::FileTooLarge);
    up.put_part("huge", 0, part(&path, 0)).await.expect("part");
    assert_eq!(server_code(complete("huge", 2 * MIB + 1, sha256.clone()).await), E::FileTooLarge);
    assert!(!upload_dir(&server, &ann, "huge").exists(), "an oversized upload is discarded");

    // Quota: 3 MiB; one file of 1 MiB + 10 is stored; two more do not fit.
    let stored = objects();
    let second = random_file(tmp.path(), "b.bin", MIB + 500_000);
    let (sha_b, size_b) = hash_file(&second).await.expect("hash");
    let b = up.upload(&second, "quota-1", &sha_b, size_b, None, |_| {}).await.expect("fits");
    let third = random_file(tmp.path(), "c.bin", MIB);
    let (sha_c, size_c) = hash_file(&third).await.expect("hash");
    assert_eq!(server_code(up.upload(&third, "quota-2", &sha_c, size_c, None, |_| {}).await), E::QuotaExceeded);
    assert!(!upload_dir(&server, &ann, "quota-2").exists(), "a refused upload is discarded");
    assert_eq!(objects(), stored + 1, "nothing stored for the refused upload");

    // Downloads: the uploader yes; a non-member and a nonexistent file look the same.
    let mut sink = Vec::new();
    files(&server, &ann).download(b.id, 0, &mut sink, |_, _| {}).await.expect("the uploader downloads");
    assert_eq!(sink.len() as u64, size_b);
    let chat = ann.client.open_private(bob.id()).await.expect("chat").id;
    ann.client.send_media(chat, 1, first.id, MediaKind::Document, None).await.expect("send");
    let mut sink = Vec::new();
    files(&server, &bob).download(first.id, 0, &mut sink, |_, _| {}).await.expect("a member downloads");
    assert_eq!(server_code(files(&server, &mallory).download(first.id, 0, &mut Vec::new(), |_, _| {}).await), E::FileNotFound);
    assert_eq!(server_code(files(&server, &mallory).download(987_654, 0, &mut Vec::new(), |_, _| {}).await), E::FileNotFound);
    assert_eq!(server_code(files(&server, &bob).download(b.id, 0, &mut Vec::new(), |_, _| {}).await), E::FileNotFound, "not sent to Bob");
    // Mallory cannot send a file she cannot see, either.
    let own = mallory.client.create_group("mine", &[]).await.expect("group").id;
    assert_eq!(code_of(mallory.client.send_media(own, 1, first.id, MediaKind::Document, None).await), E::FileNotFound);
    // With a token that is no session: SESSION_REVOKED.
    assert_eq!(server_code(Files::new(&server.url(), "nope").expect("files").upload_state("x").await), E::SessionRevoked);
}

/// Rewrites a PNG's IHDR to claim `width` x `height`, with a correct CRC.
fn claim_size(png: &mut [u8], width: u32, height: u32) {
    // Signature (8), length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A real image gets its size and a thumbnail (which members can download too); a PNG that
/// claims to be enormous is not decoded: it has no size, and cannot be sent as a photo.
#[tokio::test]
async fn images_get_thumbnails_and_bombs_are_refused() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let bob = Person::sign_in(&server, 2).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let up = files(&server, &ann);
    let chat = ann.client.open_private(bob.id()).await.expect("chat").id;

    let img = image::RgbImage::from_fn(800, 600, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let photo = tmp.path().join("photo.png");
    img.save(&photo).expect("save png");
    let (sha, size) = hash_file(&photo).await.expect("hash");
    let file = up.upload(&photo, "photo", &sha, size, Some("image/png"), |_| {}).await.expect("upload");
    assert_eq!((file.width, file.height), (Some(800), Some(600)));
    let thumb = file.thumb_file_id.expect("a thumbnail");
    let sent = ann.client.send_media(chat, 1, file.id, MediaKind::Photo, Some("cat")).await.expect("photo");
    let Content::Media(media) = &sent.message.content else { panic!("not media") };
    assert_eq!((media.kind, media.width, media.thumb_file_id), (MediaKind::Photo, Some(800), Some(thumb)));
    let mut jpeg = Vec::new();
    files(&server, &bob).download(thumb, 0, &mut jpeg, |_, _| {}).await.expect("thumbnail");
    let decoded = image::load_from_memory(&jpeg).expect("a JPEG");
    assert!(decoded.width() <= 320 && decoded.height() <= 320 && decoded.width() == 320, "{}x{}", decoded.width(), decoded.height());

    // Bombs: a tiny PNG claiming 12,000 x 12,000 RGBA (576 MB decoded), and 100,000 squared.
    for (i, (w, h)) in [(12_000u32, 12_000u32), (100_000, 100_000)].into_iter().enumerate() {
        let mut png = Vec::new();
        image::RgbaImage::new(1, 1).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("encode");
        claim_size(&mut png, w, h);
        let path = tmp.path().join(format!("bomb{i}.png"));
        std::fs::write(&path, &png).expect("write");
        let (sha, size) = hash_file(&path).await.expect("hash");
        let id = format!("bomb{i}");
        let file = up.upload(&path, &id, &sha, size, Some("image/png"), |_| {}).await.expect("stored as a file");
        assert_eq!((file.width, file.height, file.thumb_file_id), (None, None, None), "not decoded");
        assert_eq!(code_of(ann.client.send_media(chat, 10 + i as i64, file.id, MediaKind::Photo, None).await), E::PhotoInvalid);
        ann.client.send_media(chat, 20 + i as i64, file.id, MediaKind::Document, None).await.expect("as a document");
    }
}

/// Every part of one upload sent at the same moment, each several times at once (as retries
/// racing their originals), arrives whole; a part replaced with other bytes after the server
/// hashed it is hashed again, so the file is checked against what was finally sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parts_arriving_together_and_replaced_parts() {
    let server = InProcess::start().await;
    let ann = Person::sign_in(&server, 1).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let path = random_file(tmp.path(), "many.bin", 9 * MIB + 777);
    let (sha256, size) = hash_file(&path).await.expect("hash");
    let count = size.div_ceil(UPLOAD_PART_SIZE);
    let up = files(&server, &ann);
    let mut order: Vec<u64> = (0..count).chain(0..count).chain((0..count).step_by(3)).collect();
    rand::seq::SliceRandom::shuffle(&mut order[..], &mut rand::rng());
    let sends = order.iter().map(|&n| {
        let (up, bytes) = (up.clone(), part(&path, n));
        async move { up.put_part("together", n, bytes).await }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent.expect("part");
    }
    let req = CompleteUpload { size, sha256: sha256.clone(), name: "many.bin".into(), mime: None };
    let file = up.complete("together", &req).await.expect("complete");
    let mut back = Vec::new();
    up.download(file.id, 0, &mut back, |_, _| {}).await.expect("download");
    assert_eq!(back, std::fs::read(&path).expect("read"), "byte-identical");

    // Part 1 first sent wrong (and hashed in order with 0 and 2), then sent right.
    for n in 0..count {
        let mut bytes = part(&path, n);
        if n == 1 {
            bytes[10] ^= 0xFF;
        }
        up.put_part("replaced", n, bytes).await.expect("part");
    }
    up.put_part("replaced", 1, part(&path, 1)).await.expect("part 1 again");
    let again = up.complete("replaced", &req).await.expect("the hash is of the bytes finally sent");
    assert_eq!(again.sha256, sha256);

    // The other way round: right first, wrong last: refused, and nothing new stored.
    let objects = count_files(&server.data().join("files"));
    for n in 0..count {
        up.put_part("spoiled", n, part(&path, n)).await.expect("part");
    }
    let mut wrong = part(&path, 0);
    wrong[0] ^= 1;
    up.put_part("spoiled", 0, wrong).await.expect("part 0 again");
    assert_eq!(server_code(up.complete("spoiled", &req).await), E::FileHashMismatch);
    assert_eq!(count_files(&server.data().join("files")), objects, "nothing stored");
}

/// Uploads of one user racing for the last of their quota: those refused leave no stored
/// object behind, whether refused before storing or (having passed the first check together)
/// when the file is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_races_leave_no_unreferenced_objects() {
    let server = InProcess::start_with(|c| c.files.quota = Some(3 * MIB)).await;
    let ann = Person::sign_in(&server, 1).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let up = files(&server, &ann);
    let mut jobs = Vec::new();
    for i in 0..4 {
        let path = random_file(tmp.path(), &format!("{i}.bin"), 2 * MIB);
        let (sha256, size) = hash_file(&path).await.expect("hash");
        let id = format!("race-{i}");
        let count = size.div_ceil(UPLOAD_PART_SIZE);
        for n in 0..count {
            up.put_part(&id, n, part(&path, n)).await.expect("part");
        }
        jobs.push((id, CompleteUpload { size, sha256, name: "r.bin".into(), mime: None }));
    }
    let completes = jobs.iter().map(|(id, req)| up.complete(id, req));
    let results = futures_util::future::join_all(completes).await;
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(stored, 1, "one fits the quota: {results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_eq!(server_code(r), E::QuotaExceeded);
    }
    assert_eq!(count_files(&server.data().join("files")), 1, "only the recorded file's object is kept");
}
