//! `bots.*`: bot accounts a person owns. The bots themselves speak the Bot API (`botapi/`).

use heliograph_bus::{Notice, Topic};
use heliograph_core::{DisplayName, UserId, Username};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store as store;

use super::{Outcome, SignedIn};
use crate::codes;
use crate::convert::users_for;
use crate::errors::Failure;
use crate::state::Shared;

/// Bots one person may own.
pub const MAX_BOTS_PER_OWNER: usize = 20;

/// `bots.create`: a bot account owned by the caller, and its token `<bot id>:<secret>` (the
/// secret stored hashed, as the bot's one session). The username must end in `bot`; bots
/// cannot create bots; at most [`MAX_BOTS_PER_OWNER`] per owner (`BOTS_TOO_MUCH`).
pub async fn create(s: &Shared, me: SignedIn, name: &str, username: &str) -> Outcome<proto::CreatedBot> {
    let user = me.user;
    let name = DisplayName::parse(name)?;
    let username = Username::parse(username)?;
    if !username.as_str().to_ascii_lowercase().ends_with("bot") {
        return Err(Failure(proto::Error::new(ErrorCode::UsernameInvalid, "a bot's username must end in `bot` (like weather_bot)")));
    }
    let owner = s.store.users(&[user]).await?.pop().ok_or(store::Error::UserNotFound)?;
    if owner.is_bot() {
        return Err(Failure(proto::Error::new(ErrorCode::BotsTooMuch, "bots cannot create bots: ask the bot's owner")));
    }
    if s.store.bots(user).await?.len() >= MAX_BOTS_PER_OWNER {
        return Err(Failure(proto::Error::new(
            ErrorCode::BotsTooMuch,
            format!("you already own {MAX_BOTS_PER_OWNER} bots, the most allowed"),
        )));
    }
    let secret = codes::new_token();
    let bot = s.store.create_bot(user, &name, &username, &codes::hash_token(&secret)).await?;
    let token = format!("{}:{secret}", bot.id.0);
    Ok(proto::CreatedBot { bot: users_for(&*s.store, user, &[bot]).await?.remove(0), token })
}

/// `bots.list`: the caller's bots, oldest first.
pub async fn list(s: &Shared, me: SignedIn) -> Outcome<Vec<proto::User>> {
    let bots = s.store.bots(me.user).await?;
    Ok(users_for(&*s.store, me.user, &bots).await?)
}

/// `bots.revoke_token`: a new token for one of the caller's bots. The old one stops at once:
/// every node's Bot API token cache forgets it (`CredentialsRevoked` on `Topic::Revocations`,
/// this node's at once), and every session the bot had open (a WebSocket signed in with the
/// old token, on any node) is told through the bus.
pub async fn revoke_token(s: &Shared, me: SignedIn, bot_id: i64) -> Outcome<proto::BotToken> {
    let bot = UserId(bot_id);
    // Whatever the bot has open (a WebSocket signed in with the old token) is cut.
    let old = s.store.sessions(bot).await?;
    let secret = codes::new_token();
    s.store.replace_bot_token(me.user, bot, &codes::hash_token(&secret)).await?;
    s.bot_tokens.forget(bot);
    s.bus.publish(Topic::Revocations, Notice::CredentialsRevoked { user_id: bot.0 });
    for session in old {
        s.bus.publish(Topic::Session(session.id.0), Notice::SessionRevoked { session_id: session.id.0 });
    }
    Ok(proto::BotToken { token: format!("{bot_id}:{secret}") })
}
