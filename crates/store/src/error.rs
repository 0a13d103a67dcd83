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
