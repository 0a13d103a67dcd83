//! One error line: `error: CODE: message`.

use heliograph_client::proto::ErrorCode;
use heliograph_client::ClientError;

/// A failed command: a stable `code` (the server's error code, or one of `helio`'s own:
/// `UNREACHABLE`, `TIMEOUT`, `DISCONNECTED`, `NOT_LOGGED_IN`, `BAD_ARGUMENT`, `PROFILE_IO`, ...)
/// and a message for people.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
}

impl CliError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError { code: code.to_owned(), message: message.into() }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Server(e) => {
                let hint = match e.code {
                    ErrorCode::AuthRequired | ErrorCode::SessionRevoked => {
                        " (session revoked or signed out: log in again with `helio login PHONE`)"
                    }
                    _ => "",
                };
                CliError::new(e.code.as_str(), format!("{}{hint}", e.message))
            }
            ClientError::Disconnected => CliError::new("DISCONNECTED", error.to_string()),
            ClientError::Timeout => CliError::new("TIMEOUT", error.to_string()),
            ClientError::Protocol(m) => CliError::new("PROTOCOL", m),
            ClientError::Io(e) => CliError::new("UNREACHABLE", e.to_string()),
            ClientError::Config(m) => CliError::new("BAD_SERVER_URL", m),
            other => CliError::new("CLIENT", other.to_string()),
        }
    }
}
