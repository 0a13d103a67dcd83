//! The public transparency log over HTTP (accountability, #16), served as static-looking
//! resources in the manner of C2SP tlog-tiles, so a client can cache and follow it:
//!
//! - `GET /transparency/checkpoint`: the newest tree head (C2SP checkpoint), a signed note
//!   signed with the log key;
//! - `GET /transparency/tile/8/<L>/<N>[.p/<W>]`: hash tiles of height 8, at the paths
//!   `tlog_tiles` (a port of Go's sumdb `tlog`) gives them;
//! - `GET /transparency/tile/8/data/<N>[.p/<W>]`: the entries, 256 a tile, bundled as C2SP
//!   tlog-tiles bundles entries (each with its length as two big-endian bytes first);
//! - `GET /transparency/key`: the log's verifier key (an auditor should pin the one the
//!   operator published, not trust this answer);
//! - `GET /transparency/report`: the transparency report, computed from the entries alone
//!   ([`report`]), which `heliograph audit verify` recomputes from the tiles.
//!
//! The entries and the tree live in the store (`commands/transparency.rs`); what is logged is
//! written there in the transaction of what it records. This module only signs and serves.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use heliograph_store::Store;
use serde_json::{json, Map, Value};
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// The file the log's signing key is kept in, in the data folder unless configured.
pub const LOG_KEY_FILE: &str = "transparency.key";
/// Entries per data tile (tiles are 2^8 wide).
const BUNDLE: u64 = 256;

/// The log's identity: its origin line and its signing key.
pub struct Log {
    store: Arc<dyn Store>,
    origin: String,
    signer: StandardSigner,
    verifier_key: String,
}

/// `seed` as a signed-note signer key and the matching verifier key, named `name`.
pub fn keys_from_seed(name: &str, seed: [u8; 32]) -> (String, String) {
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = [&[1u8][..], signing.verifying_key().as_bytes()].concat();
    let private = [&[1u8][..], &seed[..]].concat();
    let id = signed_note::key_id(name, &public);
    let b64 = base64::engine::general_purpose::STANDARD;
    (format!("PRIVATE+KEY+{name}+{id:08x}+{}", b64.encode(private)), signed_note::new_ed25519_verifier_key(name, &signing.verifying_key()))
}

