//! Objects returned by methods.

use serde::{Deserialize, Serialize};

/// A person's public profile. `phone` is present only where the caller just gave it (their
/// own, in `auth.sign_in`'s answer; a contact found by number, in `contacts.add`'s): the
/// server keeps numbers only hashed and sealed (`docs/accountability.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// You have this user in your contacts.
    #[serde(default)]
    pub contact: bool,
    /// You blocked this user.
    #[serde(default)]
    pub blocked: bool,
    /// A bot account (made with `bots.create`), driven through the Bot API.
    #[serde(default)]
    pub bot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Private,
    Group,
    Channel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Creator,
    Admin,
    Member,
}

/// A chat as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    pub id: i64,
    pub kind: ChatKind,
    /// For private chats, the other person's name.
    pub title: String,
    /// Public `@name` of a channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// For private chats, the other person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<User>,
    pub member_count: u64,
    /// Your role; absent when you are not (or no longer) a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_message_id: Option<i64>,
    /// Present when this chat keeps its own update log (channels, large groups): its current
    /// `pts`. Follow it with `updates.get_chat_difference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_pts: Option<i64>,
    /// Highest message id in the chat.
    pub top_message_id: i64,
}

/// What a message carries. Tagged by `type` so media and ciphertext can join later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
    },
    /// A file shown as `kind`, with an optional caption.
    Media(Media),
}

impl Content {
    /// The text of the message (or the caption of its media), if it has one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            Content::Media(m) => m.caption.as_deref(),
        }
    }
}

/// How a file is shown in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Photo,
    Video,
    Audio,
    Voice,
    Document,
}

/// A file in a message. Download it (and `thumb_file_id`) with `GET /files/{file_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    pub file_id: i64,
    pub name: String,
    pub mime: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A small JPEG preview (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_file_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// An uploaded file: the answer to `POST /files/uploads/{upload_id}/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub id: i64,
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_file_id: Option<i64>,
}

/// Every upload is cut into parts of exactly this many bytes, except the last (1 to this many).
pub const UPLOAD_PART_SIZE: u64 = 512 * 1024;

/// What the server holds of an unfinished upload: `GET /files/uploads/{upload_id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// Part numbers received (from 0), ascending.
    pub parts: Vec<u64>,
    pub part_size: u64,
}

/// The body of `POST /files/uploads/{upload_id}/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUpload {
    pub size: u64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    pub name: String,
    #[serde(default)]
    pub mime: Option<String>,
}

/// Where a forwarded message first came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardInfo {
    /// The original author.
    pub from_user: i64,
    pub from_chat: i64,
    pub message_id: i64,
    pub date: i64,
}

/// A message. `id` is the chat's own gapless sequence number: 1, 2, 3, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    /// The author.
    pub from: i64,
    /// Unix seconds.
    pub date: i64,
    pub content: Content,
    /// Formatting of the text (or caption); absent when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<MessageEntity>,
    /// Buttons under the message (only bots attach them); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<ReplyMarkup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardInfo>,
    /// Set once the message was edited (unix seconds of the last edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_date: Option<i64>,
    /// Absent while nobody reacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<MessageReactions>,
}

/// A reaction, as Telegram's `ReactionType`: `{"type":"emoji","emoji":"👍"}` or
/// `{"type":"custom_emoji","custom_emoji_id":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReactionType {
    Emoji { emoji: String },
    CustomEmoji { custom_emoji_id: String },
}

/// How many people set one reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub reaction: ReactionType,
    pub count: u64,
    /// You set this one (as you see it: absent in a channel's or large group's own log,
    /// which has no viewer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chosen: bool,
}

/// One person's reaction, newest first in [`MessageReactions::recent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentReaction {
    pub user_id: i64,
    pub reaction: ReactionType,
}

/// The reactions on a message: a count per reaction (most first), and who reacted (the
/// newest, at most 50; never in channels, whose readers are anonymous).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReactions {
    pub results: Vec<ReactionCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<RecentReaction>,
}

/// Text being typed in a chat and not sent yet, kept for you across devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftMessage {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    /// Unix seconds of the last change.
    pub date: i64,
}

