//! Login codes and session tokens: making them, hashing them, and delivering codes.
//!
//! Codes and tokens are secrets: they are stored only as SHA-256 hashes and never logged.
//! The one exception is [`LogSender`], the code provider an operator chooses explicitly when
//! the server log *is* the delivery channel (a server without an SMS gateway), and the one
//! `--dev` uses. Outside `--dev` there is no default: [`sender`] refuses to start without one.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use heliograph_core::{LoginCode, Phone};
use rand::{Rng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{CodeProvider, Config, HttpCodeProvider};

/// Bytes of salt per stored code hash.
pub const SALT_LEN: usize = 16;
/// Random bytes in a session token (hex-encoded, so tokens are twice as many characters).
pub const TOKEN_BYTES: usize = 32;

/// A fresh login code: [`LoginCode::LEN`] decimal digits from a CSPRNG (`rand`'s thread RNG,
/// ChaCha seeded by the OS).
pub fn generate_code() -> String {
    let n = rand::rng().random_range(0..10u32.pow(LoginCode::LEN as u32));
    format!("{n:0width$}", width = LoginCode::LEN)
}

pub fn new_salt() -> [u8; SALT_LEN] {
    let mut salt = [0; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// What is stored for a code: SHA-256 over `salt || code`.
pub fn hash_code(salt: &[u8], code: &str) -> Vec<u8> {
    Sha256::new().chain_update(salt).chain_update(code.as_bytes()).finalize().to_vec()
}

/// Whether `code` is the one whose hash is `stored`, compared in constant time.
pub fn code_matches(salt: &[u8], code: &str, stored: &[u8]) -> bool {
    let hash = hash_code(salt, code);
    hash.len() == stored.len() && hash.iter().zip(stored).fold(0, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// A fresh session token: [`TOKEN_BYTES`] random bytes, hex-encoded. Shown to the client
/// once; only [`hash_token`] of it is stored.
pub fn new_token() -> String {
    let mut bytes = [0; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a token, and what a presented token is looked up by. Unsalted: the
/// token has 256 bits of entropy, and the hash must be a lookup key.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a code could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the code provider URL {0:?} is not valid")]
    Url(String),
    /// Connecting, sending or the timeout failed. The URL is left out: it may carry a key.
    #[error("the code provider could not be reached: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the code provider refused the code: HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error(
        "no code provider is configured: set `[code_provider] kind = \"http\"` and `url` (your SMS gateway), or choose `kind = \"log\"` to write login codes to the server log (whoever reads it can sign in as anyone); --dev logs them without asking"
    )]
    NotConfigured,
}

/// Delivers a login code to a phone number.
#[async_trait]
pub trait CodeSender: Send + Sync + 'static {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), CodeError>;
}

/// The configured provider; in `dev` without one, [`LogSender`]. Outside `dev` a provider
/// must be chosen: a default that logs codes would let whoever reads the log sign in as
/// anyone without the operator ever deciding so.
pub fn sender(config: &Config) -> Result<Arc<dyn CodeSender>, CodeError> {
    Ok(match (&config.code_provider, config.dev) {
        (Some(CodeProvider::Log), _) | (None, true) => Arc::new(LogSender),
        (Some(CodeProvider::Http(http)), _) => Arc::new(HttpSender::new(http)?),
        (None, false) => return Err(CodeError::NotConfigured),
    })
}

/// Writes codes to the server log at `info`. The only place in the server a code is logged.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

#[async_trait]
impl CodeSender for LogSender {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), CodeError> {
        // Only the last four digits: enough to tell codes apart, not a number kept in the log.
        let tail: String = phone.as_str().chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        tracing::info!(phone_ends = %tail, code, "login code (log provider, not delivered)");
        Ok(())
    }
}

/// POSTs `{"phone", "code", "text"}` as JSON to an SMS gateway; any answer but 2xx is a
/// failure.
pub struct HttpSender {
    client: reqwest::Client,
    url: reqwest::Url,
    bearer_token: Option<String>,
}

impl fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSender").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

/// The body posted to the gateway.
#[derive(Serialize)]
struct CodeMessage<'a> {
    phone: &'a str,
    code: &'a str,
    text: String,
}

impl HttpSender {
    pub fn new(config: &HttpCodeProvider) -> Result<HttpSender, CodeError> {
        let url = reqwest::Url::parse(&config.url).map_err(|_| CodeError::Url(config.url.clone()))?;
        let client = reqwest::Client::builder().timeout(config.timeout()).build().map_err(CodeError::Request)?;
        Ok(HttpSender { client, url, bearer_token: config.bearer_token.clone() })
    }
}

#[async_trait]
impl CodeSender for HttpSender {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), CodeError> {
        let body = CodeMessage { phone: phone.as_str(), code, text: format!("Your Heliograph code is {code}") };
        let mut request = self.client.post(self.url.clone()).json(&body);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| CodeError::Request(e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(CodeError::Status(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use axum::{Json, Router};
    use tokio::sync::mpsc;

    #[test]
    fn codes_are_five_digits_and_vary() {
        let codes: Vec<String> = (0..200).map(|_| generate_code()).collect();
        for code in &codes {
            assert!(LoginCode::parse(code).is_ok(), "{code:?}");
        }
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 150, "200 codes drawn from 100,000 should rarely repeat");
    }

    #[test]
    fn code_hashes_depend_on_salt_and_code() {
        let (salt, other_salt) = (new_salt(), new_salt());
        let stored = hash_code(&salt, "12345");
        assert_eq!(stored.len(), 32);
        assert!(code_matches(&salt, "12345", &stored));
        assert!(!code_matches(&salt, "12346", &stored));
        assert!(!code_matches(&other_salt, "12345", &stored));
        assert!(!code_matches(&salt, "12345", &stored[..31]));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_ne!(hash_token(&a), a.as_bytes());
    }

    /// What the mock gateway saw: the authorization header and the JSON body.
    type Seen = (Option<String>, serde_json::Value);

    /// A stand-in for an external SMS gateway on 127.0.0.1:0: `/ok` accepts, `/fail` answers
    /// 500, `/hang` never answers. Returns its base URL and what `/ok` received.
    async fn mock_gateway() -> (String, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Router::new()
            .route(
                "/ok",
                post(move |headers: HeaderMap, Json(body): Json<serde_json::Value>| async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let _ = tx.send((auth, body));
                    StatusCode::NO_CONTENT
                }),
            )
            .route("/fail", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route("/hang", post(std::future::pending::<StatusCode>));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), rx)
    }

    fn http_sender(url: String, bearer_token: Option<&str>, timeout_ms: u64) -> HttpSender {
        let config = HttpCodeProvider { url, bearer_token: bearer_token.map(str::to_owned), timeout_ms };
        HttpSender::new(&config).expect("sender")
    }

    fn phone() -> Phone {
        Phone::parse("+14155550100").expect("phone")
    }

    #[tokio::test]
    async fn http_sender_posts_the_code_with_the_bearer_token() {
        let (base, mut seen) = mock_gateway().await;
        let sender = http_sender(format!("{base}/ok"), Some("t0ken"), 5000);

        sender.send(&phone(), "12345").await.expect("delivered");

        let (auth, body) = seen.recv().await.expect("the gateway was called");
        assert_eq!(auth.as_deref(), Some("Bearer t0ken"));
        assert_eq!(body, serde_json::json!({"phone": "+14155550100", "code": "12345", "text": "Your Heliograph code is 12345"}));

        let anonymous = http_sender(format!("{base}/ok"), None, 5000);
        anonymous.send(&phone(), "54321").await.expect("delivered");
        assert_eq!(seen.recv().await.expect("called").0, None, "no token, no header");
    }

    #[tokio::test]
    async fn http_sender_fails_on_an_error_status_or_a_timeout() {
        let (base, _seen) = mock_gateway().await;

        let failed = http_sender(format!("{base}/fail"), None, 5000).send(&phone(), "12345").await;
        assert!(matches!(failed, Err(CodeError::Status(StatusCode::INTERNAL_SERVER_ERROR))), "{failed:?}");

        let hung = http_sender(format!("{base}/hang"), None, 50).send(&phone(), "12345").await;
        assert!(matches!(&hung, Err(CodeError::Request(e)) if e.is_timeout()), "{hung:?}");
        let message = hung.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!message.contains("12345"), "the code stays out of errors: {message}");
    }

    #[test]
    fn the_configured_provider_is_built() {
        let with = |provider: Option<CodeProvider>, dev: bool| sender(&Config { code_provider: provider, dev, ..Config::default() });
        assert!(with(Some(CodeProvider::Log), false).is_ok(), "the log, chosen explicitly");
        assert!(with(None, true).is_ok(), "--dev logs codes");
        let refused = with(None, false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("kind = \"http\"") && refused.contains("kind = \"log\""), "{refused}");
        let bad = HttpCodeProvider { url: "not a url".into(), bearer_token: None, timeout_ms: 1 };
        assert!(matches!(with(Some(CodeProvider::Http(bad)), false), Err(CodeError::Url(_))));
    }
}
