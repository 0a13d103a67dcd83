//! The Heliograph wire protocol: everything a client and the server say to each other.
//!
//! Requests and results are JSON text frames over one WebSocket per device (`GET /ws`).
//! `docs/protocol.md` is the prose version of this crate.
//!
//! # Layout
//! - [`json`]: the one JSON reader for untrusted input (duplicate keys refused).
//! - [`frame`]: the envelope of every frame in both directions, and protocol limits.
//! - [`method`]: every method a client can call, with its parameters ([`Request`]).
//! - [`types`]: the objects methods return (users, chats, messages, dialogs, sessions).
//! - [`update`]: the update log as clients see it (`pts`, differences, live pushes).
//! - [`error`]: stable error codes.
//!
//! Architecture Invariant: this crate does no I/O and knows nothing of storage or HTTP; it is
//! the only place where the network's field names are decided.

pub mod error;
pub mod frame;
pub mod json;
pub mod method;
pub mod types;
pub mod update;

pub use error::{Error, ErrorCode};
pub use frame::{ClientFrame, ServerFrame};
pub use method::Request;
pub use types::*;
pub use update::*;
