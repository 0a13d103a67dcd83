//! `account.*`: the caller's sessions, profile and privacy.

use heliograph_bus::{Notice, Topic};
use heliograph_core::{Bio, DisplayName, SessionId, Username};
use heliograph_proto as proto;

use super::{Effect, Outcome, SignedIn};
use crate::convert;
use crate::errors::{bad_params, Failure};
use crate::state::Shared;

/// `account.sessions`: the caller's sessions, the current one marked.
pub async fn sessions(s: &Shared, me: SignedIn) -> Outcome<Vec<proto::Session>> {
    let sessions = s.store.sessions(me.user).await?;
    Ok(sessions
        .iter()
        .map(|s| proto::Session {
            id: s.id.0,
            device: s.device.clone(),
            created: s.created,
            last_active: s.last_active,
            current: s.id == me.session,
        })
        .collect())
}

/// `account.revoke_session`: ends one of the caller's sessions (`BAD_PARAMS` for an id that
/// is not theirs) and closes its live connections through the bus. Ending the current session
/// signs the connection out: the gateway runs this in line and announces it after the answer.
/// Every node's Bot API token cache forgets the user's checked tokens (`Topic::Revocations`).
pub async fn revoke_session(s: &Shared, me: SignedIn, session_id: i64) -> Outcome<(proto::Ok, Effect)> {
    if !s.store.revoke_session(me.user, SessionId(session_id)).await? {
        return Err(Failure(bad_params("you have no session with that id")));
    }
    let own = session_id == me.session.0;
    if !own {
        s.bus.publish(Topic::Session(session_id), Notice::SessionRevoked { session_id });
        s.bus.publish(Topic::Revocations, Notice::CredentialsRevoked { user_id: me.user.0 });
    }
    Ok((proto::Ok {}, if own { Effect::SignedOut } else { Effect::None }))
}

/// `account.update_profile`: changes the caller's name and/or bio (checked `DisplayName`,
/// `Bio`; an empty bio clears it). Answers the caller as they see themselves.
pub async fn update_profile(s: &Shared, me: SignedIn, name: Option<String>, bio: Option<String>) -> Outcome<proto::User> {
    let name = name.as_deref().map(DisplayName::parse).transpose()?;
    let bio = bio.as_deref().map(Bio::parse).transpose()?;
    let updated = s.store.update_profile(me.user, name, bio).await?;
    Ok(convert::user(me.user, &updated, Default::default()))
}

/// `account.set_username`: sets the caller's `@username`, or clears it with `null` or `""`
/// (`USERNAME_OCCUPIED` when someone has it).
pub async fn set_username(s: &Shared, me: SignedIn, username: Option<String>) -> Outcome<proto::User> {
    let username = username.as_deref().filter(|u| !u.is_empty()).map(Username::parse).transpose()?;
    let updated = s.store.set_username(me.user, username).await?;
    Ok(convert::user(me.user, &updated, Default::default()))
}

/// `account.set_privacy`: who may find the caller by phone number (`contacts.add` with a
/// `phone`): everybody, only the caller's own contacts, or nobody. Answers the setting.
pub async fn set_privacy(s: &Shared, me: SignedIn, find_by_phone: proto::PhonePrivacy) -> Outcome<proto::Privacy> {
    s.store.set_phone_privacy(me.user, convert::phone_privacy_from_wire(find_by_phone)).await?;
    Ok(proto::Privacy { find_by_phone })
}

/// `account.privacy`: the caller's privacy settings (everybody may find them by phone until
/// they choose otherwise).
pub async fn privacy(s: &Shared, me: SignedIn) -> Outcome<proto::Privacy> {
    Ok(proto::Privacy { find_by_phone: convert::phone_privacy(s.store.phone_privacy(me.user).await?) })
}
