//! The limit baseline: a bare in-memory WebSocket relay (no storage, no auth, no JSON), and
//! its client side for the pairs workload.
//!
//! Protocol: the first text frame is `hello <id>`; then each frame `<to> <payload>` is
//! forwarded verbatim to connection `<to>`, and the sender gets `ok` back, so a sender waits
//! for an acknowledgement exactly as it does with Heliograph.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Peers = Arc<Mutex<HashMap<u64, mpsc::Sender<Message>>>>;

/// Serves on `listen`; prints `listening ADDR` once bound (how `proc::Server::relay` learns
/// the port of `127.0.0.1:0`).
pub async fn serve(listen: &str) -> Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("listening {}", listener.local_addr()?);
    let peers: Peers = Arc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let peers = peers.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = mpsc::channel::<Message>(4096);
            let writer = tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    // Write everything that is ready, then flush once.
                    if sink.feed(m).await.is_err() {
                        return;
                    }
                    while let Ok(m) = rx.try_recv() {
                        if sink.feed(m).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
            });
            let mut me = None;
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Some((head, _)) = text.split_once(' ') else {
                    continue;
                };
                if head == "hello" {
                    let id: u64 = text[6..].trim().parse().unwrap_or(0);
                    peers.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx.clone());
                    me = Some(id);
                    continue;
                }
                let Ok(to) = head.parse::<u64>() else {
                    continue;
                };
                let target = peers.lock().unwrap_or_else(|e| e.into_inner()).get(&to).cloned();
                if let Some(target) = target {
                    let _ = target.send(Message::Text(text)).await;
                }
                if tx.send(Message::Text("ok".into())).await.is_err() {
                    break;
                }
            }
            if let Some(id) = me {
                peers.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            }
            writer.abort();
        });
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The sending side of one relay connection: sends wait for their `ok`.
pub struct RelaySender {
    sink: tokio::sync::Mutex<SplitSink<Ws, Message>>,
    acks: Arc<Mutex<VecDeque<oneshot::Sender<()>>>>,
}

pub async fn connect(url: &str, id: u64) -> Result<(SplitSink<Ws, Message>, SplitStream<Ws>)> {
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    let (mut sink, stream) = ws.split();
    sink.send(Message::Text(format!("hello {id}").into())).await?;
    Ok((sink, stream))
}

impl RelaySender {
    pub async fn connect(url: &str, id: u64) -> Result<Arc<RelaySender>> {
        let (sink, mut stream) = connect(url, id).await?;
        let acks: Arc<Mutex<VecDeque<oneshot::Sender<()>>>> = Arc::default();
        let reader_acks = acks.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if matches!(&msg, Message::Text(t) if t.as_str() == "ok") {
                    if let Some(ack) = reader_acks.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                        let _ = ack.send(());
                    }
                }
            }
        });
        Ok(Arc::new(RelaySender { sink: tokio::sync::Mutex::new(sink), acks }))
    }

    pub async fn send(&self, to: u64, text: &str) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        {
            let mut sink = self.sink.lock().await;
            self.acks.lock().unwrap_or_else(|e| e.into_inner()).push_back(tx);
            sink.send(Message::Text(format!("{to} {text}").into())).await?;
        }
        rx.await.map_err(|_| anyhow!("relay connection closed"))
    }
}
