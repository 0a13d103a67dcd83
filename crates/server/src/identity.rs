//! Phone numbers kept sealed (issue 16): the store never holds a number in clear.
//!
//! Each number is kept as two values ([`SealedPhone`]):
//! - its **keyed hash**, HMAC-SHA256 under the *phone key*, for sign-in, uniqueness and
//!   finding people by number. The key lives outside the database (`phone.key` in the data
//!   folder, or `[accountability] phone_key_file`), so a dump alone cannot be checked against
//!   a list of candidate numbers;
//! - a **sealed copy**, a libsodium sealed box (X25519 + XSalsa20-Poly1305, `crypto_box`) to
//!   the operator's *disclosure public key*. The server holds only the public half and can
//!   never open it; whoever holds the private key can (`heliograph admin unseal`).
//!
//! At start ([`seal_clear_numbers`]) the numbers of an older database are sealed and the
//! database compacted, before anyone is served. The settings table records a check value of
//! the phone key, so a node started with another key refuses to serve instead of signing
//! everybody up again under new hashes.

use std::path::{Path, PathBuf};

use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};
use heliograph_core::{Phone, PhoneHash, SealedPhone};
use heliograph_store::Store;

use crate::config::Accountability;

/// The phone key's file in the data folder, unless configured elsewhere.
pub const PHONE_KEY_FILE: &str = "phone.key";
/// The disclosure public key's file in the data folder, unless configured.
pub const DISCLOSURE_PUBLIC_FILE: &str = "disclosure.pub";
/// Where the private half goes when the server makes the pair itself (first start with none
/// configured): for the operator to move off this machine.
pub const DISCLOSURE_PRIVATE_FILE: &str = "disclosure-private.key";

/// The `settings` key of the phone key's check value.
const KEY_CHECK: &str = "phone_key_check";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Key(String),
    #[error("the phone key in use is not the one this database's numbers were hashed with; start every node with the same phone key ({PHONE_KEY_FILE} or [accountability] phone_key_file)")]
    WrongKey,
    #[error("cannot open the sealed number: not sealed to this private key, or damaged")]
    Unseal,
    #[error(transparent)]
    Store(#[from] heliograph_store::Error),
}

/// The keys every sign-in and lookup uses: the phone key and the disclosure public key.
pub struct PhoneKeys {
    lookup: ring::hmac::Key,
    disclosure: PublicKey,
}

impl std::fmt::Debug for PhoneKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneKeys").field("disclosure", &hex::encode(self.disclosure.as_bytes())).finish_non_exhaustive()
    }
}

