//! The SDK's own failures.

use heliograph_proto::ErrorCode;

/// Why a call (or [`crate::Client::connect`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error; match on its stable `code`. For
    /// [`ErrorCode::FloodWait`], `retry_after` says how many seconds to wait.
    #[error("server error {0}")]
    Server(heliograph_proto::Error),
    /// The connection dropped while the request was in flight, so whether the server acted on
    /// it is unknown. Retrying is safe for reads and for sends with the same `random_id`
    /// ([`crate::Client::send_message_with_random_id`]): the server returns the original.
    #[error("disconnected before the server answered; retry (sends with the same random_id)")]
    Disconnected,
    /// No answer within [`crate::Config::request_timeout`] (including the time spent waiting
    /// for a connection). As with `Disconnected`, the server may or may not have acted on it.
    #[error("no answer from the server in time")]
    Timeout,
    /// The server said something this SDK cannot read (a result of the wrong shape, ...).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection could not be made (DNS, refused, TLS, HTTP upgrade failed, ...).
    #[error("cannot connect: {0}")]
    Io(#[from] std::io::Error),
    /// The [`crate::Config`] cannot work (no URL, a URL this SDK cannot use, ...).
    #[error("bad client config: {0}")]
    Config(String),
    /// An HTTP request (`/files`) failed below the protocol: connection, timeout, body.
    #[error("HTTP: {0}")]
    Http(String),
}

impl ClientError {
    /// The server's error code, when the server answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(error) => Some(error.code),
            _ => None,
        }
    }
}

impl From<heliograph_proto::Error> for ClientError {
    fn from(error: heliograph_proto::Error) -> Self {
        ClientError::Server(error)
    }
}
