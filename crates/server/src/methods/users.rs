//! `users.*`: people by id, as the caller may see them (phone numbers only for the caller
//! and mutual contacts, decided in `convert::user`).

use heliograph_core::UserId;
use heliograph_proto as proto;

use super::{ids, Outcome, SignedIn};
use crate::convert::{user_for, users_for};
use crate::state::Shared;

/// `users.get_me`: the caller, with their phone number.
pub async fn get_me(s: &Shared, me: SignedIn) -> Outcome<proto::User> {
    Ok(user_for(&*s.store, me.user, me.user).await?)
}

/// `users.get`: the users of `wanted` that exist, at most `MAX_IDS_PER_REQUEST` ids.
pub async fn get(s: &Shared, me: SignedIn, wanted: &[i64]) -> Outcome<Vec<proto::User>> {
    let users = s.store.users(&ids(wanted, UserId)?).await?;
    Ok(users_for(&*s.store, me.user, &users).await?)
}
