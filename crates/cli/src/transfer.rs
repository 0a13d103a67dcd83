//! `helio upload` and `helio download`: files over HTTP with a progress bar on a terminal.
//!
//! An upload is remembered in the profile (`uploads.json`: the file's SHA-256 and size → the
//! upload id) until it completes, so running the same `helio upload` again after an
//! interruption sends only the parts the server does not have. A download goes to
//! `PATH.part` first and resumes from its length with a `Range` request.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use heliograph_client::files::{hash_file, Files};
use heliograph_client::proto::{method::Direction, Content, ErrorCode, MediaKind};
use heliograph_client::Client;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;

fn io(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new("FILE_IO", format!("{what}: {e}"))
}

/// A bar with rate and ETA when stdout is a terminal; hidden otherwise.
fn bar(len: u64) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}") {
        bar.set_style(style);
    }
    bar
}

/// The MIME type and message kind for a file name, by its extension.
fn kind_of(path: &Path) -> (&'static str, MediaKind) {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => ("image/jpeg", MediaKind::Photo),
        "png" => ("image/png", MediaKind::Photo),
        "gif" => ("image/gif", MediaKind::Photo),
        "webp" => ("image/webp", MediaKind::Photo),
        "mp4" => ("video/mp4", MediaKind::Video),
        "webm" => ("video/webm", MediaKind::Video),
        "mov" => ("video/quicktime", MediaKind::Video),
        "mp3" => ("audio/mpeg", MediaKind::Audio),
        "m4a" => ("audio/mp4", MediaKind::Audio),
        "flac" => ("audio/flac", MediaKind::Audio),
        "ogg" | "opus" => ("audio/ogg", MediaKind::Voice),
        "pdf" => ("application/pdf", MediaKind::Document),
        "txt" => ("text/plain", MediaKind::Document),
        _ => ("application/octet-stream", MediaKind::Document),
    }
}

fn uploads_file(profile: &Path) -> PathBuf {
    profile.join("uploads.json")
}

fn load_uploads(profile: &Path) -> HashMap<String, String> {
    std::fs::read(uploads_file(profile)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_uploads(profile: &Path, uploads: &HashMap<String, String>) -> Result<(), CliError> {
    std::fs::create_dir_all(profile).map_err(|e| io("profile", e))?;
    let json = serde_json::to_vec(uploads).map_err(|e| io("uploads.json", e))?;
    std::fs::write(uploads_file(profile), json).map_err(|e| io("uploads.json", e))
}

/// `helio upload CHAT FILE [--caption TEXT]`: prints the message id.
pub async fn upload(
    client: &Client,
    files: &Files,
    profile: &Path,
    chat_id: i64,
    path: &Path,
    caption: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let (sha256, size) = hash_file(path).await.map_err(|e| io(&path.display().to_string(), e))?;
    let key = format!("{sha256}:{size}");
    let mut uploads = load_uploads(profile);
    let upload_id = match uploads.get(&key) {
        Some(id) => id.clone(),
        None => {
            let id = format!("helio-{:016x}", heliograph_client::random_id() as u64);
            uploads.insert(key.clone(), id.clone());
            save_uploads(profile, &uploads)?;
            id
        }
    };
    let (mime, kind) = kind_of(path);
    let progress = bar(size);
    let file = files.upload(path, &upload_id, &sha256, size, Some(mime), |done| progress.set_position(done)).await?;
    progress.finish_and_clear();
    // The same upload always sends with the same random_id: a rerun after a lost answer
    // returns the message already sent.
    let random_id = i64::from_str_radix(&sha256[..15], 16).unwrap_or(0) ^ chat_id;
    let sent = match client.send_media(chat_id, random_id, file.id, kind, caption).await {
        Err(e) if e.code() == Some(ErrorCode::PhotoInvalid) => {
            client.send_media(chat_id, random_id, file.id, MediaKind::Document, caption).await?
        }
        other => other?,
    };
    uploads.remove(&key);
    save_uploads(profile, &uploads)?;
    if json {
        println!("{}", serde_json::json!({"id": sent.message.id, "chat": chat_id, "file_id": file.id, "size": size, "sha256": sha256}));
    } else {
        println!("{}", sent.message.id);
    }
    Ok(())
}

/// `helio download CHAT MESSAGE_ID [-o PATH]`: prints where the file went.
pub async fn download(client: &Client, files: &Files, chat_id: i64, message_id: i64, output: Option<PathBuf>) -> Result<(), CliError> {
    let page = client.history(chat_id, Some(message_id + 1), Direction::Older, Some(1)).await?;
    let message = page
        .into_iter()
        .find(|m| m.id == message_id)
        .ok_or_else(|| CliError::new("MESSAGE_NOT_FOUND", format!("no message {message_id} in this chat")))?;
    let Content::Media(media) = message.content else {
        return Err(CliError::new("NO_FILE", format!("message {message_id} has no file")));
    };
    let target = output
        .unwrap_or_else(|| PathBuf::from(Path::new(&media.name).file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "file".into())));
    let partial = PathBuf::from(format!("{}.part", target.display()));
    let offset = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0).min(media.size);
    let mut out =
        tokio::fs::OpenOptions::new().create(true).append(true).open(&partial).await.map_err(|e| io(&partial.display().to_string(), e))?;
    let progress = bar(media.size);
    progress.set_position(offset);
    if offset < media.size {
        files.download(media.file_id, offset, &mut out, |done, _| progress.set_position(offset + done)).await?;
    }
    progress.finish_and_clear();
    drop(out);
    std::fs::rename(&partial, &target).map_err(|e| io(&target.display().to_string(), e))?;
    println!("{}", target.display());
    Ok(())
}
