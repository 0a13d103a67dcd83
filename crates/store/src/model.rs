//! Records returned by a [`crate::Store`], and the events it logs.

use heliograph_core::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub username: Option<String>,
    pub bio: String,
    pub created: i64,
    /// `Some(owner)` for a bot account, made by `owner` with [`crate::Store::create_bot`].
    pub bot_owner: Option<UserId>,
}

impl User {
    pub fn is_bot(&self) -> bool {
        self.bot_owner.is_some()
    }
}

/// How a viewer relates to another user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The viewer has the other in contacts.
    pub contact: bool,
    /// The other has the viewer in contacts.
    pub contact_of: bool,
    /// The viewer blocked the other.
    pub blocked: bool,
}

impl Relation {
    /// Phone numbers are shown only to mutual contacts.
    pub fn mutual(&self) -> bool {
        self.contact && self.contact_of
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user: UserId,
    pub device: String,
    pub created: i64,
    pub last_active: i64,
}

/// A pending login code, stored as a salted hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCodeHash {
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
    /// Unix seconds.
    pub expires: i64,
    /// Attempts made so far, including the one that returned this record.
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatId,
    pub kind: ChatKind,
    /// Empty for private chats (their title is the other person's name).
    pub title: String,
    pub username: Option<String>,
    pub creator: UserId,
    pub member_count: u64,
    pub pinned: Option<MessageId>,
    /// Keeps its own update log (see [`heliograph_core::keeps_own_log`]).
    pub own_log: bool,
    /// The chat's own log position (0 unless `own_log`).
    pub pts: Pts,
    pub top_message: MessageId,
    pub created: i64,
    /// Last activity, unix milliseconds: orders the dialog list.
    pub activity: i64,
    /// An operator took it down (account, #16): nobody can open, join, read or post.
    pub taken_down: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub chat: ChatId,
    pub user: UserId,
    pub role: Role,
    pub joined: i64,
    pub read_inbox: MessageId,
    pub read_outbox: MessageId,
}

/// A chat as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub chat: Chat,
    pub membership: Membership,
    /// For private chats, the other person.
    pub peer: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    User(User),
    /// A public channel or group; the resolver need not be a member.
    Chat(Chat),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinBy {
    Invite(String),
    Username(Username),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub from_user: UserId,
    pub from_chat: ChatId,
    pub message: MessageId,
    pub date: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub chat: ChatId,
    pub id: MessageId,
    pub from: UserId,
    pub date: i64,
    pub content: Content,
    /// Formatting of the text (or caption), checked by [`heliograph_core::check_entities`].
    pub entities: Vec<Entity>,
    /// Buttons under the message (bots only).
    pub keyboard: Option<Keyboard>,
    pub reply_to: Option<MessageId>,
    pub forward: Option<Forward>,
    pub edit_date: Option<i64>,
}

/// A message to send: what [`crate::Store::send`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub content: Content,
    pub entities: Vec<Entity>,
    /// Only bots may attach a keyboard ([`crate::Error::WriteForbidden`] otherwise).
    pub keyboard: Option<Keyboard>,
    pub reply_to: Option<MessageId>,
}

impl Draft {
    pub fn text(text: MessageText) -> Draft {
        Draft { content: Content::Text(text), entities: Vec::new(), keyboard: None, reply_to: None }
    }
}

/// What [`crate::Store::edit`] changes; `None` leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edit {
    /// The new text (or caption, for media) and its formatting.
    pub text: Option<(MessageText, Vec<Entity>)>,
    /// The new keyboard; `Some(None)` removes it. Only bots may set one.
    pub keyboard: Option<Option<Keyboard>>,
}

/// A bot's settings for the Bot API: where its updates go and what it confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bot {
    pub user: User,
    /// Updates of the bot's log up to this pts were confirmed (getUpdates' `offset`) or
    /// delivered to its webhook; they are never handed out again.
    pub confirmed: Pts,
    pub webhook: Option<Webhook>,
    /// The last webhook delivery failure: unix seconds and what went wrong.
    pub webhook_error: Option<(i64, String)>,
    /// The update kinds the bot asked for, as the Bot API layer encoded them (`None`: all).
    pub allowed_updates: Option<String>,
    /// The bot's command lists, as the Bot API layer encoded them.
    pub commands: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    /// Sent back in `X-Telegram-Bot-Api-Secret-Token` with each delivery.
    pub secret: Option<String>,
    pub max_connections: u32,
    /// Unix seconds when it was set.
    pub set: i64,
}

