//! The Heliograph server: HTTP and WebSocket API on one port.
//!
//! # Layout
//! Bottom up; a module imports only modules of the layers below its own (`tests/layers.rs`).
//!
//! Values, no request state:
//! - [`limits`]: rate limiters and connection caps (from the open-file limit).
//! - [`config`]: configuration (defaults, TOML file, `HELIOGRAPH_*` environment).
//! - [`codes`]: login codes and session tokens (generation, hashing, delivery providers).
//! - [`errors`]: the one mapping from internal failures to wire error codes; [`errors::Failure`].
//! - [`metrics`]: every metric, named and documented in one place.
//! - [`convert`]: store records to wire types, as one viewer may see them.
//! - [`callbacks`]: callback queries waiting for a bot's answer.
//! - [`web`]: the web client, embedded at compile time and served at `/`.
//! - [`tls`]: HTTPS/WSS from PEM files, reloaded when they change.
//! - [`egress`]: the guard every outgoing request made for a user goes through (webhooks).
//! - [`discovery`]: finding people by phone number: lookup limits and the privacy setting.
//! - [`identity`]: phone numbers kept as a keyed hash plus a copy sealed to the disclosure key.
//!
//! Shared state:
//! - [`state`]: [`state::Shared`], what every request shares (store, bus, limiters, shutdown…).
//!
//! Areas:
//! - [`methods`]: one function per protocol method, one file per area, dispatched from one table.
//! - [`files`]: `/files/...`: resumable uploads, content-addressed storage, downloads.
//! - [`botapi`]: the Telegram Bot API (`/bot<token>/<method>`), webhooks, bot file downloads.
//!
//! Transports and the app:
//! - [`gateway`]: `GET /ws`, one WebSocket per device: framing, limits, live pushes.
//! - [`fanout`]: committed events from the store, published on the bus.
//! - [`listener`]: the listening sockets: connection caps at accept, deadlines, TLS, hyper.
//! - [`app`]: builds the router, starts and stops the server.

pub mod app;
pub mod botapi;
pub mod callbacks;
pub mod codes;
pub mod config;
pub mod convert;
pub mod discovery;
pub mod egress;
pub mod errors;
pub mod fanout;
pub mod files;
pub mod gateway;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod methods;
pub mod metrics;
// secret chats (#15)
pub mod mls;
pub mod state;
pub mod tls;
// accountability (#16): the public transparency log.
pub mod transparency;
pub mod web;

pub use app::{start, start_with, Server};
pub use config::Config;
