//! The Heliograph client SDK: one WebSocket to a Heliograph server, typed methods for every
//! protocol method, and a stream of updates that stays gapless across disconnects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), heliograph_client::ClientError> {
//! use heliograph_client::{Client, Config, Event};
//!
//! let (client, mut updates) = Client::connect(Config::new("http://127.0.0.1:8080")).await?;
//! client.send_code("+999661234").await?;
//! client.sign_in("+999661234", "11111", Some("Alice"), Some("demo")).await?;
//! let token = client.token(); // keep it (secret) for `Config::token` next time
//! while let Some(event) = updates.recv().await {
//!     if let Event::Update(update) = event {
//!         println!("{:?}", update.kind);
//!     }
//!     let _resume_from = client.state(); // persist with the app's data
//! }
//! # Ok(()) }
//! ```
//!
//! The client reconnects by itself (with backoff, moving through [`Config::urls`]), signs the
//! new connection in with its token, and catches up with `updates.get_difference` (and
//! `updates.get_chat_difference` for each followed channel or large group) before handing
//! live updates on, so the application sees every update once, in order per log, whatever
//! happened to the connection. Persist [`Client::state`] and pass it back in
//! [`Config::state`] to resume where the application stopped.
//!
//! # Layout
//! - [`client`]: the [`Client`] handle: `connect`, raw `call`, token and state.
//! - [`methods`]: one typed method on [`Client`] per protocol method.
//! - [`event`]: [`Event`]s and the [`Updates`] stream they come from.
//! - [`sync`]: the `pts` rule per update log, pure and table-tested: what to deliver, what
//!   is a duplicate, when to fetch a difference.
//! - `connection` (private): the background task that owns the WebSocket, matches answers
//!   to requests, reconnects and drives [`sync`].
//! - [`config`]: [`Config`], server URLs and reconnect timing.
//! - [`files`]: [`files::Files`], resumable uploads and streaming downloads over HTTP.
//! - [`keyboard`]: which bot's reply keyboard a chat shows its reader.
//! - [`error`]: [`ClientError`], what can go wrong.
//!
//! Architecture Invariant: this crate depends on `heliograph-proto` only; it speaks the wire
//! protocol and nothing of the server's internals.

pub mod client;
pub mod config;
mod connection;
pub mod error;
pub mod event;
pub mod files;
pub mod keyboard;
pub mod methods;
pub mod sync;
mod tls;

#[cfg(test)]
mod tests;

/// The wire protocol this SDK speaks: requests, results, updates, error codes.
pub use heliograph_proto as proto;

pub use client::Client;
pub use config::Config;
pub use error::ClientError;
pub use event::{Event, Updates};
pub use methods::{random_id, ModerationTarget, SearchFilter};
pub use sync::SyncState;
