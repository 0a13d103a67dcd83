//! Server configuration.
//!
//! Layers, each overriding the one before:
//! 1. the defaults below ([`Config::default`]), enough to run with no file at all;
//! 2. an optional TOML file (`heliograph serve --config heliograph.toml`);
//! 3. environment variables `HELIOGRAPH_<KEY>`, with `__` between nested keys:
//!    `HELIOGRAPH_LIMITS__SEND_QUEUE=2048`, `HELIOGRAPH_CODE_PROVIDER__KIND=http`;
//! 4. command-line flags ([`Overrides`]).
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! data_dir = "/var/lib/heliograph"
//!
//! [code_provider]
//! kind = "http"
//! url = "https://sms.example.net/send"
//! bearer_token = "..."
//! timeout_ms = 5000
//!
//! [limits]
//! send_queue = 2048
//! ```
//!
//! A key the file does not know is an error (a typo must not silently leave a default in
//! place). Environment variables are read only for keys that exist, so other `HELIOGRAPH_*`
//! variables (say, one naming the config file) do not collide.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::limits::Rate;

/// Prefix of the environment variables read as configuration.
pub const ENV_PREFIX: &str = "HELIOGRAPH_";

/// Keys whose environment values are taken as written. Figment reads other values as TOML
/// scalars, so a token `12345` would become a number (and be refused) and `0123` would become
/// `123`.
const VERBATIM_KEYS: [&str; 13] = [
    "data_dir",
    "database",
    "bus",
    "public_url",
    "code_provider.url",
    "code_provider.bearer_token",
    "files.storage.bucket",
    "files.storage.endpoint",
    "tls.cert",
    "tls.key",
    // account (#16)
    "accountability.phone_key_file",
    "accountability.disclosure_public_key",
    "accountability.appeal",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP and WebSocket listener binds.
    pub listen: SocketAddr,
    /// Where the database and uploaded files live.
    pub data_dir: PathBuf,
    /// The database: `None` keeps the embedded SQLite under `data_dir`; a `postgres://` URL
    /// selects PostgreSQL, which several nodes may share.
    pub database: Option<DatabaseUrl>,
    /// The fan-out between nodes: `None` keeps it in-process (one node); a `nats://` URL
    /// carries live notices between the nodes that share one PostgreSQL database.
    pub bus: Option<String>,
    /// Development mode: test phone numbers are accepted. Never on a public server.
    pub dev: bool,
    /// Accept Telegram-style test numbers (`+99966XYYYY`, code `XXXXX`). Always on in `dev`;
    /// see [`Config::test_numbers_enabled`].
    pub test_numbers: bool,
    /// The address people reach this server at, for links it hands out (invite links), e.g.
    /// `https://chat.example.org`. Defaults to `http://` + `listen`.
    pub public_url: Option<String>,
    /// How login codes reach people. Required outside `dev` (where codes are logged): the
    /// server refuses to start without one ([`crate::codes::sender`]).
    pub code_provider: Option<CodeProvider>,
    pub limits: Limits,
    /// Uploads, storage and quotas.
    pub files: Files,
    /// Deliver bots' webhooks from this node. Every node accepts `setWebhook`; in a cluster,
    /// turn this off on all nodes but one, so each update is POSTed once.
    pub bot_webhooks: bool,
    /// Where `/metrics` (and a second `/healthz`) are served: a listener of their own, never
    /// the public port. `None` (the default): metrics are not served. Keep it on loopback or
    /// a private network; it has no authentication.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve HTTPS and WSS on `listen` with this certificate (see [`Tls`]). `None`: plain
    /// HTTP (behind a TLS-terminating proxy, or on loopback).
    pub tls: Option<Tls>,
    /// Requests the server makes for users (webhooks): what they may reach.
    pub egress: crate::egress::EgressConfig,
    /// Wrong tokens and login codes checked before the sender must wait.
    pub failed_auth: crate::limits::FailedAuthLimits,
    /// account (#16): sealed phone numbers, reports, moderation.
    pub accountability: Accountability,
}