/// One change to a [`Bot`]'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotChange {
    /// Moves `confirmed` up to this pts (never down).
    Confirm(Pts),
    /// Sets or removes the webhook; setting one clears `webhook_error`.
    Webhook(Option<Webhook>),
    WebhookError(Option<(i64, String)>),
    AllowedUpdates(Option<String>),
    Commands(String),
    /// Sets (or with `None` removes) one setting of the bot's profile.
    Setting(BotSetting, Option<String>),
}

/// One setting of a bot's profile that the Bot API keeps beside its account (Telegram's
/// `setMyName`, `setMyDescription`, `setMyShortDescription`, `setChatMenuButton`,
/// `setMyDefaultAdministratorRights`). Languages are two-letter codes, checked by the caller;
/// what is shown to everyone else is the account's own name and bio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotSetting {
    /// Its name for people whose language is this.
    Name(String),
    /// Its description (what an empty private chat with it shows) for this language, or
    /// `""` for everyone else.
    Description(String),
    /// Its short description for people whose language is this.
    ShortDescription(String),
    /// The menu button of its private chat `Some(chat)`, or of every chat without one of
    /// its own (`None`).
    MenuButton(Option<ChatId>),
    /// The admin rights it asks for when added to groups, or to channels.
    DefaultRights { channels: bool },
}

/// What the server learned about an uploaded file before recording it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// SHA-256 of the content: where the bytes live in the object store (stored once).
    pub sha256: [u8; 32],
    pub size: u64,
    pub name: String,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumb: Option<FileId>,
}

/// An uploaded file as recorded: one row per upload, owned by its uploader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: FileId,
    pub owner: UserId,
    pub sha256: [u8; 32],
    pub size: u64,
    pub name: String,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumb: Option<FileId>,
    pub created: i64,
}

impl File {
    /// This file in a message, shown as `kind`, with what a client needs before downloading.
    pub fn into_media(self, kind: MediaKind, caption: Option<MessageText>) -> Media {
        Media {
            kind,
            file: self.id,
            name: self.name,
            mime: self.mime,
            size: self.size,
            width: self.width,
            height: self.height,
            thumb: self.thumb,
            caption,
        }
    }
}

/// A committed send: the message and the sender's log position of its update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    pub pts: Pts,
}

/// Which way a history page runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Up to `limit` messages below `before` (the newest when `None`).
    Older { before: Option<MessageId>, limit: u32 },
    /// Up to `limit` messages above `after` (from the first when `None`).
    Newer { after: Option<MessageId>, limit: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub view: View,
    pub last_message: Option<Message>,
    pub unread: u64,
    /// The dialog's owner's unsent text.
    pub draft: Option<SavedDraft>,
}

/// How many people set one reaction on a message, and whether the viewer is among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub reaction: Reaction,
    pub count: u64,
    pub chosen: bool,
}

/// The reactions on one message, as a viewer sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reactions {
    pub message: MessageId,
    /// Most set first; ties in [`Reaction`]'s order (emoji before custom emoji, then by code).
    pub counts: Vec<ReactionCount>,
    /// Who set what, newest first, at most [`RECENT_REACTIONS`]; empty in channels.
    pub recent: Vec<(UserId, Reaction)>,
}

/// How many of the newest reactions [`Reactions::recent`] names.
pub const RECENT_REACTIONS: u32 = 50;

/// Text a person typed in a chat and has not sent, kept for all their devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedDraft {
    pub chat: ChatId,
    pub text: MessageText,
    pub reply_to: Option<MessageId>,
    pub date: i64,
}

/// Which log an event sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Log {
    User(UserId),
    Chat(ChatId),
}

