//! What the SDK tells the application: [`Event`]s, read from [`Updates`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use heliograph_proto::{Error, Update};
use tokio::sync::mpsc;

use crate::client::Shared;
use crate::sync::Delivery;

/// Something the application should know about, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant, reason = "updates are most events; boxing them would cost every one")]
pub enum Event {
    /// An update, exactly once and in `pts` order within its log (the user's own log, or one
    /// chat's own log: [`Update::log`]).
    Update(Update),
    /// Someone is typing in a chat. Ephemeral: never replayed after a reconnect.
    Typing {
        /// The chat they type in.
        chat_id: i64,
        /// Who types.
        user_id: i64,
    },
    /// The server could not replay everything missed in `log` (`None` = the user's own log,
    /// `Some(chat_id)` = that chat's log) and the state jumped ahead: reload dialogs and the
    /// history of open chats (of that chat for a chat log). Updates after the jump follow.
    TooLong {
        /// The log that jumped.
        log: Option<i64>,
    },
    /// A connection is up (and signed in, when the client has a token). Catch-up updates, if
    /// any, follow.
    Connected,
    /// The connection was lost; the client is reconnecting. Calls made meanwhile wait for it.
    Disconnected,
    /// The stored session token was rejected on reconnect (for example the session was
    /// revoked from another device). The client forgot it and stays connected but signed
    /// out: sign in again.
    SignedOut {
        /// What the server said.
        error: Error,
    },
}

/// The stream of [`Event`]s of one [`crate::Client`]. Read it promptly: when its buffer is
/// full the client stops reading from the server (nothing is dropped), and calls wait.
///
/// Reading an event also advances [`crate::Client::state`], so a state persisted after
/// handling the events read so far never skips an event that was not handled.
///
/// Ends (`None`) when every `Client` handle is dropped.
#[derive(Debug)]
pub struct Updates {
    rx: mpsc::Receiver<Delivery>,
    shared: Arc<Shared>,
}

impl Updates {
    pub(crate) fn new(rx: mpsc::Receiver<Delivery>, shared: Arc<Shared>) -> Self {
        Updates { rx, shared }
    }

    /// The next event, or `None` once the client is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            let delivery = self.rx.recv().await?;
            if let Some(event) = self.shared.consume(delivery) {
                return Some(event);
            }
        }
    }
}

impl Stream for Updates {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(delivery)) => {
                    if let Some(event) = self.shared.consume(delivery) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
