//! The update log as clients see it.
//!
//! Every event a user must see is an [`Update`] with a `pts`. A user's own log covers private
//! chats, groups and everything about their account; a chat with its own log (channels, large
//! groups; [`crate::Chat::chat_pts`] is set) numbers its updates separately, and those carry
//! `chat_id` in [`Update::log`]. A client applies an update when `pts == local + pts_count`,
//! ignores it when `pts <= local`, and otherwise fetches the difference.

use serde::{Deserialize, Serialize};

use crate::types::{Chat, DraftMessage, Message, MessageReactions, Role, SecretMessage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Absent for the user's own log; the chat id for a chat's own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<i64>,
    pub pts: i64,
    pub pts_count: i64,
    /// Unix seconds.
    pub date: i64,
    #[serde(flatten)]
    pub kind: UpdateKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UpdateKind {
    NewMessage {
        message: Message,
    },
    EditMessage {
        message: Message,
    },
    DeleteMessages {
        chat_id: i64,
        ids: Vec<i64>,
    },
    /// You (on any device) read the chat up to `max_id`.
    ReadInbox {
        chat_id: i64,
        max_id: i64,
    },
    /// Someone else read your messages up to `max_id`.
    ReadOutbox {
        chat_id: i64,
        max_id: i64,
    },
    /// A pinned message changed; `id` absent means unpinned.
    PinnedMessage {
        chat_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
    },
    /// Membership changed. `role` absent means the user is no longer a member.
    Participant {
        chat_id: i64,
        user_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        by: i64,
    },
    /// A chat's details changed, or you just got access to it; the current state as you see it.
    Chat {
        chat: Chat,
    },
    /// A handshake or application message of a secret chat (MLS).
    SecretMessage {
        message: SecretMessage,
    },
    // daily use (#18)
    /// The reactions on message `id` changed; `reactions` is how they stand now.
    MessageReactions {
        chat_id: i64,
        id: i64,
        reactions: MessageReactions,
    },
    /// Your draft in a chat changed (on any of your devices); absent `draft` means cleared.
    Draft {
        chat_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draft: Option<DraftMessage>,
    },
}

impl UpdateKind {
    /// The chat this update is about.
    pub fn chat_id(&self) -> i64 {
        match self {
            UpdateKind::NewMessage { message } | UpdateKind::EditMessage { message } => message.chat_id,
            UpdateKind::DeleteMessages { chat_id, .. }
            | UpdateKind::ReadInbox { chat_id, .. }
            | UpdateKind::ReadOutbox { chat_id, .. }
            | UpdateKind::PinnedMessage { chat_id, .. }
            | UpdateKind::Participant { chat_id, .. }
            | UpdateKind::MessageReactions { chat_id, .. }
            | UpdateKind::Draft { chat_id, .. } => *chat_id,
            UpdateKind::Chat { chat } => chat.id,
            UpdateKind::SecretMessage { message } => message.chat_id,
        }
    }
}

/// `updates.get_state`: where the user's log stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub pts: i64,
    pub date: i64,
}

/// The answer to `updates.get_difference` and `updates.get_chat_difference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Difference {
    /// Nothing new; `pts` is current.
    Empty { pts: i64 },
    /// Everything after the asked `pts`, in order; `pts` is the new state.
    Complete { updates: Vec<Update>, pts: i64 },
    /// Part of it: apply, then ask again from `pts`.
    Slice { updates: Vec<Update>, pts: i64 },
    /// The gap is beyond the server's horizon: reload dialogs and history, then continue
    /// from `pts`.
    TooLong { pts: i64 },
}