/// Something a user must see. Logged with a pts; replayed by differences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    NewMessage(Message),
    EditMessage(Message),
    DeleteMessages {
        chat: ChatId,
        ids: Vec<MessageId>,
    },
    ReadInbox {
        chat: ChatId,
        max_id: MessageId,
    },
    ReadOutbox {
        chat: ChatId,
        max_id: MessageId,
    },
    Pinned {
        chat: ChatId,
        id: Option<MessageId>,
    },
    /// `role: None` means `user` is no longer a member. A bot added to a chat is told by one
    /// naming itself, in its own log (people are told by [`Event::ChatChanged`]).
    Participant {
        chat: ChatId,
        user: UserId,
        role: Option<Role>,
        by: UserId,
    },
    /// The chat's details changed, or the log's owner got access to it.
    ChatChanged {
        chat: ChatId,
    },
    /// Someone changed their reactions on `message`; rendered as they stand when read.
    /// `change` says who and from what to what, except in channels, whose readers react
    /// anonymously (and in events logged before schema 9).
    Reactions {
        chat: ChatId,
        message: MessageId,
        change: Option<ReactionChange>,
    },
    /// The log's owner saved or cleared their draft in `chat` (logged in their log only).
    DraftChanged {
        chat: ChatId,
    },
    /// `from` pressed a callback button of `message` (logged for the bot that posted it).
    CallbackQuery {
        chat: ChatId,
        message: MessageId,
        from: UserId,
        data: String,
    },
    /// A handshake or application message of a secret chat (MLS), in its sequence.
    Mls(MlsMessage),
}

/// Most characters of a group's or channel's description (Telegram's 255).
pub const MAX_DESCRIPTION_CHARS: usize = 255;

/// A group's (or channel's) settings beyond its title: what its members who are not
/// admins may send (everything until set), and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    pub allowed: Permissions,
    pub description: String,
}

/// A person's standing in a group, as its members see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub membership: Option<Membership>,
    /// Banned, until then (`None` inside: for ever).
    pub banned: Option<Option<i64>>,
    /// Their own restriction in force: what they may send, until when.
    pub restricted: Option<(Permissions, Option<i64>)>,
}

/// Who changed their reactions on a message, and how (the Bot API's `message_reaction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionChange {
    pub by: UserId,
    pub old: Vec<Reaction>,
    pub new: Vec<Reaction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub log: Log,
    pub pts: Pts,
    pub date: i64,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    Empty { pts: Pts },
    Complete { events: Vec<Logged>, pts: Pts },
    Slice { events: Vec<Logged>, pts: Pts },
    TooLong { pts: Pts },
}

/// Unix seconds now.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

// --- accountability (account, #16) ---------------------------------------------------------

/// A report as its reporter makes it ([`crate::Store::report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub chat: ChatId,
    pub message: MessageId,
    pub reason: ReportReason,
    /// At most [`NewReport::COMMENT_MAX`] characters.
    pub comment: String,
    /// Other messages of the chat the reporter chooses to share as context (at most
    /// [`NewReport::CONTEXT_MAX`]); each must be one they can see.
    pub context: Vec<MessageId>,
}

impl NewReport {
    pub const COMMENT_MAX: usize = 1024;
    pub const CONTEXT_MAX: usize = 20;
}

/// A message as a report copied it (deleting the message later does not change the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedMessage {
    pub id: MessageId,
    pub from: UserId,
    pub date: i64,
    /// The text or caption; media as `[kind: name]` before it.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub reporter: UserId,
    pub chat: ChatId,
    pub message: ReportedMessage,
    pub reason: ReportReason,
    pub comment: String,
    pub context: Vec<ReportedMessage>,
    pub created: i64,
    /// `None` while open; the action that closed it.
    pub resolution: Option<ModerationAction>,
    pub resolved_by: Option<UserId>,
    pub resolved: Option<i64>,
}

/// A sanction in force on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanction {
    pub kind: SanctionKind,
    /// Unix seconds; `None`: until lifted.
    pub until: Option<i64>,
    pub reason: String,
}