/// A formatted span of a message's text, with Telegram's `MessageEntity` field names.
/// `offset` and `length` count UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntity {
    /// `bold`, `italic`, `underline`, `strikethrough`, `spoiler`, `code`, `pre`, `text_link`,
    /// `text_mention`, `mention`, `hashtag`, `cashtag`, `bot_command`, `url`, `email`,
    /// `phone_number`, `blockquote`, `expandable_blockquote`, `custom_emoji`. Clients show
    /// kinds they do not know as plain text.
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: u32,
    pub length: u32,
    /// `text_link`: where it points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `text_mention`: the user meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// `pre`: the code's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `custom_emoji`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_emoji_id: Option<String>,
}

/// What a bot's message does to the reader's keyboard, in the Bot API's shapes: buttons
/// under the message (`inline_keyboard`), a reply keyboard shown in place of the letter keys
/// (`keyboard` and its options), its removal (`remove_keyboard`), or a request to reply to
/// this message (`force_reply`). Exactly one of the four is present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMarkup {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_keyboard: Vec<Vec<InlineButton>>,
    /// A reply keyboard: pressing a button sends its text as the reader's own message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyboard: Vec<Vec<KeyboardButton>>,
    /// Reply keyboard: fit its height to the buttons.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resize_keyboard: bool,
    /// Reply keyboard: hide it once a button was pressed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_time_keyboard: bool,
    /// Reply keyboard: keep it up even while the letter keys are shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_persistent: bool,
    /// Hide the reply keyboard shown before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_keyboard: bool,
    /// Open a reply to this message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_reply: bool,
    /// Reply keyboard or reply request: shown in the empty input field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
    /// Only for the users the text mentions and the author of the message replied to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub selective: bool,
}

/// A reply keyboard's button: its text is what pressing it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyboardButton {
    pub text: String,
}

/// One button: pressing it sends `callback_data` to the bot (`messages.press_button`) or
/// opens `url`. Exactly one of the two is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl ReplyMarkup {
    /// The buttons in reading order (row by row, left to right).
    pub fn buttons(&self) -> impl Iterator<Item = &InlineButton> {
        self.inline_keyboard.iter().flatten()
    }

    /// Whether this message concerns `reader`'s reply keyboard: always, unless `selective`,
    /// when only the users `mentioned` in it (`text_mention` ids, `@username`s resolved by
    /// the caller) and the author of the message it replies to are meant.
    pub fn is_for(&self, reader: i64, mentioned: &[i64], replied_author: Option<i64>) -> bool {
        !self.selective || mentioned.contains(&reader) || replied_author == Some(reader)
    }
}

/// The answer to `bots.create`: the new bot and its token. Keep the token secret: it is the
/// bot's whole identity on the Bot API, and it is shown only here (and by `bots.revoke_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedBot {
    pub bot: User,
    /// `"<bot id>:<secret>"`, as Telegram's bot tokens.
    pub token: String,
}

/// The answer to `bots.revoke_token`: the bot's new token (the old one stopped working).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotToken {
    pub token: String,
}

/// The answer to `messages.press_button`: what the bot answered (`answerCallbackQuery`). A
/// bot that did not answer in time gives `{"alert": false}`: the press still reached it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAnswer {
    /// A notice to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Show `text` as an alert the person dismisses, rather than a passing notice.
    #[serde(default)]
    pub alert: bool,
    /// A URL the bot asks the client to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One row of the dialog list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialog {
    pub chat: Chat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
    pub unread_count: u64,
    /// You have read up to this message.
    pub read_inbox_max_id: i64,
    /// The others have read your messages up to this one (private chats and groups).
    pub read_outbox_max_id: i64,
    /// Your unsent text in this chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<DraftMessage>,
}

/// Position in the dialog list, to fetch the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogCursor {
    pub activity: i64,
    pub chat_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialogs {
    pub dialogs: Vec<Dialog>,
    /// Pass as `offset` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<DialogCursor>,
}

/// A signed-in device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: i64,
    pub device: String,
    pub created: i64,
    pub last_active: i64,
    /// This is the session making the request.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    /// Digits in the code.
    pub length: u32,
    /// Seconds until the code expires.
    pub expires_in: u32,
}

/// The answer to a successful sign-in: keep `token` secret; it is shown only once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub token: String,
    pub session_id: i64,
    pub user: User,
    /// This sign-in created the account.
    pub new_account: bool,
}

/// A member of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub joined: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Peer {
    User { user: User },
    Chat { chat: Chat },
}

/// The answer to `messages.send` and `messages.forward`: the stored message and where its
/// update sits in the sender's log (`pts` in the user log, or in the chat's log when the chat
/// keeps its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub message: Message,
    pub pts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLink {
    pub link: String,
}