/// The origin line of this server's log: its public URL without the scheme, then
/// `/transparency`; `localhost/transparency` when no public URL is configured.
pub fn origin(public_url: Option<&str>) -> String {
    let host = public_url
        .map(|u| u.split_once("://").map_or(u, |(_, rest)| rest).trim_end_matches('/').to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/transparency")
}

impl Log {
    /// The log over `store`, signing with the key in `key_file` (made there at first start;
    /// every node of one deployment must be given the same file).
    pub fn open(store: Arc<dyn Store>, origin: String, key_file: &Path) -> anyhow::Result<Log> {
        let text = match std::fs::read_to_string(key_file) {
            Ok(text) => text.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (signer, _) = keys_from_seed(&origin, rand::random());
                match crate::identity::write_private(key_file, &signer) {
                    Ok(()) => {
                        tracing::info!(path = %key_file.display(), "made a new transparency log key");
                        signer
                    }
                    // Another node made it first.
                    Err(_) if key_file.exists() => std::fs::read_to_string(key_file)?.trim().to_string(),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => anyhow::bail!("cannot read the transparency log key {}: {e}", key_file.display()),
        };
        let signer =
            StandardSigner::new(&text).map_err(|e| anyhow::anyhow!("{}: not a signed-note signer key: {e}", key_file.display()))?;
        let name = signed_note::Signer::name(&signer).to_string();
        if name != origin {
            anyhow::bail!(
                "{} signs for the log {name:?}, but this server's log is {origin:?} (from public_url): give it the key made for this origin",
                key_file.display()
            );
        }
        let verifier_key = verifier_key_of(&text)?;
        Ok(Log { store, origin, signer, verifier_key })
    }

    /// The newest checkpoint, signed.
    pub async fn checkpoint(&self) -> anyhow::Result<Vec<u8>> {
        let size = self.store.transparency_size().await?;
        let root = self.store.transparency_root(size).await?;
        let checkpoint = Checkpoint::new(&self.origin, size, Hash(root), "").map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut note = Note::new(&checkpoint.to_bytes(), &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        note.add_sigs(&[&self.signer]).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(note.to_bytes())
    }

    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }
}

/// The verifier key of a signer key: `name+id+base64(alg ‖ public key)`.
fn verifier_key_of(signer_key: &str) -> anyhow::Result<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let parts: Vec<&str> = signer_key.splitn(5, '+').collect();
    let [_, _, name, _, key] = parts.as_slice() else { anyhow::bail!("not a signer key") };
    let bytes = b64.decode(key)?;
    let seed: [u8; 32] = bytes.get(1..).and_then(|s| s.try_into().ok()).ok_or_else(|| anyhow::anyhow!("not an Ed25519 signer key"))?;
    Ok(keys_from_seed(name, seed).1)
}

/// Verifies a signed checkpoint against `verifier_key`; answers the checkpoint.
pub fn open_checkpoint(note: &[u8], verifier_key: &str) -> anyhow::Result<Checkpoint> {
    let verifier = StandardVerifier::new(verifier_key).map_err(|e| anyhow::anyhow!("the log key {verifier_key:?}: {e}"))?;
    let note = Note::from_bytes(note).map_err(|e| anyhow::anyhow!("the checkpoint is not a signed note: {e}"))?;
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| anyhow::anyhow!("the checkpoint is not signed by the log key: {e}"))?;
    Checkpoint::from_bytes(note.text()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// One data tile's entries, as tlog-tiles bundles them: each as two big-endian length bytes
/// and the entry.
pub fn bundle(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The entries of a bundle, or `None` when it is not one.
pub fn unbundle(mut data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let len = u16::from_be_bytes([*data.first()?, *data.get(1)?]) as usize;
        out.push(data.get(2..2 + len)?.to_vec());
        data = &data[2 + len..];
    }
    Some(out)
}

/// The transparency report, from the log's entries alone: per month, the moderation actions
/// by kind and the disclosure requests by outcome.
pub fn report(entries: &[Vec<u8>]) -> Value {
    let mut months: std::collections::BTreeMap<String, Map<String, Value>> = Default::default();
    let mut unreadable = 0u64;
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(e) else {
            unreadable += 1;
            continue;
        };
        let (Some(kind), Some(date)) = (v["kind"].as_str(), v["date"].as_i64()) else {
            unreadable += 1;
            continue;
        };
        let month = chrono::DateTime::from_timestamp(date, 0).map_or_else(|| "unknown".into(), |d| d.format("%Y-%m").to_string());
        let what = match kind {
            "moderation" => format!("moderation.{}", v["action"].as_str().unwrap_or("unknown")),
            other => other.to_string(),
        };
        let counts = months.entry(month).or_default();
        let n = counts.get(&what).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(what, json!(n + 1));
    }
    json!({"entries": entries.len(), "unreadable_entries": unreadable, "months": months})
}

pub fn routes(log: Arc<Log>) -> Router {
    Router::new()
        .route("/transparency/checkpoint", get(checkpoint))
        .route("/transparency/key", get(|State(log): State<Arc<Log>>| async move { format!("{}\n", log.verifier_key) }))
        .route("/transparency/report", get(report_now))
        .route("/transparency/tile/{*path}", get(tile))
        .with_state(log)
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "transparency log");
    (StatusCode::INTERNAL_SERVER_ERROR, "the transparency log cannot be read right now\n").into_response()
}

async fn checkpoint(State(log): State<Arc<Log>>) -> Response {
    match log.checkpoint().await {
        Ok(note) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], note).into_response(),
        Err(e) => failed(e),
    }
}