/// An operator's action ([`crate::Store::moderate`]): applied, written to the audit log and
/// told to the affected user in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub operator: UserId,
    pub kind: ModerationAction,
    /// The report acted on; its message, chat and sender fill the targets not given.
    pub report: Option<i64>,
    pub user: Option<UserId>,
    pub chat: Option<ChatId>,
    pub message: Option<MessageId>,
    /// Unix seconds, for sanctions.
    pub until: Option<i64>,
    pub reason: String,
    /// What the affected user is told, from the moderation service account (`None`: nobody
    /// is told, e.g. a dismissed report).
    pub notice: Option<String>,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub date: i64,
    /// `UserId(0)`: the host's operator, acting with `heliograph admin` on the database.
    pub operator: UserId,
    pub kind: ModerationAction,
    pub user: Option<UserId>,
    pub chat: Option<ChatId>,
    pub message: Option<MessageId>,
    pub report: Option<i64>,
    pub until: Option<i64>,
    pub reason: String,
}

/// What [`crate::Store::moderate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    pub entry: AuditEntry,
    /// Who was told, and the notice's message (in their chat with the moderation account).
    pub notified: Option<(UserId, Sent)>,
}

/// One entry of the search log ([`crate::Store::search_log`]): the message at (chat, id) must
/// be indexed as it is now, or removed from the index when `message` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchEntry {
    pub seq: i64,
    pub chat: ChatId,
    pub id: MessageId,
    pub message: Option<Message>,
}

/// What directory search found: people and public groups and channels, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub users: Vec<User>,
    pub chats: Vec<Chat>,
}

// --- secret chats (MLS) ---------------------------------------------------------------------

/// Key packages one device uploads: MLS bytes the server checked (signature, ciphersuite,
/// credential naming this user and device), each with its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackageUpload {
    pub device: SessionId,
    /// The device's MLS signature key; fixed by its first upload.
    pub signature_key: Vec<u8>,
    pub one_time: Vec<(Vec<u8>, [u8; 32])>,
    /// Replaces the device's last-resort package.
    pub last_resort: Option<(Vec<u8>, [u8; 32])>,
}

/// A key package handed out by the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKeyPackage {
    pub user: UserId,
    pub device: SessionId,
    pub data: Vec<u8>,
    pub last_resort: bool,
}

/// A device that speaks MLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsDevice {
    pub user: UserId,
    pub device: SessionId,
    pub signature_key: Vec<u8>,
    /// Its session is still signed in.
    pub active: bool,
}

/// The server's public view of a secret chat's MLS group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsGroup {
    pub chat: ChatId,
    pub group_id: Vec<u8>,
    pub epoch: u64,
    /// The public group state (ratchet tree, context), as the server's MLS code keeps it.
    pub state: Vec<u8>,
    /// The newest GroupInfo (with its ratchet tree), for joiners.
    pub group_info: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlsKind {
    Commit,
    Application,
    Welcome,
}

impl MlsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MlsKind::Commit => "commit",
            MlsKind::Application => "application",
            MlsKind::Welcome => "welcome",
        }
    }

    pub fn parse(s: &str) -> Option<MlsKind> {
        Some(match s {
            "commit" => MlsKind::Commit,
            "application" => MlsKind::Application,
            "welcome" => MlsKind::Welcome,
            _ => return None,
        })
    }
}

/// An MLS message in a secret chat's sequence (its id is the chat's next message id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsMessage {
    pub chat: ChatId,
    pub id: MessageId,
    pub from: UserId,
    pub device: SessionId,
    pub date: i64,
    pub kind: MlsKind,
    /// The epoch the message was made in (a commit: the epoch it ends).
    pub epoch: u64,
    pub data: Vec<u8>,
}

/// A commit the server validated against the group's current epoch: accepted only if that
/// epoch is still current when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsCommit {
    pub device: SessionId,
    pub epoch: u64,
    pub data: Vec<u8>,
    pub hash: [u8; 32],
    /// Released in the same transaction, after the commit in the sequence.
    pub welcome: Option<(Vec<u8>, [u8; 32])>,
    /// The public group after the commit, and its GroupInfo.
    pub state: Vec<u8>,
    pub group_info: Vec<u8>,
    /// The users with a device in the group after the commit: the chat's members.
    pub members: Vec<UserId>,
}

/// An application message (ciphertext) for the current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsSend {
    pub device: SessionId,
    pub random_id: i64,
    pub epoch: u64,
    pub data: Vec<u8>,
    pub hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsSent {
    pub message: MlsMessage,
    pub pts: Pts,
}
