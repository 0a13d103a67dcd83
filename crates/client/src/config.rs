//! How to reach the servers and how patient to be with them.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::error::ClientError;
use crate::sync::SyncState;

/// Everything [`crate::Client::connect`] needs. Its `Debug` output hides the token.
#[derive(Clone)]
pub struct Config {
    /// Servers to use, in order of preference: `http://host:port`, `ws://host:port`,
    /// `https://host:port` or `wss://host:port` (the `/ws` path is added when there is none).
    /// When one fails the client moves to the next.
    pub urls: Vec<String>,
    /// Certificates to trust over `https`/`wss` besides the public web roots, as PEM text: a
    /// private CA, or a LAN server's self-signed certificate. `None`: the web roots only.
    pub ca_pem: Option<String>,
    /// A session token from an earlier sign-in, to `auth.authorize` every connection with.
    pub token: Option<String>,
    /// Where the application stood in the update logs last time ([`crate::Client::state`]).
    pub state: SyncState,
    /// First wait between two connection attempts; it doubles per failure (with jitter).
    pub reconnect_min: Duration,
    /// Longest wait between two connection attempts.
    pub reconnect_max: Duration,
    /// How long a call may take, waiting for a connection included, before it fails with
    /// [`ClientError::Timeout`]. Also bounds the WebSocket handshake and catch-up requests.
    pub request_timeout: Duration,
    /// A ping is sent after this much silence from the server; a connection still silent
    /// `request_timeout` later is considered dead and replaced.
    pub ping_interval: Duration,
    /// After this long without any update, the client fetches the difference on its own: a
    /// live push lost on the way (between server nodes) is picked up from the log.
    pub poll_interval: Duration,
    /// A call the server refuses with `FLOOD_WAIT` and a `retry_after` of at most this is
    /// sent again once that wait is over, as Telegram's own client libraries do; zero (the
    /// default) answers the refusal at once. Safe for every call: a refused request did
    /// nothing, and sends carry their `random_id`, so a retry never makes a duplicate.
    pub flood_wait: Duration,
    /// Told the seconds about to be waited before each such wait (to say so to a person).
    pub on_flood_wait: Option<Arc<dyn Fn(u32) + Send + Sync>>,
}

impl Config {
    /// A config for one server with default timings, no token and an empty state.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            urls: vec![url.into()],
            ca_pem: None,
            token: None,
            state: SyncState::new(),
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            poll_interval: Duration::from_secs(60),
            flood_wait: Duration::ZERO,
            on_flood_wait: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("urls", &self.urls)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<PEM>"))
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("state", &self.state)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("request_timeout", &self.request_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("poll_interval", &self.poll_interval)
            .field("flood_wait", &self.flood_wait)
            .finish_non_exhaustive()
    }
}

/// The WebSocket URL for a configured server URL: `http` becomes `ws`, `https` becomes `wss`,
/// and an empty path becomes `/ws`. A URL without a scheme is taken as `ws://`.
pub(crate) fn websocket_url(url: &str) -> Result<String, ClientError> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("ws".to_owned(), url),
    };
    let scheme = match scheme.as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => return Err(ClientError::Config(format!("`{url}`: unsupported scheme `{other}`; use http(s) or ws(s)"))),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(ClientError::Config(format!("`{url}`: no host")));
    }
    let path = match path {
        "" | "/" => "/ws".to_owned(),
        p if !p.starts_with('/') => format!("/ws{p}"),
        p => p.to_owned(),
    };
    Ok(format!("{scheme}://{authority}{path}"))
}

/// Wait before reconnect attempt number `failures` (0 = first after a drop): exponential from
/// `min`, capped at `max`, with "equal jitter" (a random point in the upper half) so that many
/// clients dropped at once do not come back in lockstep.
pub(crate) fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let max = max.max(min);
    let ceiling = min.saturating_mul(2u32.saturating_pow(failures.min(31))).min(max);
    let half = ceiling / 2;
    half + rand::rng().random_range(Duration::ZERO..=ceiling - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls() {
        let table: &[(&str, Result<&str, ()>)] = &[
            ("http://127.0.0.1:8080", Ok("ws://127.0.0.1:8080/ws")),
            ("http://127.0.0.1:8080/", Ok("ws://127.0.0.1:8080/ws")),
            ("ws://example.org:1", Ok("ws://example.org:1/ws")),
            ("WS://example.org", Ok("ws://example.org/ws")),
            ("ws://h:1/custom/ws", Ok("ws://h:1/custom/ws")),
            ("http://h:1?x=1", Ok("ws://h:1/ws?x=1")),
            ("localhost:9000", Ok("ws://localhost:9000/ws")),
            (" http://h:1 ", Ok("ws://h:1/ws")),
            ("https://h", Ok("wss://h/ws")),
            ("wss://h:8443/ws", Ok("wss://h:8443/ws")),
            ("ftp://h", Err(())),
            ("http://", Err(())),
            ("http:///ws", Err(())),
        ];
        for (input, expect) in table {
            let got = websocket_url(input).map_err(|_| ());
            assert_eq!(got.as_deref(), expect.as_ref().map(|s| *s), "{input}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let mut config = Config::new("http://h:1");
        config.token = Some("hunter2".into());
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn backoff_grows_within_bounds() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for failures in [0, 1, 2, 3, 4, 5, 10, 31, 32, u32::MAX] {
            let ceiling = (min * 2u32.saturating_pow(failures.min(31))).min(max);
            for _ in 0..50 {
                let wait = backoff(failures, min, max);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "failures={failures} wait={wait:?}");
            }
        }
        // A max below min is read as min.
        assert!(backoff(3, min, Duration::ZERO) <= min);
    }
}
