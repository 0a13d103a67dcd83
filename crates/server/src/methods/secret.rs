//! `secret.*`: secret chats and groups (MLS, RFC 9420), the server as their Delivery Service.
//! MLS bytes arrive as base64 and are checked by `crate::mls` (openmls' public-group API)
//! before the store keeps the order (one commit per epoch, Welcome after its commit). The
//! server never sees a private key or a plaintext; see `docs/e2ee.md`.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use heliograph_core::{ChatId, MessageId, SessionId, Title, UserId};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store::{self as store, KeyPackageUpload, MlsCommit, MlsSend};

use super::{ids, page, Outcome, SignedIn};
use crate::errors::{bad_params, Failure};
use crate::mls::{self, MlsError};
use crate::state::Shared;

/// One-time key packages a device may upload at once (and keep in the directory).
pub const MAX_KEY_PACKAGES: usize = 100;

fn decode(what: &str, text: &str) -> Outcome<Vec<u8>> {
    B64.decode(text.trim()).map_err(|e| Failure(bad_params(format!("`{what}` must be standard base64: {e}"))))
}

fn refused(e: MlsError) -> Failure {
    let (code, epoch) = match &e {
        MlsError::Invalid(_) => (ErrorCode::MlsInvalid, None),
        MlsError::KeyPackage(_) => (ErrorCode::KeyPackageInvalid, None),
        MlsError::Conflict { epoch, .. } => (ErrorCode::CommitConflict, Some(*epoch)),
    };
    Failure(proto::Error { epoch, ..proto::Error::new(code, e.to_string()) })
}

fn device(me: SignedIn) -> SessionId {
    me.session
}

/// `secret.upload_key_packages`: up to [`MAX_KEY_PACKAGES`] one-time packages and one
/// last-resort package, each checked (`KEY_PACKAGE_INVALID`); all or nothing.
pub async fn upload_key_packages(
    s: &Shared,
    me: SignedIn,
    key_packages: &[String],
    last_resort: Option<&str>,
) -> Outcome<proto::KeyPackageCount> {
    if key_packages.len() > MAX_KEY_PACKAGES {
        return Err(Failure(bad_params(format!("at most {MAX_KEY_PACKAGES} key packages per upload"))));
    }
    let mut signature_key: Option<Vec<u8>> = None;
    let mut check = |text: &str, want_last_resort: bool| -> Outcome<(Vec<u8>, [u8; 32])> {
        let bytes = decode("key_packages", text)?;
        let checked = mls::check_key_package(&bytes, me.user, device(me)).map_err(refused)?;
        if checked.last_resort != want_last_resort {
            let what = if want_last_resort { "`last_resort` must carry" } else { "a one-time key package must not carry" };
            return Err(refused(MlsError::KeyPackage(format!("{what} the last_resort extension"))));
        }
        match &signature_key {
            Some(k) if *k != checked.signature_key => {
                return Err(refused(MlsError::KeyPackage("all key packages of a device have its one signature key".into())))
            }
            _ => signature_key = Some(checked.signature_key),
        }
        let hash = mls::sha256(&bytes);
        Ok((bytes, hash))
    };
    let one_time = key_packages.iter().map(|k| check(k, false)).collect::<Outcome<Vec<_>>>()?;
    let last_resort = last_resort.map(|k| check(k, true)).transpose()?;
    let Some(signature_key) = signature_key else {
        return Err(Failure(bad_params("give at least one key package")));
    };
    let upload = KeyPackageUpload { device: device(me), signature_key, one_time, last_resort };
    let one_time = s.store.upload_key_packages(me.user, upload).await?;
    Ok(proto::KeyPackageCount { one_time })
}

/// `secret.key_package_count`: this device's one-time packages left (clients replenish).
pub async fn key_package_count(s: &Shared, me: SignedIn) -> Outcome<proto::KeyPackageCount> {
    Ok(proto::KeyPackageCount { one_time: s.store.key_package_count(me.user, device(me)).await? })
}

/// `secret.claim_key_packages`: one package per device of up to `MAX_IDS_PER_REQUEST` users
/// (your other devices included, this one skipped).
pub async fn claim_key_packages(s: &Shared, me: SignedIn, user_ids: &[i64]) -> Outcome<Vec<proto::ClaimedKeyPackage>> {
    let users = ids(user_ids, UserId)?;
    let claimed = s.store.claim_key_packages(&users, device(me)).await?;
    Ok(claimed
        .into_iter()
        .map(|c| proto::ClaimedKeyPackage {
            user_id: c.user.0,
            device_id: c.device.0,
            key_package: B64.encode(c.data),
            last_resort: c.last_resort,
        })
        .collect())
}

