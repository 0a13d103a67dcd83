//! Frame envelopes and protocol limits.
//!
//! Client → server: `{"id": 7, "method": "messages.send", "params": {...}}`.
//! Server → client: one of [`ServerFrame`], tagged by `"type"`.

use serde::{Deserialize, Serialize};

use crate::{error::Error, method::Request, update::Update, ErrorCode};

/// Largest text frame the server reads; a bigger one closes the connection (`FRAME_TOO_LARGE`).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest message text, in Unicode scalar values (as Telegram counts characters).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Most ids (users, messages) one request may name.
pub const MAX_IDS_PER_REQUEST: usize = 100;
/// Most items one page of history, dialogs, members or difference may ask for.
pub const MAX_PAGE: u32 = 1000;

/// A request as it arrives, before its parameters are checked against the method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Chosen by the client and echoed in the answer; unique among its requests in flight.
    pub id: u64,
    pub method: String,
    #[serde(default)]
    pub params: serde_json::Value,
}

impl ClientFrame {
    /// Parses raw text into a typed request. On failure returns the request id when one could
    /// be read, so the error can still be matched to its request.
    pub fn parse(text: &str) -> Result<(u64, Request), (Option<u64>, Error)> {
        let value =
            crate::json::parse(text).map_err(|e| (None, Error::new(ErrorCode::BadRequest, format!("frame is not valid JSON: {e}"))))?;
        let id = value.get("id").and_then(serde_json::Value::as_u64);
        let frame: ClientFrame = serde_json::from_value(value)
            .map_err(|e| (id, Error::new(ErrorCode::BadRequest, format!("a request needs a numeric `id` and a string `method`: {e}"))))?;
        let request = Request::parse(&frame.method, frame.params).map_err(|e| (Some(frame.id), e))?;
        Ok((frame.id, request))
    }
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant, reason = "a frame lives only until it is written; updates are most frames, boxing them buys nothing")]
pub enum ServerFrame {
    /// The answer to request `id`.
    Result { id: u64, result: serde_json::Value },
    /// The failure of request `id`; `id` is absent when the frame could not be read at all.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        error: Error,
    },
    /// A live update, in `pts` order per log.
    Update { update: Update },
    /// Someone is typing in a chat (ephemeral: never stored, never replayed).
    Typing { chat_id: i64, user_id: i64 },
    /// The server dropped live updates for this connection (it fell behind); call
    /// `updates.get_difference` (and `updates.get_chat_difference` for chats with their own log).
    Resync { reason: String },
}
