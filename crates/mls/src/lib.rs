//! Client-side MLS (RFC 9420) for Heliograph's secret chats: one [`Device`] holds this
//! device's signature key and its groups, and turns plaintext into the standard MLS wire
//! messages the server's Delivery Service relays (`docs/protocol.md` §11). No I/O: the SDK
//! moves the bytes; this crate only does the cryptography (openmls 0.9 with the libcrux
//! provider, ciphersuite 0x0001).
//!
//! The server never depends on this crate: it checks handshakes with openmls' public-group
//! API only, and holds no private key.
//!
//! A credential is a BasicCredential with identity `"<user id>.<device id>"`; every member a
//! device accepts is checked to be one ([`Device::members`]).

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_libcrux_crypto::CryptoProvider;
use openmls_memory_storage::MemoryStorage;
use openmls_traits::OpenMlsProvider;

pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("MLS: {0}")]
    Mls(String),
    #[error("no such group on this device")]
    NoGroup,
}

fn mls(e: impl std::fmt::Debug) -> Error {
    Error::Mls(format!("{e:?}"))
}

pub type Result<T> = std::result::Result<T, Error>;

/// The device's crypto and storage, as openmls wants them.
struct Provider {
    crypto: CryptoProvider,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = CryptoProvider;
    type RandProvider = CryptoProvider;
    type StorageProvider = MemoryStorage;
    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }
    fn crypto(&self) -> &CryptoProvider {
        &self.crypto
    }
    fn rand(&self) -> &CryptoProvider {
        &self.crypto
    }
}

/// The identity bytes of a device's credential.
pub fn identity(user: i64, device: i64) -> Vec<u8> {
    format!("{user}.{device}").into_bytes()
}

/// The (user, device) a credential names.
pub fn parse_identity(credential: &Credential) -> Option<(i64, i64)> {
    let basic = BasicCredential::try_from(credential.clone()).ok()?;
    let (u, d) = std::str::from_utf8(basic.identity()).ok()?.split_once('.')?;
    Some((u.parse().ok()?, d.parse().ok()?))
}

/// A commit this device made, ready for `secret.commit`; merged only once the server took it.
pub struct Commit {
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
    pub group_info: Vec<u8>,
}

/// What an incoming MLS message was.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Plaintext from (user, device).
    Application { from: (i64, i64), plaintext: Vec<u8> },
    /// A commit was merged; the group is at `epoch`, with these members.
    Commit { epoch: u64, members: Vec<(i64, i64)> },
    /// This device joined the group by a Welcome.
    Joined { group_id: Vec<u8>, epoch: u64 },
    /// Not for this device (a Welcome for others, a commit of an epoch already passed).
    Ignored,
}

/// One device: its signature key, credential, key packages and groups.
pub struct Device {
    pub user: i64,
    pub device: i64,
    provider: Provider,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder().wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY).use_ratchet_tree_extension(true).build()
}

fn bytes(out: &MlsMessageOut) -> Result<Vec<u8>> {
    out.tls_serialize_detached().map_err(mls)
}

fn parse(data: &[u8]) -> Result<MlsMessageIn> {
    MlsMessageIn::tls_deserialize_exact(data).map_err(mls)
}