async fn report_now(State(log): State<Arc<Log>>) -> Response {
    let size = match log.store.transparency_size().await {
        Ok(size) => size,
        Err(e) => return failed(e),
    };
    let mut entries = Vec::with_capacity(size as usize);
    while (entries.len() as u64) < size {
        match log.store.transparency_entries(entries.len() as u64, 1_000).await {
            Ok(page) if !page.is_empty() => entries.extend(page),
            Ok(_) => break,
            Err(e) => return failed(e),
        }
    }
    entries.truncate(size as usize);
    axum::Json(report(&entries)).into_response()
}

/// `tile/8/<L>/<N>[.p/<W>]` or `tile/8/data/<N>[.p/<W>]`, of the tree as it is now. Full
/// tiles never change, so they may be cached for good.
async fn tile(State(log): State<Arc<Log>>, UrlPath(path): UrlPath<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such tile in this log\n").into_response();
    let path = format!("tile/{path}");
    let size = match log.store.transparency_size().await {
        Ok(size) => size,
        Err(e) => return failed(e),
    };
    let Ok(t) = tlog_tiles::Tile::from_path(&path) else { return not_found() };
    if t.height() != 8 {
        return not_found();
    }
    let width = u64::from(t.width());
    let cache = if width == BUNDLE { "public, max-age=31536000, immutable" } else { "no-store" };
    let body = if t.is_data() {
        let start = t.level_index() * BUNDLE;
        if !heliograph_store::transparency_tile_within(&t, size) {
            return not_found();
        }
        match log.store.transparency_entries(start, width as u32).await {
            Ok(entries) if entries.len() as u64 == width => bundle(&entries),
            Ok(_) => return not_found(),
            Err(e) => return failed(e),
        }
    } else {
        match log.store.transparency_tile(&path, size).await {
            Ok(Some(data)) => data,
            Ok(None) => return not_found(),
            Err(e) => return failed(e),
        }
    };
    ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sign_and_verify_as_signed_note_reads_them() {
        let (signer, verifier) = keys_from_seed("example.org/transparency", [7; 32]);
        let s = StandardSigner::new(&signer).expect("a signer key signed_note reads");
        let mut note = Note::new(b"example.org/transparency\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", &[]).expect("note");
        note.add_sigs(&[&s]).expect("sign");
        assert_eq!(verifier_key_of(&signer).expect("verifier"), verifier);
        let checkpoint = open_checkpoint(&note.to_bytes(), &verifier).expect("verifies");
        assert_eq!(checkpoint.size(), 0);
        let (_, other) = keys_from_seed("example.org/transparency", [8; 32]);
        assert!(open_checkpoint(&note.to_bytes(), &other).is_err(), "another key does not verify it");
    }

    #[test]
    fn origins_and_bundles() {
        assert_eq!(origin(Some("https://chat.example.org/")), "chat.example.org/transparency");
        assert_eq!(origin(Some("http://127.0.0.1:8080")), "127.0.0.1:8080/transparency");
        assert_eq!(origin(None), "localhost/transparency");
        let entries = vec![b"{}".to_vec(), Vec::new(), vec![b'x'; 300]];
        assert_eq!(unbundle(&bundle(&entries)), Some(entries));
        assert_eq!(unbundle(&[0, 5, b'a']), None, "a length past the end");
    }
}

/// What `heliograph audit verify` found.
#[derive(Debug)]
pub struct Audited {
    pub origin: String,
    pub size: u64,
    pub root: String,
    /// The checkpoint as served (signed), to keep for the next audit's `--previous`.
    pub checkpoint: Vec<u8>,
    /// The report recomputed from the entries (it matched the served one).
    pub report: Value,
    /// The size of the previous checkpoint checked for consistency, if one was given.
    pub previous: Option<u64>,
    /// Whether the key was taken from the log itself rather than given.
    pub key_from_log: bool,
}

