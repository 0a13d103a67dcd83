//! What every request shares, below the handlers that use it: the storage and fan-out
//! engines, the configuration, the login-code sender, the limiters (wrong credentials and
//! phone lookups among them), the egress guard, button presses waiting for an answer, the Bot
//! API's checked tokens, and the shutdown signal.
//!
//! Architecture Invariant: this module imports none of the handler or transport modules
//! (`methods`, `botapi`, `files`, `gateway`, `fanout`, `app`); they all import it. So any area
//! could become a crate of its own over this one (`tests/layers.rs` checks the module graph).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heliograph_bus::{Bus, Notice, Topic};
use heliograph_core::{ChatId, SessionId, UserId};
use heliograph_store::{self as store, Store, User};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::callbacks::Callbacks;
use crate::codes::CodeSender;
use crate::config::Config;
use crate::discovery::PhoneLookups;
use crate::egress::Egress;
use crate::limits::{ConnectionCaps, ConnectionsPerAddress, FailedAuth, KeyedLimiter};

/// Shared by every request and connection, on every transport.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub config: Arc<Config>,
    /// Button presses waiting for their bot's answer; the Bot API's `answerCallbackQuery`
    /// calls [`Callbacks::answer`].
    pub callbacks: Callbacks,
    /// Bot tokens the Bot API checked recently (`bots.revoke_token` empties a bot's).
    pub bot_tokens: TokenCache,
    /// Delivers login codes (`auth.send_code`).
    pub codes: Arc<dyn CodeSender>,
    /// Login codes asked for per phone number and per address.
    pub codes_per_phone: KeyedLimiter<String>,
    pub codes_per_address: KeyedLimiter<IpAddr>,
    /// Requests per signed-in session, across its connections.
    pub requests_per_session: KeyedLimiter<i64>,
    /// Requests per client address, signed in or not, across its connections.
    pub requests_per_address: KeyedLimiter<IpAddr>,
    /// Wrong login codes and tokens, per address and per target: guessing is slowed.
    pub failed_auth: Arc<FailedAuth>,
    /// Phone number lookups per account (`contacts.add` by phone).
    pub phone_lookups: PhoneLookups,
    /// Every request the server makes on a user's behalf goes through it (webhooks).
    pub egress: Arc<Egress>,
    /// One permit per open WebSocket: the connection cap ([`ConnectionCaps::total`]; the
    /// listener counts every connection at accept against the same caps, so this one holds
    /// only what outlives the HTTP server: upgraded WebSockets, waited for on shutdown).
    pub connections: Arc<Semaphore>,
    /// Open WebSockets per client address: one address cannot take every slot.
    pub connections_per_address: Arc<ConnectionsPerAddress>,
    /// Cancelled once on shutdown; every connection and background task watches it.
    pub shutdown: CancellationToken,
    /// account (#16): the phone key and the disclosure public key: numbers are stored only
    /// as their keyed hash and a sealed copy (`identity.rs`).
    pub phone_keys: Arc<crate::identity::PhoneKeys>,
    /// account (#16): reports per reporter (`messages.report`).
    pub reports_per_account: KeyedLimiter<i64>,
    /// Message search (#17): the embedded index, or PostgreSQL's full-text search.
    pub search: Arc<dyn heliograph_search::Index>,
}

impl Shared {
    /// `caps`: derived from the open-file limit by the caller ([`crate::app::App::new`]).
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        config: Arc<Config>,
        codes: Arc<dyn CodeSender>,
        egress: Arc<Egress>,
        caps: ConnectionCaps,
        phone_keys: Arc<crate::identity::PhoneKeys>,
        search: Arc<dyn heliograph_search::Index>,
    ) -> Shared {
        let limits = &config.limits;
        let reports_per_account = KeyedLimiter::new(limits.report_rate(), 1_000_000);
        Shared {
            codes_per_phone: KeyedLimiter::new(limits.code_rate_per_phone(), 100_000),
            codes_per_address: KeyedLimiter::new(limits.code_rate_per_address(), 100_000),
            requests_per_session: KeyedLimiter::new(limits.request_rate(), 1_000_000),
            requests_per_address: KeyedLimiter::new(limits.request_rate_per_address(), 100_000),
            failed_auth: Arc::new(FailedAuth::new(&config.failed_auth)),
            phone_lookups: PhoneLookups::default(),
            egress,
            connections: Arc::new(Semaphore::new(caps.total)),
            connections_per_address: Arc::new(ConnectionsPerAddress::new(caps.per_address)),
            shutdown: CancellationToken::new(),
            search,
            store,
            bus,
            config,
            callbacks: Callbacks::default(),
            bot_tokens: TokenCache::default(),
            codes,
            phone_keys,
            reports_per_account,
        }
    }

    /// Tells the other members of `chat` that `user` is typing (not stored): on each member's
    /// topic, or on the chat's topic when the chat keeps its own log. `messages.typing` and the
    /// Bot API's `sendChatAction`.
    pub async fn typing(&self, user: UserId, chat: ChatId) -> Result<(), store::Error> {
        let notice = Notice::Typing { chat_id: chat.0, user_id: user.0 };
        match self.store.typing_audience(user, chat).await? {
            Some(audience) => {
                for member in audience {
                    self.bus.publish(Topic::User(member.0), notice.clone());
                }
            }
            None => self.bus.publish(Topic::Chat(chat.0), notice),
        }
        Ok(())
    }
}

/// How long a checked token is trusted without asking the store again. Revocation does not
/// wait for it: every node drops a user's entries when the `CredentialsRevoked` notice arrives
/// (`botapi::watch_revocations`); the expiry only bounds the damage of a notice the bus lost.
const AUTH_TTL: Duration = Duration::from_secs(30);

/// Checked bot tokens, so a Bot API request does not cost a store write. `bots.revoke_token`,
/// a revoked session and a bot's own log-out publish `CredentialsRevoked` on
/// `Topic::Revocations`; every node (this one too) then drops the user's entries
/// (`botapi::watch_revocations`), and every entry expires after [`AUTH_TTL`].
#[derive(Default)]
pub struct TokenCache {
    /// The secret's hash → the bot, its session, and when it was checked.
    entries: Mutex<HashMap<Vec<u8>, (User, SessionId, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, hash: &[u8], bot: i64) -> Option<(User, SessionId)> {
        let entries = self.entries.lock().expect("token cache lock");
        let (user, session, at) = entries.get(hash)?;
        (at.elapsed() < AUTH_TTL && user.id.0 == bot).then(|| (user.clone(), *session))
    }

    pub fn insert(&self, hash: Vec<u8>, user: User, session: SessionId) {
        let mut entries = self.entries.lock().expect("token cache lock");
        if entries.len() > 100_000 {
            entries.retain(|_, (_, _, at)| at.elapsed() < AUTH_TTL);
        }
        entries.insert(hash, (user, session, Instant::now()));
    }

    /// Forgets every checked token of `user`.
    pub fn forget(&self, user: UserId) {
        self.entries.lock().expect("token cache lock").retain(|_, (bot, _, _)| bot.id != user);
    }

    pub fn clear(&self) {
        self.entries.lock().expect("token cache lock").clear();
    }
}
