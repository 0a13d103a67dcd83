//! `contacts.*`: finding people and public chats by name, the contact list, blocking.

use heliograph_core::{Phone, UserId, Username};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store as store;

use super::{Outcome, SignedIn};
use crate::convert::{self, chat_for, user_for, users_for};
use crate::errors::{bad_params, Failure};
use crate::state::Shared;

/// `contacts.resolve`: the user or public chat called `@username` (`USER_NOT_FOUND` for
/// nobody). A chat the caller is not in is shown as the public see it.
pub async fn resolve(s: &Shared, me: SignedIn, username: &str) -> Outcome<proto::Peer> {
    let name = Username::parse(username)?;
    match s.store.resolve(&name).await? {
        Some(store::Resolved::User(u)) => Ok(proto::Peer::User { user: users_for(&*s.store, me.user, &[u]).await?.remove(0) }),
        Some(store::Resolved::Chat(c)) => {
            let chat = match s.store.chat(me.user, c.id).await {
                Ok(view) => chat_for(&*s.store, me.user, &view).await?,
                Err(_) => convert::chat_public(&c),
            };
            Ok(proto::Peer::Chat { chat })
        }
        None => Err(Failure(proto::Error::new(ErrorCode::UserNotFound, format!("nobody is called @{}", name.as_str())))),
    }
}

/// `contacts.list`: the caller's contacts.
pub async fn list(s: &Shared, me: SignedIn) -> Outcome<Vec<proto::User>> {
    let contacts = s.store.contacts(me.user).await?;
    Ok(users_for(&*s.store, me.user, &contacts).await?)
}

/// `contacts.add`: adds a contact by phone number or by username, exactly one of them
/// (`BAD_PARAMS` otherwise; `USER_NOT_FOUND` when no account matches). Answers the contact.
/// By phone, lookups are limited per account and each account's privacy setting is obeyed
/// ([`crate::discovery`]): a hidden account answers as a number without an account. Found by
/// phone, the answer carries the number the caller gave (the server keeps no readable copy).
pub async fn add(s: &Shared, me: SignedIn, phone: Option<String>, username: Option<String>) -> Outcome<proto::User> {
    let given = phone.as_deref().map(Phone::parse).transpose()?;
    let target = match (&given, username) {
        (Some(phone), None) => s.phone_lookups.find(&*s.store, &s.phone_keys, me.user, phone).await?,
        (None, Some(name)) => match s.store.resolve(&Username::parse(&name)?).await? {
            Some(store::Resolved::User(u)) => Some(u),
            _ => None,
        },
        _ => return Err(Failure(bad_params("give exactly one of `phone` or `username`"))),
    };
    let target = target.ok_or_else(|| Failure(crate::discovery::not_found()))?;
    s.store.add_contact(me.user, target.id).await?;
    let mut added = user_for(&*s.store, me.user, target.id).await?;
    added.phone = given.map(|p| p.as_str().to_string());
    Ok(added)
}

/// `contacts.remove`: drops a contact.
pub async fn remove(s: &Shared, me: SignedIn, user_id: i64) -> Outcome<proto::Ok> {
    s.store.remove_contact(me.user, UserId(user_id)).await?;
    Ok(proto::Ok {})
}

/// `contacts.block`: a blocked user cannot message the caller.
pub async fn block(s: &Shared, me: SignedIn, user_id: i64) -> Outcome<proto::Ok> {
    s.store.set_blocked(me.user, UserId(user_id), true).await?;
    Ok(proto::Ok {})
}

/// `contacts.unblock`: lifts a block.
pub async fn unblock(s: &Shared, me: SignedIn, user_id: i64) -> Outcome<proto::Ok> {
    s.store.set_blocked(me.user, UserId(user_id), false).await?;
    Ok(proto::Ok {})
}

/// `contacts.blocked`: the users the caller blocked.
pub async fn blocked(s: &Shared, me: SignedIn) -> Outcome<Vec<proto::User>> {
    let blocked = s.store.blocked(me.user).await?;
    Ok(users_for(&*s.store, me.user, &blocked).await?)
}
