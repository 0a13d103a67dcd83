//! Finding people by phone number (`contacts.add` with a `phone`), made slow to enumerate.
//!
//! Whoever can ask "who has +1 415 555 0100?" fast enough can walk a country's numbering
//! plan and learn who uses the service. So each account's lookups are limited twice
//! ([`PhoneLookups::RATE`], [`PhoneLookups::DAILY`]), counted whether or not the number has
//! an account, and each account chooses who may find it (`account.set_privacy`, decided by
//! [`heliograph_core::may_find_by_phone`]). A hidden account answers exactly as a number
//! without an account: the same `USER_NOT_FOUND` and message.

use std::time::Duration;

use heliograph_core::{may_find_by_phone, Phone, PhonePrivacy, UserId};
use heliograph_proto::{Error, ErrorCode};
use heliograph_store::{Store, User};

use crate::errors::{flood_wait, from_store};
use crate::identity::PhoneKeys;
use crate::limits::{KeyedLimiter, Rate};

/// The answer for a number nobody may find, registered or not.
pub const NOT_FOUND: &str = "no account has that phone number or username";

/// Phone lookups per account.
pub struct PhoneLookups {
    rate: KeyedLimiter<i64>,
    daily: KeyedLimiter<i64>,
}

impl Default for PhoneLookups {
    fn default() -> PhoneLookups {
        PhoneLookups { rate: KeyedLimiter::new(Self::RATE, 1_000_000), daily: KeyedLimiter::new(Self::DAILY, 1_000_000) }
    }
}

impl PhoneLookups {
    /// 10 lookups at once, then one every 30 s.
    pub const RATE: Rate = Rate::new(10, Duration::from_secs(300));
    /// 100 lookups a day (a burst of 100, refilled over 24 hours).
    pub const DAILY: Rate = Rate::new(100, Duration::from_secs(24 * 3600));

    /// The account `viewer` may find at `phone`, counting one lookup.
    pub async fn find(&self, store: &dyn Store, keys: &PhoneKeys, viewer: UserId, phone: &Phone) -> Result<Option<User>, Error> {
        self.rate.check(&viewer.0).map_err(|wait| flood_wait(wait.secs(), "phone number lookups"))?;
        self.daily.check(&viewer.0).map_err(|wait| flood_wait(wait.secs(), "phone number lookups today"))?;
        let Some(user) = store.user_by_phone(keys.hash(phone)).await.map_err(from_store)? else { return Ok(None) };
        if user.id == viewer {
            return Ok(Some(user));
        }
        let privacy = store.phone_privacy(user.id).await.map_err(from_store)?;
        // Whether the owner has the searcher in their contacts: asked only when it matters.
        let their_contact = privacy == PhonePrivacy::Contacts
            && store.relations(user.id, &[viewer]).await.map_err(from_store)?.first().is_some_and(|r| r.contact);
        Ok(may_find_by_phone(privacy, their_contact).then_some(user))
    }
}

/// A lookup that found nobody the caller may see.
pub fn not_found() -> Error {
    Error::new(ErrorCode::UserNotFound, NOT_FOUND)
}
