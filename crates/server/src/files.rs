//! Files over HTTP: resumable uploads in parts, content-addressed storage, downloads with
//! `Range`.
//!
//! - `PUT  /files/uploads/{upload_id}/parts/{n}`: one part (body = its bytes). Every part is
//!   [`UPLOAD_PART_SIZE`] bytes except the last; parts may come in any order and be sent again.
//! - `GET  /files/uploads/{upload_id}`: which parts the server has ([`proto::UploadState`]).
//! - `POST /files/uploads/{upload_id}/complete`: checks size and SHA-256, stores the content
//!   once per hash, records the file; answers [`proto::File`].
//! - `GET  /files/{file_id}`: the content, for its uploader and for members of chats where it
//!   was sent; `Range: bytes=...` answers 206.
//!
//! Every route takes `Authorization: Bearer <session token>` (the token of `auth.authorize`).
//! `upload_id` is chosen by the client (1 to 64 of `A-Z a-z 0-9 _ -`) and is private to the
//! user: two users' uploads never meet.
//!
//! An upload lives in `data_dir/uploads/<user>/<upload_id>/`: one `data` file that every part
//! is written into at its own offset (`n * UPLOAD_PART_SIZE`, a positioned write, so parts land
//! in any order and in parallel), and a `parts` table, 8 bytes per part at `n * 8`: the part's
//! length, written only once its bytes are (zero: absent), so a part is whole or absent. No file
//! is created per part (creating thousands of inodes in one folder was most of the server's
//! time). A part is received whole (at most one part's worth in memory per request) before
//! anything touches the disk, so a refused part leaves nothing. Nothing holds a whole file.
//!
//! The SHA-256 of the parts received so far is kept per upload ([`Prefix`]): each part that
//! extends the run from part 0 is hashed as it arrives (from the request's bytes, or from the
//! page cache), so completing seldom reads the data again. A part written again after it was
//! hashed makes that hash stale, and completing then hashes everything from disk.
//!
//! Completing checks the hash *before* storing, then stores the content under
//! `sha256/<xx>/<hash>` unless that object already exists (identical content is stored once):
//! with local storage the `data` file is flushed (`fdatasync`) and renamed into the store's
//! folder (no copy), its folders flushed too, so the object is durable before the file's
//! record commits; other stores receive it streamed. A record refused after the object was
//! stored (the quota, raced by another upload) removes the object if no record refers to it.
//! [`Files::sweep`] removes uploads untouched for `files.upload_ttl_secs`.
//!
//! Images (`image/*`, up to [`MAX_IMAGE_BYTES`]) are decoded with bounded dimensions and
//! allocation, so a decompression bomb is refused rather than obeyed; a decoded image gets its
//! width and height and a JPEG thumbnail of at most [`THUMB_SIDE`] pixels a side.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::StreamExt;
use heliograph_core::{FileId, UserId};
use heliograph_proto::{self as proto, ErrorCode, UPLOAD_PART_SIZE};
use heliograph_store::{NewFile, Store};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedMutexGuard, RwLock, Semaphore};

use crate::config::{Config, FileStorage};
use crate::limits::FailedAuth;

/// Images larger than this are stored as they are, without size or thumbnail.
pub const MAX_IMAGE_BYTES: u64 = 32 * 1024 * 1024;
/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// Decoder bounds: a larger image (or one that needs more memory) is not decoded.
const MAX_IMAGE_SIDE: u32 = 12_000;
const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;
/// Bytes per request the object store receives while a file is streamed in.
const STORE_CHUNK: usize = 8 * 1024 * 1024;
/// Bytes per read when a download streams from a local file.
const READ_CHUNK: usize = 512 * 1024;
/// An upload's parts, one after another at their offsets.
const DATA: &str = "data";
/// An upload's table of parts received: a little-endian `u64` length per part (0: absent).
const PARTS: &str = "parts";
/// After this many bytes written to an upload, its data file is flushed in the background, so
/// the flush that completing must wait for is short.
const SYNC_EVERY: u64 = 64 * 1024 * 1024;
/// Uploads tracked in memory at most (idle ones beyond are forgotten: only their running hash).
const MAX_ACTIVE: usize = 4096;

