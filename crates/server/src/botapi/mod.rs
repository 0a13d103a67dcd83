//! The Telegram Bot API, served as Telegram serves it, so existing bots and bot libraries run
//! against Heliograph by changing one base URL.
//!
//! - `GET|POST /bot<token>/<method>`: parameters in the query string, a URL-encoded form, a
//!   JSON body or `multipart/form-data` ([`params`]); answers `{"ok":true,"result":…}` or
//!   `{"ok":false,"error_code":…,"description":…}` with the HTTP status of `error_code`.
//! - `GET /file/bot<token>/<file_path>`: the content of a file from `getFile`.
//!
//! A bot is a user account with an owner ([`heliograph_store::User::bot_owner`]); its token
//! is `<bot id>:<secret>`, and the store keeps the secret's hash as the bot's one session.
//! Everything a bot must see lands in its own update log (the store logs channel and large
//! group events for bot members too), so `update_id` is the log's pts and `getUpdates` /
//! webhook delivery are a difference read from the last confirmed pts ([`updates`]).
//!
//! # Layout
//! - [`coverage`]: what is offered of the specification, method by method (the source of
//!   `docs/bot-api.md`'s conformance table), and how the rest is refused.
//! - [`params`]: reading parameters however they came.
//! - [`render`]: store records as Bot API objects (User, Chat, Message, Update, File…).
//! - [`methods`]: one function per method.
//! - `members`: chat management and moderation (bans, restrictions, permissions, promotion).
//! - `profile`: the bot's own profile (commands, name, descriptions, menu button, rights).
//! - [`updates`]: which log events a bot sees as which updates, `getUpdates`, webhooks.
//! - [`parse_mode`]: HTML and MarkdownV2 formatting into message entities.
//!
//! Architecture Invariant: every method runs as the bot through the same store commands
//! people use, so a bot can read and write only chats it is a member of.

pub mod coverage;
mod members;
pub mod methods;
pub mod params;
pub mod parse_mode;
mod profile;
mod render;
pub mod updates;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use heliograph_bus::{Delivery, Notice, Subscription, Topic};
use heliograph_core::SessionId;
use heliograph_store::User;
use serde_json::{json, Value};

use crate::files::Files;
use crate::limits::KeyedLimiter;
use crate::state::Shared;

/// State the Bot API keeps across requests, beside what every request shares.
pub struct BotApi {
    pub shared: Arc<Shared>,
    /// Uploads (`sendPhoto` with a file) and downloads (`/file/bot<token>/…`).
    pub files: Arc<Files>,
    /// Requests per second per bot.
    pub(crate) rate: KeyedLimiter<i64>,
    pub(crate) updates: updates::Pollers,
    pub(crate) webhooks: updates::Webhooks,
}

impl BotApi {
    pub fn new(shared: Arc<Shared>, files: Arc<Files>) -> BotApi {
        BotApi {
            rate: KeyedLimiter::new(shared.config.limits.request_rate(), 100_000),
            updates: updates::Pollers::default(),
            webhooks: updates::Webhooks::default(),
            shared,
            files,
        }
    }
}

/// `Topic::Revocations`, followed (and in effect on the bus) before the node serves.
pub async fn follow_revocations(shared: &Shared) -> Subscription {
    let bus = &shared.bus;
    let mut sub = bus.subscribe(1024);
    sub.follow(Topic::Revocations);
    bus.ready().await;
    sub
}

/// Drops cached token checks ([`crate::state::TokenCache`]) of users whose credentials were
/// revoked on any node.
pub async fn watch_revocations(shared: Arc<Shared>, mut sub: Subscription) {
    let cache = &shared.bot_tokens;
    loop {
        tokio::select! {
            delivery = sub.recv() => match delivery {
                Some(Delivery::Notice(notice)) => {
                    if let Notice::CredentialsRevoked { user_id } = *notice {
                        cache.forget(heliograph_core::UserId(user_id));
                    }
                }
                // A missed notice could be a revocation: check every token again.
                Some(Delivery::Lagged) => cache.clear(),
                None => return,
            },
            _ = shared.shutdown.cancelled() => return,
        }
    }
}

