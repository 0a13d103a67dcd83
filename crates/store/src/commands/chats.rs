//! Chats and membership. [`view`] is the one authorization choke point: every command that
//! takes a chat and an acting user goes through it (or [`view_for_update`]) and answers
//! `ChatNotFound` to non-members exactly as for a chat that does not exist.

use heliograph_core::*;

use super::{dialect, log, people, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

pub async fn load<X: Tx>(tx: &mut X, id: ChatId) -> Result<Option<Chat>> {
    tx.query_opt(sql!(concat!("SELECT ", chat_cols!(), " FROM chats WHERE id = $1")), &[&id.0], rows::chat).await
}

async fn load_or_missing<X: Tx>(tx: &mut X, id: ChatId) -> Result<Chat> {
    load(tx, id).await?.ok_or(Error::ChatNotFound)
}

pub async fn membership<X: Tx>(tx: &mut X, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
    tx.query_opt(
        sql!(concat!("SELECT ", member_cols!(), " FROM members WHERE chat_id = $1 AND user_id = $2")),
        &[&chat.0, &user.0],
        rows::member,
    )
    .await
}

pub async fn private_peer<X: Tx>(tx: &mut X, chat: &Chat, user: UserId) -> Result<Option<UserId>> {
    if chat.kind != ChatKind::Private {
        return Ok(None);
    }
    let other = tx
        .query_opt(sql!("SELECT user_id FROM members WHERE chat_id = $1 AND user_id <> $2"), &[&chat.id.0, &user.0], super::user_id)
        .await?;
    Ok(Some(other.unwrap_or(user)))
}

async fn view_of<X: Tx>(tx: &mut X, user: UserId, chat: Option<Chat>) -> Result<View> {
    // A chat an operator took down answers as one that does not exist (account, #16).
    let chat = chat.filter(|c| !c.taken_down).ok_or(Error::ChatNotFound)?;
    let membership = membership(tx, chat.id, user).await?.ok_or(Error::ChatNotFound)?;
    let peer = private_peer(tx, &chat, user).await?;
    Ok(View { chat, membership, peer })
}

/// The authorization choke point: the chat as `user` sees it, or `ChatNotFound` when it does
/// not exist or `user` is not a member (the two are indistinguishable on purpose).
pub async fn view<X: Tx>(tx: &mut X, user: UserId, chat: ChatId) -> Result<View> {
    let chat = load(tx, chat).await?;
    view_of(tx, user, chat).await
}

/// [`view`] for a command that changes the chat: locks the chat's row first (PostgreSQL), so
/// the membership it checks and the sequence numbers it takes cannot change under it.
pub async fn view_for_update<X: Tx>(tx: &mut X, user: UserId, chat: ChatId) -> Result<View> {
    let chat = load_for_update(tx, chat).await?;
    view_of(tx, user, chat).await
}

async fn load_for_update<X: Tx>(tx: &mut X, id: ChatId) -> Result<Option<Chat>> {
    tx.query_opt(dialect::CHAT_FOR_UPDATE, &[&id.0], rows::chat).await
}

pub(super) fn require_manage(view: &View) -> Result<()> {
    if can_manage(view.chat.kind, view.membership.role) {
        Ok(())
    } else {
        Err(Error::AdminRequired)
    }
}

pub(super) async fn insert_member<X: Tx>(tx: &mut X, chat: ChatId, user: UserId, role: Role, top: MessageId) -> Result<bool> {
    // A new member has nothing unread from before they joined. `bot` marks the members whose
    // own log also gets the chat's own-log events (see `log::chat`).
    let added = tx
        .execute(
            sql!(
                "INSERT INTO members (chat_id, user_id, role, joined, read_inbox, read_outbox, bot)
                 VALUES ($1, $2, $3, $4, $5, 0, COALESCE((SELECT bot_owner IS NOT NULL FROM users WHERE id = $2), FALSE))
                 ON CONFLICT DO NOTHING"
            ),
            &[&chat.0, &user.0, &role.as_str(), &now(), &top.0],
        )
        .await?
        > 0;
    if added {
        tx.execute(sql!("UPDATE chats SET member_count = member_count + 1 WHERE id = $1"), &[&chat.0]).await?;
    }
    Ok(added)
}

fn pair(user: UserId, peer: UserId) -> String {
    format!("{}:{}", user.0.min(peer.0), user.0.max(peer.0))
}

/// The private chat of `user` and `peer`, created on first use. Both opening it at once on
/// two nodes: the second waits on the pair's key and finds it.
pub async fn open_private<X: Tx>(tx: &mut X, user: UserId, peer: UserId) -> Result<Chat> {
    if !people::user_exists(tx, peer).await? {
        return Err(Error::UserNotFound);
    }
    let pair = pair(user, peer);
    let created = tx
        .query_opt(
            sql!(
                "INSERT INTO chats (kind, title, creator, created, activity, pair) VALUES ('private', '', $1, $2, $3, $4)
                 ON CONFLICT (pair) DO NOTHING RETURNING id"
            ),
            &[&user.0, &now(), &now_ms(), &pair],
            super::int,
        )
        .await?;
    let Some(id) = created.map(ChatId) else {
        return find_private(tx, user, peer).await?.ok_or(Error::ChatNotFound);
    };
    insert_member(tx, id, user, Role::Member, MessageId(0)).await?;
    insert_member(tx, id, peer, Role::Member, MessageId(0)).await?;
    load_or_missing(tx, id).await
}

/// Creates a group or channel with `creator` as its creator and `members` added.
pub async fn create_chat<X: Tx>(
    tx: &mut X,
    creator: UserId,
    kind: ChatKind,
    title: &Title,
    username: Option<&Username>,
    members: &[UserId],
) -> Result<Chat> {
    if kind == ChatKind::Private {
        return Err(Error::Invalid("private chats are opened with a user, not created".into()));
    }
    let mut wanted: Vec<UserId> = members.iter().copied().filter(|&m| m != creator).collect();
    wanted.sort();
    wanted.dedup();
    for &m in &wanted {
        if !people::user_exists(tx, m).await? {
            return Err(Error::UserNotFound);
        }
    }
    if kind == ChatKind::Group && wanted.len() as u64 + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    let own_log = keeps_own_log(kind, wanted.len() as u64 + 1, tx.limits().large_group_threshold);
    let id = super::one(
        tx,
        sql!(
            "INSERT INTO chats (kind, title, username, creator, own_log, created, activity) VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id"
        ),
        &[&kind.as_str(), &title.as_str(), &username.map(Username::as_str), &creator.0, &own_log, &now(), &now_ms()],
        super::int,
    )
    .await?;
    let id = ChatId(id);
    if let Some(name) = username {
        people::claim_username(tx, name, None, Some(id)).await?;
    }
    insert_member(tx, id, creator, Role::Creator, MessageId(0)).await?;
    for &m in &wanted {
        insert_member(tx, id, m, Role::Member, MessageId(0)).await?;
    }
    // Everyone in it learns about the chat from their own log; ascending ids keep the lock order.
    let mut everyone: Vec<UserId> = std::iter::once(creator).chain(wanted).collect();
    everyone.sort();
    for m in everyone {
        let role = if m == creator { Role::Creator } else { Role::Member };
        let event = joined(tx, id, m, role, creator).await?;
        log::user(tx, m, event).await?;
    }
    load_or_missing(tx, id).await
}

/// After members joined: a group that grew past the threshold starts its own log, and every
/// member is told through their own log.
async fn maybe_grow_own_log<X: Tx>(tx: &mut X, chat: ChatId) -> Result<Chat> {
    let current = load_or_missing(tx, chat).await?;
    if current.own_log || !keeps_own_log(current.kind, current.member_count, tx.limits().large_group_threshold) {
        return Ok(current);
    }
    tx.execute(sql!("UPDATE chats SET own_log = TRUE WHERE id = $1"), &[&chat.0]).await?;
    for m in log::member_ids(tx, chat).await? {
        log::user(tx, m, Event::ChatChanged { chat }).await?;
    }
    load_or_missing(tx, chat).await
}

/// Announces that `user` joined `chat` (added by `by`).
pub(super) async fn announce_join<X: Tx>(tx: &mut X, chat: &Chat, user: UserId, by: UserId) -> Result<()> {
    let event = Event::Participant { chat: chat.id, user, role: Some(Role::Member), by };
    match (chat.kind, chat.own_log) {
        // Channels do not announce subscribers to each other.
        (ChatKind::Channel, _) => {}
        (_, true) => {
            // A joining bot learns of the chat below, like every joiner.
            log::chat(tx, chat.id, event, Some(user)).await?;
        }
        (_, false) => {
            for m in log::member_ids(tx, chat.id).await? {
                if m != user {
                    log::user(tx, m, event.clone()).await?;
                }
            }
        }
    }
    let event = joined(tx, chat.id, user, Role::Member, by).await?;
    log::user(tx, user, event).await?;
    Ok(())
}

/// How a new member learns of a chat from their own log: people by `ChatChanged` (their
/// clients load the chat); bots by a `Participant` event naming themselves (the Bot API's
/// `my_chat_member`).
async fn joined<X: Tx>(tx: &mut X, chat: ChatId, user: UserId, role: Role, by: UserId) -> Result<Event> {
    Ok(if people::is_bot(tx, user).await? { Event::Participant { chat, user, role: Some(role), by } } else { Event::ChatChanged { chat } })
}

/// Locks the user rows a membership change may log to: every member's (and `extra`) while
/// the chat writes per-member logs, only `extra` and the bot members (who get copies of the
/// chat's own log) once it keeps its own log (a channel's subscribers are never touched one
/// by one). Nothing to do where there is one writer.
pub(super) async fn lock_for_membership<X: Tx>(tx: &mut X, chat: &Chat, extra: &[UserId]) -> Result<()> {
    if !X::CONCURRENT {
        return Ok(());
    }
    let mut ids = extra.to_vec();
    if chat.own_log {
        ids.extend(log::bot_member_ids(tx, chat.id).await?);
    } else {
        ids.extend(log::member_ids(tx, chat.id).await?);
    }
    tx.lock_users(&ids).await
}

pub async fn add_members<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, users: &[UserId]) -> Result<Chat> {
    let v = view_for_update(tx, actor, chat).await?;
    require_manage(&v)?;
    super::secret::refuse_secret(tx, &v.chat).await?;
    for &u in users {
        if !people::user_exists(tx, u).await? {
            return Err(Error::UserNotFound);
        }
    }
    lock_for_membership(tx, &v.chat, users).await?;
    let mut added = Vec::new();
    for &u in users {
        // An admin adding someone lets them back in.
        super::restrictions::forgive(tx, chat, u).await?;
        if insert_member(tx, chat, u, Role::Member, v.chat.top_message).await? {
            added.push(u);
        }
    }
    let grown = maybe_grow_own_log(tx, chat).await?;
    if grown.kind == ChatKind::Group && grown.member_count > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    for u in added {
        announce_join(tx, &grown, u, actor).await?;
    }
    load_or_missing(tx, chat).await
}