/// Uploads in progress, the object store, and the limits on both.
pub struct Files {
    /// The records of stored files, and the sessions that authorize each route.
    store: Arc<dyn Store>,
    /// Wrong session tokens per address, shared with every other credential check.
    failed_auth: Arc<FailedAuth>,
    uploads: PathBuf,
    objects: Arc<dyn ObjectStore>,
    max_size: u64,
    quota: u64,
    ttl: Duration,
    /// Image decoding is the one memory-hungry step: at most two at once.
    decoders: Semaphore,
    /// The store's folder when storage is local (objects are moved into it by rename).
    local: Option<PathBuf>,
    /// Uploads in progress on this node, by folder.
    active: Mutex<HashMap<PathBuf, Arc<Active>>>,
    /// One lock per content being stored or dropped, so an object is never removed while
    /// another upload of the same content counts on it.
    contents: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

/// An upload in progress on this node.
struct Active {
    /// Part writes share it; completing takes it alone, so no part lands in a file being stored.
    gate: RwLock<()>,
    /// The SHA-256 of the run of parts from 0 received so far.
    prefix: Mutex<Prefix>,
    /// Bytes written since the data file was last flushed, and whether a flush is running.
    unsynced: AtomicU64,
    syncing: AtomicBool,
}

/// The hash of parts `0..next`, in order.
struct Prefix {
    next: u64,
    hasher: Sha256,
    /// A part already hashed was written again: hash from disk at completion.
    stale: bool,
}

impl Default for Active {
    fn default() -> Self {
        Active {
            gate: RwLock::new(()),
            prefix: Mutex::new(Prefix { next: 0, hasher: Sha256::new(), stale: false }),
            unsynced: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
        }
    }
}

/// Held while a content's object is stored, recorded, or dropped.
struct ContentLock<'a> {
    files: &'a Files,
    sha256: [u8; 32],
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for ContentLock<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut contents = self.files.contents.lock().unwrap_or_else(|e| e.into_inner());
        if contents.get(&self.sha256).is_some_and(|m| Arc::strong_count(m) == 1) {
            contents.remove(&self.sha256);
        }
    }
}

/// A refusal, ready for HTTP: the status decided by `errors::http_status`, the body a
/// `proto::Error`.
#[derive(Debug)]
pub struct Refusal(pub proto::Error);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (crate::errors::http_status(self.0.code), Json(self.0)).into_response()
    }
}

impl From<heliograph_store::Error> for Refusal {
    fn from(e: heliograph_store::Error) -> Self {
        Refusal(crate::errors::from_store(e))
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal(proto::Error::new(code, message))
}

fn internal(what: &str, e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "{what}");
    refuse(ErrorCode::Internal, "the server could not store or read the file; try again")
}

type Outcome<T> = Result<T, Refusal>;

impl Files {
    /// Opens the configured object store and the upload folder under `data_dir`.
    pub fn open(config: &Config, store: Arc<dyn Store>, failed_auth: Arc<FailedAuth>) -> anyhow::Result<Files> {
        let mut local = None;
        let objects: Arc<dyn ObjectStore> = match &config.files.storage {
            FileStorage::Local => {
                let dir = config.data_dir.join("files");
                std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
                let dir = dir.canonicalize().map_err(|e| anyhow::anyhow!("cannot open {}: {e}", dir.display()))?;
                local = Some(dir.clone());
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true))
            }
            FileStorage::S3 { bucket, region, endpoint, allow_http } => {
                let mut s3 = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).with_allow_http(*allow_http);
                if let Some(region) = region {
                    s3 = s3.with_region(region);
                }
                if let Some(endpoint) = endpoint {
                    s3 = s3.with_endpoint(endpoint);
                }
                Arc::new(s3.build()?)
            }
        };
        let uploads = config.data_dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", uploads.display()))?;
        Ok(Files {
            store,
            failed_auth,
            uploads,
            objects,
            max_size: config.files.max_size,
            quota: config.files.quota.unwrap_or(u64::MAX),
            ttl: Duration::from_secs(config.files.upload_ttl_secs),
            decoders: Semaphore::new(2),
            local,
            active: Mutex::new(HashMap::new()),
            contents: Mutex::new(HashMap::new()),
        })
    }

    /// The in-memory state of the upload in `dir` (made on first use).
    fn active(&self, dir: &Path) -> Arc<Active> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.len() >= MAX_ACTIVE && !active.contains_key(dir) {
            // Forget idle uploads (nobody holds them): they lose only their running hash.
            active.retain(|_, a| Arc::strong_count(a) > 1);
        }
        active.entry(dir.to_path_buf()).or_default().clone()
    }

    fn forget(&self, dir: &Path) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).remove(dir);
    }

    /// Waits until no other task stores, records or drops `sha256`'s object.
    async fn lock_content(&self, sha256: [u8; 32]) -> ContentLock<'_> {
        let mutex = self.contents.lock().unwrap_or_else(|e| e.into_inner()).entry(sha256).or_default().clone();
        let guard = mutex.lock_owned().await;
        ContentLock { files: self, sha256, guard: Some(guard) }
    }

    /// Where `user`'s upload `id` keeps its parts.
    fn upload_dir(&self, user: UserId, id: &UploadId) -> PathBuf {
        self.uploads.join(user.0.to_string()).join(&id.0)
    }

    fn max_parts(&self) -> u64 {
        self.max_size.div_ceil(UPLOAD_PART_SIZE)
    }

    /// Removes uploads nobody touched for the configured time. Returns how many.
    pub fn sweep(&self) -> usize {
        let removed = sweep(&self.uploads, self.ttl);
        self.active.lock().unwrap_or_else(|e| e.into_inner()).retain(|dir, a| Arc::strong_count(a) > 1 || dir.exists());
        removed
    }

    /// Sweeps every so often until `stop`.
    pub async fn sweep_until(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let every = (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let files = self.clone();
            match tokio::task::spawn_blocking(move || files.sweep()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "removed abandoned uploads"),
                Err(e) => tracing::warn!(error = %e, "the upload sweep failed"),
            }
        }
    }
}