/// Audits the log at `base` (the server's URL): the checkpoint is signed by `key` (or by the
/// key the log serves, which proves less); every entry is fetched and the tree rebuilt from
/// them must have the checkpoint's root; the served hash tiles must be those of the entries;
/// a `previous` checkpoint (signed by the same key) must be a prefix of this one; and the
/// served transparency report must be what the entries say.
pub async fn audit(base: &str, key: Option<&str>, previous: Option<&[u8]>) -> anyhow::Result<Audited> {
    use anyhow::{bail, Context};
    let base = format!("{}/transparency", base.trim_end_matches('/'));
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let get = |path: String| {
        let http = http.clone();
        async move {
            let response = http.get(&path).send().await.with_context(|| format!("GET {path}"))?;
            if !response.status().is_success() {
                bail!("GET {path}: {}", response.status());
            }
            anyhow::Ok(response.bytes().await?.to_vec())
        }
    };
    let (key, key_from_log) = match key {
        Some(k) => (k.trim().to_string(), false),
        None => (String::from_utf8(get(format!("{base}/key")).await?)?.trim().to_string(), true),
    };
    // The report first: the checkpoint after it covers at least the entries it counted.
    let served: Value = serde_json::from_slice(&get(format!("{base}/report")).await?).context("the report is not JSON")?;
    let note = get(format!("{base}/checkpoint")).await?;
    let checkpoint = open_checkpoint(&note, &key)?;
    let size = checkpoint.size();
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
    let mut hashes: Vec<Hash> = Vec::new();
    let mut n = 0u64;
    while n < size {
        let width = (size - n).min(BUNDLE) as u32;
        let t = tlog_tiles::Tile::new(8, 0, n / BUNDLE, width, true);
        let data = get(format!("{base}/{}", t.path())).await?;
        let bundle = unbundle(&data).with_context(|| format!("{} is not an entry bundle", t.path()))?;
        if bundle.len() != width as usize {
            bail!("{} holds {} entries, not {width}", t.path(), bundle.len());
        }
        // The served hash tile of these leaves must be their record hashes.
        let leaves = get(format!("{base}/{}", tlog_tiles::Tile::new(8, 0, n / BUNDLE, width, false).path())).await?;
        for (i, e) in bundle.into_iter().enumerate() {
            let stored = tlog_tiles::stored_hashes(n + i as u64, &e, &Stored(&hashes))?;
            if leaves.get(i * 32..(i + 1) * 32) != Some(&stored[0].0[..]) {
                bail!(
                    "entry {} does not match its hash in the tree: an entry was rewritten (or the tiles were not made from the entries)",
                    n + i as u64
                );
            }
            hashes.extend(stored);
            entries.push(e);
        }
        n += u64::from(width);
    }
    let root = tlog_tiles::tree_hash(size, &Stored(&hashes))?;
    if root != *checkpoint.hash() {
        bail!("the {size} entries served do not hash to the checkpoint's root: an entry was rewritten");
    }
    let previous = match previous {
        Some(old) => {
            let old = open_checkpoint(old, &key).context("the previous checkpoint")?;
            if old.origin() != checkpoint.origin() {
                bail!("the previous checkpoint is of another log ({:?})", old.origin());
            }
            if old.size() > size {
                bail!("the log shrank from {} entries to {size}", old.size());
            }
            if tlog_tiles::tree_hash(old.size(), &Stored(&hashes))? != *old.hash() {
                bail!("the log is not an extension of the previous checkpoint ({} entries): its history was rewritten", old.size());
            }
            Some(old.size())
        }
        None => None,
    };
    let counted = served["entries"].as_u64().context("the report does not say how many entries it counts")?;
    if counted > size {
        bail!("the report counts {counted} entries, more than the checkpoint's {size}");
    }
    let report = report(&entries[..counted as usize]);
    if report != served {
        bail!("the served transparency report is not what the log's entries say:\nserved:     {served}\nrecomputed: {report}");
    }
    Ok(Audited { origin: checkpoint.origin().to_string(), size, root: root.to_string(), checkpoint: note, report, previous, key_from_log })
}

/// Stored hashes in order of their index, as an auditor rebuilds them from the entries.
struct Stored<'a>(&'a [Hash]);

impl tlog_tiles::HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes.iter().map(|&i| self.0.get(i as usize).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)).collect()
    }
}