/// Sealed phone numbers, reports and moderation (`docs/accountability.md`).
///
/// ```toml
/// [accountability]
/// phone_key_file = "/etc/heliograph/phone.key"   # the same file on every node
/// disclosure_public_key = "3b6a27bc…"            # hex, from `heliograph admin disclosure-key`
/// operators = [1, 42]                            # account ids that moderate
/// appeal = "write to abuse@example.org"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accountability {
    /// The HMAC key numbers are looked up by (32 random bytes, hex). `None`: `phone.key` in
    /// the data folder, made at first start. Never in the database: with a dump alone, a
    /// number cannot be checked against the hashes.
    pub phone_key_file: Option<PathBuf>,
    /// The X25519 public key numbers are sealed to (hex). `None`: `disclosure.pub` in the
    /// data folder; at first start a key pair is made there and the private half written
    /// beside it as `disclosure-private.key`, for the operator to move off the machine.
    pub disclosure_public_key: Option<String>,
    /// Accounts (ids) that may review reports and act on them.
    pub operators: Vec<i64>,
    /// The transparency log's signing key (a signed-note signer key, for the origin
    /// `<public_url without scheme>/transparency`). `None`: `transparency.key` in the data
    /// folder, made at first start. Every node of one deployment must share it.
    pub log_key_file: Option<PathBuf>,
    /// How a sanctioned person can appeal, quoted in every notice.
    pub appeal: String,
}

impl Default for Accountability {
    fn default() -> Accountability {
        Accountability {
            phone_key_file: None,
            disclosure_public_key: None,
            operators: Vec::new(),
            log_key_file: None,
            appeal: "reply to this message to appeal; an operator will review it".into(),
        }
    }
}

/// TLS built in: PEM files, reloaded when they change (a renewal needs no restart).
///
/// ```toml
/// [tls]
/// cert = "/etc/heliograph/tls/fullchain.pem"   # the certificate chain, leaf first
/// key = "/etc/heliograph/tls/privkey.pem"      # PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./heliograph-data"),
            database: None,
            bus: None,
            dev: false,
            test_numbers: false,
            public_url: None,
            code_provider: None,
            limits: Limits::default(),
            files: Files::default(),
            bot_webhooks: true,
            metrics_listen: None,
            tls: None,
            egress: crate::egress::EgressConfig::default(),
            failed_auth: crate::limits::FailedAuthLimits::default(),
            accountability: Accountability::default(),
        }
    }
}

/// A PostgreSQL URL (`postgres://user:password@host:port/dbname`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keeps a password in the URL out of logs.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match reqwest::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("redacted"));
                }
                write!(f, "{:?}", url.as_str())
            }
            Err(_) => f.write_str("<not a URL>"),
        }
    }
}

/// How login codes are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CodeProvider {
    /// Written to the server log, for development and for operators without an SMS gateway.
    /// Anyone who can read the log can sign in as anyone, so it must be chosen explicitly.
    Log,
    /// POSTed to an HTTP gateway that sends the SMS (see `codes::HttpSender`).
    Http(HttpCodeProvider),
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCodeProvider {
    /// The gateway endpoint, `http://` or `https://`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// How long one delivery may take before it counts as failed.
    #[serde(default = "HttpCodeProvider::default_timeout_ms")]
    pub timeout_ms: u64,
}