/// Removes every `root/<user>/<upload>` whose folder and files were last changed more than
/// `ttl` ago (receiving a part writes the upload's files).
pub fn sweep(root: &Path, ttl: Duration) -> usize {
    let now = SystemTime::now();
    let mut removed = 0;
    let old = |path: &Path| {
        std::fs::metadata(path).and_then(|m| m.modified()).map(|t| now.duration_since(t).unwrap_or_default() >= ttl).unwrap_or(false)
    };
    let Ok(users) = std::fs::read_dir(root) else { return 0 };
    for user in users.flatten() {
        let Ok(uploads) = std::fs::read_dir(user.path()) else { continue };
        for upload in uploads.flatten() {
            let files = std::fs::read_dir(upload.path()).map(|files| files.flatten().all(|f| old(&f.path()))).unwrap_or(true);
            if old(&upload.path()) && files && std::fs::remove_dir_all(upload.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// A client-chosen upload id: 1 to 64 of `A-Z a-z 0-9 _ -` (safe as a folder name).
#[derive(Debug, Clone)]
pub struct UploadId(String);

impl UploadId {
    pub fn parse(s: &str) -> Outcome<UploadId> {
        if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            Ok(UploadId(s.to_string()))
        } else {
            Err(refuse(ErrorCode::BadParams, "an upload id is 1 to 64 letters, digits, `_` or `-`"))
        }
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>(files: Arc<Files>) -> Router<S> {
    Router::new()
        .route("/files/uploads/{upload_id}", get(upload_state))
        .route("/files/uploads/{upload_id}/parts/{n}", put(put_part))
        .route("/files/uploads/{upload_id}/complete", post(complete))
        .route("/files/{file_id}", get(download))
        .with_state(files)
}

/// The signed-in user behind `Authorization: Bearer <token>`.
async fn user(files: &Files, peer: SocketAddr, headers: &HeaderMap) -> Outcome<UserId> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| refuse(ErrorCode::AuthRequired, "send `Authorization: Bearer <session token>`"))?;
    let failed = &files.failed_auth;
    failed.admit(peer.ip(), None).map_err(|wait| Refusal(crate::errors::flood_wait(wait.secs(), "requests with a wrong session token")))?;
    let session = files.store.session_by_token(&crate::codes::hash_token(token.trim())).await?.ok_or_else(|| {
        failed.failed(peer.ip(), None);
        refuse(ErrorCode::SessionRevoked, "this session ended or never existed; sign in again")
    })?;
    Ok(session.user)
}

/// Part numbers present in an upload folder, ascending, with their sizes.
async fn parts(dir: &Path) -> Outcome<Vec<(u64, u64)>> {
    let table = match tokio::fs::read(dir.join(PARTS)).await {
        Ok(table) => table,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(internal("cannot list an upload", e)),
    };
    Ok(table
        .chunks_exact(8)
        .enumerate()
        .filter_map(|(n, slot)| {
            let len = u64::from_le_bytes(slot.try_into().ok()?);
            (len > 0).then_some((n as u64, len))
        })
        .collect())
}

/// `GET /files/uploads/{upload_id}`: the parts received so far (none for an unknown upload).
async fn upload_state(
    State(files): State<Arc<Files>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Outcome<Json<proto::UploadState>> {
    let user = user(&files, peer, &headers).await?;
    let id = UploadId::parse(&id)?;
    let parts = parts(&files.upload_dir(user, &id)).await?;
    Ok(Json(proto::UploadState { parts: parts.into_iter().map(|(n, _)| n).collect(), part_size: UPLOAD_PART_SIZE }))
}

/// `PUT /files/uploads/{upload_id}/parts/{n}`: stores part `n` (from 0). Idempotent: sending a
/// part again replaces it. A part larger than the part size, or empty, is refused and nothing
/// is kept; a part beyond the largest file is `FILE_TOO_LARGE`.
async fn put_part(
    State(files): State<Arc<Files>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath((id, n)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Outcome<Json<proto::Ok>> {
    let user = user(&files, peer, &headers).await?;
    let id = UploadId::parse(&id)?;
    let n: u64 = n.parse().map_err(|_| refuse(ErrorCode::FilePartInvalid, "a part number is a whole number from 0"))?;
    if n >= files.max_parts() {
        return Err(refuse(ErrorCode::FileTooLarge, format!("files are at most {} bytes: part {n} is past the end", files.max_size)));
    }
    let chunks = receive(body).await?;
    let len: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    let dir = files.upload_dir(user, &id);
    let active = files.active(&dir);
    let shared = active.gate.read().await;
    let (to, upload) = (dir.clone(), active.clone());
    let written = tokio::task::spawn_blocking(move || write_part(&to, n, &chunks, &upload)).await;
    drop(shared);
    written.map_err(|e| internal("cannot keep a part", e))?.map_err(|e| internal("cannot keep a part", e))?;
    if active.unsynced.fetch_add(len, Ordering::Relaxed) + len >= SYNC_EVERY && !active.syncing.swap(true, Ordering::AcqRel) {
        // Start the flush now, in the background, rather than all of it at completion.
        active.unsynced.store(0, Ordering::Relaxed);
        let data = dir.join(DATA);
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::File::open(&data).and_then(|f| f.sync_data());
            active.syncing.store(false, Ordering::Release);
        });
    }
    Ok(Json(proto::Ok {}))
}

/// A part's bytes, received whole before anything is written (at most one part's worth).
async fn receive(body: Body) -> Outcome<Vec<axum::body::Bytes>> {
    let mut stream = body.into_data_stream();
    let (mut chunks, mut len) = (Vec::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| refuse(ErrorCode::BadRequest, format!("the part did not arrive whole: {e}")))?;
        len += chunk.len() as u64;
        if len > UPLOAD_PART_SIZE {
            return Err(refuse(ErrorCode::FilePartInvalid, format!("a part is at most {UPLOAD_PART_SIZE} bytes")));
        }
        chunks.push(chunk);
    }
    if len == 0 {
        return Err(refuse(ErrorCode::FilePartInvalid, "a part cannot be empty"));
    }
    Ok(chunks)
}

/// The length recorded for part `n` (0: absent).
fn slot(table: &std::fs::File, n: u64) -> std::io::Result<u64> {
    let mut len = [0u8; 8];
    match table.read_exact_at(&mut len, n * 8) {
        Ok(()) => Ok(u64::from_le_bytes(len)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(e),
    }
}

fn open_rw(path: &Path, create: bool) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).write(true).create(create).truncate(false).open(path)
}

/// Writes part `n` at its offset in the upload's data file, then records it in the table of
/// parts; then extends the upload's running hash as far as the parts go. The table is written
/// and read under the hash's lock only. Blocking.
fn write_part(dir: &Path, n: u64, chunks: &[axum::body::Bytes], active: &Active) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let data = open_rw(&dir.join(DATA), true)?;
    let table = open_rw(&dir.join(PARTS), true)?;
    let len: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    let written = (|| {
        let mut at = n * UPLOAD_PART_SIZE;
        for chunk in chunks {
            data.write_all_at(chunk, at)?;
            at += chunk.len() as u64;
        }
        Ok::<(), std::io::Error>(())
    })();
    let mut prefix = active.prefix.lock().unwrap_or_else(|e| e.into_inner());
    // Failed part-way, the bytes may be partly over an earlier copy: the part is then absent.
    let recorded = table.write_all_at(&(if written.is_ok() { len } else { 0 }).to_le_bytes(), n * 8);
    if n < prefix.next {
        prefix.stale = true;
    }
    written?;
    recorded?;
    if !prefix.stale {
        advance(&data, &table, &mut prefix, u64::MAX, Some((n, chunks)))?;
    }
    Ok(())
}

/// Hashes parts `prefix.next..upto` that are present, in order, stopping at the first one
/// missing. `fresh` is a part just written (its bytes need not be read back).
fn advance(
    data: &std::fs::File,
    table: &std::fs::File,
    prefix: &mut Prefix,
    upto: u64,
    fresh: Option<(u64, &[axum::body::Bytes])>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while prefix.next < upto {
        let k = prefix.next;
        let len = slot(table, k)?;
        if len == 0 {
            break;
        }
        match fresh {
            Some((n, chunks)) if n == k => chunks.iter().for_each(|c| prefix.hasher.update(c)),
            _ => {
                buf.resize(len as usize, 0);
                data.read_exact_at(&mut buf, k * UPLOAD_PART_SIZE)?;
                prefix.hasher.update(&buf);
            }
        }
        prefix.next += 1;
    }
    Ok(())
}

/// The SHA-256 of parts `0..count` of the upload in `dir` (already checked present and of the
/// right sizes), its data file cut to `size`. From the running hash when it is good, else read
/// from disk. Blocking.
fn finish_hash(dir: &Path, active: &Active, count: u64, size: u64) -> std::io::Result<[u8; 32]> {
    let data = open_rw(&dir.join(DATA), false)?;
    let table = open_rw(&dir.join(PARTS), false)?;
    if data.metadata()?.len() > size {
        data.set_len(size)?;
    }
    let mut prefix = active.prefix.lock().unwrap_or_else(|e| e.into_inner());
    if prefix.stale || prefix.next > count {
        *prefix = Prefix { next: 0, hasher: Sha256::new(), stale: false };
    }
    advance(&data, &table, &mut prefix, count, None)?;
    if prefix.next != count {
        return Err(std::io::Error::other(format!("part {} vanished", prefix.next)));
    }
    Ok(prefix.hasher.clone().finalize().into())
}

/// A file name as shown to people: its last path component, without control characters,
/// at most 255 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if clean.trim().is_empty() {
        "file".to_string()
    } else {
        clean
    }
}

