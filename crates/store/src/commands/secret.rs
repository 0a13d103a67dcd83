//! Secret chats (MLS, RFC 9420): the storage half of the Delivery Service (RFC 9750). The
//! server's MLS code (`heliograph-server`'s `mls.rs`) checks every handshake against the
//! group's public state before it gets here; these commands keep what it decided consistent
//! under concurrency:
//!
//! - the key package directory hands a one-time package out at most once: a claim locks the
//!   target users' rows (ascending ids) before it picks and deletes, so two claims for the
//!   same device run one after the other, and the second finds the next package (or the
//!   device's last-resort package, which is never deleted);
//! - exactly one commit per epoch: a commit is stored only if the epoch it was checked
//!   against is still the group's epoch under the chat's row lock, otherwise
//!   [`Error::CommitConflict`] names the current epoch and nothing is written;
//! - handshake and application messages take the chat's next message id and go into the same
//!   update logs as cloud messages ([`Event::Mls`]); a Welcome follows its commit in the same
//!   transaction, so nobody sees it before the commit is durable;
//! - the chat's members follow the group: the users with a device in the tree after a commit.
//!
//! Nothing here understands MLS bytes: they are opaque, with their SHA-256 for replays.

use heliograph_core::*;

use super::{chats, exists, log, one, people, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// The most members a secret group holds (every member's device is a leaf of one tree).
pub const MAX_SECRET_MEMBERS: usize = 200;

macro_rules! mls_cols {
    () => {
        "chat_id, id, from_id, device_id, date, kind, epoch, data"
    };
}

fn mls_message(r: &dyn super::Row) -> Result<MlsMessage> {
    let read = || {
        let kind: String = r.get(5)?;
        Ok(MlsMessage {
            chat: ChatId(r.get(0)?),
            id: MessageId(r.get(1)?),
            from: UserId(r.get(2)?),
            device: SessionId(r.get(3)?),
            date: r.get(4)?,
            kind: MlsKind::parse(&kind).ok_or_else(|| Error::internal(format!("unknown MLS message kind `{kind}`")))?,
            epoch: r.get::<i64>(6)? as u64,
            data: r.get(7)?,
        })
    };
    read().map_err(|e: Error| e.reading("mls_messages"))
}

fn group(r: &dyn super::Row) -> Result<MlsGroup> {
    let read = || {
        Ok(MlsGroup {
            chat: ChatId(r.get(0)?),
            group_id: r.get(1)?,
            epoch: r.get::<i64>(2)? as u64,
            state: r.get(3)?,
            group_info: r.get(4)?,
        })
    };
    read().map_err(|e: Error| e.reading("mls_groups"))
}

/// One MLS message of a chat (for the update log).
pub async fn message<X: Tx>(tx: &mut X, chat: ChatId, id: MessageId) -> Result<Option<MlsMessage>> {
    tx.query_opt(sql!(concat!("SELECT ", mls_cols!(), " FROM mls_messages WHERE chat_id = $1 AND id = $2")), &[&chat.0, &id.0], mls_message)
        .await
}

/// Whether `chat` is secret.
pub async fn is_secret<X: Tx>(tx: &mut X, chat: ChatId) -> Result<bool> {
    exists(tx, sql!("SELECT 1 FROM mls_groups WHERE chat_id = $1"), &[&chat.0]).await
}

/// Refuses cloud operations (sends, invites, member changes) on a secret chat. Only groups
/// can be secret, so other chats cost no lookup.
pub async fn refuse_secret<X: Tx>(tx: &mut X, chat: &Chat) -> Result<()> {
    if chat.kind == ChatKind::Group && is_secret(tx, chat.id).await? {
        return Err(Error::SecretChat);
    }
    Ok(())
}

/// Stores a device's key packages. The first upload fixes the device's signature key; a
/// later one with another key is refused (a new key is a new device: sign in again).
pub async fn upload_key_packages<X: Tx>(tx: &mut X, user: UserId, upload: &KeyPackageUpload) -> Result<u64> {
    if people::is_bot(tx, user).await? {
        return Err(Error::Invalid("bots cannot take part in secret chats".into()));
    }
    let owner = tx.query_opt(sql!("SELECT user_id FROM sessions WHERE id = $1"), &[&upload.device.0], |r| r.get::<i64>(0)).await?;
    if owner != Some(user.0) {
        return Err(Error::Invalid("key packages can be uploaded only for your own signed-in device".into()));
    }
    tx.lock_users(&[user]).await?;
    let known = tx
        .query_opt(sql!("SELECT signature_key FROM mls_devices WHERE device_id = $1"), &[&upload.device.0], |r| r.get::<Vec<u8>>(0))
        .await?;
    match known {
        Some(key) if key != upload.signature_key => {
            return Err(Error::Invalid("this device already has another signature key: a new key is a new device (sign in again)".into()))
        }
        Some(_) => {}
        None => {
            tx.execute(
                sql!("INSERT INTO mls_devices (device_id, user_id, signature_key, created) VALUES ($1, $2, $3, $4)"),
                &[&upload.device.0, &user.0, &upload.signature_key, &now()],
            )
            .await?;
        }
    }
    // Checked first, so a repeated package is a clear error and nothing of this upload stays.
    let all = upload.one_time.iter().chain(upload.last_resort.iter());
    for (_, hash) in all.clone() {
        if exists(tx, sql!("SELECT 1 FROM mls_key_packages WHERE hash = $1"), &[&hash.as_slice()]).await? {
            return Err(Error::Invalid("this key package was uploaded before: make new ones".into()));
        }
    }
    if upload.last_resort.is_some() {
        tx.execute(sql!("DELETE FROM mls_key_packages WHERE device_id = $1 AND last_resort"), &[&upload.device.0]).await?;
    }
    for (data, hash) in &upload.one_time {
        insert_package(tx, user, upload.device, false, data, hash).await?;
    }
    if let Some((data, hash)) = &upload.last_resort {
        insert_package(tx, user, upload.device, true, data, hash).await?;
    }
    key_package_count(tx, user, upload.device).await
}

async fn insert_package<X: Tx>(tx: &mut X, user: UserId, device: SessionId, last_resort: bool, data: &[u8], hash: &[u8; 32]) -> Result<()> {
    tx.execute(
        sql!("INSERT INTO mls_key_packages (user_id, device_id, last_resort, data, hash) VALUES ($1, $2, $3, $4, $5)"),
        &[&user.0, &device.0, &last_resort, &data, &hash.as_slice()],
    )
    .await?;
    Ok(())
}

/// One-time key packages `device` (of `user`) has left in the directory.
pub async fn key_package_count<X: Tx>(tx: &mut X, user: UserId, device: SessionId) -> Result<u64> {
    let n = one(
        tx,
        sql!("SELECT COUNT(*) FROM mls_key_packages WHERE user_id = $1 AND device_id = $2 AND NOT last_resort"),
        &[&user.0, &device.0],
        super::int,
    )
    .await?;
    Ok(n as u64)
}

/// One key package for every live device of each of `users` but `except` (the claimer's own
/// device): a one-time package, deleted as it is handed out, or the device's last-resort
/// package when none is left. Devices with neither are skipped.
pub async fn claim_key_packages<X: Tx>(tx: &mut X, users: &[UserId], except: SessionId) -> Result<Vec<ClaimedKeyPackage>> {
    let mut users = users.to_vec();
    users.sort();
    users.dedup();
    // Claims for the same user run one at a time (see the module's comment).
    tx.lock_users(&users).await?;
    let mut claimed = Vec::new();
    for user in users {
        let devices = tx
            .query(
                sql!(
                    "SELECT d.device_id FROM mls_devices d JOIN sessions s ON s.id = d.device_id
                     WHERE d.user_id = $1 ORDER BY d.device_id"
                ),
                &[&user.0],
                super::int,
            )
            .await?;
        for device in devices.into_iter().map(SessionId).filter(|&d| d != except) {
            let pick = tx
                .query_opt(
                    sql!(
                        "SELECT id, data, last_resort FROM mls_key_packages WHERE device_id = $1
                         ORDER BY last_resort, id LIMIT 1"
                    ),
                    &[&device.0],
                    |r| Ok((r.get::<i64>(0)?, r.get::<Vec<u8>>(1)?, r.get::<bool>(2)?)),
                )
                .await?;
            let Some((id, data, last_resort)) = pick else { continue };
            if !last_resort {
                tx.execute(sql!("DELETE FROM mls_key_packages WHERE id = $1"), &[&id]).await?;
            }
            claimed.push(ClaimedKeyPackage { user, device, data, last_resort });
        }
    }
    Ok(claimed)
}

/// The MLS devices of `users` (live or not), for checking the leaves of a commit.
pub async fn devices<X: Tx>(tx: &mut X, users: &[UserId]) -> Result<Vec<MlsDevice>> {
    let mut out = Vec::new();
    for &user in users {
        out.extend(
            tx.query(
                sql!(
                    "SELECT d.user_id, d.device_id, d.signature_key, s.id IS NOT NULL FROM mls_devices d
                     LEFT JOIN sessions s ON s.id = d.device_id WHERE d.user_id = $1 ORDER BY d.device_id"
                ),
                &[&user.0],
                |r| Ok(MlsDevice { user: UserId(r.get(0)?), device: SessionId(r.get(1)?), signature_key: r.get(2)?, active: r.get(3)? }),
            )
            .await?,
        );
    }
    Ok(out)
}

/// Creates a secret chat: a group whose only member is `creator` until its first commit adds
/// the others, with the group's public state at its first epoch.
pub async fn create_secret<X: Tx>(tx: &mut X, creator: UserId, title: &Title, start: &MlsGroup) -> Result<Chat> {
    if exists(tx, sql!("SELECT 1 FROM mls_groups WHERE group_id = $1"), &[&start.group_id]).await? {
        return Err(Error::Invalid("a group with this MLS group id exists: make a new group".into()));
    }
    let chat = chats::create_chat(tx, creator, ChatKind::Group, title, None, &[]).await?;
    tx.execute(
        sql!("INSERT INTO mls_groups (chat_id, group_id, epoch, state, group_info) VALUES ($1, $2, $3, $4, $5)"),
        &[&chat.id.0, &start.group_id, &(start.epoch as i64), &start.state, &start.group_info],
    )
    .await?;
    Ok(chat)
}

/// The group's public state, for a member of the chat.
pub async fn group_of<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId) -> Result<MlsGroup> {
    chats::view(tx, actor, chat).await?;
    load_group(tx, chat).await
}

