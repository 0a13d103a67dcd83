//! The MLS half of the Delivery Service (RFC 9750): every MLS message a client hands the
//! server is checked here, with openmls' public-group API only, before the store (which keeps
//! the order: one commit per epoch, see `heliograph_store`'s `commands/secret.rs`) sees it.
//!
//! - key packages: they decode, their signature checks, the ciphersuite is
//!   MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (0x0001), and their credential names the
//!   uploader's account and session;
//! - commits: public messages only (the mixed wire-format policy: handshakes in the clear,
//!   application messages encrypted), for this group, from a member leaf that is the
//!   caller's own device (or an external commit by the caller's own new device), processed
//!   against the group's public state and merged; every leaf of the new tree must be a real
//!   device with the signature key it registered; the GroupInfo sent beside it must be of the
//!   new epoch's context;
//! - application messages: private messages for this group with application content (their
//!   epoch is compared with the group's by the store, under its lock).
//!
//! The server holds no private key: its `PublicGroup` is the tree and the context, nothing
//! that decrypts. Architecture Invariant: this crate never uses `MlsGroup` (client group
//! code lives in `heliograph-mls`, which the server does not depend on).
//!
//! A credential is a BasicCredential whose identity is `"<user id>.<device id>"` (ASCII), the
//! device id being the session's id.

use std::collections::HashMap;

use heliograph_core::{ChatId, SessionId, UserId};
use heliograph_store::{MlsDevice, MlsGroup};
use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_libcrux_crypto::CryptoProvider;
use openmls_memory_storage::MemoryStorage;
use sha2::Digest;

/// The one ciphersuite secret chats use (the browser's ts-mls speaks it too).
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// Why an MLS input was refused (`errors.rs` maps each to its wire code).
#[derive(Debug, thiserror::Error)]
pub enum MlsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    KeyPackage(String),
    /// The commit is for another epoch than the group's: another commit won.
    #[error("the commit is for epoch {got}; the group is at epoch {epoch}")]
    Conflict { got: u64, epoch: u64 },
}

fn invalid(what: impl Into<String>) -> MlsError {
    MlsError::Invalid(what.into())
}