/// `type/subtype` made of token characters, lower-cased; none means octet-stream.
pub fn clean_mime(mime: Option<&str>) -> Outcome<String> {
    let Some(mime) = mime.map(str::trim).filter(|m| !m.is_empty()) else { return Ok("application/octet-stream".into()) };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    match mime.split_once('/') {
        Some((a, b)) if mime.len() <= 127 && token(a) && token(b) => Ok(mime.to_ascii_lowercase()),
        _ => Err(refuse(ErrorCode::BadParams, format!("{mime:?} is not a MIME type like `image/png`"))),
    }
}

fn object_path(sha256: &[u8; 32]) -> ObjectPath {
    let hex = hex::encode(sha256);
    ObjectPath::from(format!("sha256/{}/{hex}", &hex[..2]))
}

/// `POST /files/uploads/{upload_id}/complete`: see the module documentation. Refusals:
/// `FILE_TOO_LARGE`, `QUOTA_EXCEEDED`, `FILE_HASH_MISMATCH` (each discards the upload);
/// `FILE_PARTS_MISSING`, `FILE_PART_INVALID` (the upload stays, to be fixed and completed).
async fn complete(
    State(files): State<Arc<Files>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Outcome<Json<proto::File>> {
    let user = user(&files, peer, &headers).await?;
    let req: proto::CompleteUpload = proto::json::from_slice(&body)
        .map_err(|e| refuse(ErrorCode::BadRequest, format!("the body must be a JSON object {{name, size, sha256, mime}}: {e}")))?;
    let id = UploadId::parse(&id)?;
    let dir = files.upload_dir(user, &id);
    let discard = || async {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        files.forget(&dir);
    };
    let sha256: [u8; 32] = hex::decode(req.sha256.trim())
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| refuse(ErrorCode::BadParams, "`sha256` is 64 hex digits"))?;
    let name = clean_name(&req.name);
    let mime = clean_mime(req.mime.as_deref())?;
    if req.size == 0 {
        return Err(refuse(ErrorCode::BadParams, "a file cannot be empty"));
    }
    if req.size > files.max_size {
        discard().await;
        return Err(refuse(ErrorCode::FileTooLarge, format!("files are at most {} bytes; this one has {}", files.max_size, req.size)));
    }
    let used = files.store.file_usage(user).await?;
    if used.saturating_add(req.size) > files.quota {
        discard().await;
        return Err(refuse(
            ErrorCode::QuotaExceeded,
            format!("storing this file would exceed your quota of {} bytes ({used} used)", files.quota),
        ));
    }

    // From here on no part of this upload is written (parts sent meanwhile wait).
    let active = files.active(&dir);
    let alone = active.gate.write().await;

    // Every part present, each of the right size.
    let count = req.size.div_ceil(UPLOAD_PART_SIZE);
    let have = parts(&dir).await?;
    let missing: Vec<u64> = (0..count).filter(|n| have.binary_search_by_key(n, |&(p, _)| p).is_err()).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(u64::to_string).collect();
        let more = if missing.len() > 20 { format!(" and {} more", missing.len() - 20) } else { String::new() };
        return Err(refuse(
            ErrorCode::FilePartsMissing,
            format!("{} of {count} parts are missing: {}{more}", missing.len(), shown.join(", ")),
        ));
    }
    for &(n, len) in &have {
        let want = if n + 1 < count {
            UPLOAD_PART_SIZE
        } else if n + 1 == count {
            req.size - (count - 1) * UPLOAD_PART_SIZE
        } else {
            0
        };
        if len != want {
            return Err(refuse(
                ErrorCode::FilePartInvalid,
                format!("part {n} has {len} bytes; a file of {} bytes has {count} parts, part {n} of {want} bytes", req.size),
            ));
        }
    }

    // The hash, before anything is stored: usually already known from the parts as they came.
    let (from, upload) = (dir.clone(), active.clone());
    let size = req.size;
    let actual = tokio::task::spawn_blocking(move || finish_hash(&from, &upload, count, size)).await;
    let actual = actual.map_err(|e| internal("hashing failed", e))?.map_err(|e| internal("cannot read an upload", e))?;
    if actual != sha256 {
        drop(alone);
        discard().await;
        return Err(refuse(
            ErrorCode::FileHashMismatch,
            format!("the parts hash to {}, not {}; upload the file again", hex::encode(actual), req.sha256),
        ));
    }

    let new = NewFile { sha256, size: req.size, name, mime, width: None, height: None, thumb: None };
    let recorded = ingest(&files, user, &[dir.join(DATA)], new).await;
    discard().await;
    drop(alone);
    Ok(Json(file_wire(&recorded?)))
}

