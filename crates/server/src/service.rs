//! Request handling: one function per protocol method, each parsing its untrusted parameters
//! into checked values, calling the store (which authorizes), and rendering the result for
//! the caller. Transport-agnostic: the WebSocket gateway calls [`Service::call`]; tests can too.

use std::net::IpAddr;
use std::sync::Arc;

use heliograph_bus::{Bus, Notice, Topic};
use heliograph_core::*;
use heliograph_proto::{
    self as proto,
    frame::{MAX_IDS_PER_REQUEST, MAX_PAGE},
    method::Direction,
    ErrorCode, Request,
};
use heliograph_store::{self as store, Store};
use serde::Serialize;
use serde_json::Value;

use crate::callbacks::Callbacks;
use crate::codes::{self, CodeSender};
use crate::config::Config;
use crate::convert;
use crate::errors::{bad_params, flood_wait};
use crate::limits::KeyedLimiter;

/// A failed request, ready for the wire.
#[derive(Debug)]
pub struct Failure(pub proto::Error);

type Outcome<T = Value> = Result<T, Failure>;

/// Seconds a login code stays valid.
pub const CODE_TTL_SECS: i64 = 300;
/// Wrong guesses allowed per code.
pub const CODE_ATTEMPTS: u32 = 5;
const DEFAULT_PAGE: u32 = 50;
/// Bots one person may own.
pub const MAX_BOTS_PER_OWNER: usize = 20;

/// Who is calling: their address, and their session once signed in.
#[derive(Debug, Clone)]
pub struct Caller {
    pub addr: IpAddr,
    pub session: Option<SignedIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    pub user: UserId,
    pub session: SessionId,
}

/// What a request did to the connection's own state, beyond its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The connection is now signed in.
    SignedIn(SignedIn),
    /// The connection's session ended.
    SignedOut,
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub config: Arc<Config>,
    /// Button presses waiting for their bot's answer; the Bot API's `answerCallbackQuery`
    /// calls [`Callbacks::answer`].
    pub callbacks: Arc<Callbacks>,
    /// Bot tokens the Bot API checked recently (`bots.revoke_token` empties a bot's).
    pub bot_tokens: crate::botapi::TokenCache,
    /// Wrong login codes and tokens, per address and per target: guessing is slowed.
    pub failed_auth: crate::limits::FailedAuth,
    /// Phone number lookups per account (`contacts.add` by phone).
    phone_lookups: crate::discovery::PhoneLookups,
    codes: Arc<dyn CodeSender>,
    codes_per_phone: KeyedLimiter<String>,
    codes_per_address: KeyedLimiter<IpAddr>,
    requests_per_session: KeyedLimiter<i64>,
}

fn ok<T: Serialize>(value: T) -> Outcome {
    serde_json::to_value(value).map_err(|e| Failure(proto::Error::new(ErrorCode::Internal, format!("cannot encode the result: {e}"))))
}

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn ids<T>(ids: &[i64], wrap: fn(i64) -> T) -> Outcome<Vec<T>> {
    if ids.len() > MAX_IDS_PER_REQUEST {
        return Err(Failure(bad_params(format!("at most {MAX_IDS_PER_REQUEST} ids per request; got {}", ids.len()))));
    }
    Ok(ids.iter().copied().map(wrap).collect())
}