/// A refusal in Telegram's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(code: u16, description: String) -> ApiError {
        ApiError { code, description, retry_after: None }
    }
    pub fn bad_request(what: impl Into<String>) -> ApiError {
        ApiError::new(400, format!("Bad Request: {}", what.into()))
    }
    pub fn forbidden(what: impl Into<String>) -> ApiError {
        ApiError::new(403, format!("Forbidden: {}", what.into()))
    }
    /// A required parameter is missing, worded as Telegram does (`chat_id is empty`).
    pub fn empty(name: &str) -> ApiError {
        ApiError::bad_request(format!("{name} is empty"))
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized".into())
    }
    fn not_found() -> ApiError {
        ApiError::new(404, "Not Found".into())
    }
    /// A method this server does not answer, named, with the reason ([`coverage::refusal`]).
    fn no_method(method: &str) -> ApiError {
        ApiError::new(404, coverage::refusal(method))
    }
    pub fn flood(retry_after: u32) -> ApiError {
        ApiError { code: 429, description: format!("Too Many Requests: retry after {retry_after}"), retry_after: Some(retry_after) }
    }
    pub fn internal() -> ApiError {
        ApiError::new(500, "Internal Server Error".into())
    }

    /// A refusal of the file layer (size, quota, a broken body).
    pub fn from_refusal(r: crate::files::Refusal) -> ApiError {
        use heliograph_proto::ErrorCode as C;
        match r.0.code {
            C::FileTooLarge => ApiError::new(413, "Request Entity Too Large".into()),
            C::Internal => ApiError::internal(),
            _ => ApiError::bad_request(r.0.message),
        }
    }
}

