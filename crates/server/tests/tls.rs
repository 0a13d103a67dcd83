//! TLS built in, with a test CA made by rcgen: HTTPS over HTTP/2 (ALPN) and HTTP/1.1, HSTS on
//! every response, the SDK signing in and sending over WSS when it trusts the CA (and
//! refusing when it does not), a renewed certificate picked up without a restart.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::InProcess;
use heliograph_client::{proto, Client, Config as ClientConfig, Event};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// A certificate authority of the test's own.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Heliograph test CA");
        TestCa { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA") }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for 127.0.0.1 and localhost, written as PEM to `dir/cert.pem`
    /// and `dir/key.pem`; returns its DER.
    fn issue(&self, dir: &Path, name: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        // Key first, then the certificate, as a renewal might: the server must cope with
        // seeing the new key beside the old certificate for a moment.
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
        cert.der().to_vec()
    }
}

fn tls_config(dir: &Path) -> heliograph_server::config::Tls {
    heliograph_server::config::Tls { cert: dir.join("cert.pem"), key: dir.join("key.pem") }
}

async fn tls_server(ca: &TestCa) -> (InProcess, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("temp dir");
    ca.issue(certs.path(), "first");
    let server = InProcess::start_with(|c| c.tls = Some(tls_config(certs.path()))).await;
    (server, certs)
}

/// A TLS connection trusting only `ca`, offering `alpn`.
async fn handshake(ca: &TestCa, addr: std::net::SocketAddr, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).expect("CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake")
}

/// HTTPS: HTTP/2 negotiated by ALPN and HTTP/1.1 both answer /healthz with HSTS, and a
/// WebSocket opens over HTTP/2 as browsers open it; the SDK
/// trusting the test CA signs in and sends over WSS; without the CA it refuses to connect.
#[tokio::test]
async fn https_and_wss_with_a_test_certificate() {
    let ca = TestCa::new();
    let (server, _certs) = tls_server(&ca).await;
    let addr = server.addr();

    let tls = handshake(&ca, addr, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN chose HTTP/2");
    let (h2, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let mut h2 = h2.ready().await.expect("ready");
    let request = axum::http::Request::get(format!("https://{addr}/healthz")).body(()).expect("request");
    let (answer, _) = h2.send_request(request, true).expect("send");
    let answer = answer.await.expect("answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["strict-transport-security"], "max-age=31536000", "HSTS over HTTP/2");
    // Browsers on HTTPS open their WebSocket over HTTP/2 with an extended CONNECT (RFC 8441).
    let mut connect =
        axum::http::Request::connect(format!("https://{addr}/ws")).header("sec-websocket-version", "13").body(()).expect("request");
    connect.extensions_mut().insert(h2::ext::Protocol::from_static("websocket"));
    let mut h2 = h2.ready().await.expect("ready");
    let (answer, _stream) = h2.send_request(connect, false).expect("send CONNECT");
    assert_eq!(answer.await.expect("answer").status(), 200, "a WebSocket over HTTP/2");

    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
        .http1_only()
        .build()
        .expect("client");
    let answer = http.get(format!("https://{addr}/healthz")).send().await.expect("HTTPS /healthz");
    assert_eq!((answer.version(), answer.status().as_u16()), (reqwest::Version::HTTP_11, 200));
    assert_eq!(answer.headers()["strict-transport-security"], "max-age=31536000", "HSTS over HTTP/1.1");
    let page = http.get(format!("https://{addr}/")).send().await.expect("the web client");
    assert!(page.headers().contains_key("strict-transport-security"), "HSTS on every response");
    assert!(http.get(format!("http://{addr}/healthz")).send().await.is_err(), "no plain HTTP on a TLS port");

    let url = format!("https://{addr}");
    let untrusting = Client::connect(ClientConfig::new(url.clone())).await;
    assert!(untrusting.is_err(), "an SDK that does not trust the CA refuses the certificate");
    let config = ClientConfig { ca_pem: Some(ca.pem()), ..ClientConfig::new(url.clone()) };
    let (alice, mut updates) = Client::connect(config).await.expect("SDK connects over wss");
    let (phone, code) = common::test_phone(7);
    alice.send_code(&phone).await.expect("send_code");
    alice.sign_in(&phone, &code, Some("Alice"), Some("tls")).await.expect("sign_in over wss");
    let group = alice.create_group("secure", &[]).await.expect("create_group");
    let sent = alice.send_message(group.id, "over TLS", None).await.expect("send over wss");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, updates.recv()).await.expect("the message arrives") {
            Some(Event::Update(u)) if matches!(&u.kind, proto::UpdateKind::NewMessage { message } if message.id == sent.message.id) => {
                break
            }
            Some(_) => continue,
            None => panic!("update stream ended"),
        }
    }
}

/// The server certificate a fresh handshake is answered with.
async fn served(ca: &TestCa, addr: std::net::SocketAddr) -> Vec<u8> {
    let tls = handshake(ca, addr, &[b"http/1.1"]).await;
    tls.get_ref().1.peer_certificates().and_then(|c| c.first()).expect("a certificate").to_vec()
}

/// A renewed certificate is served by the running server (no restart); files that cannot be
/// used keep the previous one in service; a server does not start with unusable files.
#[tokio::test]
async fn a_renewed_certificate_is_served_without_restart() {
    let ca = TestCa::new();
    let (server, certs) = tls_server(&ca).await;
    let certs = certs.path();
    let first = served(&ca, server.addr()).await;
    let second = ca.issue(certs, "second");
    assert_ne!(first, second);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served(&ca, server.addr()).await != second {
        assert!(Instant::now() < deadline, "the renewed certificate was not picked up within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(certs.join("cert.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n").expect("write");
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(served(&ca, server.addr()).await, second, "a broken renewal keeps the working certificate");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = heliograph_server::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        tls: Some(tls_config(certs)),
        ..heliograph_server::Config::default()
    };
    let refused = heliograph_server::start(config).await.err().expect("a broken certificate is refused at start").to_string();
    assert!(refused.contains("cert.pem"), "the error names the file: {refused}");
}