/// Stores the content of `paths` (in order; already hashed to `new.sha256`) once per hash,
/// works out an image's size and thumbnail, and records the file for `user` within their
/// quota. The caller removes the paths afterwards; with local storage a single path may have
/// been moved into the store instead. A record refused (the quota) leaves no object that no
/// record refers to.
pub async fn ingest(files: &Files, user: UserId, paths: &[PathBuf], mut new: NewFile) -> Outcome<heliograph_store::File> {
    // First: storing may move the file away.
    if new.mime.starts_with("image/") && new.size <= MAX_IMAGE_BYTES {
        (new.width, new.height, new.thumb) = image_details(files, user, paths).await;
    }
    let sha256 = new.sha256;
    let _content = files.lock_content(sha256).await;
    let location = object_path(&sha256);
    if files.objects.head(&location).await.is_err() {
        files.put(&location, paths).await?;
    }
    match files.store.create_file(user, new, files.quota).await {
        Ok(file) => Ok(file),
        Err(e) => {
            files.drop_unreferenced(sha256, &location).await;
            Err(e.into())
        }
    }
}

impl Files {
    /// Stores `paths` (in order) as the object at `location`, durably before it answers.
    async fn put(&self, location: &ObjectPath, paths: &[PathBuf]) -> Outcome<()> {
        let Some(root) = &self.local else { return store_parts(&*self.objects, location, paths).await };
        let dest = root.join(location.as_ref());
        match paths {
            [one] => {
                let (from, to) = (one.clone(), dest);
                let moved = tokio::task::spawn_blocking(move || move_durably(&from, &to)).await;
                moved.map_err(|e| internal("cannot store a file", e))?.map_err(|e| internal("cannot store a file", e))
            }
            _ => {
                store_parts(&*self.objects, location, paths).await?;
                let synced = tokio::task::spawn_blocking(move || sync_object(&dest)).await;
                synced.map_err(|e| internal("cannot store a file", e))?.map_err(|e| internal("cannot store a file", e))
            }
        }
    }