impl Device {
    /// A new device with a fresh Ed25519 signature key.
    pub fn new(user: i64, device: i64) -> Result<Device> {
        let provider = Provider { crypto: CryptoProvider::new().map_err(mls)?, storage: MemoryStorage::default() };
        let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).map_err(mls)?;
        signer.store(provider.storage()).map_err(mls)?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity(user, device)).into(),
            signature_key: signer.to_public_vec().into(),
        };
        Ok(Device { user, device, provider, signer, credential })
    }

    /// The device's whole state (identity, keys, groups) as bytes, for its profile. Holds
    /// private keys: the caller keeps it readable by its owner only.
    pub fn save(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |part: &[u8]| {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        };
        put(format!("{}.{}", self.user, self.device).as_bytes());
        put(&self.signer.to_public_vec());
        let values = self.provider.storage.values.read().unwrap_or_else(|e| e.into_inner());
        for (k, v) in values.iter() {
            put(k);
            put(v);
        }
        out
    }

    /// A device saved by [`Device::save`].
    pub fn load(mut bytes: &[u8]) -> Result<Device> {
        let mut take = || -> Result<Vec<u8>> {
            let bad = || Error::Mls("the saved device state does not decode".into());
            let len = u32::from_be_bytes(bytes.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
            let part = bytes.get(4..4 + len).ok_or_else(bad)?.to_vec();
            bytes = &bytes[4 + len..];
            Ok(part)
        };
        let id = String::from_utf8(take()?).map_err(mls)?;
        let (user, device) = id.split_once('.').and_then(|(u, d)| Some((u.parse().ok()?, d.parse().ok()?))).ok_or(Error::NoGroup)?;
        let public = take()?;
        let mut values = std::collections::HashMap::new();
        while let Ok(k) = take() {
            values.insert(k, take()?);
        }
        let provider =
            Provider { crypto: CryptoProvider::new().map_err(mls)?, storage: MemoryStorage { values: std::sync::RwLock::new(values) } };
        let signer = SignatureKeyPair::read(provider.storage(), &public, CIPHERSUITE.signature_algorithm())
            .ok_or_else(|| Error::Mls("the saved device has no signature key".into()))?;
        let credential =
            CredentialWithKey { credential: BasicCredential::new(identity(user, device)).into(), signature_key: public.into() };
        Ok(Device { user, device, provider, signer, credential })
    }

    pub fn signature_key(&self) -> Vec<u8> {
        self.signer.to_public_vec()
    }

    /// The private signature key's bytes: for the canary test that proves the server never
    /// holds it (never sent anywhere by this crate).
    pub fn signature_private_key(&self) -> Vec<u8> {
        // The key pair's serde form is its one accessor of the private half.
        serde_json::to_value(&self.signer)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<u8>>(v.get("private")?.clone()).ok())
            .unwrap_or_default()
    }

    /// `n` one-time key packages (their private parts stay in this device's storage).
    pub fn key_packages(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        (0..n).map(|_| self.key_package(false)).collect()
    }

    pub fn key_package(&self, last_resort: bool) -> Result<Vec<u8>> {
        // Every package says it understands the last_resort extension (RFC 9420 §17.3 via
        // draft extensions), so the last-resort one passes the capability check.
        let capabilities = Capabilities::new(None, None, Some(&[ExtensionType::LastResort]), None, None);
        let mut builder = KeyPackage::builder().leaf_node_capabilities(capabilities);
        if last_resort {
            builder = builder.mark_as_last_resort();
        }
        let bundle = builder.build(CIPHERSUITE, &self.provider, &self.signer, self.credential.clone()).map_err(mls)?;
        bytes(&MlsMessageOut::from(bundle.key_package().clone()))
    }

    /// A new group with this device as its only member; returns its id and GroupInfo (with
    /// the ratchet tree) for `secret.create`.
    pub fn create_group(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let group = MlsGroup::new(&self.provider, &self.signer, &create_config(), self.credential.clone()).map_err(mls)?;
        let info = group.export_group_info(self.provider.crypto(), &self.signer, true).map_err(mls)?;
        Ok((group.group_id().as_slice().to_vec(), bytes(&info)?))
    }

    fn group(&self, group_id: &[u8]) -> Result<MlsGroup> {
        MlsGroup::load(self.provider.storage(), &GroupId::from_slice(group_id)).map_err(mls)?.ok_or(Error::NoGroup)
    }

    pub fn has_group(&self, group_id: &[u8]) -> bool {
        self.group(group_id).is_ok()
    }

    pub fn epoch(&self, group_id: &[u8]) -> Result<u64> {
        Ok(self.group(group_id)?.epoch().as_u64())
    }

    /// The group's members as (user, device); a leaf whose credential is not a Heliograph
    /// device credential is an error.
    pub fn members(&self, group_id: &[u8]) -> Result<Vec<(i64, i64)>> {
        members_of(&self.group(group_id)?)
    }

    /// A commit adding the devices of `key_packages` (as claimed from the directory). Not
    /// merged: call [`Device::merge_pending`] once the server accepted it, or
    /// [`Device::clear_pending`] on `COMMIT_CONFLICT`.
    pub fn add(&self, group_id: &[u8], key_packages: &[Vec<u8>]) -> Result<Commit> {
        let mut group = self.group(group_id)?;
        let mut packages = Vec::new();
        for kp in key_packages {
            let MlsMessageBodyIn::KeyPackage(kp) = parse(kp)?.extract() else { return Err(Error::Mls("not a key package".into())) };
            let kp = kp.validate(self.provider.crypto(), ProtocolVersion::Mls10).map_err(mls)?;
            if parse_identity(kp.leaf_node().credential()).is_none() {
                return Err(Error::Mls("a key package's credential is not a Heliograph device credential".into()));
            }
            packages.push(kp);
        }
        let (commit, welcome, info) = group.add_members(&self.provider, &self.signer, &packages).map_err(mls)?;
        let info = info.ok_or_else(|| Error::Mls("no group info".into()))?;
        Ok(Commit { commit: bytes(&commit)?, welcome: Some(bytes(&welcome)?), group_info: bytes(&MlsMessageOut::from(info))? })
    }

    /// A commit removing `devices` (user, device) from the group.
    pub fn remove(&self, group_id: &[u8], devices: &[(i64, i64)]) -> Result<Commit> {
        let mut group = self.group(group_id)?;
        let leaves: Vec<LeafNodeIndex> =
            group.members().filter(|m| parse_identity(&m.credential).is_some_and(|id| devices.contains(&id))).map(|m| m.index).collect();
        let (commit, welcome, info) = group.remove_members(&self.provider, &self.signer, &leaves).map_err(mls)?;
        let welcome = welcome.map(|w| bytes(&w)).transpose()?;
        let info = info.ok_or_else(|| Error::Mls("no group info".into()))?;
        Ok(Commit { commit: bytes(&commit)?, welcome, group_info: bytes(&MlsMessageOut::from(info))? })
    }

    /// A commit refreshing this device's own leaf (new keys: post-compromise security).
    pub fn update(&self, group_id: &[u8]) -> Result<Commit> {
        let mut group = self.group(group_id)?;
        let bundle = group.self_update(&self.provider, &self.signer, Default::default()).map_err(mls)?;
        let info = bundle.group_info().cloned().ok_or_else(|| Error::Mls("no group info".into()))?;
        Ok(Commit { commit: bytes(bundle.commit())?, welcome: None, group_info: bytes(&MlsMessageOut::from(info))? })
    }

    /// The server accepted this device's pending commit.
    pub fn merge_pending(&self, group_id: &[u8]) -> Result<()> {
        self.group(group_id)?.merge_pending_commit(&self.provider).map_err(mls)
    }

    /// The server refused this device's pending commit (another won the epoch).
    pub fn clear_pending(&self, group_id: &[u8]) -> Result<()> {
        self.group(group_id)?.clear_pending_commit(self.provider.storage()).map_err(mls)
    }

    /// Encrypts an application message for the group's current epoch.
    pub fn encrypt(&self, group_id: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut group = self.group(group_id)?;
        bytes(&group.create_message(&self.provider, &self.signer, plaintext).map_err(mls)?)
    }

    /// Applies an incoming MLS message of a secret chat (in the chat's order).
    pub fn process(&self, data: &[u8]) -> Result<Incoming> {
        let message = parse(data)?;
        match message.extract() {
            MlsMessageBodyIn::Welcome(welcome) => self.join(welcome),
            body @ (MlsMessageBodyIn::PublicMessage(_) | MlsMessageBodyIn::PrivateMessage(_)) => {
                let protocol = match body {
                    MlsMessageBodyIn::PublicMessage(m) => ProtocolMessage::from(m),
                    MlsMessageBodyIn::PrivateMessage(m) => ProtocolMessage::from(m),
                    _ => unreachable!("matched above"),
                };
                let Ok(mut group) = self.group(protocol.group_id().as_slice()) else { return Ok(Incoming::Ignored) };
                if protocol.epoch() < group.epoch() {
                    return Ok(Incoming::Ignored);
                }
                let processed = group.process_message(&self.provider, protocol).map_err(mls)?;
                let sender = processed.credential().clone();
                match processed.into_content() {
                    ProcessedMessageContent::ApplicationMessage(m) => {
                        let from = parse_identity(&sender).ok_or_else(|| Error::Mls("sender credential".into()))?;
                        Ok(Incoming::Application { from, plaintext: m.into_bytes() })
                    }
                    ProcessedMessageContent::StagedCommitMessage(staged) => {
                        // Every member the commit brings must carry a device credential.
                        for add in staged.add_proposals() {
                            if parse_identity(add.add_proposal().key_package().leaf_node().credential()).is_none() {
                                return Err(Error::Mls("a commit adds a leaf that is not a Heliograph device".into()));
                            }
                        }
                        group.merge_staged_commit(&self.provider, *staged).map_err(mls)?;
                        Ok(Incoming::Commit { epoch: group.epoch().as_u64(), members: members_of(&group)? })
                    }
                    _ => Ok(Incoming::Ignored),
                }
            }
            _ => Ok(Incoming::Ignored),
        }
    }

    fn join(&self, welcome: Welcome) -> Result<Incoming> {
        let staged = match StagedWelcome::new_from_welcome(&self.provider, &join_config(), welcome, None) {
            Ok(s) => s,
            // Not for this device (no key package of ours in it), or a group we are in.
            Err(_) => return Ok(Incoming::Ignored),
        };
        let group = staged.into_group(&self.provider).map_err(mls)?;
        members_of(&group)?;
        Ok(Incoming::Joined { group_id: group.group_id().as_slice().to_vec(), epoch: group.epoch().as_u64() })
    }
}

/// The group id a GroupInfo (`MLSMessage`) names.
pub fn group_id_of(group_info: &[u8]) -> Result<Vec<u8>> {
    match parse(group_info)?.extract() {
        MlsMessageBodyIn::GroupInfo(gi) => Ok(gi.group_id().as_slice().to_vec()),
        _ => Err(Error::Mls("not a GroupInfo".into())),
    }
}

fn members_of(group: &MlsGroup) -> Result<Vec<(i64, i64)>> {
    group
        .members()
        .map(|m| {
            parse_identity(&m.credential).ok_or_else(|| Error::Mls("a member's credential is not a Heliograph device credential".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
