//! `helio secret …`: secret chats (MLS, end-to-end encrypted) from the terminal. This
//! profile's device (`mls-device.bin`, mode 0600: it holds private keys) is made on first use,
//! uploads its key packages and replenishes them; every command first applies the chat's new
//! MLS messages in order (`secret.history` from where the profile stands, `mls-seen.json`).

use std::collections::BTreeMap;
use std::path::Path;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use heliograph_client::proto::{self, ErrorCode};
use heliograph_client::{Client, ClientError};
use heliograph_mls::{Device, Incoming};

use crate::error::CliError;
use crate::profile::Session;

/// One-time key packages kept in the directory; topped up when below half.
const KEY_PACKAGES: u64 = 10;

fn mls_err(e: heliograph_mls::Error) -> CliError {
    CliError::new("MLS", e.to_string())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::new("PROFILE_IO", format!("{}: {e}", path.display()))
}

/// This profile's device and where it stands in each secret chat.
pub struct Secret<'a> {
    client: &'a Client,
    dir: &'a Path,
    pub device: Device,
    seen: BTreeMap<i64, i64>,
}

impl<'a> Secret<'a> {
    /// Loads (or makes and registers) this profile's device, and tops up its key packages.
    pub async fn open(client: &'a Client, dir: &'a Path, session: &Session) -> Result<Secret<'a>, CliError> {
        let path = dir.join("mls-device.bin");
        let device = match std::fs::read(&path) {
            Ok(bytes) => Device::load(&bytes).map_err(mls_err)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Device::new(session.user_id, session.session_id).map_err(mls_err)?,
            Err(e) => return Err(io(&path)(e)),
        };
        let seen = match std::fs::read(dir.join("mls-seen.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        let me = Secret { client, dir, device, seen };
        let count = me.client.key_package_count().await?;
        if count.one_time < KEY_PACKAGES / 2 {
            let kps = me.device.key_packages((KEY_PACKAGES - count.one_time) as usize).map_err(mls_err)?;
            let last = (count.one_time == 0).then(|| me.device.key_package(true)).transpose().map_err(mls_err)?;
            me.client.upload_key_packages(&kps, last.as_deref()).await?;
        }
        me.save()?;
        Ok(me)
    }

    pub fn save(&self) -> Result<(), CliError> {
        let path = self.dir.join("mls-device.bin");
        crate::profile::write_private(&path, &self.device.save()).map_err(io(&path))?;
        let seen = self.dir.join("mls-seen.json");
        let bytes = serde_json::to_vec(&self.seen).map_err(|e| CliError::new("PROFILE_IO", e.to_string()))?;
        crate::profile::write_private(&seen, &bytes).map_err(io(&seen))
    }

    /// A new secret chat with every device of `peer` (and this account's other devices).
    pub async fn create(&mut self, peer: i64, title: Option<String>) -> Result<i64, CliError> {
        let (gid, info) = self.device.create_group().map_err(mls_err)?;
        let chat = self.client.create_secret(title.as_deref(), &info).await?;
        self.seen.insert(chat.id, 0);
        let claimed = self.client.claim_key_packages(&[self.device.user, peer]).await?;
        if !claimed.iter().any(|c| c.user_id == peer) {
            return Err(CliError::new(
                "NO_DEVICES",
                "that user has no device that speaks secret chats yet: ask them to run `helio secret init`",
            ));
        }
        let kps = claimed
            .iter()
            .map(|c| B64.decode(&c.key_package))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::new("MLS", e.to_string()))?;
        let commit = self.device.add(&gid, &kps).map_err(mls_err)?;
        let sent = self.client.secret_commit(chat.id, &commit.commit, &commit.group_info, commit.welcome.as_deref()).await?;
        self.device.merge_pending(&gid).map_err(mls_err)?;
        self.seen.insert(chat.id, sent.id + 1);
        self.save()?;
        Ok(chat.id)
    }

    /// Applies the chat's MLS messages this device has not seen; returns the texts read.
    pub async fn sync(&mut self, chat: i64) -> Result<Vec<(i64, String)>, CliError> {
        let mut read = Vec::new();
        loop {
            let after = self.seen.get(&chat).copied().unwrap_or(0);
            let page = self.client.secret_history(chat, after, Some(100)).await?;
            let Some(last) = page.last().map(|m| m.id) else { break };
            for m in &page {
                if m.device_id == self.device.device && m.kind != proto::SecretKind::Welcome {
                    continue;
                }
                let data = B64.decode(&m.data).map_err(|e| CliError::new("MLS", e.to_string()))?;
                match self.device.process(&data) {
                    Ok(Incoming::Application { from, plaintext }) => read.push((from.0, String::from_utf8_lossy(&plaintext).into_owned())),
                    Ok(_) => {}
                    // Messages from before this device joined cannot be read: by design.
                    Err(_) => {}
                }
            }
            self.seen.insert(chat, last);
        }
        self.save()?;
        Ok(read)
    }

    /// Encrypts and sends `text` (after catching up, so it is for the current epoch).
    pub async fn send(&mut self, chat: i64, text: &str) -> Result<proto::SecretSent, CliError> {
        let group = self.group_id(chat).await?;
        self.sync(chat).await?;
        let random_id = heliograph_client::random_id();
        loop {
            let message = self.device.encrypt(&group, text.as_bytes()).map_err(mls_err)?;
            match self.client.secret_send(chat, random_id, &message).await {
                Err(ClientError::Server(e)) if e.code == ErrorCode::MlsWrongEpoch => {
                    self.sync(chat).await?;
                }
                other => {
                    self.save()?;
                    return Ok(other?);
                }
            }
        }
    }

    async fn group_id(&mut self, chat: i64) -> Result<Vec<u8>, CliError> {
        let info = self.client.secret_group_info(chat).await?;
        let bytes = B64.decode(&info.group_info).map_err(|e| CliError::new("MLS", e.to_string()))?;
        let gid = heliograph_mls::group_id_of(&bytes).map_err(mls_err)?;
        if !self.device.has_group(&gid) {
            self.sync(chat).await?;
        }
        if !self.device.has_group(&gid) {
            return Err(CliError::new(
                "NOT_A_MEMBER_DEVICE",
                "this device is not in that secret chat (it was added before this device existed)",
            ));
        }
        Ok(gid)
    }
}
