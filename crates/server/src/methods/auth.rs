//! `auth.*`: signing in with a login code, binding a connection to a session, signing out.
//! All but `auth.log_out` run before the session check (the dispatcher lets them through).

use heliograph_core::{DisplayName, LoginCode, Phone};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store as store;

use super::{Caller, Effect, Outcome, SignedIn};
use crate::codes;
use crate::convert;
use crate::errors::{flood_wait, Failure};
use crate::state::Shared;

/// Seconds a login code stays valid.
pub const CODE_TTL_SECS: i64 = 300;
/// Wrong guesses allowed per code.
pub const CODE_ATTEMPTS: u32 = 5;

/// `auth.send_code`: sends a one-time login code to `phone`, replacing any earlier one.
/// Public. Limits: login codes per address, then per phone number (`FLOOD_WAIT`). Test numbers
/// (`+99966XYYYY`, where the operator enables them) get the code `XXXXX` and nothing is sent.
/// The code is stored salted and hashed, valid for [`CODE_TTL_SECS`].
pub async fn send_code(s: &Shared, caller: &Caller, phone: &str) -> Outcome<proto::SentCode> {
    let phone = Phone::parse(phone)?;
    if let Err(wait) = s.codes_per_address.check(&caller.addr) {
        return Err(Failure(flood_wait(wait.secs(), "login codes from this address")));
    }
    if let Err(wait) = s.codes_per_phone.check(phone.as_str()) {
        return Err(Failure(flood_wait(wait.secs(), "login codes for this number")));
    }
    let test_code = if s.config.test_numbers_enabled() { phone.test_code() } else { None };
    let code = test_code.clone().unwrap_or_else(codes::generate_code);
    let salt = codes::new_salt();
    let hash = codes::hash_code(&salt, &code);
    s.store
        .save_login_code(
            s.phone_keys.hash(&phone),
            store::LoginCodeHash { salt: salt.to_vec(), hash, expires: store::now() + CODE_TTL_SECS, attempts: 0 },
        )
        .await?;
    if test_code.is_none() {
        s.codes.send(&phone, &code).await.map_err(|e| {
            tracing::warn!(error = %e, "login code delivery failed");
            Failure(proto::Error::new(ErrorCode::Internal, "the login code could not be delivered; try again later"))
        })?;
    }
    Ok(proto::SentCode { length: LoginCode::LEN as u32, expires_in: CODE_TTL_SECS as u32 })
}

/// `auth.sign_in`: checks the code and opens a session; creates the account on the first
/// sign-in (then `name` is required: `NAME_REQUIRED`). Public. A code allows
/// [`CODE_ATTEMPTS`] wrong guesses and is deleted once used or expired (`PHONE_CODE_EXPIRED`).
/// The session token is stored hashed; `device` is cut to 64 characters. Signs the connection in.
/// Wrong codes count against the caller's address and the phone number ([`crate::limits::FailedAuth`]):
/// past the limit, codes are refused with `FLOOD_WAIT` before they are checked.
pub async fn sign_in(
    s: &Shared,
    caller: &Caller,
    phone: &str,
    code: &str,
    name: Option<String>,
    device: Option<String>,
) -> Outcome<(proto::Authorization, Effect)> {
    let phone = Phone::parse(phone)?;
    let code = LoginCode::parse(code)?;
    admit_credential(s, caller, Some(phone.as_str()))?;
    let phone_hash = s.phone_keys.hash(&phone);
    let pending = s.store.login_attempt(phone_hash).await?;
    let expired = || {
        Failure(proto::Error::new(ErrorCode::PhoneCodeExpired, "the code expired or was never sent; request a new one with auth.send_code"))
    };
    let Some(pending) = pending else { return Err(expired()) };
    if pending.expires < store::now() || pending.attempts > CODE_ATTEMPTS {
        s.store.delete_login_code(phone_hash).await?;
        return Err(expired());
    }
    if !codes::code_matches(&pending.salt, code.as_str(), &pending.hash) {
        s.failed_auth.failed(caller.addr, Some(phone.as_str()));
        let left = CODE_ATTEMPTS - pending.attempts;
        return Err(Failure(proto::Error::new(ErrorCode::PhoneCodeInvalid, format!("wrong code; {left} attempts left"))));
    }
    let (user, new_account) = match s.store.user_by_phone(phone_hash).await? {
        Some(user) => (user, false),
        None => {
            let name = name.as_deref().ok_or_else(|| {
                Failure(proto::Error::new(ErrorCode::NameRequired, "this number has no account yet: repeat auth.sign_in with a `name`"))
            })?;
            let name = DisplayName::parse(name)?;
            (s.store.create_user(&s.phone_keys.seal(&phone), &name).await?, true)
        }
    };
    // account (#16): a banned or suspended account cannot sign in (the code is spent).
    s.store.delete_login_code(phone_hash).await?;
    if let Some(sanction) = s.store.sanctions(user.id).await?.into_iter().find(|x| x.kind.blocks_sign_in()) {
        return Err(Failure(crate::errors::from_store(store::Error::Sanctioned {
            kind: sanction.kind,
            until: sanction.until,
            reason: sanction.reason,
        })));
    }
    let token = codes::new_token();
    let device = device.map(|d| d.chars().take(64).collect::<String>()).unwrap_or_else(|| "unknown device".into());
    let session = s.store.create_session(user.id, &codes::hash_token(&token), &device).await?;
    let signed = SignedIn { user: user.id, session: session.id };
    // The server keeps no readable number: it shows one only where the caller just gave it.
    let mut me = convert::user(user.id, &user, Default::default());
    me.phone = Some(phone.as_str().to_string());
    let auth = proto::Authorization { token, session_id: session.id.0, user: me, new_account };
    Ok((auth, Effect::SignedIn(signed)))
}

/// `auth.authorize`: binds the connection to the session of `token` (`SESSION_REVOKED` for
/// one that ended or never existed). Public. Answers the user themselves, and signs the
/// connection in. Wrong tokens count against the caller's address, as wrong codes do.
pub async fn authorize(s: &Shared, caller: &Caller, token: &str) -> Outcome<(proto::User, Effect)> {
    admit_credential(s, caller, None)?;
    let session = s.store.session_by_token(&codes::hash_token(token)).await?.ok_or_else(|| {
        s.failed_auth.failed(caller.addr, None);
        Failure(proto::Error::new(ErrorCode::SessionRevoked, "this session ended or never existed; sign in again"))
    })?;
    let user = s
        .store
        .users(&[session.user])
        .await?
        .pop()
        .ok_or_else(|| Failure(proto::Error::new(ErrorCode::SessionRevoked, "the account is gone")))?;
    let signed = SignedIn { user: user.id, session: session.id };
    Ok((convert::user(user.id, &user, Default::default()), Effect::SignedIn(signed)))
}

/// Refuses a credential check while the caller's address (or `target`) has failed too often.
fn admit_credential(s: &Shared, caller: &Caller, target: Option<&str>) -> Outcome<()> {
    s.failed_auth
        .admit(caller.addr, target)
        .map_err(|wait| Failure(flood_wait(wait.secs(), "failed sign-in attempts; wrong codes and tokens are limited")))
}

/// `auth.log_out`: ends the caller's own session. The gateway runs it in line and, once this
/// answer is queued, tells every connection of the session that it ended.
pub async fn log_out(s: &Shared, me: SignedIn) -> Outcome<(proto::Ok, Effect)> {
    s.store.revoke_session(me.user, me.session).await?;
    Ok((proto::Ok {}, Effect::SignedOut))
}
