//! The XMPP adapter: a c2s client over plain TCP (RFC 6120) for ejabberd and Prosody, with
//! just what the scenarios need (1:1 messages, MUC rooms, offline messages).
//!
//! Per connection: stream header, in-band registration (XEP-0077; "already exists" is fine;
//! skipped by `login`), SASL PLAIN, stream restart, resource binding, XEP-0198 stream
//! management (`<enable/>`), then initial presence (which makes the server deliver stored
//! offline messages). A send is `<message type='chat|groupchat' id=..><body>..</body></message>`
//! followed by `<r/>`, and is acknowledged when the server's `<a h=../>` counts it, the XMPP
//! analogue of Heliograph's `messages.send` result. The reader task answers the server's own
//! `<r/>` with `<a h=../>` (stanzas received), as a real client must, and passes on the body
//! of every `<message>` received from someone else. A MUC room (XEP-0045) is entered with a
//! presence to `room/nick` (the account name), created as an instant room by its first member.

use std::collections::{HashMap, VecDeque};
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
    /// Answers awaited by `request`: `iq <id>`, `presence <from>` or `message <id>` (a
    /// room's reflection of our groupchat message, or a bounce).
    pending: Mutex<HashMap<String, oneshot::Sender<Stanza>>>,
    /// The account's local part, also its nick in MUC rooms.
    user: String,
    /// This session's full JID.
    pub jid: String,
}

/// Connects `user@localhost`, registering it first (an existing account is fine), and
/// returns the session, the bodies of the messages it receives, and the connection.
pub async fn connect(addr: &str, user: &str, password: &str) -> Result<(Arc<Session>, mpsc::UnboundedReceiver<String>, AbortOnDrop)> {
    open(addr, user, password, true).await
}

/// Logs an existing account in, as a returning client does (no registration attempt).
pub async fn login(addr: &str, user: &str, password: &str) -> Result<(Arc<Session>, mpsc::UnboundedReceiver<String>, AbortOnDrop)> {
    open(addr, user, password, false).await
}