    /// Removes the object of `sha256` when no file record refers to it (a record refused after
    /// the object was stored). Only for local storage, where this node's content locks cover
    /// every writer; in a shared bucket an unreferenced object is left (harmless) rather than
    /// risk removing one another node has just recorded. The caller holds the content's lock.
    async fn drop_unreferenced(&self, sha256: [u8; 32], location: &ObjectPath) {
        if self.local.is_none() {
            return;
        }
        match self.store.file_refs(sha256).await {
            Ok(0) => match self.objects.delete(location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "cannot remove an unreferenced file"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot tell whether a file is still referenced"),
        }
    }
}

/// Flushes `from` to disk, renames it to `to` (or copies it there when that crosses file
/// systems) and flushes the folders that name it: durable before this returns. Blocking.
fn move_durably(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::File::open(from)?.sync_data()?;
    let parent = to.parent().ok_or_else(|| std::io::Error::other("an object path has no folder"))?;
    std::fs::create_dir_all(parent)?;
    if std::fs::rename(from, to).is_err() {
        let tmp = parent.join(format!(".{:016x}.tmp", rand::random::<u64>()));
        let copied =
            std::fs::copy(from, &tmp).and_then(|_| std::fs::File::open(&tmp)?.sync_data()).and_then(|()| std::fs::rename(&tmp, to));
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        copied?;
    }
    sync_dirs(parent)
}

/// Flushes an object written through `object_store` and the folders that name it. Blocking.
fn sync_object(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_data()?;
    sync_dirs(path.parent().ok_or_else(|| std::io::Error::other("an object path has no folder"))?)
}

/// `sha256/<xx>/` and `sha256/`: either may be new.
fn sync_dirs(parent: &Path) -> std::io::Result<()> {
    std::fs::File::open(parent)?.sync_all()?;
    if let Some(up) = parent.parent() {
        std::fs::File::open(up)?.sync_all()?;
    }
    Ok(())
}

/// A file received whole in one request body (the Bot API's multipart uploads), staged on
/// disk while it is hashed. Removed from disk when dropped.
pub struct Staged {
    dir: PathBuf,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: [u8; 32],
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Files {
    /// Most bytes one file may have.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Streams `chunks` to a staging file of `user`'s, hashing as it goes; refuses more than
    /// the largest file allowed, and empty files.
    pub async fn stage<S, E>(&self, user: UserId, mut chunks: S) -> Outcome<Staged>
    where
        S: futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let dir = self.upload_dir(user, &UploadId(format!("staged-{:016x}", rand::random::<u64>())));
        tokio::fs::create_dir_all(&dir).await.map_err(|e| internal("cannot create an upload folder", e))?;
        let path = dir.join("0.part");
        let mut staged = Staged { dir, path, size: 0, sha256: [0; 32] };
        let mut file = tokio::fs::File::create(&staged.path).await.map_err(|e| internal("cannot write an upload", e))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| refuse(ErrorCode::BadRequest, format!("the file did not arrive whole: {e}")))?;
            staged.size += chunk.len() as u64;
            if staged.size > self.max_size {
                return Err(refuse(ErrorCode::FileTooLarge, format!("files are at most {} bytes", self.max_size)));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| internal("cannot write an upload", e))?;
        }
        file.flush().await.map_err(|e| internal("cannot write an upload", e))?;
        if staged.size == 0 {
            return Err(refuse(ErrorCode::BadParams, "a file cannot be empty"));
        }
        staged.sha256 = hasher.finalize().into();
        Ok(staged)
    }
}

