//! `updates.*`: catching up with the update logs (the caller's own, and the own log of each
//! channel or large group), as the live pushes render them.

use heliograph_core::ChatId;
use heliograph_proto as proto;
use heliograph_store as store;

use super::{Outcome, SignedIn};
use crate::convert::difference;
use crate::state::Shared;

/// `updates.get_state`: the top of the caller's log, and the server's clock.
pub async fn get_state(s: &Shared, me: SignedIn) -> Outcome<proto::State> {
    Ok(proto::State { pts: s.store.state(me.user).await?, date: store::now() })
}

/// `updates.get_difference`: the caller's log after `pts`, at most `limits.difference_limit`
/// events per call (`TooLong` when the caller is too far behind).
pub async fn get_difference(s: &Shared, me: SignedIn, pts: i64, limit: Option<u32>) -> Outcome<proto::Difference> {
    let most = s.config.limits.difference_limit;
    let diff = s.store.difference(me.user, pts, limit.unwrap_or(most).clamp(1, most)).await?;
    Ok(difference(&*s.store, Some(me.user), diff).await)
}

/// `updates.get_chat_difference`: a chat's own log after `pts`, for its members; limited as
/// `updates.get_difference`.
pub async fn get_chat_difference(s: &Shared, me: SignedIn, chat_id: i64, pts: i64, limit: Option<u32>) -> Outcome<proto::Difference> {
    let most = s.config.limits.difference_limit;
    let diff = s.store.chat_difference(me.user, ChatId(chat_id), pts, limit.unwrap_or(most).clamp(1, most)).await?;
    Ok(difference(&*s.store, None, diff).await)
}
