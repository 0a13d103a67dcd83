//! The XMPP adapter for the pairs workload: a c2s client over plain TCP (RFC 6120) for
//! ejabberd and Prosody, with just what a 1:1 message needs.
//!
//! Per connection: stream header, in-band registration (XEP-0077; "already exists" is fine),
//! SASL PLAIN, stream restart, resource binding, initial presence, then XEP-0198 stream
//! management (`<enable/>`). A send is `<message type='chat' id=..><body>..</body></message>`
//! followed by `<r/>`, and is acknowledged when the server's `<a h=../>` counts it, the XMPP
//! analogue of Heliograph's `messages.send` result. The reader task answers the server's own
//! `<r/>` with `<a h=../>` (stanzas received), as a real client must, and passes on the body
//! of every `<message>` received.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// One top-level element of the server's stream.
#[derive(Debug, Default)]
struct Stanza {
    name: String,
    attrs: Vec<(String, String)>,
    /// Names of the elements inside it, in document order, with their text.
    children: Vec<(String, String)>,
}

impl Stanza {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    fn child(&self, name: &str) -> Option<&str> {
        self.children.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str())
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((prefix, l)) if prefix != "stream" => l.to_string(),
        _ => s.into_owned(),
    }
}

fn start(e: &BytesStart) -> Stanza {
    let attrs = e
        .attributes()
        .flatten()
        .map(|a| (String::from_utf8_lossy(a.key.as_ref()).into_owned(), String::from_utf8_lossy(&a.value).into_owned()))
        .collect();
    Stanza { name: local(e.name().as_ref()), attrs, children: Vec::new() }
}

/// Reads the server's stream one top-level element at a time.
struct StanzaReader {
    xml: Reader<BufReader<OwnedReadHalf>>,
    buf: Vec<u8>,
}

impl StanzaReader {
    fn new(r: OwnedReadHalf) -> Self {
        let mut xml = Reader::from_reader(BufReader::with_capacity(64 * 1024, r));
        xml.config_mut().check_end_names = false;
        StanzaReader { xml, buf: Vec::new() }
    }

    /// The next element at depth 1 (or a `stream:stream` opening); `None` at end of stream.
    async fn next(&mut self) -> Result<Option<Stanza>> {
        let mut cur: Option<Stanza> = None;
        let mut depth = 0usize; // inside the current stanza
        loop {
            self.buf.clear();
            match self.xml.read_event_into_async(&mut self.buf).await? {
                Event::Start(e) => {
                    let name = local(e.name().as_ref());
                    if name == "stream:stream" {
                        return Ok(Some(start(&e)));
                    }
                    match &mut cur {
                        None => {
                            cur = Some(start(&e));
                            depth = 1;
                        }
                        Some(s) => {
                            s.children.push((name, String::new()));
                            depth += 1;
                        }
                    }
                }
                Event::Empty(e) => match &mut cur {
                    None => return Ok(Some(start(&e))),
                    Some(s) => s.children.push((local(e.name().as_ref()), String::new())),
                },
                Event::Text(t) => {
                    if let Some(s) = &mut cur {
                        if let Some(last) = s.children.last_mut() {
                            last.1.push_str(&String::from_utf8_lossy(&t));
                        }
                    }
                }
                Event::End(e) => {
                    if cur.is_none() {
                        if local(e.name().as_ref()) == "stream:stream" {
                            return Ok(None);
                        }
                        continue;
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Ok(cur.take());
                    }
                }
                Event::Eof => return Ok(None),
                _ => {}
            }
        }
    }