pub fn file_wire(f: &heliograph_store::File) -> proto::File {
    proto::File {
        id: f.id.0,
        name: f.name.clone(),
        mime: f.mime.clone(),
        size: f.size,
        sha256: hex::encode(f.sha256),
        width: f.width,
        height: f.height,
        thumb_file_id: f.thumb.map(|t| t.0),
    }
}

/// Streams the parts, in order, into one object.
async fn store_parts(objects: &dyn ObjectStore, location: &ObjectPath, paths: &[PathBuf]) -> Outcome<()> {
    let upload = objects.put_multipart(location).await.map_err(|e| internal("cannot start storing a file", e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, STORE_CHUNK);
    let mut buf = vec![0u8; 1024 * 1024];
    for path in paths {
        let mut file = tokio::fs::File::open(path).await.map_err(|e| internal("cannot read an upload", e))?;
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await.map_err(|e| internal("cannot read an upload", e))?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(|e| internal("cannot store a file", e))?;
            writer.write(&buf[..n]);
        }
    }
    writer.finish().await.map_err(|e| internal("cannot store a file", e))?;
    Ok(())
}

/// Width, height and a stored thumbnail, for an image the bounded decoder accepts; nothing
/// otherwise (a bomb, a broken file, an unknown format).
async fn image_details(files: &Files, user: UserId, paths: &[PathBuf]) -> (Option<u32>, Option<u32>, Option<FileId>) {
    let Ok(_permit) = files.decoders.acquire().await else { return (None, None, None) };
    let paths = paths.to_vec();
    let decoded = tokio::task::spawn_blocking(move || decode_image(&paths)).await;
    let Ok(Ok((width, height, jpeg))) = decoded else {
        if let Ok(Err(e)) = decoded {
            tracing::debug!(error = %e, "image not decoded");
        }
        return (None, None, None);
    };
    let sha256: [u8; 32] = Sha256::digest(&jpeg).into();
    let size = jpeg.len() as u64;
    let location = object_path(&sha256);
    let _content = files.lock_content(sha256).await;
    if files.objects.head(&location).await.is_err() {
        if let Err(e) = files.objects.put(&location, jpeg.into()).await {
            tracing::warn!(error = %e, "cannot store a thumbnail");
            return (Some(width), Some(height), None);
        }
    }
    let thumb = NewFile { sha256, size, name: "thumbnail.jpg".into(), mime: "image/jpeg".into(), width: None, height: None, thumb: None };
    let thumb = files.store.create_file(user, thumb, u64::MAX).await.ok().map(|f| f.id);
    (Some(width), Some(height), thumb)
}

/// Decodes an image split over part files, within the decoder limits, and makes a thumbnail.
pub fn decode_image(paths: &[PathBuf]) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    let mut bytes = Vec::new();
    for path in paths {
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    }
    decode_image_bytes(&bytes)
}

/// Decodes `bytes` within the decoder limits and makes a JPEG thumbnail.
pub fn decode_image_bytes(bytes: &[u8]) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let image = reader.decode()?;
    let (width, height) = (image.width(), image.height());
    let thumb = image.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut jpeg, image::ImageFormat::Jpeg)?;
    let _ = jpeg.rewind();
    Ok((width, height, jpeg.into_inner()))
}

/// A parsed `Range: bytes=...` against a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    All,
    Part(u64, u64),
    Unsatisfiable,
}