impl HttpCodeProvider {
    fn default_timeout_ms() -> u64 {
        5000
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Keeps the token out of logs (`tracing::info!(?config)` must be safe).
impl fmt::Debug for HttpCodeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCodeProvider")
            .field("url", &self.url)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// The bounds that keep one client from hurting others (bounded everything: a slow or
/// malicious client can hurt only itself; ARCHITECTURE.md, Invariants 6), and the sizes of the
/// server's own batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket frame read; a larger one closes the connection.
    pub max_frame_bytes: usize,
    /// Live notices queued per connection before it is told to resync.
    pub send_queue: usize,
    /// Sustained requests per second per session.
    pub requests_per_second: u32,
    /// Requests a session may make at once after a quiet spell.
    pub requests_burst: u32,
    /// Login codes sent to one phone number per hour.
    pub codes_per_phone_per_hour: u32,
    /// Login codes requested from one client address per hour.
    pub codes_per_address_per_hour: u32,
    /// account (#16): reports one account may make per hour (`messages.report`), a burst of
    /// as many at once.
    pub reports_per_hour: u32,
    /// Open connections on the public port (TCP, and WebSockets among them), all clients
    /// together. Unset: the open-file limit less `reserved_descriptors`
    /// ([`crate::limits::ConnectionCaps::derive`]).
    pub max_connections: Option<usize>,
    /// Open connections from one client address (an IPv4 address or an IPv6 /64), counted at
    /// accept, before any HTTP is read. Unset: a quarter of `max_connections`, at most 1,000.
    /// Behind a reverse proxy every client has the proxy's address: raise this (and the
    /// per-address rate) there.
    pub max_connections_per_address: Option<usize>,
    /// File descriptors never given to connections on the public port: the database, files
    /// being served, logs, the metrics listener. Unset: a tenth of the open-file limit, at
    /// least 128.
    pub reserved_descriptors: Option<usize>,
    /// Sustained requests per second from one client address, all its connections and
    /// sessions together (signed in or not). Past it a request gets `FLOOD_WAIT` and the
    /// connection is not read until the wait is over.
    pub requests_per_address_per_second: u32,
    /// A connection that sends no complete frame (a request, or a WebSocket ping) for this
    /// many seconds is closed: it catches clients that start a frame and never finish it.
    /// Clients keep an idle connection open by pinging (the SDK polls every 60 s).
    pub idle_timeout_secs: u64,
    /// Seconds a client may take to send the headers of an HTTP request (including the
    /// WebSocket upgrade); a slower one is disconnected (slowloris).
    pub header_read_timeout_secs: u64,
    /// A group with more members than this keeps its own update log, like a channel.
    pub large_group_threshold: u64,
    /// Most updates in one page of a difference.
    pub difference_limit: u32,
    /// A client further behind than this many updates gets `TooLong` and reloads instead.
    pub difference_horizon: i64,
    /// Most sends committed in one database transaction.
    pub group_commit_max_batch: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: heliograph_proto::frame::MAX_FRAME_BYTES,
            send_queue: 1024,
            requests_per_second: 50,
            requests_burst: 100,
            codes_per_phone_per_hour: 5,
            codes_per_address_per_hour: 20,
            reports_per_hour: 20,
            max_connections: None,
            max_connections_per_address: None,
            reserved_descriptors: None,
            requests_per_address_per_second: 1_000,
            idle_timeout_secs: 180,
            header_read_timeout_secs: 10,
            large_group_threshold: 200,
            difference_limit: 1000,
            difference_horizon: 100_000,
            group_commit_max_batch: 512,
        }
    }
}

impl Limits {
    /// Requests per session.
    pub fn request_rate(&self) -> Rate {
        Rate::per_second(self.requests_per_second).with_burst(self.requests_burst)
    }

    /// Login codes per phone number.
    pub fn code_rate_per_phone(&self) -> Rate {
        Rate::per_hour(self.codes_per_phone_per_hour)
    }

    /// Login code requests per client address.
    pub fn code_rate_per_address(&self) -> Rate {
        Rate::per_hour(self.codes_per_address_per_hour)
    }

    /// Reports per account (account, #16).
    pub fn report_rate(&self) -> Rate {
        Rate::per_hour(self.reports_per_hour)
    }