/// Store refusals in Telegram's words.
impl From<heliograph_store::Error> for ApiError {
    fn from(e: heliograph_store::Error) -> Self {
        use heliograph_store::Error as S;
        match e {
            S::UserNotFound => ApiError::bad_request("user not found"),
            S::ChatNotFound => ApiError::bad_request("chat not found"),
            S::MessageNotFound => ApiError::bad_request("message not found"),
            S::WriteForbidden => ApiError::bad_request("not enough rights to send messages to the chat"),
            S::AdminRequired => ApiError::bad_request("not enough rights"),
            S::AuthorRequired => ApiError::bad_request("message can't be edited"),
            S::Blocked => ApiError::forbidden("bot was blocked by the user"),
            S::UsernameOccupied => ApiError::bad_request("username is occupied"),
            S::TooManyMembers => ApiError::bad_request("too many members"),
            S::InviteInvalid => ApiError::bad_request("invite link is invalid"),
            S::FileNotFound => ApiError::bad_request("wrong file identifier/HTTP URL specified"),
            S::QuotaExceeded { .. } => ApiError::bad_request("file storage quota exceeded"),
            S::ButtonNotFound => ApiError::bad_request("button not found"),
            S::Invalid(what) => ApiError::bad_request(what),
            sanctioned @ S::Sanctioned { .. } => ApiError::forbidden(sanctioned.to_string()),
            // The Bot API never sees secret chats: to a bot they do not exist.
            S::SecretChat | S::CommitConflict { .. } | S::WrongEpoch { .. } | S::MlsReplay | S::SecretGroupFull => {
                ApiError::bad_request("chat not found")
            }
            S::Internal(detail) => {
                tracing::error!(%detail, "storage failure in the Bot API");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "ok": false, "error_code": self.code, "description": self.description });
        if let Some(secs) = self.retry_after {
            body["parameters"] = json!({ "retry_after": secs });
        }
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T = Value> = Result<T, ApiError>;

pub fn routes<S: Clone + Send + Sync + 'static>(api: Arc<BotApi>) -> Router<S> {
    Router::new().route("/{bot_token}/{method}", any(call)).route("/file/{bot_token}/{*path}", get(file)).with_state(api)
}

/// The bot a `bot<id>:<secret>` path segment names, if the token is current. Wrong tokens
/// count against the caller's address and the bot they name ([`crate::limits::FailedAuth`]):
/// past the limit, tokens not already checked are refused with 429 before they are looked up.
async fn authenticate(shared: &Shared, peer: std::net::IpAddr, segment: &str) -> ApiResult<(User, SessionId)> {
    let token = segment.strip_prefix("bot").ok_or_else(ApiError::not_found)?;
    let failed = &shared.failed_auth;
    let Some((id, secret)) = token.split_once(':').and_then(|(id, secret)| Some((id.parse::<i64>().ok()?, secret))) else {
        failed.admit(peer, None).map_err(|wait| ApiError::flood(wait.secs()))?;
        failed.failed(peer, None);
        return Err(ApiError::unauthorized());
    };
    let hash = crate::codes::hash_token(secret);
    let cache = &shared.bot_tokens;
    if let Some(hit) = cache.get(&hash, id) {
        return Ok(hit);
    }
    let target = format!("bot{id}");
    failed.admit(peer, Some(&target)).map_err(|wait| ApiError::flood(wait.secs()))?;
    let store = &shared.store;
    let session = store.session_by_token(&hash).await?.filter(|s| s.user.0 == id);
    let user = match session {
        Some(session) => store.users(&[session.user]).await?.into_iter().next().filter(User::is_bot).map(|u| (u, session.id)),
        None => None,
    };
    let Some((user, session)) = user else {
        failed.failed(peer, Some(&target));
        return Err(ApiError::unauthorized());
    };
    cache.insert(hash, user.clone(), session);
    Ok((user, session))
}

/// The calling bot, for method handlers.
pub struct Ctx {
    pub api: Arc<BotApi>,
    pub bot: User,
    pub session: SessionId,
}

async fn call(
    State(api): State<Arc<BotApi>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath((token, method)): UrlPath<(String, String)>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let found = methods::find(&method);
    let outcome = run(&api, peer, &token, &method, found, request).await;
    let name = found.map_or("unknown", |(name, _)| name);
    crate::metrics::bot_request(name, outcome.as_ref().map_or_else(|e| e.code, |_| 200), started.elapsed());
    match outcome {
        Ok(value) => Json(json!({ "ok": true, "result": value })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(
    api: &Arc<BotApi>,
    peer: SocketAddr,
    token: &str,
    name: &str,
    method: Option<(&'static str, methods::Handler)>,
    request: Request,
) -> ApiResult {
    if !token.starts_with("bot") {
        return Err(ApiError::not_found());
    }
    let (bot, session) = authenticate(&api.shared, peer.ip(), token).await?;
    // Per address, as for every client, then per bot.
    if let Err(wait) = api.shared.requests_per_address.check(&peer.ip()) {
        return Err(ApiError::flood(wait.secs()));
    }
    if let Err(wait) = api.rate.check(&bot.id.0) {
        return Err(ApiError::flood(wait.secs()));
    }
    let Some((_, handler)) = method else { return Err(ApiError::no_method(name)) };
    let params = params::Params::read(&api.files, bot.id, request).await?;
    let ctx = Ctx { api: api.clone(), bot, session };
    handler(ctx, params).await
}

/// `GET /file/bot<token>/<file_path>`: what `getFile` pointed at, for a bot that may see it.
async fn file(
    State(api): State<Arc<BotApi>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath((token, path)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let outcome = async {
        let (bot, _) = authenticate(&api.shared, peer.ip(), &token).await?;
        let id = render::file_id_from_path(&path).ok_or_else(ApiError::not_found)?;
        let file = api.shared.store.file(bot.id, id).await.map_err(|_| ApiError::not_found())?;
        crate::files::serve(&api.files, &file, &headers).await.map_err(ApiError::from_refusal)
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_refusals_read_like_telegram() {
        use heliograph_store::Error as S;
        let cases = [
            (S::ChatNotFound, 400, "Bad Request: chat not found"),
            (S::Blocked, 403, "Forbidden: bot was blocked by the user"),
            (S::FileNotFound, 400, "Bad Request: wrong file identifier/HTTP URL specified"),
            (S::Internal("disk".into()), 500, "Internal Server Error"),
        ];
        for (e, code, description) in cases {
            let got = ApiError::from(e);
            assert_eq!((got.code, got.description.as_str()), (code, description));
        }
        let flood = ApiError::flood(3);
        assert_eq!((flood.code, flood.retry_after), (429, Some(3)));
    }
}
