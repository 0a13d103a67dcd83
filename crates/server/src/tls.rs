//! TLS built in: HTTPS and WSS on the public port, from PEM files that are reloaded when
//! they change, so a certificate renewal (certbot, acme.sh, a LAN CA) needs no restart.
//!
//! rustls with the `ring` provider (it builds with no system packages; `aws-lc-rs` would
//! need cmake and a C toolchain for its own sources). ALPN offers HTTP/2 and HTTP/1.1; the
//! WebSocket clients that speak only HTTP/1.1 offer no ALPN or `http/1.1` and get it.
//!
//! [`CertificateFiles`] answers every handshake with the current certificate. At most once a
//! second, at a handshake, it compares the files' modification times with the ones it last
//! loaded and, if either changed, loads both again: a pair that does not load (a renewal
//! caught between writing the certificate and the key, a key that does not match) keeps the
//! previous certificate in service and is tried again when a file changes next.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::Tls;

/// `Strict-Transport-Security` on every HTTPS response: browsers that have seen it use HTTPS
/// for this host for a year. No `includeSubDomains`: the operator's other hosts are theirs
/// to decide.
pub const HSTS: &str = "max-age=31536000";

/// How often, at most, the files' modification times are looked at.
const RECHECK: Duration = Duration::from_secs(1);

/// The certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {}: {source}", path.display())]
    Certificate { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("the TLS certificate file {} holds no certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("cannot read the TLS private key {}: {source}", path.display())]
    Key { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("the TLS key {} does not fit the certificate {}: {source}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf, source: rustls::Error },
    #[error("cannot set up TLS: {0}")]
    Setup(#[from] rustls::Error),
}

/// The acceptor for `tls`: fails when the files cannot be read or do not fit together, so a
/// server never starts with a certificate it cannot serve.
pub fn acceptor(tls: &Tls) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let files = CertificateFiles::load(tls, provider.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(files));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The certificate in service, and where it comes from.
#[derive(Debug)]
pub struct CertificateFiles {
    paths: Tls,
    provider: Arc<CryptoProvider>,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    current: Arc<CertifiedKey>,
    /// The modification times of (certificate, key) last tried, loaded or not.
    tried: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl CertificateFiles {
    fn load(paths: &Tls, provider: Arc<CryptoProvider>) -> Result<CertificateFiles, TlsError> {
        let tried = modified(paths);
        let current = Arc::new(certified_key(paths, &provider)?);
        let state = Mutex::new(Loaded { current, tried, checked: Instant::now() });
        Ok(CertificateFiles { paths: paths.clone(), provider, state })
    }

    /// The certificate to serve, reloaded first if the files changed since the last look.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            let stamps = modified(&self.paths);
            if stamps != state.tried {
                state.tried = stamps;
                match certified_key(&self.paths, &self.provider) {
                    Ok(key) => {
                        tracing::info!(cert = %self.paths.cert.display(), "TLS certificate reloaded");
                        state.current = Arc::new(key);
                    }
                    Err(e) => tracing::warn!(error = %e, "the TLS files changed but cannot be used; the previous certificate stays"),
                }
            }
        }
        state.current.clone()
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn modified(paths: &Tls) -> (Option<SystemTime>, Option<SystemTime>) {
    let stamp = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (stamp(&paths.cert), stamp(&paths.key))
}

fn certified_key(paths: &Tls, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let certs = CertificateDer::pem_file_iter(&paths.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate { path: paths.cert.clone(), source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(paths.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(|source| TlsError::Key { path: paths.key.clone(), source })?;
    CertifiedKey::from_der(certs, key, provider).map_err(|source| TlsError::Mismatch {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
        source,
    })
}