    /// Requests per client address: bursts of up to two seconds' worth.
    pub fn request_rate_per_address(&self) -> Rate {
        Rate::per_second(self.requests_per_address_per_second).with_burst(self.requests_per_address_per_second.saturating_mul(2))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// The connection caps for a process whose open-file limit is `open_files`: the values
    /// set here, the others derived from the limit.
    pub fn connection_caps(&self, open_files: u64) -> crate::limits::ConnectionCaps {
        crate::limits::ConnectionCaps::derive(open_files, self.max_connections, self.max_connections_per_address, self.reserved_descriptors)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive: [(&'static str, u64); 13] = [
            ("limits.max_frame_bytes", self.max_frame_bytes as u64),
            ("limits.send_queue", self.send_queue as u64),
            ("limits.requests_per_second", self.requests_per_second.into()),
            ("limits.requests_burst", self.requests_burst.into()),
            ("limits.codes_per_phone_per_hour", self.codes_per_phone_per_hour.into()),
            ("limits.codes_per_address_per_hour", self.codes_per_address_per_hour.into()),
            ("limits.reports_per_hour", self.reports_per_hour.into()),
            ("limits.requests_per_address_per_second", self.requests_per_address_per_second.into()),
            ("limits.idle_timeout_secs", self.idle_timeout_secs),
            ("limits.header_read_timeout_secs", self.header_read_timeout_secs),
            ("limits.difference_limit", self.difference_limit.into()),
            ("limits.difference_horizon", self.difference_horizon.max(0) as u64),
            ("limits.group_commit_max_batch", self.group_commit_max_batch as u64),
        ];
        let caps =
            [("limits.max_connections", self.max_connections), ("limits.max_connections_per_address", self.max_connections_per_address)];
        let positive = positive.into_iter().chain(caps.into_iter().filter_map(|(key, value)| Some((key, value? as u64))));
        match positive.into_iter().find(|(_, value)| *value == 0) {
            Some((key, _)) => Err(ConfigError::NotPositive(key)),
            None => Ok(()),
        }
    }
}

/// Files: how large, how much per person, where the bytes live.
///
/// ```toml
/// [files]
/// max_size = 2147483648        # bytes per file
/// quota = 10737418240          # bytes per user; absent: no quota
/// upload_ttl_secs = 86400      # unfinished uploads are removed after this long untouched
///
/// [files.storage]              # default: kind = "local" (under data_dir/files)
/// kind = "s3"
/// bucket = "heliograph"
/// region = "us-east-1"
/// endpoint = "http://127.0.0.1:9000"   # S3-compatible stores (MinIO, ...)
/// ```
///
/// S3 credentials come from the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
/// environment variables, never from the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Files {
    /// Largest file accepted, in bytes.
    pub max_size: u64,
    /// Bytes each user may store (the sizes of their uploads, counted once per upload).
    pub quota: Option<u64>,
    /// An upload nobody touched for this long is removed, parts and all.
    pub upload_ttl_secs: u64,
    pub storage: FileStorage,
}

impl Default for Files {
    fn default() -> Files {
        Files { max_size: 2 * 1024 * 1024 * 1024, quota: None, upload_ttl_secs: 24 * 3600, storage: FileStorage::default() }
    }
}

/// Where file contents live (uploads in progress always stay under `data_dir/uploads`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileStorage {
    /// `data_dir/files`.
    #[default]
    Local,
    /// An S3 bucket, or an S3-compatible store at `endpoint`.
    S3 {
        bucket: String,
        #[serde(default)]
        region: Option<String>,
        #[serde(default)]
        endpoint: Option<String>,
        /// Allow `http://` endpoints (a local MinIO).
        #[serde(default)]
        allow_http: bool,
    },
}

/// Command-line flags, which beat every other layer. `None` leaves the value to the layers
/// below.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// `--dev` turns development mode on; its absence leaves it to the other layers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// `--tls-cert` and `--tls-key`, merged into `[tls]`.
    #[serde(skip_serializing_if = "TlsOverrides::is_empty")]
    pub tls: TlsOverrides,
}

/// The TLS flags; either may be given alone (the other then comes from the file or the
/// environment).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