/// Removes `user`; `actor == user` means leaving.
pub async fn remove_member<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId) -> Result<()> {
    let v = view_for_update(tx, actor, chat).await?;
    if v.chat.kind == ChatKind::Private {
        return Err(Error::Invalid("you cannot leave or remove people from a private chat".into()));
    }
    super::secret::refuse_secret(tx, &v.chat).await?;
    let target = if actor == user { v.membership.clone() } else { membership(tx, chat, user).await?.ok_or(Error::UserNotFound)? };
    if actor != user {
        require_manage(&v)?;
        if !can_remove(v.membership.role, target.role) {
            return Err(Error::AdminRequired);
        }
    }
    let heir = if target.role == Role::Creator { heir(tx, chat, user).await? } else { None };
    lock_for_membership(tx, &v.chat, &[Some(user), heir].into_iter().flatten().collect::<Vec<_>>()).await?;
    let event = Event::Participant { chat, user, role: None, by: actor };
    if v.chat.own_log {
        if v.chat.kind != ChatKind::Channel {
            // A leaving bot is told once, below.
            log::chat(tx, chat, event.clone(), Some(user)).await?;
        }
        log::user(tx, user, event).await?;
    } else {
        log::for_chat(tx, &v.chat, actor, event).await?;
    }
    tx.execute(sql!("DELETE FROM members WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0]).await?;
    tx.execute(sql!("UPDATE chats SET member_count = member_count - 1 WHERE id = $1"), &[&chat.0]).await?;
    if let Some(heir) = heir {
        hand_over(tx, &v.chat, user, heir).await?;
    }
    Ok(())
}

/// Who takes over from a leaving creator: the longest-standing admin, or else the
/// longest-standing member.
async fn heir<X: Tx>(tx: &mut X, chat: ChatId, leaver: UserId) -> Result<Option<UserId>> {
    tx.query_opt(
        sql!("SELECT user_id FROM members WHERE chat_id = $1 AND user_id <> $2 ORDER BY role = 'admin' DESC, joined, user_id LIMIT 1"),
        &[&chat.0, &leaver.0],
        super::user_id,
    )
    .await
}

/// A creator who leaves hands the chat to `heir`, so someone can always manage it.
async fn hand_over<X: Tx>(tx: &mut X, chat: &Chat, leaver: UserId, heir: UserId) -> Result<()> {
    tx.execute(sql!("UPDATE members SET role = 'creator' WHERE chat_id = $1 AND user_id = $2"), &[&chat.id.0, &heir.0]).await?;
    tx.execute(sql!("UPDATE chats SET creator = $2 WHERE id = $1"), &[&chat.id.0, &heir.0]).await?;
    let event = Event::Participant { chat: chat.id, user: heir, role: Some(Role::Creator), by: leaver };
    if chat.kind == ChatKind::Channel {
        log::user(tx, heir, event).await?;
    } else {
        log::for_chat(tx, chat, leaver, event).await?;
    }
    Ok(())
}

pub async fn set_title<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, title: &Title) -> Result<Chat> {
    let v = view_for_update(tx, actor, chat).await?;
    require_manage(&v)?;
    tx.execute(sql!("UPDATE chats SET title = $2 WHERE id = $1"), &[&chat.0, &title.as_str()]).await?;
    log::for_chat(tx, &v.chat, actor, Event::ChatChanged { chat }).await?;
    load_or_missing(tx, chat).await
}

pub async fn set_admin<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> Result<()> {
    let v = view_for_update(tx, actor, chat).await?;
    if v.chat.kind == ChatKind::Private || v.membership.role != Role::Creator {
        return Err(Error::AdminRequired);
    }
    let target = membership(tx, chat, user).await?.ok_or(Error::UserNotFound)?;
    if target.role == Role::Creator {
        return Err(Error::Invalid("the creator's role cannot change".into()));
    }
    let role = if admin { Role::Admin } else { Role::Member };
    tx.execute(sql!("UPDATE members SET role = $3 WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0, &role.as_str()]).await?;
    let event = Event::Participant { chat, user, role: Some(role), by: actor };
    if v.chat.kind == ChatKind::Channel {
        log::user(tx, user, event).await?;
    } else {
        log::for_chat(tx, &v.chat, actor, event).await?;
    }
    Ok(())
}

pub async fn members<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> Result<Vec<Membership>> {
    let v = view(tx, actor, chat).await?;
    if v.chat.kind == ChatKind::Channel && !v.membership.role.is_admin() {
        return Err(Error::AdminRequired);
    }
    tx.query(
        sql!(concat!("SELECT ", member_cols!(), " FROM members WHERE chat_id = $1 ORDER BY joined, user_id LIMIT $2 OFFSET $3")),
        &[&chat.0, &i64::from(limit), &i64::from(offset)],
        rows::member,
    )
    .await
}

/// `user`'s membership of `chat`, as `actor` (a member) sees it; `None` if not a member.
pub async fn member<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
    let v = view(tx, actor, chat).await?;
    if user == actor {
        return Ok(Some(v.membership));
    }
    membership(tx, chat, user).await
}

/// The private chat of `user` and `peer` if one of them ever opened it (never creates).
pub async fn find_private<X: Tx>(tx: &mut X, user: UserId, peer: UserId) -> Result<Option<Chat>> {
    tx.query_opt(sql!(concat!("SELECT ", chat_cols!(), " FROM chats WHERE pair = $1")), &[&pair(user, peer)], rows::chat).await
}

/// The chat's invite token, made on first use.
pub async fn export_invite<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<String> {
    let v = view_for_update(tx, actor, chat).await?;
    require_manage(&v)?;
    super::secret::refuse_secret(tx, &v.chat).await?;
    let existing: Option<String> = super::one(tx, sql!("SELECT invite FROM chats WHERE id = $1"), &[&chat.0], |r| r.get(0)).await?;
    if let Some(token) = existing {
        return Ok(token);
    }
    let token: String = (0..22)
        .map(|_| {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            ALPHABET[rand::random_range(0..ALPHABET.len())] as char
        })
        .collect();
    tx.execute(sql!("UPDATE chats SET invite = $2 WHERE id = $1"), &[&chat.0, &token]).await?;
    Ok(token)
}

pub async fn join<X: Tx>(tx: &mut X, user: UserId, how: &JoinBy) -> Result<Chat> {
    let found = match how {
        JoinBy::Invite(token) => {
            let id = tx.query_opt(sql!("SELECT id FROM chats WHERE invite = $1"), &[token], super::int).await?;
            ChatId(id.ok_or(Error::InviteInvalid)?)
        }
        JoinBy::Username(name) => match people::username_holder(tx, name).await? {
            Some((None, Some(chat))) => ChatId(chat),
            _ => return Err(Error::ChatNotFound),
        },
    };
    let chat = load_for_update(tx, found).await?.filter(|c| !c.taken_down).ok_or(Error::ChatNotFound)?;
    if chat.kind == ChatKind::Private {
        return Err(Error::ChatNotFound);
    }
    if membership(tx, chat.id, user).await?.is_some() {
        return Ok(chat);
    }
    if super::restrictions::banned(tx, chat.id, user).await?.is_some() {
        return Err(Error::Invalid("you are banned from this chat; an admin can let you back in".into()));
    }
    if chat.kind == ChatKind::Group && chat.member_count + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    lock_for_membership(tx, &chat, &[user]).await?;
    insert_member(tx, chat.id, user, Role::Member, chat.top_message).await?;
    let grown = maybe_grow_own_log(tx, chat.id).await?;
    announce_join(tx, &grown, user, user).await?;
    Ok(grown)
}

/// The users who should see ephemeral events (typing) of `chat`, or `None` when the chat
/// keeps its own log (then they go to the chat's topic).
pub async fn typing_audience<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<Option<Vec<UserId>>> {
    let v = view(tx, actor, chat).await?;
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    if v.chat.own_log {
        return Ok(None);
    }
    Ok(Some(log::member_ids(tx, chat).await?.into_iter().filter(|&m| m != actor).collect()))
}

/// Chats `user` belongs to that keep their own log, with their current pts.
pub async fn own_log_chats<X: Tx>(tx: &mut X, user: UserId) -> Result<Vec<(ChatId, Pts)>> {
    tx.query(
        sql!("SELECT c.id, c.pts FROM members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $1 AND c.own_log ORDER BY c.id"),
        &[&user.0],
        |r| Ok((ChatId(r.get(0)?), r.get(1)?)),
    )
    .await
}