/// `secret.devices`: the MLS devices of up to `MAX_IDS_PER_REQUEST` users.
pub async fn devices(s: &Shared, me: SignedIn, user_ids: &[i64]) -> Outcome<Vec<proto::SecretDevice>> {
    let _ = me;
    let users = ids(user_ids, UserId)?;
    Ok(s.store
        .mls_devices(&users)
        .await?
        .into_iter()
        .map(|d| proto::SecretDevice {
            user_id: d.user.0,
            device_id: d.device.0,
            signature_key: B64.encode(d.signature_key),
            active: d.active,
        })
        .collect())
}

/// `secret.create`: a secret chat from the caller's new group (epoch 0, one leaf: this
/// device, registered by a key package upload first).
pub async fn create(s: &Shared, me: SignedIn, title: Option<String>, group_info: &str) -> Outcome<proto::Chat> {
    let title = Title::parse(title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or("Secret chat"))?;
    let bytes = decode("group_info", group_info)?;
    let started = mls::start(&bytes, me.user, device(me)).map_err(refused)?;
    let devices = s.store.mls_devices(&[me.user]).await?;
    mls::check_leaves(&started.leaves, &devices).map_err(refused)?;
    let chat = s.store.create_secret(me.user, &title, started.group).await?;
    super::chats::get(s, me, chat.id.0).await
}

/// `secret.group_info`: for a member.
pub async fn group_info(s: &Shared, me: SignedIn, chat_id: i64) -> Outcome<proto::SecretGroupInfo> {
    let group = s.store.mls_group(me.user, ChatId(chat_id)).await?;
    let tree = mls::ratchet_tree(&group).map_err(refused)?;
    Ok(proto::SecretGroupInfo { chat_id, epoch: group.epoch, group_info: B64.encode(&group.group_info), ratchet_tree: B64.encode(tree) })
}

/// `secret.commit`: checked against the group's public state (`MLS_INVALID`), stored only if
/// its epoch is still current (`COMMIT_CONFLICT` with the current epoch otherwise). The
/// chat's members become the users with a device in the new tree (at most 200).
pub async fn commit(
    s: &Shared,
    me: SignedIn,
    chat_id: i64,
    commit: &str,
    group_info: &str,
    welcome: Option<&str>,
) -> Outcome<proto::SecretSent> {
    let chat = ChatId(chat_id);
    let data = decode("commit", commit)?;
    let info = decode("group_info", group_info)?;
    let welcome = welcome.map(|w| decode("welcome", w)).transpose()?;
    if let Some(w) = &welcome {
        mls::welcome(w).map_err(refused)?;
    }
    let group = s.store.mls_group(me.user, chat).await?;
    let committed = mls::commit(&group, &data, &info, me.user, device(me)).map_err(refused)?;
    let users = mls::users_of(&committed.leaves);
    if users.len() > store::MAX_SECRET_MEMBERS {
        return Err(store::Error::SecretGroupFull.into());
    }
    let devices = s.store.mls_devices(&users).await?;
    mls::check_leaves(&committed.leaves, &devices).map_err(refused)?;
    let hash = mls::sha256(&data);
    let commit = MlsCommit {
        device: device(me),
        epoch: committed.epoch,
        data,
        hash,
        welcome: welcome.map(|w| {
            let h = mls::sha256(&w);
            (w, h)
        }),
        state: committed.state,
        group_info: info,
        members: users,
    };
    let sent = s.store.mls_commit(me.user, chat, commit).await?;
    Ok(proto::SecretSent { id: sent.message.id.0, epoch: sent.message.epoch + 1, pts: sent.pts })
}

/// `secret.send`: a private message for the current epoch (`MLS_WRONG_EPOCH` otherwise).
/// Idempotent by `random_id`.
pub async fn send(s: &Shared, me: SignedIn, chat_id: i64, random_id: i64, message: &str) -> Outcome<proto::SecretSent> {
    let chat = ChatId(chat_id);
    let data = decode("message", message)?;
    let group = s.store.mls_group(me.user, chat).await?;
    let epoch = mls::application(&group, &data).map_err(refused)?;
    let hash = mls::sha256(&data);
    let sent = s.store.mls_send(me.user, chat, MlsSend { device: device(me), random_id, epoch, data, hash }).await?;
    Ok(proto::SecretSent { id: sent.message.id.0, epoch: sent.message.epoch, pts: sent.pts })
}

/// `secret.history`: a page of MLS messages after `after_id`.
pub async fn history(s: &Shared, me: SignedIn, chat_id: i64, after_id: i64, limit: Option<u32>) -> Outcome<Vec<proto::SecretMessage>> {
    let messages = s.store.mls_history(me.user, ChatId(chat_id), MessageId(after_id), page(limit)).await?;
    Ok(messages.iter().map(crate::convert::secret_message).collect())
}

/// `secret.chats`: the caller's secret chats and their epochs.
pub async fn chats(s: &Shared, me: SignedIn) -> Outcome<Vec<proto::SecretChatState>> {
    Ok(s.store.secret_chats(me.user).await?.into_iter().map(|(c, epoch)| proto::SecretChatState { chat_id: c.0, epoch }).collect())
}
