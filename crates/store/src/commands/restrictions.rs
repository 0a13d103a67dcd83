//! Groups moderated by their admins (#19): what members who are not admins may send (the
//! group's [`Permissions`], narrowed per member by a restriction), bans that keep a person
//! out, and the group's description. Enforced where every path goes: `messages::send` asks
//! [`allowed`], `chats::join` asks [`banned`]. Every command authorizes through
//! `chats::view_for_update` and needs an admin (`rules::can_manage`).

use heliograph_core::*;

use super::{chats, exists, log, people, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// A time limit still in force: `None` (for ever) or later than now.
fn in_force(until: Option<i64>) -> bool {
    until.is_none_or(|u| u > now())
}

/// The admin's view of a group (not a private chat, not a channel) they may manage.
async fn managed_group<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<View> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    chats::require_manage(&v)?;
    if v.chat.kind != ChatKind::Group {
        return Err(Error::Invalid("members are restricted in groups only".into()));
    }
    Ok(v)
}

/// What `user` may send in group `chat` now: the group's permissions and their own
/// restriction together.
pub async fn allowed<X: Tx>(tx: &mut X, chat: ChatId, user: UserId) -> Result<Permissions> {
    let group = settings(tx, chat).await?.allowed;
    let own = tx
        .query_opt(sql!("SELECT allowed, until FROM member_restrictions WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0], |r| {
            Ok((Permissions::from_bits(r.get(0)?), r.get::<Option<i64>>(1)?))
        })
        .await?;
    Ok(match own {
        Some((own, until)) if in_force(until) => group.and(own),
        _ => group,
    })
}

/// Whether `user` is banned from `chat` now; `Some(until)` if so.
pub async fn banned<X: Tx>(tx: &mut X, chat: ChatId, user: UserId) -> Result<Option<Option<i64>>> {
    let ban = tx
        .query_opt(sql!("SELECT until FROM chat_bans WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0], |r| {
            r.get::<Option<i64>>(0)
        })
        .await?;
    Ok(ban.filter(|until| in_force(*until)))
}

async fn settings<X: Tx>(tx: &mut X, chat: ChatId) -> Result<ChatSettings> {
    let stored = tx
        .query_opt(sql!("SELECT allowed, description FROM chat_settings WHERE chat_id = $1"), &[&chat.0], |r| {
            Ok(ChatSettings { allowed: Permissions::from_bits(r.get(0)?), description: r.get(1)? })
        })
        .await?;
    Ok(stored.unwrap_or(ChatSettings { allowed: Permissions::ALL, description: String::new() }))
}

/// The chat's permissions and description, for a member.
pub async fn chat_settings<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<ChatSettings> {
    chats::view(tx, actor, chat).await?;
    settings(tx, chat).await
}

async fn save_settings<X: Tx>(tx: &mut X, chat: ChatId, new: &ChatSettings) -> Result<()> {
    tx.execute(
        sql!(
            "INSERT INTO chat_settings (chat_id, allowed, description) VALUES ($1, $2, $3)
             ON CONFLICT (chat_id) DO UPDATE SET allowed = excluded.allowed, description = excluded.description"
        ),
        &[&chat.0, &new.allowed.bits(), &new.description],
    )
    .await?;
    Ok(())
}

/// What members who are not admins may send in the group.
pub async fn set_chat_permissions<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, allowed: Permissions) -> Result<()> {
    let v = managed_group(tx, actor, chat).await?;
    let current = settings(tx, chat).await?;
    save_settings(tx, chat, &ChatSettings { allowed, ..current }).await?;
    log::for_chat(tx, &v.chat, actor, Event::ChatChanged { chat }).await?;
    Ok(())
}

/// The group's or channel's description (at most [`MAX_DESCRIPTION_CHARS`], checked here:
/// visible text, lines allowed).
pub async fn set_description<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, description: &str) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    chats::require_manage(&v)?;
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::Invalid(format!("a description is at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    if description.chars().any(|c| c.is_control() && c != '\n') || spoofing_char(description).is_some() {
        return Err(Error::Invalid("a description cannot contain control, invisible or text-direction characters".into()));
    }
    let current = settings(tx, chat).await?;
    save_settings(tx, chat, &ChatSettings { description: description.to_string(), ..current }).await?;
    log::for_chat(tx, &v.chat, actor, Event::ChatChanged { chat }).await?;
    Ok(())
}

