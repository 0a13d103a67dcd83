//! The Heliograph server: HTTP and WebSocket API on one port.
//!
//! # Layout
//! - [`app`]: builds the router, starts and stops the server.
//! - [`gateway`]: `GET /ws`, one WebSocket per device: framing, limits, live pushes.
//! - [`service`]: one handler per protocol method; parses input, calls the store, renders.
//! - [`fanout`]: committed events from the store, published on the bus.
//! - [`botapi`]: the Telegram Bot API (`/bot<token>/<method>`), webhooks, bot file downloads.
//! - [`callbacks`]: callback queries waiting for a bot's answer.
//! - [`files`]: `/files/...`: resumable uploads, content-addressed storage, downloads.
//! - [`convert`]: store records to wire types, as one viewer may see them.
//! - [`errors`]: the one mapping from internal failures to wire error codes.
//! - [`codes`]: login codes and session tokens (generation, hashing, delivery providers).
//! - [`limits`]: rate limiters.
//! - [`config`]: configuration (defaults, TOML file, `HELIOGRAPH_*` environment).
//! - [`metrics`]: every metric, named and documented in one place.
//! - [`web`]: the web client, embedded at compile time and served at `/`.

pub mod app;
pub mod botapi;
pub mod callbacks;
pub mod codes;
pub mod config;
pub mod convert;
pub mod errors;
pub mod fanout;
pub mod files;
pub mod gateway;
pub mod limits;
pub mod methods;
pub mod metrics;
pub mod state;
pub mod web;

pub use app::{start, start_with, Server};
pub use config::Config;
