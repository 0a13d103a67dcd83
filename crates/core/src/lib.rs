//! The Heliograph domain: typed ids, validated values and the rules of chats.
//!
//! Untrusted input becomes one of these types at the edge (the server's request handlers);
//! storage and fan-out only ever see checked values.
//!
//! # Layout
//! - [`ids`]: newtype ids so a user id cannot be passed where a chat id is meant.
//! - [`values`]: bounded, checked values (phone numbers, usernames, names, message text).
//! - [`markup`]: formatting entities and inline keyboards.
//! - [`rules`]: who may do what in which kind of chat.
//! - [`reactions`]: reactions to messages (emoji or custom emoji, a few per person).
//!
//! Architecture Invariant: no I/O, no serde, no knowledge of the wire format.

pub mod ids;
pub mod markup;
pub mod reactions;
pub mod rules;
pub mod values;

pub use ids::*;
pub use markup::*;
pub use reactions::*;
pub use rules::*;
pub use values::*;
