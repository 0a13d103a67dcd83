//! The one place where internal failures become stable wire error codes, and [`Failure`],
//! the error every request handler returns. Below every handler: imports nothing of the crate.

use heliograph_core::{InvalidValue, Spoofable};
use heliograph_proto::{Error, ErrorCode};

/// A failed request, ready for the wire.
#[derive(Debug)]
pub struct Failure(pub Error);

/// A store refusal as the client sees it.
pub fn from_store(e: heliograph_store::Error) -> Error {
    use heliograph_store::Error as S;
    let code = match &e {
        S::UserNotFound => ErrorCode::UserNotFound,
        S::ChatNotFound => ErrorCode::ChatNotFound,
        S::MessageNotFound => ErrorCode::MessageNotFound,
        S::WriteForbidden => ErrorCode::ChatWriteForbidden,
        S::AdminRequired => ErrorCode::ChatAdminRequired,
        S::AuthorRequired => ErrorCode::MessageAuthorRequired,
        S::Blocked => ErrorCode::UserBlocked,
        S::UsernameOccupied => ErrorCode::UsernameOccupied,
        S::TooManyMembers => ErrorCode::TooManyMembers,
        S::InviteInvalid => ErrorCode::InviteInvalid,
        S::FileNotFound => ErrorCode::FileNotFound,
        S::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
        S::ButtonNotFound => ErrorCode::ButtonDataInvalid,
        S::Invalid(_) => ErrorCode::BadParams,
        S::Sanctioned { .. } => ErrorCode::AccountRestricted,
        S::CommitConflict { epoch } | S::WrongEpoch { epoch, .. } => {
            let code = if matches!(e, S::CommitConflict { .. }) { ErrorCode::CommitConflict } else { ErrorCode::MlsWrongEpoch };
            return Error { epoch: Some(*epoch), ..Error::new(code, e.to_string()) };
        }
        S::MlsReplay => ErrorCode::MlsReplay,
        S::SecretChat => ErrorCode::SecretChat,
        S::SecretGroupFull => ErrorCode::TooManyMembers,
        S::Internal(detail) => {
            tracing::error!(%detail, "storage failure");
            return Error::new(ErrorCode::Internal, "the server could not complete the request; try again");
        }
    };
    Error::new(code, e.to_string())
}

/// A value that failed its check at the edge.
pub fn from_invalid(e: InvalidValue) -> Error {
    let code = match e {
        InvalidValue::Phone => ErrorCode::PhoneInvalid,
        InvalidValue::Username => ErrorCode::UsernameInvalid,
        InvalidValue::Name => ErrorCode::NameInvalid,
        InvalidValue::Bio => ErrorCode::BioInvalid,
        InvalidValue::Title => ErrorCode::TitleInvalid,
        InvalidValue::TextEmpty => ErrorCode::MessageEmpty,
        InvalidValue::TextTooLong { .. } => ErrorCode::MessageTooLong,
        InvalidValue::Code => ErrorCode::PhoneCodeInvalid,
        InvalidValue::Reaction => ErrorCode::ReactionInvalid,
        InvalidValue::TooManyReactions { .. } => ErrorCode::ReactionsTooMany,
        InvalidValue::Spoofing { what, .. } => match what {
            Spoofable::Name => ErrorCode::NameInvalid,
            Spoofable::Title => ErrorCode::TitleInvalid,
            Spoofable::Bio => ErrorCode::BioInvalid,
        },
    };
    Error::new(code, e.to_string())
}

impl From<heliograph_store::Error> for Failure {
    fn from(e: heliograph_store::Error) -> Self {
        Failure(from_store(e))
    }
}

/// A search refusal as the client sees it.
pub fn from_search(e: heliograph_search::Error) -> Error {
    use heliograph_search::Error as S;
    match e {
        S::Store(e) => from_store(e),
        S::Invalid(message) => Error::new(ErrorCode::BadParams, message),
        S::Index(detail) => {
            tracing::error!(%detail, "search index failure");
            Error::new(ErrorCode::Internal, "search is not available right now; try again")
        }
    }
}

impl From<heliograph_search::Error> for Failure {
    fn from(e: heliograph_search::Error) -> Self {
        Failure(from_search(e))
    }
}

impl From<InvalidValue> for Failure {
    fn from(e: InvalidValue) -> Self {
        Failure(from_invalid(e))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e)
    }
}

pub fn bad_params(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadParams, message)
}

pub fn flood_wait(retry_after: u32, what: &str) -> Error {
    Error {
        code: ErrorCode::FloodWait,
        message: format!("too many {what}; wait {retry_after} s"),
        retry_after: Some(retry_after),
        epoch: None,
    }
}

/// The HTTP status of an error answered over HTTP (`/files`); the body is the `proto::Error`.
pub fn http_status(code: ErrorCode) -> axum::http::StatusCode {
    use axum::http::StatusCode as H;
    match code {
        ErrorCode::AuthRequired | ErrorCode::SessionRevoked => H::UNAUTHORIZED,
        ErrorCode::FileNotFound => H::NOT_FOUND,
        ErrorCode::FileTooLarge | ErrorCode::QuotaExceeded => H::PAYLOAD_TOO_LARGE,
        ErrorCode::FilePartsMissing => H::CONFLICT,
        ErrorCode::FloodWait => H::TOO_MANY_REQUESTS,
        ErrorCode::Internal => H::INTERNAL_SERVER_ERROR,
        _ => H::BAD_REQUEST,
    }
}