/// Restricts a member who is not an admin to `allowed` until `until` (`None`: for ever);
/// everything allowed lifts the restriction.
pub async fn restrict_member<X: Tx>(
    tx: &mut X,
    actor: UserId,
    chat: ChatId,
    user: UserId,
    allowed: Permissions,
    until: Option<i64>,
) -> Result<()> {
    managed_group(tx, actor, chat).await?;
    let target = chats::membership(tx, chat, user).await?.ok_or(Error::UserNotFound)?;
    if target.role.is_admin() {
        return Err(Error::Invalid("an admin cannot be restricted: demote them first".into()));
    }
    if allowed == Permissions::ALL {
        tx.execute(sql!("DELETE FROM member_restrictions WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
        return Ok(());
    }
    tx.execute(
        sql!(
            "INSERT INTO member_restrictions (chat_id, user_id, allowed, until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (chat_id, user_id) DO UPDATE SET allowed = excluded.allowed, until = excluded.until"
        ),
        &[&chat.0, &user.0, &allowed.bits(), &until],
    )
    .await?;
    Ok(())
}

/// Bans `user` until `until` (`None`: for ever): removed if a member (as `remove_member`
/// removes, with the same rule: admins are removed by the creator only), kept out after.
pub async fn ban_member<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId, until: Option<i64>) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    chats::require_manage(&v)?;
    if user == actor {
        return Err(Error::Invalid("you cannot ban yourself; leave the chat instead".into()));
    }
    if !people::user_exists(tx, user).await? {
        return Err(Error::UserNotFound);
    }
    if chats::membership(tx, chat, user).await?.is_some() {
        chats::remove_member(tx, actor, chat, user).await?;
    }
    tx.execute(
        sql!(
            "INSERT INTO chat_bans (chat_id, user_id, until, by_user) VALUES ($1, $2, $3, $4)
             ON CONFLICT (chat_id, user_id) DO UPDATE SET until = excluded.until, by_user = excluded.by_user"
        ),
        &[&chat.0, &user.0, &until, &actor.0],
    )
    .await?;
    tx.execute(sql!("DELETE FROM member_restrictions WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
    Ok(())
}

/// Lifts a ban. As Telegram's `unbanChatMember`, a member who was not banned is removed
/// (so they are out but may come back), unless `only_if_banned`.
pub async fn unban_member<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId, only_if_banned: bool) -> Result<()> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    chats::require_manage(&v)?;
    let was_banned = exists(tx, sql!("SELECT 1 FROM chat_bans WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
    if was_banned {
        tx.execute(sql!("DELETE FROM chat_bans WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
        return Ok(());
    }
    if !only_if_banned && user != actor && chats::membership(tx, chat, user).await?.is_some() {
        chats::remove_member(tx, actor, chat, user).await?;
    }
    Ok(())
}

/// An admin adding someone lifts their ban.
pub async fn forgive<X: Tx>(tx: &mut X, chat: ChatId, user: UserId) -> Result<()> {
    tx.execute(sql!("DELETE FROM chat_bans WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
    Ok(())
}

/// `user`'s standing in `chat`, as a member (`actor`) sees it.
pub async fn standing<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId) -> Result<Standing> {
    chats::view(tx, actor, chat).await?;
    let membership = chats::membership(tx, chat, user).await?;
    let banned = banned(tx, chat, user).await?;
    let restricted = tx
        .query_opt(sql!("SELECT allowed, until FROM member_restrictions WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0], |r| {
            Ok((Permissions::from_bits(r.get(0)?), r.get::<Option<i64>>(1)?))
        })
        .await?
        .filter(|(_, until)| in_force(*until));
    Ok(Standing { membership, banned, restricted })
}