async fn load_group<X: Tx>(tx: &mut X, chat: ChatId) -> Result<MlsGroup> {
    tx.query_opt(sql!("SELECT chat_id, group_id, epoch, state, group_info FROM mls_groups WHERE chat_id = $1"), &[&chat.0], group)
        .await?
        .ok_or(Error::ChatNotFound)
}

/// Secret chats of `user` with their group's epoch, for a device that must join or catch up.
pub async fn secret_chats<X: Tx>(tx: &mut X, user: UserId) -> Result<Vec<(ChatId, u64)>> {
    tx.query(
        sql!("SELECT g.chat_id, g.epoch FROM mls_groups g JOIN members m ON m.chat_id = g.chat_id WHERE m.user_id = $1 ORDER BY g.chat_id"),
        &[&user.0],
        |r| Ok((ChatId(r.get(0)?), r.get::<i64>(1)? as u64)),
    )
    .await
}

async fn refuse_replay<X: Tx>(tx: &mut X, chat: ChatId, hash: &[u8; 32]) -> Result<()> {
    if exists(tx, sql!("SELECT 1 FROM mls_messages WHERE chat_id = $1 AND hash = $2"), &[&chat.0, &hash.as_slice()]).await? {
        return Err(Error::MlsReplay);
    }
    Ok(())
}