async fn open(
    addr: &str,
    user: &str,
    password: &str,
    register: bool,
) -> Result<(Arc<Session>, mpsc::UnboundedReceiver<String>, AbortOnDrop)> {
    let tcp = TcpStream::connect(addr).await.with_context(|| format!("connecting to XMPP at {addr}"))?;
    tcp.set_nodelay(true)?;
    let (r, mut w) = tcp.into_split();
    let mut rd = StanzaReader::new(r);
    w.write_all(HEADER.as_bytes()).await?;
    let features = rd.expect("stream features", |s| s.name == "stream:features").await?;
    if features.child("mechanisms").is_none() {
        bail!("no SASL mechanisms offered: {features:?}");
    }
    if register {
        // In-band registration; an existing account answers with an error (conflict), which is fine.
        w.write_all(
            format!("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>{user}</username><password>{password}</password></query></iq>")
                .as_bytes(),
        )
        .await?;
        rd.expect("registration answer", |s| s.name == "iq" && s.attr("id") == Some("reg")).await?;
    }
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
    // Stream management before the initial presence, so that everything the presence
    // brings (offline messages) arrives on the managed stream, after `<enabled/>`.
    w.write_all(b"<enable xmlns='urn:xmpp:sm:3'/>").await?;
    rd.expect("stream management enabled", |s| s.name == "enabled").await?;
    let session = Arc::new(Session {
        writer: tokio::sync::Mutex::new(w),
        sent: AtomicU64::new(0),
        waiters: Mutex::new(VecDeque::new()),
        pending: Mutex::default(),
        user: user.to_string(),
        jid,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let reader_session = session.clone();
    let task = tokio::spawn(async move {
        let s = reader_session;
        let mut received = 0u64;
        while let Ok(Some(st)) = rd.next().await {
            match st.name.as_str() {
                "message" => {
                    received += 1;
                    // Bounced messages are not deliveries, nor is a room reflecting our own
                    // groupchat message (it comes from the room's JID with our nick): that
                    // reflection is the room's acknowledgement of it, awaited by `send`.
                    let own = st.attr("type") == Some("groupchat")
                        && st.attr("from").and_then(|f| f.rsplit_once('/')).is_some_and(|(_, nick)| nick == s.user);
                    if own || st.attr("type") == Some("error") {
                        let key = format!("message {}", st.attr("id").unwrap_or_default());
                        let waiter = s.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                        if let Some(w) = waiter {
                            let _ = w.send(st);
                        }
                        continue;
                    }
                    // Nobody may be reading (a sender's own inbox); the stream is still read and acked.
                    if let Some(body) = st.child("body") {
                        let _ = tx.send(body.to_string());
                    }
                }
                "presence" | "iq" => {
                    received += 1;
                    let key = match st.name.as_str() {
                        "iq" => format!("iq {}", st.attr("id").unwrap_or_default()),
                        _ => format!("presence {}", st.attr("from").unwrap_or_default()),
                    };
                    let waiter = s.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                    if let Some(w) = waiter {
                        let _ = w.send(st);
                    }
                }
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
        s.pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
    });
    session.write("<presence/>", None).await?;
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
    /// Writes one stanza (counted, as the server's `h` counts it); with `ack`, also an ack
    /// request, and `ack` is told when the server's `<a h=../>` covers the stanza.
    async fn write(&self, stanza: &str, ack: Option<oneshot::Sender<()>>) -> Result<()> {
        let mut w = self.writer.lock().await;
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        match ack {
            Some(tx) => {
                self.waiters.lock().unwrap_or_else(|e| e.into_inner()).push_back((n, tx));
                w.write_all(format!("{stanza}<r xmlns='urn:xmpp:sm:3'/>").as_bytes()).await?;
            }
            None => w.write_all(stanza.as_bytes()).await?,
        }
        Ok(())
    }

    /// Sends a message of type `kind` (`chat` to a user, `groupchat` to a MUC room) and
    /// waits for its acknowledgement: for a chat message, the server's stream-management
    /// ack; for a groupchat message, the room's reflection of it to us (XEP-0045 §7.4),
    /// which comes once the room has taken it and is sending it to the occupants (the
    /// stream-management ack covers only the hop to our own session, and ejabberd's rooms
    /// queue behind it without bound).
    pub async fn send(&self, to: &str, kind: &str, id: u64, text: &str) -> Result<()> {
        let stanza = format!("<message to='{to}' type='{kind}' id='m{id}'><body>{text}</body></message>");
        if kind == "groupchat" {
            return self.request(format!("message m{id}"), &stanza).await;
        }
        let (tx, rx) = oneshot::channel();
        self.write(&stanza, Some(tx)).await?;
        rx.await.map_err(|_| anyhow!("XMPP connection closed before the ack"))
    }

    /// Writes `stanza` and waits for the stanza the reader files under `key`; a
    /// `type='error'` answer is an error.
    async fn request(&self, key: String, stanza: &str) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), tx);
        self.write(stanza, None).await?;
        let answer = tokio::time::timeout(std::time::Duration::from_secs(60), rx)
            .await
            .map_err(|_| anyhow!("no answer to {key} within 60 s"))?
            .map_err(|_| anyhow!("XMPP connection closed waiting for {key}"))?;
        if answer.attr("type") == Some("error") {
            bail!("{key}: error {:?}", answer.children);
        }
        Ok(())
    }

    /// Enters the MUC room `room` (XEP-0045) with this account's name as nick, asking for
    /// no history; returns once the room sent our own presence back. With `create`, the
    /// room is new: its owner accepts the default configuration (an instant room), which
    /// unlocks it for the others.
    pub async fn join_room(&self, room: &str, create: bool) -> Result<()> {
        let me = format!("{room}/{}", self.user);
        let presence = format!("<presence to='{me}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>");
        self.request(format!("presence {me}"), &presence).await.with_context(|| format!("joining {room}"))?;
        if create {
            let form = format!(
                "<iq type='set' to='{room}' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>"
            );
            self.request("iq cfg".into(), &form).await.with_context(|| format!("configuring {room}"))?;
        }
        Ok(())
    }

    /// Ends the stream cleanly (`</stream:stream>`) and waits for the server to close it, so
    /// the account is offline at once (a dropped connection would keep a XEP-0198 session
    /// waiting for resumption, and messages would go to it rather than to offline storage).
    pub async fn close(&self, conn: AbortOnDrop) -> Result<()> {
        self.writer.lock().await.write_all(b"</stream:stream>").await?;
        let mut conn = conn;
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut conn.0)
            .await
            .map_err(|_| anyhow!("the server did not close the stream"))?
            .ok();
        Ok(())
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