impl Service {
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, config: Arc<Config>, codes: Arc<dyn CodeSender>) -> Service {
        let limits = &config.limits;
        Service {
            codes_per_phone: KeyedLimiter::new(limits.code_rate_per_phone(), 100_000),
            codes_per_address: KeyedLimiter::new(limits.code_rate_per_address(), 100_000),
            requests_per_session: KeyedLimiter::new(limits.request_rate(), 1_000_000),
            failed_auth: crate::limits::FailedAuth::new(&config.failed_auth),
            store,
            bus,
            config,
            callbacks: Arc::new(Callbacks::default()),
            bot_tokens: crate::botapi::TokenCache::default(),
            phone_lookups: crate::discovery::PhoneLookups::default(),
            codes,
        }
    }

    fn test_numbers(&self) -> bool {
        self.config.test_numbers_enabled()
    }

    /// Handles one request. Methods other than sign-in need `caller.session`.
    pub async fn call(&self, caller: &Caller, request: Request) -> Result<(Value, Effect), proto::Error> {
        let method = request.method();
        let started = std::time::Instant::now();
        let result = self.dispatch(caller, request).await;
        let outcome = match &result {
            Ok(_) => "OK",
            Err(Failure(e)) => e.code.as_str(),
        };
        crate::metrics::record_request(method, outcome, started.elapsed());
        result.map_err(|Failure(e)| e)
    }

    async fn dispatch(&self, caller: &Caller, request: Request) -> Outcome<(Value, Effect)> {
        let me = match (&caller.session, request.is_public()) {
            (_, true) => return self.sign_in_methods(caller, request).await,
            (Some(s), false) => *s,
            (None, false) => {
                return Err(Failure(proto::Error::new(
                    ErrorCode::AuthRequired,
                    "sign in first: auth.sign_in, or auth.authorize with a session token",
                )))
            }
        };
        if let Err(wait) = self.requests_per_session.check(&me.session.0) {
            return Err(Failure(flood_wait(wait.secs(), "requests")));
        }
        self.signed_in(me, request).await
    }

    async fn sign_in_methods(&self, caller: &Caller, request: Request) -> Outcome<(Value, Effect)> {
        match request {
            Request::SendCode { phone } => {
                let phone = Phone::parse(&phone)?;
                if let Err(wait) = self.codes_per_address.check(&caller.addr) {
                    return Err(Failure(flood_wait(wait.secs(), "login codes from this address")));
                }
                if let Err(wait) = self.codes_per_phone.check(phone.as_str()) {
                    return Err(Failure(flood_wait(wait.secs(), "login codes for this number")));
                }
                let test_code = if self.test_numbers() { phone.test_code() } else { None };
                let code = test_code.clone().unwrap_or_else(codes::generate_code);
                let salt = codes::new_salt();
                let hash = codes::hash_code(&salt, &code);
                self.store
                    .save_login_code(
                        &phone,
                        store::LoginCodeHash { salt: salt.to_vec(), hash, expires: store::now() + CODE_TTL_SECS, attempts: 0 },
                    )
                    .await?;
                if test_code.is_none() {
                    self.codes.send(&phone, &code).await.map_err(|e| {
                        tracing::warn!(error = %e, "login code delivery failed");
                        Failure(proto::Error::new(ErrorCode::Internal, "the login code could not be delivered; try again later"))
                    })?;
                }
                Ok((ok(proto::SentCode { length: LoginCode::LEN as u32, expires_in: CODE_TTL_SECS as u32 })?, Effect::None))
            }
            Request::SignIn { phone, code, name, device } => {
                let phone = Phone::parse(&phone)?;
                let code = LoginCode::parse(&code)?;
                self.admit_credential(caller, Some(phone.as_str()))?;
                let pending = self.store.login_attempt(&phone).await?;
                let expired = || {
                    Failure(proto::Error::new(
                        ErrorCode::PhoneCodeExpired,
                        "the code expired or was never sent; request a new one with auth.send_code",
                    ))
                };
                let Some(pending) = pending else { return Err(expired()) };
                if pending.expires < store::now() || pending.attempts > CODE_ATTEMPTS {
                    self.store.delete_login_code(&phone).await?;
                    return Err(expired());
                }
                if !codes::code_matches(&pending.salt, code.as_str(), &pending.hash) {
                    self.failed_auth.failed(caller.addr, Some(phone.as_str()));
                    let left = CODE_ATTEMPTS - pending.attempts;
                    return Err(Failure(proto::Error::new(ErrorCode::PhoneCodeInvalid, format!("wrong code; {left} attempts left"))));
                }
                let (user, new_account) = match self.store.user_by_phone(&phone).await? {
                    Some(user) => (user, false),
                    None => {
                        let name = name.as_deref().ok_or_else(|| {
                            Failure(proto::Error::new(
                                ErrorCode::NameRequired,
                                "this number has no account yet: repeat auth.sign_in with a `name`",
                            ))
                        })?;
                        let name = DisplayName::parse(name)?;
                        (self.store.create_user(&phone, &name).await?, true)
                    }
                };
                self.store.delete_login_code(&phone).await?;
                let token = codes::new_token();
                let device = device.map(|d| d.chars().take(64).collect::<String>()).unwrap_or_else(|| "unknown device".into());
                let session = self.store.create_session(user.id, &codes::hash_token(&token), &device).await?;
                let signed = SignedIn { user: user.id, session: session.id };
                let auth = proto::Authorization {
                    token,
                    session_id: session.id.0,
                    user: convert::user(user.id, &user, Default::default()),
                    new_account,
                };
                Ok((ok(auth)?, Effect::SignedIn(signed)))
            }
            Request::Authorize { token } => {
                self.admit_credential(caller, None)?;
                let session = self.store.session_by_token(&codes::hash_token(&token)).await?.ok_or_else(|| {
                    self.failed_auth.failed(caller.addr, None);
                    Failure(proto::Error::new(ErrorCode::SessionRevoked, "this session ended or never existed; sign in again"))
                })?;
                let user = self
                    .store
                    .users(&[session.user])
                    .await?
                    .pop()
                    .ok_or_else(|| Failure(proto::Error::new(ErrorCode::SessionRevoked, "the account is gone")))?;
                let signed = SignedIn { user: user.id, session: session.id };
                Ok((ok(convert::user(user.id, &user, Default::default()))?, Effect::SignedIn(signed)))
            }
            other => Err(Failure(proto::Error::new(ErrorCode::Internal, format!("`{}` is not a sign-in method", other.method())))),
        }
    }

    /// Refuses a credential check while the caller's address (or `target`) has failed too often.
    fn admit_credential(&self, caller: &Caller, target: Option<&str>) -> Outcome<()> {
        self.failed_auth
            .admit(caller.addr, target)
            .map_err(|wait| Failure(flood_wait(wait.secs(), "failed sign-in attempts; wrong codes and tokens are limited")))
    }

    /// Renders users as `viewer` sees them.
    pub async fn users_for(&self, viewer: UserId, users: &[store::User]) -> Outcome<Vec<proto::User>> {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let relations = self.store.relations(viewer, &ids).await?;
        Ok(users.iter().zip(relations).map(|(u, r)| convert::user(viewer, u, r)).collect())
    }

    async fn user_for(&self, viewer: UserId, id: UserId) -> Outcome<proto::User> {
        let users = self.store.users(&[id]).await?;
        self.users_for(viewer, &users).await?.pop().ok_or(Failure(crate::errors::from_store(store::Error::UserNotFound)))
    }

    /// Renders a chat as the member in `view` sees it.
    pub async fn chat_for(&self, viewer: UserId, view: &store::View) -> Outcome<proto::Chat> {
        let peer = match view.peer {
            Some(p) => Some(self.user_for(viewer, p).await?),
            None => None,
        };
        Ok(convert::chat(view, peer))
    }

    async fn chat_of(&self, viewer: UserId, chat: ChatId) -> Outcome<proto::Chat> {
        let view = self.store.chat(viewer, chat).await?;
        self.chat_for(viewer, &view).await
    }

    /// Renders a logged event for the owner of the log it sits in (`None`: a chat's own log).
    pub async fn update_for(&self, owner: Option<UserId>, logged: &store::Logged) -> Option<proto::Update> {
        let changed = match (&logged.event, owner) {
            // A former member gets the chat without a role: the sign that they are out.
            (store::Event::ChatChanged { chat }, Some(user)) => match self.chat_of(user, *chat).await {
                Ok(c) => Some(c),
                Err(_) => self.store.chat_info(*chat).await.ok().flatten().map(|c| convert::chat_public(&c)),
            },
            (store::Event::ChatChanged { chat }, None) => {
                self.store.chat_info(*chat).await.ok().flatten().map(|c| convert::chat_public(&c))
            }
            _ => None,
        };
        convert::update(logged, changed)
    }

    async fn difference(&self, owner: Option<UserId>, diff: store::Difference) -> Outcome<proto::Difference> {
        let render = |events: Vec<store::Logged>| async move {
            let mut out = Vec::with_capacity(events.len());
            for e in &events {
                if let Some(u) = self.update_for(owner, e).await {
                    out.push(u);
                }
            }
            out
        };
        Ok(match diff {
            store::Difference::Empty { pts } => proto::Difference::Empty { pts },
            store::Difference::TooLong { pts } => proto::Difference::TooLong { pts },
            store::Difference::Complete { events, pts } => proto::Difference::Complete { updates: render(events).await, pts },
            store::Difference::Slice { events, pts } => proto::Difference::Slice { updates: render(events).await, pts },
        })
    }

    fn sent(sent: &store::Sent) -> proto::Sent {
        proto::Sent { message: convert::message(&sent.message), pts: sent.pts }
    }

    /// Every method that needs a signed-in caller.
    async fn signed_in(&self, me: SignedIn, request: Request) -> Outcome<(Value, Effect)> {
        let user = me.user;
        let value = match request {
            Request::SendCode { .. } | Request::SignIn { .. } | Request::Authorize { .. } => {
                return Err(Failure(proto::Error::new(ErrorCode::Internal, "sign-in methods are handled before the session check")))
            }
            Request::LogOut {} => {
                // The gateway tells the session's connections once this answer is queued.
                self.store.revoke_session(user, me.session).await?;
                return Ok((ok(proto::Ok {})?, Effect::SignedOut));
            }
            Request::SetPrivacy { find_by_phone } => {
                self.store.set_phone_privacy(user, convert::phone_privacy_from_wire(find_by_phone)).await?;
                ok(proto::Privacy { find_by_phone })?
            }
            Request::GetPrivacy {} => ok(proto::Privacy { find_by_phone: convert::phone_privacy(self.store.phone_privacy(user).await?) })?,
            Request::GetSessions {} => {
                let sessions = self.store.sessions(user).await?;
                ok(sessions
                    .iter()
                    .map(|s| proto::Session {
                        id: s.id.0,
                        device: s.device.clone(),
                        created: s.created,
                        last_active: s.last_active,
                        current: s.id == me.session,
                    })
                    .collect::<Vec<_>>())?
            }
            Request::RevokeSession { session_id } => {
                if !self.store.revoke_session(user, SessionId(session_id)).await? {
                    return Err(Failure(bad_params("you have no session with that id")));
                }
                let own = session_id == me.session.0;
                if !own {
                    self.bus.publish(Topic::Session(session_id), Notice::SessionRevoked { session_id });
                    self.bus.publish(Topic::Revocations, Notice::CredentialsRevoked { user_id: user.0 });
                }
                return Ok((ok(proto::Ok {})?, if own { Effect::SignedOut } else { Effect::None }));
            }
            Request::UpdateProfile { name, bio } => {
                let name = name.as_deref().map(DisplayName::parse).transpose()?;
                let bio = bio.as_deref().map(Bio::parse).transpose()?;
                let updated = self.store.update_profile(user, name, bio).await?;
                ok(convert::user(user, &updated, Default::default()))?
            }
            Request::SetUsername { username } => {
                let username = username.as_deref().filter(|u| !u.is_empty()).map(Username::parse).transpose()?;
                let updated = self.store.set_username(user, username).await?;
                ok(convert::user(user, &updated, Default::default()))?
            }
            Request::CreateBot { name, username } => {
                let name = DisplayName::parse(&name)?;
                let username = Username::parse(&username)?;
                if !username.as_str().to_ascii_lowercase().ends_with("bot") {
                    return Err(Failure(proto::Error::new(
                        ErrorCode::UsernameInvalid,
                        "a bot's username must end in `bot` (like weather_bot)",
                    )));
                }
                let me = self.store.users(&[user]).await?.pop().ok_or(Failure(crate::errors::from_store(store::Error::UserNotFound)))?;
                if me.is_bot() {
                    return Err(Failure(proto::Error::new(ErrorCode::BotsTooMuch, "bots cannot create bots: ask the bot's owner")));
                }
                if self.store.bots(user).await?.len() >= MAX_BOTS_PER_OWNER {
                    return Err(Failure(proto::Error::new(
                        ErrorCode::BotsTooMuch,
                        format!("you already own {MAX_BOTS_PER_OWNER} bots, the most allowed"),
                    )));
                }
                let secret = codes::new_token();
                let bot = self.store.create_bot(user, &name, &username, &codes::hash_token(&secret)).await?;
                let token = format!("{}:{secret}", bot.id.0);
                ok(proto::CreatedBot { bot: self.users_for(user, &[bot]).await?.remove(0), token })?
            }
            Request::GetBots {} => {
                let bots = self.store.bots(user).await?;
                ok(self.users_for(user, &bots).await?)?
            }
            Request::RevokeBotToken { bot_id } => {
                let bot = UserId(bot_id);
                // Whatever the bot has open (a WebSocket signed in with the old token) is cut.
                let old = self.store.sessions(bot).await?;
                let secret = codes::new_token();
                self.store.replace_bot_token(user, bot, &codes::hash_token(&secret)).await?;
                self.bot_tokens.forget(bot);
                self.bus.publish(Topic::Revocations, Notice::CredentialsRevoked { user_id: bot.0 });
                for s in old {
                    self.bus.publish(Topic::Session(s.id.0), Notice::SessionRevoked { session_id: s.id.0 });
                }
                ok(proto::BotToken { token: format!("{bot_id}:{secret}") })?
            }
            Request::GetMe {} => ok(self.user_for(user, user).await?)?,
            Request::GetUsers { ids: wanted } => {
                let users = self.store.users(&ids(&wanted, UserId)?).await?;
                ok(self.users_for(user, &users).await?)?
            }
            Request::Resolve { username } => {
                let name = Username::parse(&username)?;
                match self.store.resolve(&name).await? {
                    Some(store::Resolved::User(u)) => ok(proto::Peer::User { user: self.users_for(user, &[u]).await?.remove(0) })?,
                    Some(store::Resolved::Chat(c)) => {
                        let chat = match self.store.chat(user, c.id).await {
                            Ok(view) => self.chat_for(user, &view).await?,
                            Err(_) => convert::chat_public(&c),
                        };
                        ok(proto::Peer::Chat { chat })?
                    }
                    None => {
                        return Err(Failure(proto::Error::new(ErrorCode::UserNotFound, format!("nobody is called @{}", name.as_str()))))
                    }
                }
            }
            Request::GetContacts {} => {
                let contacts = self.store.contacts(user).await?;
                ok(self.users_for(user, &contacts).await?)?
            }
            Request::AddContact { phone, username } => {
                let target = match (phone, username) {
                    (Some(phone), None) => self.phone_lookups.find(&*self.store, user, &Phone::parse(&phone)?).await?,
                    (None, Some(name)) => match self.store.resolve(&Username::parse(&name)?).await? {
                        Some(store::Resolved::User(u)) => Some(u),
                        _ => None,
                    },
                    _ => return Err(Failure(bad_params("give exactly one of `phone` or `username`"))),
                };
                let target = target.ok_or_else(|| Failure(crate::discovery::not_found()))?;
                self.store.add_contact(user, target.id).await?;
                ok(self.user_for(user, target.id).await?)?
            }
            Request::RemoveContact { user_id } => {
                self.store.remove_contact(user, UserId(user_id)).await?;
                ok(proto::Ok {})?
            }
            Request::Block { user_id } => {
                self.store.set_blocked(user, UserId(user_id), true).await?;
                ok(proto::Ok {})?
            }
            Request::Unblock { user_id } => {
                self.store.set_blocked(user, UserId(user_id), false).await?;
                ok(proto::Ok {})?
            }
            Request::GetBlocked {} => {
                let blocked = self.store.blocked(user).await?;
                ok(self.users_for(user, &blocked).await?)?
            }
            Request::GetDialogs { limit, offset } => {
                let limit = page(limit);
                let dialogs = self.store.dialogs(user, offset.map(|o| (o.activity, ChatId(o.chat_id))), limit).await?;
                let next = (dialogs.len() as u32 == limit)
                    .then(|| dialogs.last().map(|d| proto::DialogCursor { activity: d.view.chat.activity, chat_id: d.view.chat.id.0 }))
                    .flatten();
                let mut out = Vec::with_capacity(dialogs.len());
                for d in &dialogs {
                    out.push(proto::Dialog {
                        chat: self.chat_for(user, &d.view).await?,
                        last_message: d.last_message.as_ref().map(convert::message),
                        unread_count: d.unread,
                        read_inbox_max_id: d.view.membership.read_inbox.0,
                        read_outbox_max_id: d.view.membership.read_outbox.0,
                    });
                }
                ok(proto::Dialogs { dialogs: out, next })?
            }
            Request::GetChat { chat_id } => ok(self.chat_of(user, ChatId(chat_id)).await?)?,
            Request::OpenPrivate { user_id } => {
                let chat = self.store.open_private(user, UserId(user_id)).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::CreateGroup { title, user_ids } => {
                let title = Title::parse(&title)?;
                let members = ids(&user_ids, UserId)?;
                let chat = self.store.create_chat(user, ChatKind::Group, &title, None, &members).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::CreateChannel { title, username } => {
                let title = Title::parse(&title)?;
                let username = username.as_deref().map(Username::parse).transpose()?;
                let chat = self.store.create_chat(user, ChatKind::Channel, &title, username.as_ref(), &[]).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::AddMembers { chat_id, user_ids } => {
                let chat = self.store.add_members(user, ChatId(chat_id), &ids(&user_ids, UserId)?).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::RemoveMember { chat_id, user_id } => {
                self.store.remove_member(user, ChatId(chat_id), UserId(user_id)).await?;
                ok(proto::Ok {})?
            }
            Request::Leave { chat_id } => {
                self.store.remove_member(user, ChatId(chat_id), user).await?;
                ok(proto::Ok {})?
            }
            Request::SetTitle { chat_id, title } => {
                let chat = self.store.set_title(user, ChatId(chat_id), &Title::parse(&title)?).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::SetAdmin { chat_id, user_id, admin } => {
                self.store.set_admin(user, ChatId(chat_id), UserId(user_id), admin).await?;
                ok(proto::Ok {})?
            }
            Request::GetMembers { chat_id, offset, limit } => {
                let members = self.store.members(user, ChatId(chat_id), offset, page(limit)).await?;
                let ids: Vec<UserId> = members.iter().map(|m| m.user).collect();
                let users = self.store.users(&ids).await?;
                let users = self.users_for(user, &users).await?;
                ok(members
                    .iter()
                    .zip(users)
                    .map(|(m, u)| proto::Member { user: u, role: convert::role(m.role), joined: m.joined })
                    .collect::<Vec<_>>())?
            }
            Request::ExportInvite { chat_id } => {
                let token = self.store.export_invite(user, ChatId(chat_id)).await?;
                ok(proto::InviteLink { link: format!("{}/+{token}", self.config.public_url()) })?
            }
            Request::Join { invite, username } => {
                let how = match (invite, username) {
                    (Some(link), None) => store::JoinBy::Invite(invite_token(&link).ok_or_else(|| {
                        Failure(proto::Error::new(ErrorCode::InviteInvalid, "an invite link looks like https://host/+TOKEN"))
                    })?),
                    (None, Some(name)) => store::JoinBy::Username(Username::parse(&name)?),
                    _ => return Err(Failure(bad_params("give exactly one of `invite` or `username`"))),
                };
                let chat = self.store.join(user, how).await?;
                ok(self.chat_of(user, chat.id).await?)?
            }
            Request::SendMessage { chat_id, random_id, text, reply_to } => {
                let text = MessageText::parse(text)?;
                let entities = detect_entities(text.as_str(), Vec::new());
                let draft = store::Draft { reply_to: reply_to.map(MessageId), entities, ..store::Draft::text(text) };
                let sent = self.store.send(user, ChatId(chat_id), random_id, draft).await?;
                ok(Self::sent(&sent))?
            }
            Request::SendMedia { chat_id, random_id, file_id, kind, caption, reply_to } => {
                let caption = caption.filter(|c| !c.trim().is_empty()).map(MessageText::parse).transpose()?;
                let file = self.store.file(user, FileId(file_id)).await?;
                let kind = convert::media_kind_from_wire(kind);
                if kind == MediaKind::Photo && file.width.is_none() {
                    return Err(Failure(proto::Error::new(
                        ErrorCode::PhotoInvalid,
                        "the server could not read this file as an image (or it is too large to decode); send it as a document",
                    )));
                }
                let entities = caption.as_ref().map(|c| detect_entities(c.as_str(), Vec::new())).unwrap_or_default();
                let content = Content::Media(file.into_media(kind, caption));
                let draft = store::Draft { content, entities, keyboard: None, reply_to: reply_to.map(MessageId) };
                let sent = self.store.send(user, ChatId(chat_id), random_id, draft).await?;
                ok(Self::sent(&sent))?
            }
            Request::Forward { from_chat_id, ids: msg_ids, to_chat_id, random_ids } => {
                let msg_ids = ids(&msg_ids, MessageId)?;
                if random_ids.len() != msg_ids.len() {
                    return Err(Failure(bad_params("give one random_id per forwarded message")));
                }
                let sent = self.store.forward(user, ChatId(from_chat_id), &msg_ids, ChatId(to_chat_id), &random_ids).await?;
                ok(sent.iter().map(Self::sent).collect::<Vec<_>>())?
            }
            Request::Edit { chat_id, id, text } => {
                let text = MessageText::parse(text)?;
                let entities = detect_entities(text.as_str(), Vec::new());
                let edit = store::Edit { text: Some((text, entities)), keyboard: None };
                let message = self.store.edit(user, ChatId(chat_id), MessageId(id), edit).await?;
                ok(convert::message(&message))?
            }
            Request::Delete { chat_id, ids: msg_ids, for_everyone } => {
                let msg_ids = ids(&msg_ids, MessageId)?;
                if msg_ids.is_empty() {
                    return Err(Failure(bad_params("name at least one message id")));
                }
                self.store.delete(user, ChatId(chat_id), &msg_ids, for_everyone).await?;
                ok(proto::Ok {})?
            }
            Request::Pin { chat_id, id } => {
                self.store.pin(user, ChatId(chat_id), id.map(MessageId)).await?;
                ok(proto::Ok {})?
            }
            Request::ReadHistory { chat_id, max_id } => {
                self.store.read(user, ChatId(chat_id), max_id.map(MessageId)).await?;
                ok(proto::Ok {})?
            }
            Request::SetTyping { chat_id } => {
                let notice = Notice::Typing { chat_id, user_id: user.0 };
                match self.store.typing_audience(user, ChatId(chat_id)).await? {
                    Some(audience) => {
                        for member in audience {
                            self.bus.publish(Topic::User(member.0), notice.clone());
                        }
                    }
                    None => self.bus.publish(Topic::Chat(chat_id), notice),
                }
                ok(proto::Ok {})?
            }
            Request::GetHistory { chat_id, from_id, direction, limit } => {
                let limit = page(limit);
                let page = match direction {
                    Direction::Older => store::Page::Older { before: from_id.map(MessageId), limit },
                    Direction::Newer => store::Page::Newer { after: from_id.map(MessageId), limit },
                };
                let messages = self.store.history(user, ChatId(chat_id), page).await?;
                ok(messages.iter().map(convert::message).collect::<Vec<_>>())?
            }
            Request::PressButton { chat_id, message_id, data } => {
                let (bot, pts) = self.store.press_button(user, ChatId(chat_id), MessageId(message_id), &data).await?;
                // The press is durable in the bot's log; the answer is best effort.
                let answer = self.callbacks.wait(bot, pts).await.unwrap_or_default();
                ok(proto::CallbackAnswer { text: answer.text.filter(|t| !t.is_empty()), alert: answer.alert, url: answer.url })?
            }
            Request::GetState {} => ok(proto::State { pts: self.store.state(user).await?, date: store::now() })?,
            Request::GetDifference { pts, limit } => {
                let limit = limit.unwrap_or(self.config.limits.difference_limit).clamp(1, self.config.limits.difference_limit);
                let diff = self.store.difference(user, pts, limit).await?;
                ok(self.difference(Some(user), diff).await?)?
            }
            Request::GetChatDifference { chat_id, pts, limit } => {
                let limit = limit.unwrap_or(self.config.limits.difference_limit).clamp(1, self.config.limits.difference_limit);
                let diff = self.store.chat_difference(user, ChatId(chat_id), pts, limit).await?;
                ok(self.difference(None, diff).await?)?
            }
        };
        Ok((value, Effect::None))
    }
}

/// The token of an invite link: `https://host/+TOKEN`, `+TOKEN` or `TOKEN`.
pub fn invite_token(link: &str) -> Option<String> {
    let tail = link.trim().rsplit('/').next()?;
    let token = tail.strip_prefix('+').unwrap_or(tail);
    (!token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric())).then(|| token.to_string())
}
