use thiserror::Error;

/// What a store operation can refuse. The server maps each to one stable wire code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("no such user")]
    UserNotFound,
    /// Also the answer for chats the actor is not a member of.
    #[error("no such chat")]
    ChatNotFound,
    #[error("no such message")]
    MessageNotFound,
    #[error("only admins can post in this chat")]
    WriteForbidden,
    #[error("only admins can do this")]
    AdminRequired,
    #[error("only the author can do this")]
    AuthorRequired,
    #[error("one of you blocked the other")]
    Blocked,
    #[error("that username is taken")]
    UsernameOccupied,
    #[error("the chat would have more members than allowed")]
    TooManyMembers,
    #[error("the invite link is not valid")]
    InviteInvalid,
    /// Also the answer for files the user may not see.
    #[error("no such file")]
    FileNotFound,
    #[error("storing this file would exceed your storage quota of {quota} bytes ({used} used)")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("storage failure: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
