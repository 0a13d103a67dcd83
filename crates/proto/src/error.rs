//! Stable error codes. A code never changes meaning once released; `message` is for people.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code, serialized as `SCREAMING_SNAKE_CASE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame is not valid JSON or not a request object.
    BadRequest,
    /// The method name is not one the server knows.
    UnknownMethod,
    /// The parameters are missing, of the wrong type, or out of range.
    BadParams,
    /// The frame is larger than the server accepts; the connection is closed.
    FrameTooLarge,
    /// The method needs a signed-in session (`auth.sign_in` or `auth.authorize` first).
    AuthRequired,
    /// The session token is unknown or was revoked.
    SessionRevoked,
    PhoneInvalid,
    PhoneCodeInvalid,
    PhoneCodeExpired,
    /// First sign-in of this phone number: repeat `auth.sign_in` with a `name`.
    NameRequired,
    NameInvalid,
    BioInvalid,
    TitleInvalid,
    UsernameInvalid,
    UsernameOccupied,
    UserNotFound,
    /// The chat does not exist, or you are not allowed to know that it does.
    ChatNotFound,
    MessageNotFound,
    MessageEmpty,
    MessageTooLong,
    /// You may read this chat but not post in it (channels: admins only).
    ChatWriteForbidden,
    ChatAdminRequired,
    /// Only the author may do this to a message.
    MessageAuthorRequired,
    /// The recipient blocked you, or you blocked them.
    UserBlocked,
    TooManyMembers,
    InviteInvalid,
    /// Too many requests: wait `retry_after` seconds.
    FloodWait,
    /// The file does not exist, or you may not see it.
    FileNotFound,
    /// The file is larger than the server accepts (`max_size` in the message).
    FileTooLarge,
    /// A part number or a part's size is wrong: every part is `UPLOAD_PART_SIZE` bytes
    /// except the last.
    FilePartInvalid,
    /// Parts are missing: upload them (`GET /files/uploads/{id}` lists what arrived) and
    /// complete again.
    FilePartsMissing,
    /// The parts do not add up to the SHA-256 given; the upload is discarded.
    FileHashMismatch,
    /// `photo` needs an image the server could decode within its limits; send it as a
    /// `document`.
    PhotoInvalid,
    /// Your storage quota is full.
    QuotaExceeded,
    /// The message has no button with that `callback_data` (it may have been edited).
    ButtonDataInvalid,
    /// You own as many bots as allowed (20).
    BotsTooMuch,
    // --- secret chats (#15) ---
    /// Another commit ended this epoch first; `epoch` is the group's epoch now: process the
    /// newer commit (it is in your updates), then commit again.
    CommitConflict,
    /// An application message for an epoch that is not the group's current one.
    MlsWrongEpoch,
    /// The MLS message does not decode or does not check (signature, group, sender, wire
    /// format, credentials).
    MlsInvalid,
    /// This exact MLS message is already in the chat.
    MlsReplay,
    /// A key package that does not decode or check, or is not for your own device.
    KeyPackageInvalid,
    /// A cloud operation on a secret chat: use `secret.*`.
    SecretChat,
    // daily use (#18)
    /// A reaction is one emoji, or a custom emoji id (`REACTION_INVALID`, as Telegram's).
    ReactionInvalid,
    /// More reactions than one person may set on a message (the limit is in the message).
    ReactionsTooMany,
    /// account (#16): an operator restricted, suspended or banned this account; the message
    /// says until when and why, and the chat with Moderation how to appeal.
    AccountRestricted,
    /// account (#16): only the operators named in the server's configuration may do this.
    OperatorRequired,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        // Must match the serde names above; `tests::codes_match_serde` checks it.
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::UnknownMethod => "UNKNOWN_METHOD",
            ErrorCode::BadParams => "BAD_PARAMS",
            ErrorCode::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorCode::AuthRequired => "AUTH_REQUIRED",
            ErrorCode::SessionRevoked => "SESSION_REVOKED",
            ErrorCode::PhoneInvalid => "PHONE_INVALID",
            ErrorCode::PhoneCodeInvalid => "PHONE_CODE_INVALID",
            ErrorCode::PhoneCodeExpired => "PHONE_CODE_EXPIRED",
            ErrorCode::NameRequired => "NAME_REQUIRED",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::BioInvalid => "BIO_INVALID",
            ErrorCode::TitleInvalid => "TITLE_INVALID",
            ErrorCode::UsernameInvalid => "USERNAME_INVALID",
            ErrorCode::UsernameOccupied => "USERNAME_OCCUPIED",
            ErrorCode::UserNotFound => "USER_NOT_FOUND",
            ErrorCode::ChatNotFound => "CHAT_NOT_FOUND",
            ErrorCode::MessageNotFound => "MESSAGE_NOT_FOUND",
            ErrorCode::MessageEmpty => "MESSAGE_EMPTY",
            ErrorCode::MessageTooLong => "MESSAGE_TOO_LONG",
            ErrorCode::ChatWriteForbidden => "CHAT_WRITE_FORBIDDEN",
            ErrorCode::ChatAdminRequired => "CHAT_ADMIN_REQUIRED",
            ErrorCode::MessageAuthorRequired => "MESSAGE_AUTHOR_REQUIRED",
            ErrorCode::UserBlocked => "USER_BLOCKED",
            ErrorCode::TooManyMembers => "TOO_MANY_MEMBERS",
            ErrorCode::InviteInvalid => "INVITE_INVALID",
            ErrorCode::FloodWait => "FLOOD_WAIT",
            ErrorCode::FileNotFound => "FILE_NOT_FOUND",
            ErrorCode::FileTooLarge => "FILE_TOO_LARGE",
            ErrorCode::FilePartInvalid => "FILE_PART_INVALID",
            ErrorCode::FilePartsMissing => "FILE_PARTS_MISSING",
            ErrorCode::FileHashMismatch => "FILE_HASH_MISMATCH",
            ErrorCode::PhotoInvalid => "PHOTO_INVALID",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::ButtonDataInvalid => "BUTTON_DATA_INVALID",
            ErrorCode::BotsTooMuch => "BOTS_TOO_MUCH",
            ErrorCode::CommitConflict => "COMMIT_CONFLICT",
            ErrorCode::MlsWrongEpoch => "MLS_WRONG_EPOCH",
            ErrorCode::MlsInvalid => "MLS_INVALID",
            ErrorCode::MlsReplay => "MLS_REPLAY",
            ErrorCode::KeyPackageInvalid => "KEY_PACKAGE_INVALID",
            ErrorCode::SecretChat => "SECRET_CHAT",
            ErrorCode::ReactionInvalid => "REACTION_INVALID",
            ErrorCode::ReactionsTooMany => "REACTIONS_TOO_MANY",
            ErrorCode::AccountRestricted => "ACCOUNT_RESTRICTED",
            ErrorCode::OperatorRequired => "OPERATOR_REQUIRED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: a stable code, a sentence for people, and for `FLOOD_WAIT` how long to wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// For `COMMIT_CONFLICT` and `MLS_WRONG_EPOCH`: the group's current epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), retry_after: None, epoch: None }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_serde() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::MessageAuthorRequired,
            ErrorCode::FloodWait,
            ErrorCode::FilePartsMissing,
            ErrorCode::QuotaExceeded,
            ErrorCode::ButtonDataInvalid,
            ErrorCode::BotsTooMuch,
            ErrorCode::CommitConflict,
            ErrorCode::MlsWrongEpoch,
            ErrorCode::KeyPackageInvalid,
            ErrorCode::SecretChat,
            ErrorCode::ReactionInvalid,
            ErrorCode::ReactionsTooMany,
            ErrorCode::AccountRestricted,
            ErrorCode::OperatorRequired,
            ErrorCode::Internal,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::from(code.as_str()));
        }
    }
}
