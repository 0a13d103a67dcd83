//! Uploads and downloads over HTTP (`/files/...`, see `docs/protocol.md`), next to the
//! WebSocket: resumable uploads in parts, streamed downloads with `Range`.
//!
//! Neither direction holds a whole file in memory: an upload keeps at most
//! [`Files::parallel`] parts in flight (each read from disk with a positioned read when its
//! turn comes), a download writes each chunk as it arrives (through a 1 MiB buffer).

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use heliograph_proto::{self as proto, CompleteUpload, UploadState, UPLOAD_PART_SIZE};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ClientError;

/// An HTTP client for `/files`, signed in with a session token.
#[derive(Clone)]
pub struct Files {
    http: reqwest::Client,
    /// `http://host:port`, no trailing slash.
    base: String,
    token: String,
    parallel: usize,
}

/// Parts in flight at once during an upload, unless [`Files::with_parallel`] says otherwise.
pub const PARALLEL_PARTS: usize = 4;
/// Times a part is sent when the connection fails (not when the server refuses it).
const PART_ATTEMPTS: u32 = 3;

fn http(e: reqwest::Error) -> ClientError {
    ClientError::Http(e.to_string())
}

/// The server's `proto::Error` from a failed answer, or a protocol error saying what came.
async fn failure(response: reqwest::Response) -> ClientError {
    let status = response.status();
    match response.json::<proto::Error>().await {
        Ok(e) => ClientError::Server(e),
        Err(_) => ClientError::Protocol(format!("HTTP {status} without an error body")),
    }
}

/// The SHA-256 (hex) and size of a file, read in pieces.
pub async fn hash_file(path: &Path) -> Result<(String, u64), ClientError> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

impl Files {
    /// `server` is the server's address (`http://host:port`, or its `ws://.../ws` URL);
    /// `token` the session token.
    pub fn new(server: &str, token: &str) -> Result<Files, ClientError> {
        let base = server.trim_end_matches('/').trim_end_matches("/ws");
        let base = if let Some(rest) = base.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = base.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            base.to_string()
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Config(format!("{server:?} is not an http(s):// or ws(s):// URL")));
        }
        Ok(Files { http: reqwest::Client::new(), base, token: token.to_string(), parallel: PARALLEL_PARTS })
    }

    /// Trusts the certificates in `ca_pem` over `https` besides the public web roots, as
    /// [`crate::Config::ca_pem`] does for the WebSocket.
    pub fn with_ca_pem(mut self, ca_pem: &str) -> Result<Files, ClientError> {
        let tls = crate::tls::client_config(Some(ca_pem))?;
        self.http = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
            .build()
            .map_err(|e| ClientError::Config(format!("TLS: {e}")))?;
        Ok(self)
    }

    /// Sends up to `parts` parts at once during [`Files::upload`] (at least 1).
    pub fn with_parallel(mut self, parts: usize) -> Files {
        self.parallel = parts.max(1);
        self
    }

    /// Parts in flight at once during an upload.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Which parts of `upload_id` the server holds.
    pub async fn upload_state(&self, upload_id: &str) -> Result<UploadState, ClientError> {
        let r = self.http.get(self.url(&format!("/files/uploads/{upload_id}"))).bearer_auth(&self.token).send().await.map_err(http)?;
        if !r.status().is_success() {
            return Err(failure(r).await);
        }
        r.json().await.map_err(http)
    }

    /// Sends part `n` (sending it again is harmless).
    pub async fn put_part(&self, upload_id: &str, n: u64, bytes: Vec<u8>) -> Result<(), ClientError> {
        let r = self
            .http
            .put(self.url(&format!("/files/uploads/{upload_id}/parts/{n}")))
            .bearer_auth(&self.token)
            .body(bytes)
            .send()
            .await
            .map_err(http)?;
        if !r.status().is_success() {
            return Err(failure(r).await);
        }
        Ok(())
    }

    /// Finishes an upload: the server checks size and hash and answers the stored file.
    pub async fn complete(&self, upload_id: &str, req: &CompleteUpload) -> Result<proto::File, ClientError> {
        let r = self
            .http
            .post(self.url(&format!("/files/uploads/{upload_id}/complete")))
            .bearer_auth(&self.token)
            .json(req)
            .send()
            .await
            .map_err(http)?;
        if !r.status().is_success() {
            return Err(failure(r).await);
        }
        r.json().await.map_err(http)
    }

    /// Uploads `path` as `upload_id`, sending only the parts the server does not have yet (so
    /// calling it again after an interruption resumes), up to [`Files::parallel`] at once in
    /// any order (a part whose connection fails is sent again, up to three times), then
    /// completes it. `sha256` and `size` come from [`hash_file`]. `progress` is called with the
    /// bytes the server holds so far.
    pub async fn upload(
        &self,
        path: &Path,
        upload_id: &str,
        sha256: &str,
        size: u64,
        mime: Option<&str>,
        mut progress: impl FnMut(u64),
    ) -> Result<proto::File, ClientError> {
        let have = self.upload_state(upload_id).await?.parts;
        let count = size.div_ceil(UPLOAD_PART_SIZE);
        let part_len = |n: u64| if n + 1 < count { UPLOAD_PART_SIZE } else { size - n * UPLOAD_PART_SIZE };
        let mut done: u64 = have.iter().filter(|&&n| n < count).map(|&n| part_len(n)).sum();
        progress(done);
        let file = Arc::new(std::fs::File::open(path)?);
        let send = |n: u64| {
            let file = file.clone();
            async move {
                let len = part_len(n);
                let mut attempt = 1;
                loop {
                    let file = file.clone();
                    let read = tokio::task::spawn_blocking(move || {
                        let mut buf = vec![0u8; len as usize];
                        file.read_exact_at(&mut buf, n * UPLOAD_PART_SIZE).map(|()| buf)
                    });
                    let bytes = read.await.map_err(|e| ClientError::Protocol(format!("reading a part failed: {e}")))??;
                    match self.put_part(upload_id, n, bytes).await {
                        Err(ClientError::Http(_)) if attempt < PART_ATTEMPTS => attempt += 1,
                        Err(e) => return Err(e),
                        Ok(()) => return Ok(len),
                    }
                }
            }
        };
        let mut sent =
            futures_util::stream::iter((0..count).filter(|n| have.binary_search(n).is_err())).map(send).buffer_unordered(self.parallel);
        while let Some(len) = sent.next().await {
            done += len?;
            progress(done);
        }
        drop(sent);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file").to_string();
        self.complete(upload_id, &CompleteUpload { size, sha256: sha256.to_string(), name, mime: mime.map(str::to_string) }).await
    }

    /// Downloads file `file_id` from byte `offset` on into `out`; returns the file's total
    /// size. `progress` gets the bytes written so far (from `offset`).
    pub async fn download(
        &self,
        file_id: i64,
        offset: u64,
        out: &mut (impl AsyncWrite + Unpin),
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, ClientError> {
        let mut request = self.http.get(self.url(&format!("/files/{file_id}"))).bearer_auth(&self.token);
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let r = request.send().await.map_err(http)?;
        if !r.status().is_success() {
            return Err(failure(r).await);
        }
        let total = r.content_length().map(|len| len + offset);
        let mut written = 0u64;
        let mut body = r.bytes_stream();
        let mut out = tokio::io::BufWriter::with_capacity(1024 * 1024, out);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(http)?;
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
            progress(written, total);
        }
        out.flush().await?;
        Ok(total.unwrap_or(offset + written))
    }
}