impl PhoneKeys {
    pub fn new(phone_key: [u8; 32], disclosure: [u8; 32]) -> PhoneKeys {
        PhoneKeys { lookup: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &phone_key), disclosure: PublicKey::from_bytes(disclosure) }
    }

    /// Reads the keys as configured, making the missing ones in `data_dir` on first start.
    pub fn load_or_create(config: &Accountability, data_dir: &Path) -> Result<PhoneKeys, IdentityError> {
        let key_path = config.phone_key_file.clone().unwrap_or_else(|| data_dir.join(PHONE_KEY_FILE));
        let phone_key = match read_hex_key(&key_path)? {
            Some(key) => key,
            None => {
                let key: [u8; 32] = rand::random();
                write_private(&key_path, &hex::encode(key))?;
                tracing::info!(path = %key_path.display(), "made a new phone key");
                key
            }
        };
        let disclosure = match &config.disclosure_public_key {
            Some(text) => parse_hex_key(text).map_err(|m| IdentityError::Key(format!("[accountability] disclosure_public_key: {m}")))?,
            None => {
                let public_path = data_dir.join(DISCLOSURE_PUBLIC_FILE);
                match read_hex_key(&public_path)? {
                    Some(key) => key,
                    None => {
                        let (secret, public) = disclosure_key_pair();
                        let private_path = data_dir.join(DISCLOSURE_PRIVATE_FILE);
                        write_private(&private_path, &secret)?;
                        write_private(&public_path, &public)?;
                        tracing::warn!(
                            private = %private_path.display(),
                            "made a disclosure key pair: move the private key off this machine (the server never reads it); \
                             phone numbers are sealed to its public half"
                        );
                        parse_hex_key(&public).map_err(IdentityError::Key)?
                    }
                }
            }
        };
        Ok(PhoneKeys::new(phone_key, disclosure))
    }

    /// The number's keyed hash, for lookups.
    pub fn hash(&self, phone: &Phone) -> PhoneHash {
        let tag = ring::hmac::sign(&self.lookup, phone.as_str().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        PhoneHash(out)
    }

    /// What the store keeps of `phone`: its hash and a copy sealed to the disclosure key.
    pub fn seal(&self, phone: &Phone) -> SealedPhone {
        // Sealing to a valid X25519 public key does not fail (the cipher has no length limit
        // a phone number could reach); an error here would be a bug in the crate.
        let sealed = self.disclosure.seal(&mut OsRng, phone.as_str().as_bytes()).expect("sealing a phone number");
        SealedPhone { hash: self.hash(phone), sealed }
    }

    /// A value that identifies the phone key without revealing it.
    fn check_value(&self) -> [u8; 32] {
        let tag = ring::hmac::sign(&self.lookup, b"heliograph phone key check");
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// A new disclosure key pair, hex: (private, public).
pub fn disclosure_key_pair() -> (String, String) {
    let secret = SecretKey::generate(&mut OsRng);
    (hex::encode(secret.to_bytes()), hex::encode(secret.public_key().as_bytes()))
}

/// Opens a sealed number with the disclosure private key (hex).
pub fn unseal(private_key: &str, sealed: &[u8]) -> Result<Phone, IdentityError> {
    let secret = SecretKey::from_bytes(parse_hex_key(private_key).map_err(|m| IdentityError::Key(format!("the private key: {m}")))?);
    let opened = secret.unseal(sealed).map_err(|_| IdentityError::Unseal)?;
    let text = String::from_utf8(opened).map_err(|_| IdentityError::Unseal)?;
    Phone::parse(&text).map_err(|_| IdentityError::Unseal)
}

/// Before serving: checks the phone key against the database's, then seals every number an
/// older database still holds in clear, and compacts the database so none survives in its
/// files. Returns how many were sealed.
pub async fn seal_clear_numbers(store: &dyn Store, keys: &PhoneKeys) -> Result<u64, IdentityError> {
    if !store.settle_setting(KEY_CHECK, &keys.check_value()).await? {
        return Err(IdentityError::WrongKey);
    }
    let mut sealed = 0u64;
    loop {
        let batch = store.phones_to_seal(500).await?;
        if batch.is_empty() {
            break;
        }
        for (user, clear) in batch {
            let phone = Phone::parse(&clear)
                .map_err(|_| IdentityError::Key(format!("account {} has a stored number that is not a phone number", user.0)))?;
            store.seal_phone(user, &keys.seal(&phone)).await?;
            sealed += 1;
        }
    }
    if sealed > 0 {
        store.compact().await?;
        tracing::info!(accounts = sealed, "sealed the phone numbers of an older database and compacted it");
    }
    Ok(sealed)
}

/// Appends the host operator's `unseal` of `user`'s number to the audit log (before it is
/// opened: an unseal is never silent). The account is not notified here: disclosure notices
/// with a secrecy period come with the disclosure log.
pub async fn record_unseal(store: &dyn Store, user: heliograph_core::UserId, reason: &str) -> Result<(), IdentityError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(IdentityError::Key("give the --reason for opening the number".into()));
    }
    store
        .moderate(heliograph_store::Action {
            operator: heliograph_core::UserId(0),
            kind: heliograph_core::ModerationAction::Unseal,
            report: None,
            user: Some(user),
            chat: None,
            message: None,
            until: None,
            reason: reason.to_string(),
            notice: None,
        })
        .await?;
    Ok(())
}

fn parse_hex_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, not 32", b.len()))
}

fn read_hex_key(path: &Path) -> Result<Option<[u8; 32]>, IdentityError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_hex_key(&text).map(Some).map_err(|message| IdentityError::File { path: path.into(), message }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IdentityError::File { path: path.into(), message: e.to_string() }),
    }
}

/// Writes a new key file readable by its owner only; never replaces one.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), IdentityError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| IdentityError::File { path: path.into(), message: e.to_string() };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(fail)?;
    file.write_all(format!("{text}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed number opens with the private key only; hashes are keyed and deterministic.
    #[test]
    fn seal_and_unseal() {
        let (secret, public) = disclosure_key_pair();
        let keys = PhoneKeys::new([1; 32], parse_hex_key(&public).expect("public"));
        let phone = Phone::parse("+15550001234").expect("phone");
        let sealed = keys.seal(&phone);
        assert_eq!(unseal(&secret, &sealed.sealed).expect("unseal"), phone);
        assert_ne!(keys.seal(&phone).sealed, sealed.sealed, "each seal is fresh");
        assert_eq!(keys.seal(&phone).hash, sealed.hash, "the hash is deterministic");
        assert_ne!(PhoneKeys::new([2; 32], [9; 32]).hash(&phone), sealed.hash, "another phone key, another hash");
        let (other, _) = disclosure_key_pair();
        assert!(matches!(unseal(&other, &sealed.sealed), Err(IdentityError::Unseal)), "another private key cannot open it");
        let mut flipped = sealed.sealed.clone();
        flipped[40] ^= 1;
        assert!(matches!(unseal(&secret, &flipped), Err(IdentityError::Unseal)), "a damaged box does not open");
        assert!(!String::from_utf8_lossy(&sealed.sealed).contains("5550001234"));
    }
}
