//! Whom the SDK trusts over `https://` and `wss://`: the public web roots (webpki-roots,
//! as reqwest uses), plus the certificates of [`crate::Config::ca_pem`]: a private CA, or a
//! LAN server's self-signed certificate. One rustls configuration serves the WebSocket and
//! the `/files` HTTP client alike, so both trust the same servers.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::ClientError;

/// The TLS client configuration trusting the web roots and the certificates in `ca_pem`.
pub(crate) fn client_config(ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(pem) = ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Config(format!("ca_pem: cannot read the PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(ClientError::Config("ca_pem holds no certificate (expected -----BEGIN CERTIFICATE-----)".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ClientError::Config(format!("ca_pem: a certificate cannot be trusted: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_config_error() {
        assert!(client_config(None).is_ok(), "the web roots alone");
        for bad in ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert!(matches!(client_config(Some(bad)), Err(ClientError::Config(_))), "{bad:?}");
        }
    }
}
