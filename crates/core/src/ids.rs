//! Newtype ids.

macro_rules! id {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id! {
    /// An account.
    UserId,
    /// A private chat, group or channel.
    ChatId,
    /// A message's place in its chat: the chat's gapless sequence number, from 1.
    MessageId,
    /// A signed-in device.
    SessionId,
    /// An uploaded file (its metadata; identical bytes are stored once, by hash).
    FileId
}

/// A position in an update log (a user's, or a chat's own).
pub type Pts = i64;