/// Takes the chat's next message id for an MLS message and stores it.
#[allow(clippy::too_many_arguments)]
async fn append<X: Tx>(
    tx: &mut X,
    chat: &Chat,
    actor: UserId,
    device: SessionId,
    kind: MlsKind,
    epoch: u64,
    data: &[u8],
    hash: &[u8; 32],
    random_id: Option<i64>,
) -> Result<MlsMessage> {
    let id: i64 = one(
        tx,
        sql!("UPDATE chats SET top_message = top_message + 1, activity = $2 WHERE id = $1 RETURNING top_message"),
        &[&chat.id.0, &now_ms()],
        super::int,
    )
    .await?;
    let date = now();
    tx.execute(
        sql!(
            "INSERT INTO mls_messages (chat_id, id, from_id, device_id, date, kind, epoch, data, hash, random_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &[&chat.id.0, &id, &actor.0, &device.0, &date, &kind.as_str(), &(epoch as i64), &data, &hash.as_slice(), &random_id],
    )
    .await?;
    Ok(MlsMessage { chat: chat.id, id: MessageId(id), from: actor, device, date, kind, epoch, data: data.to_vec() })
}

/// Stores a commit the server checked against `commit.epoch`, if that epoch is still the
/// group's: the new public state, the chat's members as the new tree has them, the commit
/// in the chat's sequence and logs, then its Welcome. Otherwise nothing, and
/// [`Error::CommitConflict`] with the current epoch.
pub async fn commit<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, commit: &MlsCommit) -> Result<MlsSent> {
    let v = chats::view_for_update(tx, actor, chat).await?;
    let current = load_group(tx, chat).await?;
    if current.epoch != commit.epoch {
        return Err(Error::CommitConflict { epoch: current.epoch });
    }
    refuse_replay(tx, chat, &commit.hash).await?;
    let mut wanted = commit.members.clone();
    wanted.sort();
    wanted.dedup();
    if wanted.len() > MAX_SECRET_MEMBERS {
        return Err(Error::SecretGroupFull);
    }
    for &u in &wanted {
        if !people::user_exists(tx, u).await? || people::is_bot(tx, u).await? {
            return Err(Error::UserNotFound);
        }
    }
    let before = log::member_ids(tx, chat).await?;
    let added: Vec<UserId> = wanted.iter().copied().filter(|u| !before.contains(u)).collect();
    let removed: Vec<UserId> = before.iter().copied().filter(|u| !wanted.contains(u)).collect();
    chats::lock_for_membership(tx, &v.chat, &added).await?;
    tx.execute(
        sql!("UPDATE mls_groups SET epoch = $2, state = $3, group_info = $4 WHERE chat_id = $1"),
        &[&chat.0, &(commit.epoch as i64 + 1), &commit.state, &commit.group_info],
    )
    .await?;
    // The commit reaches everyone who was a member (the removed learn they are out) and
    // everyone who is one now.
    let message = append(tx, &v.chat, actor, commit.device, MlsKind::Commit, commit.epoch, &commit.data, &commit.hash, None).await?;
    for &u in &added {
        chats::insert_member(tx, chat, u, Role::Member, MessageId(message.id.0 - 1)).await?;
    }
    let mut audience: Vec<UserId> = before.iter().chain(&added).copied().collect();
    audience.sort();
    let mut pts = 0;
    for &m in &audience {
        let p = log::user(tx, m, Event::Mls(message.clone())).await?;
        if m == actor {
            pts = p;
        }
    }
    for &u in &removed {
        tx.execute(sql!("DELETE FROM members WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &u.0]).await?;
        tx.execute(sql!("UPDATE chats SET member_count = member_count - 1 WHERE id = $1"), &[&chat.0]).await?;
        for &m in &audience {
            log::user(tx, m, Event::Participant { chat, user: u, role: None, by: actor }).await?;
        }
    }
    let grown = chats::load(tx, chat).await?.ok_or(Error::ChatNotFound)?;
    for &u in &added {
        chats::announce_join(tx, &grown, u, actor).await?;
    }
    if let Some((data, hash)) = &commit.welcome {
        refuse_replay(tx, chat, hash).await?;
        let welcome = append(tx, &grown, actor, commit.device, MlsKind::Welcome, commit.epoch + 1, data, hash, None).await?;
        for &m in &wanted {
            log::user(tx, m, Event::Mls(welcome.clone())).await?;
        }
    }
    Ok(MlsSent { message, pts })
}

/// Stores an application message for the group's current epoch. Idempotent by `random_id`.
pub async fn send<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, send: &MlsSend) -> Result<MlsSent> {
    if let Some(sent) = earlier_send(tx, actor, send.random_id).await? {
        return Ok(sent);
    }
    let v = chats::view_for_update(tx, actor, chat).await?;
    if X::CONCURRENT {
        if let Some(sent) = earlier_send(tx, actor, send.random_id).await? {
            return Ok(sent);
        }
    }
    let current = load_group(tx, chat).await?;
    if current.epoch != send.epoch {
        return Err(Error::WrongEpoch { got: send.epoch, epoch: current.epoch });
    }
    refuse_replay(tx, chat, &send.hash).await?;
    let message =
        append(tx, &v.chat, actor, send.device, MlsKind::Application, send.epoch, &send.data, &send.hash, Some(send.random_id)).await?;
    let pts = log::for_chat(tx, &v.chat, actor, Event::Mls(message.clone())).await?;
    Ok(MlsSent { message, pts })
}

/// The message an earlier send with this `random_id` made, and `actor`'s pts of it.
async fn earlier_send<X: Tx>(tx: &mut X, actor: UserId, random_id: i64) -> Result<Option<MlsSent>> {
    let Some(message) = tx
        .query_opt(
            sql!(concat!("SELECT ", mls_cols!(), " FROM mls_messages WHERE from_id = $1 AND random_id = $2")),
            &[&actor.0, &random_id],
            mls_message,
        )
        .await?
    else {
        return Ok(None);
    };
    let pts = tx
        .query_opt(
            sql!("SELECT pts FROM user_updates WHERE user_id = $1 AND kind = 'mls' AND chat_id = $2 AND a = $3"),
            &[&actor.0, &message.chat.0, &message.id.0],
            super::int,
        )
        .await?
        .unwrap_or(0);
    Ok(Some(MlsSent { message, pts }))
}

/// MLS messages of a chat after `after`, oldest first (a device catching up on its groups).
pub async fn history<X: Tx>(tx: &mut X, actor: UserId, chat: ChatId, after: MessageId, limit: u32) -> Result<Vec<MlsMessage>> {
    chats::view(tx, actor, chat).await?;
    tx.query(
        sql!(concat!("SELECT ", mls_cols!(), " FROM mls_messages WHERE chat_id = $1 AND id > $2 ORDER BY id LIMIT $3")),
        &[&chat.0, &after.0, &(limit as i64)],
        mls_message,
    )
    .await
}
