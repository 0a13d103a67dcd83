//! The profile folder: where `helio` keeps one signed-in session (`session.json`, mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use heliograph_client::SyncState;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// What `session.json` holds. The token is a secret: the file is readable by its owner only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The server URL this session belongs to.
    pub server: String,
    pub token: String,
    pub user_id: i64,
    #[serde(default)]
    pub session_id: i64,
    #[serde(default)]
    pub phone: String,
    /// Where `helio watch` stands in the update logs.
    #[serde(default)]
    pub state: SyncState,
}

/// The profile folder: `--profile`/`HELIO_PROFILE`, else `$HOME/.config/helio`.
pub fn dir(explicit: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(".config").join("helio")),
        _ => Err(CliError::new("NO_PROFILE", "no profile folder: pass --profile DIR or set HELIO_PROFILE (HOME is not set)")),
    }
}

fn file(dir: &Path) -> PathBuf {
    dir.join("session.json")
}

/// The stored session, or `None` when not logged in.
pub fn load(dir: &Path) -> Result<Option<Session>, CliError> {
    let path = file(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CliError::new("PROFILE_CORRUPT", format!("{}: {e}; log in again", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::new("PROFILE_IO", format!("{}: {e}", path.display()))),
    }
}

/// Writes the session atomically (temp file + rename), readable by the owner only.
pub fn save(dir: &Path, session: &Session) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::new("PROFILE_IO", format!("{}: {e}", dir.display()));
    let bytes = serde_json::to_vec_pretty(session).map_err(|e| CliError::new("PROFILE_IO", e.to_string()))?;
    write_private(&file(dir), &bytes).map_err(io)
}

/// Writes a profile file atomically (temp file + rename), readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // The mode above only applies to a new file.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Forgets the session.
pub fn remove(dir: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(file(dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::new("PROFILE_IO", format!("{}: {e}", dir.display()))),
    }
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
