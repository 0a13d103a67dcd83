//! People: profiles, usernames, contacts, blocks, who may find an account by phone.

use std::collections::HashMap;

use heliograph_core::*;

use super::{chats, dialect, exists, rows, sql, Ids, Tx};
use crate::model::*;
use crate::{Error, Result};

pub async fn user<X: Tx>(tx: &mut X, id: UserId) -> Result<User> {
    tx.query_opt(sql!(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1")), &[&id.0], rows::user)
        .await?
        .ok_or(Error::UserNotFound)
}

pub async fn user_exists<X: Tx>(tx: &mut X, id: UserId) -> Result<bool> {
    exists(tx, sql!("SELECT 1 FROM users WHERE id = $1"), &[&id.0]).await
}

pub async fn is_bot<X: Tx>(tx: &mut X, id: UserId) -> Result<bool> {
    let bot = tx.query_opt(sql!("SELECT bot_owner IS NOT NULL FROM users WHERE id = $1"), &[&id.0], |r| r.get::<bool>(0)).await?;
    Ok(bot.unwrap_or(false))
}

/// The users among `ids` that exist, in the order asked.
pub async fn users<X: Tx>(tx: &mut X, ids: &[UserId]) -> Result<Vec<User>> {
    let found = tx.query(dialect::USERS_BY_IDS, &[&Ids::new(ids)], rows::user).await?;
    let found: HashMap<UserId, User> = found.into_iter().map(|u| (u.id, u)).collect();
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

pub async fn is_contact<X: Tx>(tx: &mut X, owner: UserId, contact: UserId) -> Result<bool> {
    exists(tx, sql!("SELECT 1 FROM contacts WHERE owner = $1 AND contact = $2"), &[&owner.0, &contact.0]).await
}

pub async fn is_blocked<X: Tx>(tx: &mut X, owner: UserId, target: UserId) -> Result<bool> {
    exists(tx, sql!("SELECT 1 FROM blocks WHERE owner = $1 AND target = $2"), &[&owner.0, &target.0]).await
}

pub async fn relations<X: Tx>(tx: &mut X, viewer: UserId, others: &[UserId]) -> Result<Vec<Relation>> {
    let mut out = Vec::with_capacity(others.len());
    for &o in others {
        out.push(Relation {
            contact: is_contact(tx, viewer, o).await?,
            contact_of: is_contact(tx, o, viewer).await?,
            blocked: is_blocked(tx, viewer, o).await?,
        });
    }
    Ok(out)
}

/// Who holds `name`: (user, chat).
pub async fn username_holder<X: Tx>(tx: &mut X, name: &Username) -> Result<Option<(Option<i64>, Option<i64>)>> {
    tx.query_opt(sql!("SELECT user_id, chat_id FROM usernames WHERE key = $1"), &[&name.key()], |r| Ok((r.get(0)?, r.get(1)?))).await
}

pub async fn resolve<X: Tx>(tx: &mut X, username: &Username) -> Result<Option<Resolved>> {
    Ok(match username_holder(tx, username).await? {
        Some((Some(u), _)) => Some(Resolved::User(user(tx, UserId(u)).await?)),
        Some((None, Some(ch))) => chats::load(tx, ChatId(ch)).await?.filter(|c| !c.taken_down).map(Resolved::Chat),
        _ => None,
    })
}

pub async fn update_profile<X: Tx>(tx: &mut X, id: UserId, name: Option<&DisplayName>, bio: Option<&Bio>) -> Result<User> {
    if let Some(name) = name {
        tx.execute(sql!("UPDATE users SET name = $2 WHERE id = $1"), &[&id.0, &name.as_str()]).await?;
    }
    if let Some(bio) = bio {
        tx.execute(sql!("UPDATE users SET bio = $2 WHERE id = $1"), &[&id.0, &bio.as_str()]).await?;
    }
    user(tx, id).await
}

/// Claims `name` for a user or a chat in the one shared namespace. A concurrent claim of the
/// same name waits on the key and then sees the winner.
pub async fn claim_username<X: Tx>(tx: &mut X, name: &Username, user: Option<UserId>, chat: Option<ChatId>) -> Result<()> {
    let (user, chat) = (user.map(|u| u.0), chat.map(|c| c.0));
    let claimed = tx
        .execute(
            sql!("INSERT INTO usernames (key, user_id, chat_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING"),
            &[&name.key(), &user, &chat],
        )
        .await?;
    if claimed > 0 {
        return Ok(());
    }
    match username_holder(tx, name).await? {
        Some((u, ch)) if u == user && ch == chat => Ok(()),
        _ => Err(Error::UsernameOccupied),
    }
}

pub async fn set_username<X: Tx>(tx: &mut X, id: UserId, username: Option<&Username>) -> Result<User> {
    let current = user(tx, id).await?;
    if let Some(name) = username {
        claim_username(tx, name, Some(id), None).await?;
    }
    if let Some(old) = current.username.as_deref().and_then(|n| Username::parse(n).ok()) {
        if username.map(Username::key) != Some(old.key()) {
            tx.execute(sql!("DELETE FROM usernames WHERE key = $1 AND user_id = $2"), &[&old.key(), &id.0]).await?;
        }
    }
    tx.execute(sql!("UPDATE users SET username = $2 WHERE id = $1"), &[&id.0, &username.map(Username::as_str)]).await?;
    user(tx, id).await
}

pub async fn add_contact<X: Tx>(tx: &mut X, owner: UserId, contact: UserId) -> Result<()> {
    if owner == contact || !user_exists(tx, contact).await? {
        return Err(Error::UserNotFound);
    }
    tx.execute(sql!("INSERT INTO contacts (owner, contact) VALUES ($1, $2) ON CONFLICT DO NOTHING"), &[&owner.0, &contact.0]).await?;
    Ok(())
}

pub async fn remove_contact<X: Tx>(tx: &mut X, owner: UserId, contact: UserId) -> Result<()> {
    tx.execute(sql!("DELETE FROM contacts WHERE owner = $1 AND contact = $2"), &[&owner.0, &contact.0]).await?;
    Ok(())
}

pub async fn contacts<X: Tx>(tx: &mut X, owner: UserId) -> Result<Vec<User>> {
    tx.query(
        sql!(
            "SELECT u.id, u.name, u.username, u.bio, u.created, u.bot_owner FROM contacts k JOIN users u ON u.id = k.contact
             WHERE k.owner = $1 ORDER BY u.name, u.id"
        ),
        &[&owner.0],
        rows::user,
    )
    .await
}

pub async fn set_blocked<X: Tx>(tx: &mut X, owner: UserId, target: UserId, blocked: bool) -> Result<()> {
    if owner == target || !user_exists(tx, target).await? {
        return Err(Error::UserNotFound);
    }
    if blocked {
        tx.execute(sql!("INSERT INTO blocks (owner, target) VALUES ($1, $2) ON CONFLICT DO NOTHING"), &[&owner.0, &target.0]).await?;
    } else {
        tx.execute(sql!("DELETE FROM blocks WHERE owner = $1 AND target = $2"), &[&owner.0, &target.0]).await?;
    }
    Ok(())
}

pub async fn blocked<X: Tx>(tx: &mut X, owner: UserId) -> Result<Vec<User>> {
    tx.query(
        sql!(
            "SELECT u.id, u.name, u.username, u.bio, u.created, u.bot_owner FROM blocks b JOIN users u ON u.id = b.target
             WHERE b.owner = $1 ORDER BY u.name, u.id"
        ),
        &[&owner.0],
        rows::user,
    )
    .await
}

/// `users.find_by_phone` (migration 0004): 0 everybody, 1 contacts, 2 nobody. A SMALLINT on
/// PostgreSQL, so it is bound as an `i16` and read back through `CAST(… AS BIGINT)`.
fn privacy_code(privacy: PhonePrivacy) -> i16 {
    match privacy {
        PhonePrivacy::Everybody => 0,
        PhonePrivacy::Contacts => 1,
        PhonePrivacy::Nobody => 2,
    }
}

pub async fn phone_privacy<X: Tx>(tx: &mut X, user: UserId) -> Result<PhonePrivacy> {
    let code = tx.query_opt(sql!("SELECT CAST(find_by_phone AS BIGINT) FROM users WHERE id = $1"), &[&user.0], super::int).await?;
    match code {
        None => Err(Error::UserNotFound),
        Some(1) => Ok(PhonePrivacy::Contacts),
        Some(2) => Ok(PhonePrivacy::Nobody),
        Some(_) => Ok(PhonePrivacy::Everybody),
    }
}

pub async fn set_phone_privacy<X: Tx>(tx: &mut X, user: UserId, privacy: PhonePrivacy) -> Result<()> {
    match tx.execute(sql!("UPDATE users SET find_by_phone = $2 WHERE id = $1"), &[&user.0, &privacy_code(privacy)]).await? {
        0 => Err(Error::UserNotFound),
        _ => Ok(()),
    }
}