/// A kind of message a group's admins may let its other members send (`chats.restrict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendKind {
    Text,
    Photos,
    Videos,
    Audios,
    Documents,
    Voice,
}

impl SendKind {
    pub const ALL: [SendKind; 6] =
        [SendKind::Text, SendKind::Photos, SendKind::Videos, SendKind::Audios, SendKind::Documents, SendKind::Voice];
}

/// Who may find an account by its phone number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhonePrivacy {
    /// Anyone who knows the number.
    #[default]
    Everybody,
    /// Only people in your contacts.
    Contacts,
    Nobody,
}

/// Your privacy settings (`account.privacy`, `account.set_privacy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privacy {
    /// Who may find you by your phone number.
    pub find_by_phone: PhonePrivacy,
}

/// An empty success (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ok {}

// --- account (#16): reports and moderation -------------------------------------------------

/// A message as a report copied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedMessage {
    pub id: i64,
    pub from_id: i64,
    pub date: i64,
    pub text: String,
}

/// A report of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: i64,
    pub reporter_id: i64,
    pub chat_id: i64,
    pub message: ReportedMessage,
    /// `spam`, `violence`, `child_abuse`, `illegal_goods` or `other`.
    pub reason: String,
    pub comment: String,
    /// The other messages the reporter shared.
    pub context: Vec<ReportedMessage>,
    pub date: i64,
    /// The action that closed it; absent while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// A report, for an operator: with the reporter's and the sender's histories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCase {
    pub report: Report,
    pub reporter: User,
    pub sender: User,
    /// Reports the reporter made, newest first (this one included).
    pub reporter_reports: Vec<Report>,
    /// Reports of the sender's messages, newest first (this one included).
    pub sender_reported: Vec<Report>,
    /// Sanctions in force on the sender.
    pub sender_sanctions: Vec<Sanction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sanction {
    /// `ban`, `suspend` or `restrict`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    pub reason: String,
}

/// One entry of the append-only moderation audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub date: i64,
    /// The operator's account; 0 for the host's operator using `heliograph admin`.
    pub operator_id: i64,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    pub reason: String,
    /// Whether the affected user was told (in their chat with Moderation).
    pub notified: bool,
}

/// One message found by `messages.search` (search, #17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub message: Message,
    /// The text (or caption and file name) around the match, `…` where it was cut.
    pub snippet: String,
    /// `[offset, length]` of each matching word in `snippet`, in UTF-16 code units.
    pub highlights: Vec<[u32; 2]>,
}

/// The answer of `messages.search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub results: Vec<SearchResult>,
    /// The chats and authors of the results.
    pub chats: Vec<Chat>,
    pub users: Vec<User>,
    /// Pass as `offset` for the next page; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

/// The answer of `contacts.search`: people and public chats, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    pub users: Vec<User>,
    /// Public groups and channels, as the public sees them (with `member_count`).
    pub chats: Vec<Chat>,
}

// --- secret chats (MLS, #15) ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPackageCount {
    pub one_time: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedKeyPackage {
    pub user_id: i64,
    pub device_id: i64,
    /// Base64 `MLSMessage` (a key package).
    pub key_package: String,
    pub last_resort: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDevice {
    pub user_id: i64,
    pub device_id: i64,
    /// Base64 of the device's MLS signature public key.
    pub signature_key: String,
    /// Its session is signed in; an inactive device is removed from groups by any member.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGroupInfo {
    pub chat_id: i64,
    pub epoch: u64,
    /// Base64 `MLSMessage` (a GroupInfo).
    pub group_info: String,
    /// Base64 TLS-encoded ratchet tree of the current epoch.
    pub ratchet_tree: String,
}

/// What the Delivery Service stored: the message's id in the chat's sequence, its epoch, and
/// your pts of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSent {
    pub id: i64,
    pub epoch: u64,
    pub pts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    Commit,
    Application,
    Welcome,
}

/// An MLS message of a secret chat, in the chat's one message sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMessage {
    pub chat_id: i64,
    pub id: i64,
    pub from_id: i64,
    pub device_id: i64,
    pub date: i64,
    pub kind: SecretKind,
    /// The epoch it was made in (a commit: the epoch it ends; a Welcome: the one it joins).
    pub epoch: u64,
    /// Base64 `MLSMessage`.
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretChatState {
    pub chat_id: i64,
    pub epoch: u64,
}