    async fn expect(&mut self, what: &str, pred: impl Fn(&Stanza) -> bool) -> Result<Stanza> {
        loop {
            let s = self.next().await?.ok_or_else(|| anyhow!("stream closed waiting for {what}"))?;
            if pred(&s) {
                return Ok(s);
            }
            if s.name == "stream:error" || s.name == "failure" {
                bail!("{what}: server said {} {:?}", s.name, s.children);
            }
        }
    }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/// A connected, authenticated, bound session with stream management enabled.
pub struct Session {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    /// Stanzas sent since `<enable/>` (what the server's `h` counts).
    sent: AtomicU64,
    waiters: Mutex<VecDeque<(u64, oneshot::Sender<()>)>>,
    /// This session's full JID.
    pub jid: String,
}

/// Connects `user@localhost` (registering it first if it does not exist) and returns the
/// session and the bodies of the messages it receives.
pub async fn connect(addr: &str, user: &str, password: &str) -> Result<(Arc<Session>, mpsc::UnboundedReceiver<String>, AbortOnDrop)> {
    let tcp = TcpStream::connect(addr).await.with_context(|| format!("connecting to XMPP at {addr}"))?;
    tcp.set_nodelay(true)?;
    let (r, mut w) = tcp.into_split();
    let mut rd = StanzaReader::new(r);
    w.write_all(HEADER.as_bytes()).await?;
    let features = rd.expect("stream features", |s| s.name == "stream:features").await?;
    if features.child("mechanisms").is_none() {
        bail!("no SASL mechanisms offered: {features:?}");
    }
    // In-band registration; an existing account answers with an error (conflict), which is fine.
    w.write_all(
        format!("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>{user}</username><password>{password}</password></query></iq>")
            .as_bytes(),
    )
    .await?;
    rd.expect("registration answer", |s| s.name == "iq" && s.attr("id") == Some("reg")).await?;
    let token = b64(format!("\0{user}\0{password}").as_bytes());
    w.write_all(format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>").as_bytes()).await?;
    rd.expect("SASL success", |s| s.name == "success").await.with_context(|| format!("authenticating {user}"))?;
    w.write_all(HEADER.as_bytes()).await?;
    let features = rd.expect("stream features after auth", |s| s.name == "stream:features").await?;
    if features.child("sm").is_none() {
        bail!("the server offers no XEP-0198 stream management: {features:?}");
    }
    w.write_all(b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>").await?;
    let bound = rd.expect("bind result", |s| s.name == "iq" && s.attr("id") == Some("bind")).await?;
    let jid = bound.child("jid").map(str::to_string).filter(|j| !j.is_empty()).ok_or_else(|| anyhow!("bind failed: {bound:?}"))?;
    w.write_all(b"<presence/><enable xmlns='urn:xmpp:sm:3'/>").await?;
    rd.expect("stream management enabled", |s| s.name == "enabled").await?;
    let session =
        Arc::new(Session { writer: tokio::sync::Mutex::new(w), sent: AtomicU64::new(0), waiters: Mutex::new(VecDeque::new()), jid });
    let (tx, rx) = mpsc::unbounded_channel();
    let reader_session = session.clone();
    let task = tokio::spawn(async move {
        let s = reader_session;
        let mut received = 0u64;
        while let Ok(Some(st)) = rd.next().await {
            match st.name.as_str() {
                "message" => {
                    received += 1;
                    if let Some(body) = st.child("body") {
                        if tx.send(body.to_string()).is_err() {
                            break;
                        }
                    }
                }
                "presence" | "iq" => received += 1,
                "r" => {
                    let ack = format!("<a xmlns='urn:xmpp:sm:3' h='{}'/>", received % (1 << 32));
                    if s.writer.lock().await.write_all(ack.as_bytes()).await.is_err() {
                        break;
                    }
                }
                "a" => {
                    let h: u64 = st.attr("h").and_then(|h| h.parse().ok()).unwrap_or(0);
                    let mut waiters = s.waiters.lock().unwrap_or_else(|e| e.into_inner());
                    while waiters.front().is_some_and(|(n, _)| *n % (1 << 32) <= h) {
                        if let Some((_, w)) = waiters.pop_front() {
                            let _ = w.send(());
                        }
                    }
                }
                _ => {}
            }
        }
        // Fail every pending send.
        s.waiters.lock().unwrap_or_else(|e| e.into_inner()).clear();
    });
    Ok((session, rx, AbortOnDrop(task)))
}

/// Ends a connection's reader task (and so closes the connection) when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Session {
    /// Sends a chat message to `to` and waits for the server's stream-management ack of it.
    pub async fn send(&self, to: &str, id: u64, text: &str) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.writer.lock().await;
            let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
            self.waiters.lock().unwrap_or_else(|e| e.into_inner()).push_back((n, tx));
            let stanza = format!("<message to='{to}' type='chat' id='m{id}'><body>{text}</body></message><r xmlns='urn:xmpp:sm:3'/>");
            w.write_all(stanza.as_bytes()).await?;
        }
        rx.await.map_err(|_| anyhow!("XMPP connection closed before the ack"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::b64(b"\0u\0p"), "AHUAcA==");
        assert_eq!(super::b64(b"abc"), "YWJj");
        assert_eq!(super::b64(b"ab"), "YWI=");
    }
}
