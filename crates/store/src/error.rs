use std::sync::Arc;

use thiserror::Error;

/// What a store operation can refuse. The server maps each to one stable wire code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("no such user: check the id, phone number or @username")]
    UserNotFound,
    /// Also the answer for chats the actor is not a member of.
    #[error("no such chat, or you are not a member: check the chat id, or join the chat first")]
    ChatNotFound,
    #[error("no such message in this chat (it may have been deleted): refresh the history")]
    MessageNotFound,
    #[error("only admins can post in this chat: ask an admin to post it, or to make you one")]
    WriteForbidden,
    #[error("only admins can do this: ask an admin of the chat")]
    AdminRequired,
    #[error("only the author of the message can do this")]
    AuthorRequired,
    #[error("one of you blocked the other: unblock them (contacts.unblock) if it was you")]
    Blocked,
    #[error("that username is taken: choose another")]
    UsernameOccupied,
    #[error("the chat would have more members than allowed (200,000 for groups): use a channel for larger audiences")]
    TooManyMembers,
    #[error("the invite link is not valid: ask a chat admin for a current one")]
    InviteInvalid,
    /// Also the answer for files the user may not see.
    #[error("no such file, or not in a chat you are in: upload it again or ask the sender")]
    FileNotFound,
    #[error("storing this file would exceed your storage quota of {quota} bytes ({used} used)")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("the message has no button with that data (it may have been edited): refresh the chat")]
    ButtonNotFound,
    // --- secret chats (#15) ---
    /// Another commit ended this epoch first: process it, then commit again.
    #[error("another commit ended this epoch first; the group is at epoch {epoch}: process the newer commit and commit again")]
    CommitConflict { epoch: u64 },
    /// The message is not for the group's current epoch (not a commit race).
    #[error("the message is for epoch {got}, the group is at epoch {epoch}: catch up and send again")]
    WrongEpoch { got: u64, epoch: u64 },
    #[error("this exact MLS message is already in the chat: a replay is refused")]
    MlsReplay,
    #[error("this is a secret chat: its messages and members change only through MLS (secret.*)")]
    SecretChat,
    #[error("secret groups hold at most 200 members: use a cloud group for more")]
    SecretGroupFull,
    #[error("{0}")]
    Invalid(String),
    /// account (#16): an operator's sanction forbids this (see the moderation chat).
    #[error("{}", sanction_message(*.kind, *.until, .reason))]
    Sanctioned { kind: heliograph_core::SanctionKind, until: Option<i64>, reason: String },
    /// The storage itself failed (a driver error, a row that does not decode); never the
    /// caller's fault, and never shown to them in detail.
    #[error("storage failure: {0}")]
    Internal(Failure),
}

impl Error {
    /// A storage failure with no driver error behind it.
    pub(crate) fn internal(what: impl Into<String>) -> Error {
        Error::Internal(Failure { what: what.into(), sqlstate: None, source: None })
    }

    /// Says which table's row was being read when a value would not decode.
    pub(crate) fn reading(self, table: &str) -> Error {
        match self {
            Error::Internal(f) => Error::Internal(Failure { what: format!("a row of `{table}` does not decode: {}", f.what), ..f }),
            other => other,
        }
    }

    /// Did the command lose a race with a concurrent one that running it again can win
    /// (PostgreSQL: serialization failure, deadlock, or a unique key two nodes raced for)?
    pub(crate) fn lost_race(&self) -> bool {
        matches!(self, Error::Internal(f) if matches!(f.sqlstate.as_deref(), Some("40001" | "40P01" | "23505")))
    }
}

/// A storage failure: what failed, PostgreSQL's SQLSTATE when there is one, and the driver's
/// own error (shared, so [`Error`] stays `Clone`).
#[derive(Debug, Clone)]
pub struct Failure {
    what: String,
    sqlstate: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Failure {
    /// PostgreSQL's five-character error code (`40P01`, `23505`, …), when the database sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }

    /// `what` says what failed, in words that include the cause's own.
    pub(crate) fn caused_by(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Failure {
        Failure { what: what.into(), sqlstate: None, source: Some(Arc::new(source)) }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two failures are the same failure when they say the same; the driver errors behind them
/// cannot be compared.
impl PartialEq for Failure {
    fn eq(&self, other: &Failure) -> bool {
        self.what == other.what && self.sqlstate == other.sqlstate
    }
}

impl Eq for Failure {}

impl From<&str> for Failure {
    fn from(what: &str) -> Failure {
        Failure { what: what.to_string(), sqlstate: None, source: None }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(Failure { what: format!("SQLite: {e}"), sqlstate: None, source: Some(Arc::new(e)) })
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        // `Display` alone leaves out PostgreSQL's own message.
        let (what, sqlstate) = match e.as_db_error() {
            Some(db) => (format!("PostgreSQL: {}", db.message()), Some(db.code().code().to_string())),
            None => (format!("PostgreSQL: {e}"), e.code().map(|c| c.code().to_string())),
        };
        Error::Internal(Failure { what, sqlstate, source: Some(Arc::new(e)) })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// "your account is banned until 2026-12-31 (unix 1798675200): spam. See your chat with Moderation to appeal."
fn sanction_message(kind: heliograph_core::SanctionKind, until: Option<i64>, reason: &str) -> String {
    let what = match kind {
        heliograph_core::SanctionKind::Ban => "banned",
        heliograph_core::SanctionKind::Suspend => "suspended",
        heliograph_core::SanctionKind::Restrict => "restricted from sending",
    };
    let when = match until {
        Some(t) => format!(" until unix time {t}"),
        None => String::new(),
    };
    format!("your account is {what}{when} by this server's operators: {reason}. Your chat with Moderation says how to appeal")
}