impl TlsOverrides {
    fn is_empty(&self) -> bool {
        self.cert.is_none() && self.key.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration file {} does not exist", .0.display())]
    FileMissing(PathBuf),
    /// Names the key and where its value came from (file or environment variable).
    #[error("invalid configuration: {0}")]
    Invalid(#[source] Box<figment::Error>),
    #[error("invalid configuration: `{0}` must be greater than 0")]
    NotPositive(&'static str),
    #[error("invalid configuration: `code_provider.url` must be an http:// or https:// URL, not {0:?}")]
    ProviderUrl(String),
    #[error("invalid configuration: `bus` must be a nats:// URL (leave it out for the in-process bus); got {0}")]
    BusUrl(String),
    #[error("invalid configuration: `database` must be a postgres:// URL (leave it out for the embedded SQLite)")]
    DatabaseUrl,
    #[error("invalid configuration: {0}")]
    Egress(String),
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> ConfigError {
        ConfigError::Invalid(Box::new(error))
    }
}

impl Config {
    /// Reads the configuration: defaults, then `file` (which must exist when given), then the
    /// environment, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::FileMissing(file.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|key| Config::is_key(key.as_str()) && !VERBATIM_KEYS.iter().any(|v| key.as_str().eq_ignore_ascii_case(v))),
        );
        for key in VERBATIM_KEYS {
            let name = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase().replace('.', "__"));
            if let Ok(value) = std::env::var(&name) {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let config: Config = figment.merge(Serialized::defaults(overrides)).extract()?;
        config.validate()?;
        Ok(config)
    }

    /// Whether test phone numbers may sign in.
    pub fn test_numbers_enabled(&self) -> bool {
        self.dev || self.test_numbers
    }

    /// The base of links this server hands out, without a trailing `/`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if self.tls.is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether an environment key (after the prefix, `__` already turned into `.`) names a
    /// configuration value.
    fn is_key(key: &str) -> bool {
        const TOP_LEVEL: [&str; 14] = [
            "listen",
            "data_dir",
            "database",
            "bus",
            "dev",
            "test_numbers",
            "public_url",
            "code_provider",
            "limits",
            "files",
            "metrics_listen",
            "tls",
            "egress",
            "failed_auth",
        ];
        let top = key.split('.').next().unwrap_or(key);
        TOP_LEVEL.iter().any(|known| known.eq_ignore_ascii_case(top))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database {
            if !(url.as_str().starts_with("postgres://") || url.as_str().starts_with("postgresql://")) {
                return Err(ConfigError::DatabaseUrl);
            }
        }
        if let Some(url) = &self.bus {
            if !url.starts_with("nats://") {
                return Err(ConfigError::BusUrl(url.clone()));
            }
        }
        if let Some(CodeProvider::Http(http)) = &self.code_provider {
            let ok = reqwest::Url::parse(&http.url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
            if !ok {
                return Err(ConfigError::ProviderUrl(http.url.clone()));
            }
        }
        self.egress.validate().map_err(ConfigError::Egress)?;
        if self.files.max_size == 0 {
            return Err(ConfigError::NotPositive("files.max_size"));
        }
        if self.files.upload_ttl_secs == 0 {
            return Err(ConfigError::NotPositive("files.upload_ttl_secs"));
        }
        self.limits.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    /// Runs `f` in a figment jail (its own directory and environment, one at a time), turning
    /// our errors into the jail's.
    #[allow(clippy::result_large_err)] // the error type is figment's, fixed by `Jail`
    fn jail(f: impl FnOnce(&mut Jail) -> Result<(), Box<dyn std::error::Error>>) {
        Jail::expect_with(|jail| f(jail).map_err(|e| figment::Error::from(e.to_string())));
    }

    #[test]
    fn defaults_need_no_file() {
        jail(|_| {
            let config = Config::load(None, Overrides::default())?;
            assert_eq!(config, Config::default());
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.limits.max_frame_bytes, 64 * 1024);
            assert!(!config.test_numbers_enabled());
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_then_flags() {
        jail(|jail| {
            jail.create_file(
                "heliograph.toml",
                r#"
                    listen = "0.0.0.0:9000"
                    test_numbers = false
                    [limits]
                    send_queue = 10
                    difference_limit = 50
                    [code_provider]
                    kind = "http"
                    url = "https://sms.example.net/send"
                "#,
            )?;
            jail.set_env("HELIOGRAPH_LIMITS__SEND_QUEUE", "7");
            jail.set_env("HELIOGRAPH_DEV", "true");
            jail.set_env("HELIOGRAPH_DATA_DIR", "2024");
            jail.set_env("HELIOGRAPH_CODE_PROVIDER__BEARER_TOKEN", "0123");
            jail.set_env("HELIOGRAPH_CONFIG", "heliograph.toml"); // not a key: ignored
            let flags = Overrides { listen: Some("127.0.0.1:7000".parse()?), ..Overrides::default() };

            let config = Config::load(Some(Path::new("heliograph.toml")), flags)?;

            assert_eq!(config.listen.to_string(), "127.0.0.1:7000", "flags beat the file");
            assert_eq!(config.data_dir, PathBuf::from("2024"), "a path of digits stays a path");
            assert_eq!(config.limits.send_queue, 7, "the environment beats the file");
            assert_eq!(config.limits.difference_limit, 50, "the file beats defaults");
            assert_eq!(config.limits.requests_per_second, 50, "unset keys keep their defaults");
            assert!(config.dev && config.test_numbers_enabled());
            let Some(CodeProvider::Http(http)) = &config.code_provider else { panic!("{:?}", config.code_provider) };
            assert_eq!(http.url, "https://sms.example.net/send");
            assert_eq!(http.bearer_token.as_deref(), Some("0123"), "secrets are read as written");
            assert_eq!(http.timeout(), Duration::from_secs(5));
            assert!(!format!("{config:?}").contains("0123"), "the token stays out of Debug output");
            Ok(())
        });
    }

    #[test]
    fn bad_configurations_are_refused_with_the_reason() {
        jail(|jail| {
            let load = |toml: &str| -> String {
                let written = jail.create_file("bad.toml", toml).map(drop);
                written
                    .map_err(|e| e.to_string())
                    .and_then(|()| Config::load(Some(Path::new("bad.toml")), Overrides::default()).map(drop).map_err(|e| e.to_string()))
                    .err()
                    .unwrap_or_default()
            };
            for (toml, expect) in [
                ("lsiten = \"0.0.0.0:1\"", "lsiten"),
                ("listen = \"localhost\"", "listen"),
                ("[limits]\nsend_queue = 0", "limits.send_queue"),
                ("[limits]\nsend_qeue = 1", "send_qeue"),
                ("[code_provider]\nkind = \"pigeon\"", "pigeon"),
                ("[code_provider]\nkind = \"http\"\nurl = \"ftp://x\"", "code_provider.url"),
            ] {
                let error = load(toml);
                assert!(error.contains(expect), "{toml:?} gave {error:?}");
            }
            let missing = Config::load(Some(Path::new("nope.toml")), Overrides::default());
            assert!(matches!(missing, Err(ConfigError::FileMissing(_))));
            Ok(())
        });
    }

    #[test]
    fn tls_and_metrics_listener_come_from_file_environment_or_flags() {
        jail(|jail| {
            let config = Config::load(None, Overrides::default())?;
            assert_eq!((config.tls, config.metrics_listen), (None, None), "plain HTTP and no metrics by default");
            jail.create_file("heliograph.toml", "[tls]\ncert = \"file.pem\"\nkey = \"file.key\"\n")?;
            jail.set_env("HELIOGRAPH_TLS__KEY", "0600.key");
            jail.set_env("HELIOGRAPH_METRICS_LISTEN", "127.0.0.1:9090");
            let flags = Overrides { tls: TlsOverrides { cert: Some("flag.pem".into()), key: None }, ..Overrides::default() };
            let config = Config::load(Some(Path::new("heliograph.toml")), flags)?;
            let tls = config.tls.as_ref().expect("tls");
            assert_eq!((tls.cert.as_path(), tls.key.as_path()), (Path::new("flag.pem"), Path::new("0600.key")));
            assert_eq!(config.metrics_listen, Some("127.0.0.1:9090".parse()?));
            assert_eq!(config.public_url(), "https://127.0.0.1:8080", "links say https");
            jail.create_file("cert-only.toml", "[tls]\ncert = \"file.pem\"\n")?;
            jail.clear_env();
            assert!(
                Config::load(Some(Path::new("cert-only.toml")), Overrides::default()).is_err(),
                "a certificate without a key is refused"
            );
            Ok(())
        });
    }

    #[test]
    fn database_url_selects_postgres_and_keeps_its_password_out_of_logs() {
        jail(|jail| {
            assert_eq!(Config::load(None, Overrides::default())?.database, None, "SQLite is the default");
            jail.set_env("HELIOGRAPH_DATABASE", "postgres://heliograph:s3cret@db.internal:5432/heliograph");
            let config = Config::load(None, Overrides::default())?;
            let url = config.database.as_ref().map(DatabaseUrl::as_str);
            assert_eq!(url, Some("postgres://heliograph:s3cret@db.internal:5432/heliograph"), "read from the environment as written");
            assert!(!format!("{config:?}").contains("s3cret"), "the password stays out of Debug output");
            let flag = Overrides { database: Some(DatabaseUrl("postgresql://other/db".into())), ..Overrides::default() };
            assert_eq!(
                Config::load(None, flag)?.database.map(|u| u.0),
                Some("postgresql://other/db".into()),
                "the flag beats the environment"
            );
            let wrong = Overrides { database: Some(DatabaseUrl("mysql://x/y".into())), ..Overrides::default() };
            assert!(matches!(Config::load(None, wrong), Err(ConfigError::DatabaseUrl)), "only PostgreSQL URLs are accepted");
            Ok(())
        });
    }
}