/// The (user, device) a credential names.
pub fn identity(credential: &Credential) -> Option<(UserId, SessionId)> {
    let basic = BasicCredential::try_from(credential.clone()).ok()?;
    let text = std::str::from_utf8(basic.identity()).ok()?;
    let (user, device) = text.split_once('.')?;
    Some((UserId(user.parse().ok()?), SessionId(device.parse().ok()?)))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

fn crypto() -> Result<CryptoProvider, MlsError> {
    CryptoProvider::new().map_err(|e| invalid(format!("the server's MLS crypto failed to start: {e:?}")))
}

fn message(bytes: &[u8]) -> Result<MlsMessageBodyIn, MlsError> {
    MlsMessageIn::tls_deserialize_exact(bytes).map(MlsMessageIn::extract).map_err(|e| invalid(format!("not an MLS message: {e}")))
}

/// A checked key package: its signature key, and whether it is a last-resort one.
pub struct CheckedKeyPackage {
    pub signature_key: Vec<u8>,
    pub last_resort: bool,
}

/// Checks a key package uploaded by `device` of `user`.
pub fn check_key_package(bytes: &[u8], user: UserId, device: SessionId) -> Result<CheckedKeyPackage, MlsError> {
    let MlsMessageBodyIn::KeyPackage(kp) = message(bytes)? else {
        return Err(MlsError::KeyPackage("expected an MLSMessage holding a key package".into()));
    };
    let kp = kp
        .validate(&crypto()?, ProtocolVersion::Mls10)
        .map_err(|e| MlsError::KeyPackage(format!("the key package does not check: {e}")))?;
    if kp.ciphersuite() != CIPHERSUITE {
        return Err(MlsError::KeyPackage("secret chats use ciphersuite 0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519)".into()));
    }
    if identity(kp.leaf_node().credential()) != Some((user, device)) {
        return Err(MlsError::KeyPackage(format!(
            "the credential must be a basic credential with identity \"{}.{}\" (your account and this session)",
            user.0, device.0
        )));
    }
    Ok(CheckedKeyPackage { signature_key: kp.leaf_node().signature_key().as_slice().to_vec(), last_resort: kp.last_resort() })
}

/// The public group's storage as bytes: (key length, key, value length, value)*, u32 BE.
fn save(storage: &MemoryStorage) -> Vec<u8> {
    let values = storage.values.read().unwrap_or_else(|e| e.into_inner());
    let mut entries: Vec<_> = values.iter().collect();
    entries.sort();
    let mut out = Vec::new();
    for (k, v) in entries {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn restore(mut bytes: &[u8]) -> Result<MemoryStorage, MlsError> {
    let mut values = HashMap::new();
    let take = |bytes: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let part = bytes.get(4..4 + len)?.to_vec();
        *bytes = &bytes[4 + len..];
        Some(part)
    };
    while !bytes.is_empty() {
        let (Some(k), Some(v)) = (take(&mut bytes), take(&mut bytes)) else {
            return Err(invalid("the stored group state does not decode"));
        };
        values.insert(k, v);
    }
    Ok(MemoryStorage { values: std::sync::RwLock::new(values) })
}

fn load(group: &MlsGroup) -> Result<(MemoryStorage, PublicGroup), MlsError> {
    let storage = restore(&group.state)?;
    let id = GroupId::from_slice(&group.group_id);
    let public = PublicGroup::load(&storage, &id).map_err(|e| invalid(format!("the stored group does not load: {e:?}")))?;
    Ok((storage, public.ok_or_else(|| invalid("the stored group is empty"))?))
}

/// The members of a public group as (user, device, signature key); an error when a leaf's
/// credential is not one of ours.
fn leaves(public: &PublicGroup) -> Result<Vec<(UserId, SessionId, Vec<u8>)>, MlsError> {
    public
        .members()
        .map(|m| {
            identity(&m.credential)
                .map(|(u, d)| (u, d, m.signature_key))
                .ok_or_else(|| invalid("a leaf's credential is not a Heliograph device credential"))
        })
        .collect()
}

/// Every leaf must be a device that registered exactly this signature key.
pub fn check_leaves(leaves: &[(UserId, SessionId, Vec<u8>)], devices: &[MlsDevice]) -> Result<(), MlsError> {
    for (user, device, key) in leaves {
        match devices.iter().find(|d| d.device == *device) {
            Some(d) if d.user == *user && &d.signature_key == key => {}
            _ => {
                return Err(invalid(format!(
                    "leaf {}.{} is not a registered device of that account with that signature key",
                    user.0, device.0
                )))
            }
        }
    }
    Ok(())
}

/// The users a set of leaves belongs to, for the device lookup.
pub fn users_of(leaves: &[(UserId, SessionId, Vec<u8>)]) -> Vec<UserId> {
    let mut users: Vec<UserId> = leaves.iter().map(|l| l.0).collect();
    users.sort();
    users.dedup();
    users
}

fn group_info(bytes: &[u8]) -> Result<VerifiableGroupInfo, MlsError> {
    match message(bytes)? {
        MlsMessageBodyIn::GroupInfo(gi) => Ok(gi),
        _ => Err(invalid("expected an MLSMessage holding a GroupInfo")),
    }
}

/// A new group at epoch 0, from its creator's GroupInfo (with the ratchet_tree extension):
/// the state to store, and its only leaf.
pub struct Started {
    pub group: MlsGroup,
    pub leaves: Vec<(UserId, SessionId, Vec<u8>)>,
}

pub fn start(bytes: &[u8], user: UserId, device: SessionId) -> Result<Started, MlsError> {
    let gi = group_info(bytes)?;
    let tree = gi
        .extensions()
        .ratchet_tree()
        .map(|t| t.ratchet_tree().clone())
        .ok_or_else(|| invalid("the GroupInfo must carry the ratchet_tree extension"))?;
    let storage = MemoryStorage::default();
    let (public, _) = PublicGroup::from_external(&crypto()?, &storage, tree, gi, ProposalStore::new())
        .map_err(|e| invalid(format!("the GroupInfo does not check: {e:?}")))?;
    if public.ciphersuite() != CIPHERSUITE {
        return Err(invalid("secret chats use ciphersuite 0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519)"));
    }
    let leaves = leaves(&public)?;
    if public.group_context().epoch().as_u64() != 0 || leaves.len() != 1 || (leaves[0].0, leaves[0].1) != (user, device) {
        return Err(invalid("a new secret chat starts at epoch 0 with your own device as its only member; add the others by a commit"));
    }
    let group = MlsGroup {
        chat: ChatId(0),
        group_id: public.group_id().as_slice().to_vec(),
        epoch: 0,
        state: save(&storage),
        group_info: bytes.to_vec(),
    };
    Ok(Started { group, leaves })
}

/// A commit processed against the group: the state after it, and its tree's leaves (the
/// caller checks them against the devices before storing).
pub struct Committed {
    pub epoch: u64,
    pub state: Vec<u8>,
    pub leaves: Vec<(UserId, SessionId, Vec<u8>)>,
}

pub fn commit(group: &MlsGroup, bytes: &[u8], info: &[u8], user: UserId, device: SessionId) -> Result<Committed, MlsError> {
    let pm = match message(bytes)? {
        MlsMessageBodyIn::PublicMessage(pm) => pm,
        MlsMessageBodyIn::PrivateMessage(_) => {
            return Err(invalid("handshake messages must be public messages (mixed wire-format policy)"))
        }
        _ => return Err(invalid("expected an MLSMessage holding a commit")),
    };
    if pm.content_type() != ContentType::Commit {
        return Err(invalid("only commits are accepted: send proposals inline in a commit"));
    }
    let (storage, mut public) = load(group)?;
    if pm.group_id().as_slice() != group.group_id.as_slice() {
        return Err(invalid("the commit is for another group"));
    }
    let got = pm.epoch().as_u64();
    if got != group.epoch {
        return Err(MlsError::Conflict { got, epoch: group.epoch });
    }
    let external = match pm.sender() {
        Sender::Member(index) => {
            let leaf = public.leaf(*index).ok_or_else(|| invalid("the sender is not in the tree"))?;
            if identity(leaf.credential()) != Some((user, device)) {
                return Err(invalid("a commit must come from your own device's leaf"));
            }
            false
        }
        Sender::NewMemberCommit => true,
        _ => return Err(invalid("commits come from members, or from a device joining by external commit")),
    };
    let processed =
        public.process_message(&crypto()?, ProtocolMessage::from(pm)).map_err(|e| invalid(format!("the commit does not check: {e}")))?;
    let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
        return Err(invalid("expected a commit"));
    };
    public.merge_commit(&storage, *staged).map_err(|e| invalid(format!("the commit does not merge: {e:?}")))?;
    let leaves = leaves(&public)?;
    if external && !leaves.iter().any(|l| (l.0, l.1) == (user, device)) {
        return Err(invalid("an external commit must add your own device"));
    }
    let gi = group_info(info)?;
    if gi.group_context() != public.group_context() {
        return Err(invalid("the GroupInfo is not of the epoch this commit starts"));
    }
    Ok(Committed { epoch: got, state: save(&storage), leaves })
}

/// An application message: its epoch (compared with the group's by the store).
pub fn application(group: &MlsGroup, bytes: &[u8]) -> Result<u64, MlsError> {
    let MlsMessageBodyIn::PrivateMessage(pm) = message(bytes)? else {
        return Err(invalid("an application message must be an MLS private message"));
    };
    if pm.group_id().as_slice() != group.group_id.as_slice() {
        return Err(invalid("the message is for another group"));
    }
    if pm.content_type() != ContentType::Application {
        return Err(invalid("handshake messages go through secret.commit, as public messages"));
    }
    Ok(pm.epoch().as_u64())
}

/// A Welcome must decode as one, for our ciphersuite.
pub fn welcome(bytes: &[u8]) -> Result<(), MlsError> {
    match message(bytes)? {
        MlsMessageBodyIn::Welcome(w) if w.ciphersuite() == CIPHERSUITE => Ok(()),
        _ => Err(invalid("expected an MLSMessage holding a Welcome for ciphersuite 0x0001")),
    }
}

/// The group's current ratchet tree, TLS-encoded, for joiners.
pub fn ratchet_tree(group: &MlsGroup) -> Result<Vec<u8>, MlsError> {
    let (_, public) = load(group)?;
    public.export_ratchet_tree().tls_serialize_detached().map_err(|e| invalid(format!("the tree does not encode: {e}")))
}