/// One range (`a-b`, `a-`, `-n`); several ranges or a malformed header mean the whole file.
pub fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else { return Wanted::All };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((a, b)) = spec.split_once('-') else { return Wanted::All };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b.parse::<u64>().ok().map(|n| (size.saturating_sub(n), size.saturating_sub(1), n == 0)),
        (false, true) => a.parse::<u64>().ok().map(|a| (a, size.saturating_sub(1), false)),
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, b.min(size.saturating_sub(1)), false)),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        None => Wanted::All,
        Some((_, _, true)) => Wanted::Unsatisfiable,
        Some((a, _, _)) if a >= size => Wanted::Unsatisfiable,
        Some((a, b, _)) => Wanted::Part(a, b),
    }
}

/// `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266).
pub fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `GET /files/{file_id}`: the content, streamed. Only for the uploader and members of a chat
/// with a message carrying the file; everyone else gets `FILE_NOT_FOUND`, as for a file that
/// does not exist. `Range: bytes=a-b` answers `206 Partial Content`.
async fn download(
    State(files): State<Arc<Files>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Outcome<Response> {
    let user = user(&files, peer, &headers).await?;
    let id: i64 = id.parse().map_err(|_| refuse(ErrorCode::FileNotFound, "no such file"))?;
    let file = files.store.file(user, FileId(id)).await?;
    serve(&files, &file, &headers).await
}

/// `range` of a local file, read ahead by a blocking reader in [`READ_CHUNK`] pieces (at most
/// two waiting); the reader stops when the response is dropped.
fn read_stream(file: std::fs::File, range: std::ops::Range<u64>) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<axum::body::Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let mut at = range.start;
        while at < range.end {
            let mut buf = vec![0u8; READ_CHUNK.min((range.end - at) as usize)];
            let read = file.read_exact_at(&mut buf, at).map(|()| axum::body::Bytes::from(buf));
            let failed = read.is_err();
            if tx.blocking_send(read).is_err() || failed {
                return;
            }
            at += READ_CHUNK as u64;
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Streams `file` (which the caller checked the requester may see), honouring `Range`.
pub async fn serve(files: &Files, file: &heliograph_store::File, headers: &HeaderMap) -> Outcome<Response> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match wanted(range, file.size) {
        Wanted::All => (StatusCode::OK, 0, file.size - 1),
        Wanted::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
        Wanted::Unsatisfiable => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{}", file.size))]).into_response());
        }
    };
    let options = GetOptions { range: Some(GetRange::Bounded(start..end + 1)), ..Default::default() };
    let got = files.objects.get_opts(&object_path(&file.sha256), options).await.map_err(|e| internal("cannot read a stored file", e))?;
    let body = match got.payload {
        GetResultPayload::File(local, _) => Body::from_stream(read_stream(local, got.range)),
        GetResultPayload::Stream(stream) => Body::from_stream(stream),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    let mime = HeaderValue::from_str(&file.mime).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end + 1 - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_DISPOSITION, disposition(&file.name));
    // The content is the uploader's: never sniffed, never run as a page of this origin.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", hex::encode(file.sha256))) {
        h.insert(header::ETAG, etag);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", file.size)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for (header, size, expect) in [
            (None, 10, Wanted::All),
            (Some("bytes=0-4"), 10, Wanted::Part(0, 4)),
            (Some("bytes=5-"), 10, Wanted::Part(5, 9)),
            (Some("bytes=-3"), 10, Wanted::Part(7, 9)),
            (Some("bytes=-30"), 10, Wanted::Part(0, 9)),
            (Some("bytes=8-100"), 10, Wanted::Part(8, 9)),
            (Some("bytes=10-"), 10, Wanted::Unsatisfiable),
            (Some("bytes=-0"), 10, Wanted::Unsatisfiable),
            (Some("bytes=4-2"), 10, Wanted::All),
            (Some("bytes=0-1,4-5"), 10, Wanted::All),
            (Some("items=0-1"), 10, Wanted::All),
        ] {
            assert_eq!(wanted(header, size), expect, "{header:?}");
        }
    }

    #[test]
    fn names_and_types() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b.txt"), "ab.txt");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_mime(Some("Image/PNG")).ok().as_deref(), Some("image/png"));
        assert_eq!(clean_mime(None).ok().as_deref(), Some("application/octet-stream"));
        assert!(clean_mime(Some("text/html\r\nX: y")).is_err());
        assert_eq!(
            disposition("résumé \"1\".pdf").to_str().ok(),
            Some("attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf")
        );
    }

    #[test]
    fn sweep_removes_only_old_uploads() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("1/a")).expect("mkdir");
        std::fs::write(root.path().join("1/a/0.part"), b"x").expect("write");
        assert_eq!(sweep(root.path(), Duration::from_secs(3600)), 0, "a fresh upload stays");
        assert_eq!(sweep(root.path(), Duration::ZERO), 1, "an old one goes");
        assert!(!root.path().join("1/a").exists());
    }
}
