//! Storage for Heliograph: the [`Store`] trait, its records, and the engines behind it.
//!
//! A store is not a bag of tables: every write is a domain command (send a message, add a
//! member, read a chat) that checks who may do it, assigns sequence numbers and writes the
//! update-log rows in the same transaction. That makes two things true by construction:
//! authorization and sequencing cannot race with membership changes, and a message is never
//! committed without the updates that announce it.
//!
//! # Layout
//! - [`model`]: the records a store returns, and the [`Event`]s it logs.
//! - [`Store`]: the contract, written once for every engine.
//! - `commands/`: every command, written once over a small transaction interface (`Tx`) both
//!   engines implement, one file per area; `commands/dialect.rs` holds the only SQL the two
//!   engines spell differently.
//! - `engine.rs`: the `Store` trait adapted once, over an engine that runs a command
//!   read-only or as a write.
//! - [`sqlite`]: the embedded engine (the default): one writer thread doing group commit, a
//!   small pool of readers.
//! - [`postgres`]: the engine for several nodes sharing one PostgreSQL: one transaction per
//!   command, sequencing by row locks, PostgreSQL's own group commit.
//! - [`conformance`]: the suite every engine passes.
//!
//! Architecture Invariant: this crate knows nothing of the wire format or of HTTP. Committed
//! events leave through [`CommitFeed`], in commit order, for the server to fan out.

mod codec;
mod commands;
pub mod conformance;
pub mod corpus;
mod engine;
mod error;
pub mod model;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use heliograph_core::*;

pub use commands::secret::MAX_SECRET_MEMBERS;
pub use commands::transparency::within as transparency_tile_within;
pub use error::{Error, Failure, Result};
pub use model::*;

/// Committed events, in commit order. The server turns them into live pushes.
pub type CommitFeed = tokio::sync::mpsc::Receiver<Vec<Logged>>;

/// Tuning that every engine understands.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A group with more members than this keeps its own update log.
    pub large_group_threshold: u64,
    /// A difference further behind than this many updates answers `TooLong`.
    pub difference_horizon: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { large_group_threshold: 200, difference_horizon: 100_000 }
    }
}

/// The storage contract. Every method that acts on a chat takes the acting user and answers
/// [`Error::ChatNotFound`] when that user is not a member, exactly as for a chat that does not
/// exist: a non-member cannot learn that a private chat exists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Takes the feed of committed events; `None` after the first call.
    fn take_commit_feed(&self) -> Option<CommitFeed>;

    // --- sign-in ---------------------------------------------------------------------------

    /// Replaces any pending code for the number hashed as `phone`.
    async fn save_login_code(&self, phone: PhoneHash, code: LoginCodeHash) -> Result<()>;
    /// Counts one attempt against the pending code and returns it (with the new count).
    async fn login_attempt(&self, phone: PhoneHash) -> Result<Option<LoginCodeHash>>;
    async fn delete_login_code(&self, phone: PhoneHash) -> Result<()>;
    /// The account whose number hashes to `phone`. The store never holds a number in clear.
    async fn user_by_phone(&self, phone: PhoneHash) -> Result<Option<User>>;
    /// Creates the account for the number `phone` stands for; if it already exists (same
    /// hash), returns it unchanged.
    async fn create_user(&self, phone: &SealedPhone, name: &DisplayName) -> Result<User>;
    async fn create_session(&self, user: UserId, token_hash: &[u8], device: &str) -> Result<Session>;
    /// Finds a live session by its token's hash and marks it active.
    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<Session>>;
    async fn sessions(&self, user: UserId) -> Result<Vec<Session>>;
    /// Ends `session` if it belongs to `user`; false when there was no such session.
    async fn revoke_session(&self, user: UserId, session: SessionId) -> Result<bool>;

    // --- people ----------------------------------------------------------------------------

    /// The users among `ids` that exist, in the order asked.
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>>;
    /// How `viewer` and each of `others` relate (contacts, blocks), in the order asked.
    async fn relations(&self, viewer: UserId, others: &[UserId]) -> Result<Vec<Relation>>;
    async fn resolve(&self, username: &Username) -> Result<Option<Resolved>>;
    async fn update_profile(&self, user: UserId, name: Option<DisplayName>, bio: Option<Bio>) -> Result<User>;
    async fn set_username(&self, user: UserId, username: Option<Username>) -> Result<User>;
    async fn add_contact(&self, owner: UserId, contact: UserId) -> Result<()>;
    async fn remove_contact(&self, owner: UserId, contact: UserId) -> Result<()>;
    async fn contacts(&self, owner: UserId) -> Result<Vec<User>>;
    async fn set_blocked(&self, owner: UserId, target: UserId, blocked: bool) -> Result<()>;
    async fn blocked(&self, owner: UserId) -> Result<Vec<User>>;
    /// Who may find `user` by phone number ([`PhonePrivacy::Everybody`] until set).
    async fn phone_privacy(&self, user: UserId) -> Result<PhonePrivacy>;
    async fn set_phone_privacy(&self, user: UserId, privacy: PhonePrivacy) -> Result<()>;

    // --- chats -----------------------------------------------------------------------------

    /// The private chat of `user` and `peer`, created on first use.
    async fn open_private(&self, user: UserId, peer: UserId) -> Result<Chat>;
    /// Creates a group or channel with `creator` as its creator and `members` added.
    async fn create_chat(
        &self,
        creator: UserId,
        kind: ChatKind,
        title: &Title,
        username: Option<&Username>,
        members: &[UserId],
    ) -> Result<Chat>;
    /// A chat's public details, with no viewer (for rendering a chat's own log).
    async fn chat_info(&self, chat: ChatId) -> Result<Option<Chat>>;
    /// The chat as `user` sees it, and their membership: the one authorization choke point
    /// for reads.
    async fn chat(&self, user: UserId, chat: ChatId) -> Result<View>;
    async fn add_members(&self, actor: UserId, chat: ChatId, users: &[UserId]) -> Result<Chat>;
    /// Removes `user`; `actor == user` means leaving.
    async fn remove_member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<()>;
    async fn set_title(&self, actor: UserId, chat: ChatId, title: &Title) -> Result<Chat>;
    async fn set_admin(&self, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> Result<()>;
    async fn members(&self, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> Result<Vec<Membership>>;
    /// `user`'s membership of `chat`, as `actor` (a member) sees it; `None` if not a member.
    async fn member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<Option<Membership>>;
    /// What the group's members who are not admins may send (admins; groups only).
    async fn set_chat_permissions(&self, actor: UserId, chat: ChatId, allowed: Permissions) -> Result<()>;
    /// The chat's description (admins), at most [`MAX_DESCRIPTION_CHARS`] visible characters.
    async fn set_description(&self, actor: UserId, chat: ChatId, description: &str) -> Result<()>;
    /// The chat's permissions and description, for a member.
    async fn chat_settings(&self, actor: UserId, chat: ChatId) -> Result<ChatSettings>;
    /// Restricts a group member who is not an admin to `allowed` until `until` (unix seconds;
    /// `None`: for ever); [`Permissions::ALL`] lifts it. `messages::send` obeys it.
    async fn restrict_member(&self, actor: UserId, chat: ChatId, user: UserId, allowed: Permissions, until: Option<i64>) -> Result<()>;
    /// Removes `user` (if a member, under `remove_member`'s rules) and keeps them out until
    /// `until` (`None`: for ever): joining by link or username is refused; an admin adding
    /// them lifts the ban.
    async fn ban_member(&self, actor: UserId, chat: ChatId, user: UserId, until: Option<i64>) -> Result<()>;
    /// Lifts a ban; a member who was not banned is removed unless `only_if_banned`
    /// (Telegram's `unbanChatMember`).
    async fn unban_member(&self, actor: UserId, chat: ChatId, user: UserId, only_if_banned: bool) -> Result<()>;
    /// `user`'s membership, ban and restriction in `chat`, as `actor` (a member) sees them.
    async fn standing(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<Standing>;
    /// The private chat of `user` and `peer` if one of them ever opened it (never creates).
    async fn find_private(&self, user: UserId, peer: UserId) -> Result<Option<Chat>>;
    /// The chat's invite token, made on first use.
    async fn export_invite(&self, actor: UserId, chat: ChatId) -> Result<String>;
    async fn join(&self, user: UserId, how: JoinBy) -> Result<Chat>;
    /// The users who should see ephemeral events (typing) of `chat`, or `None` when the chat
    /// keeps its own log (then they go to the chat's topic).
    async fn typing_audience(&self, actor: UserId, chat: ChatId) -> Result<Option<Vec<UserId>>>;
    /// Chats `user` belongs to that keep their own log, with their current pts.
    async fn own_log_chats(&self, user: UserId) -> Result<Vec<(ChatId, Pts)>>;

    // --- messages --------------------------------------------------------------------------

    /// Durable once this returns. A repeated `random_id` from the same user returns the
    /// original message and changes nothing.
    async fn send(&self, actor: UserId, chat: ChatId, random_id: i64, draft: Draft) -> Result<Sent>;
    async fn forward(&self, actor: UserId, from: ChatId, ids: &[MessageId], to: ChatId, random_ids: &[i64]) -> Result<Vec<Sent>>;
    /// Changes text, formatting or keyboard of `actor`'s own message. Text can change on
    /// text messages and as a caption on media; only bots may set a keyboard.
    async fn edit(&self, actor: UserId, chat: ChatId, id: MessageId, edit: Edit) -> Result<Message>;
    async fn delete(&self, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> Result<()>;
    async fn pin(&self, actor: UserId, chat: ChatId, id: Option<MessageId>) -> Result<()>;
    /// Marks read up to `max_id` (the top message when `None`); never moves backwards.
    async fn read(&self, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> Result<()>;
    /// A page of history, oldest first.
    async fn history(&self, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>>;
    async fn dialogs(&self, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> Result<Vec<Dialog>>;

    // --- daily use (#18): reactions, drafts --------------------------------------------------

    /// Sets `actor`'s reactions on message `id` (one they can see) to exactly `set` (empty:
    /// takes theirs away); logs [`Event::Reactions`] for every member when something changed.
    /// Returns the message's reactions as `actor` sees them now.
    async fn react(&self, actor: UserId, chat: ChatId, id: MessageId, set: ReactionSet) -> Result<Reactions>;
    /// The reactions on those of `ids` that have any, as `viewer` (a member) sees them.
    async fn reactions(&self, viewer: UserId, chat: ChatId, ids: &[MessageId]) -> Result<Vec<Reactions>>;
    /// The reactions on a message with no viewer (for rendering a chat's own log).
    async fn public_reactions(&self, chat: ChatId, id: MessageId) -> Result<Reactions>;
    /// Saves (or with `None` clears) `actor`'s draft in `chat`, a chat they are a member of;
    /// logs [`Event::DraftChanged`] in their own log when it changed. A send clears it too.
    async fn save_draft(&self, actor: UserId, chat: ChatId, text: Option<MessageText>, reply_to: Option<MessageId>) -> Result<()>;
    /// `user`'s draft in `chat`, if any.
    async fn draft(&self, user: UserId, chat: ChatId) -> Result<Option<SavedDraft>>;

    // --- bots ------------------------------------------------------------------------------

    /// Creates a bot account owned by `owner`, with `username` and a first token (stored, like
    /// a session token, only as its hash: the bot's one session, device `"bot"`).
    async fn create_bot(&self, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> Result<User>;
    /// The bots `owner` made, oldest first.
    async fn bots(&self, owner: UserId) -> Result<Vec<User>>;
    /// Ends every session of `owner`'s bot and gives it one new token. [`Error::UserNotFound`]
    /// when `bot` is not a bot of `owner`.
    async fn replace_bot_token(&self, owner: UserId, bot: UserId, token_hash: &[u8]) -> Result<()>;
    /// A bot's settings; `None` when `bot` is not a bot.
    async fn bot(&self, bot: UserId) -> Result<Option<Bot>>;
    async fn update_bot(&self, bot: UserId, change: BotChange) -> Result<Bot>;
    /// One setting of a bot's profile ([`BotSetting`]); `None` when never set.
    async fn bot_setting(&self, bot: UserId, setting: BotSetting) -> Result<Option<String>>;
    /// The bots that have a webhook set (delivery resumes for them at startup).
    async fn webhook_bots(&self) -> Result<Vec<UserId>>;
    /// `user` pressed the callback button carrying `data` under `message`: logs
    /// [`Event::CallbackQuery`] in the log of the bot that posted the message. Returns the bot
    /// and the event's pts there (the query's id). [`Error::ButtonNotFound`] when the message,
    /// visible to `user`, has no such button.
    async fn press_button(&self, user: UserId, chat: ChatId, message: MessageId, data: &str) -> Result<(UserId, Pts)>;

    // --- files -----------------------------------------------------------------------------

    /// Records a file `owner` uploaded. Refuses with [`Error::QuotaExceeded`] when the sizes
    /// of `owner`'s files would pass `quota` bytes (checked in the same transaction).
    async fn create_file(&self, owner: UserId, file: NewFile, quota: u64) -> Result<File>;
    /// The file, when `user` may see it: they uploaded it, or it (or its thumbnail) is in a
    /// message of a chat they are a member of. Otherwise [`Error::FileNotFound`], exactly as
    /// for a file that does not exist.
    async fn file(&self, user: UserId, id: FileId) -> Result<File>;
    /// Bytes of the files `user` uploaded (what the quota counts).
    async fn file_usage(&self, user: UserId) -> Result<u64>;
    /// How many file records (of anyone) have this content: none means its stored object is
    /// unreferenced and may be removed.
    async fn file_refs(&self, sha256: [u8; 32]) -> Result<u64>;

    // --- search ----------------------------------------------------------------------------

    /// The newest position of the search log (0 when empty, and always on an engine whose
    /// database indexes words itself).
    async fn search_log_head(&self) -> Result<i64>;
    /// Up to `limit` search-log entries after `after`, each with its message as it is now.
    async fn search_log(&self, after: i64, limit: u32) -> Result<Vec<SearchEntry>>;
    /// Deletes the search-log entries up to `upto` (an index committed them); how many went.
    async fn trim_search_log(&self, upto: i64) -> Result<u64>;
    /// Live messages after `after` in (chat, id) order: what a rebuilt index reads.
    async fn search_corpus(&self, after: (ChatId, MessageId), limit: u32) -> Result<Vec<Message>>;
    // --- the transparency log (#16) ---------------------------------------------------------

    /// Entries in the transparency log.
    async fn transparency_size(&self) -> Result<u64>;
    /// The root hash of the log's first `size` entries.
    async fn transparency_root(&self, size: u64) -> Result<[u8; 32]>;
    /// Entries `from..from + limit`.
    async fn transparency_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>>;
    /// The hash tile at `path` (C2SP tlog-tiles) of the tree of `size` entries, if in it.
    async fn transparency_tile(&self, path: &str, size: u64) -> Result<Option<Vec<u8>>>;
    /// That entry `n` is in the tree of `size` entries.
    async fn transparency_prove_entry(&self, size: u64, n: u64) -> Result<Vec<[u8; 32]>>;
    /// That the tree of `old` entries is a prefix of the tree of `size`.
    async fn transparency_prove_consistency(&self, size: u64, old: u64) -> Result<Vec<[u8; 32]>>;

    /// Benchmarks only (`heliograph bench-corpus`): writes the synthetic corpus `spec`
    /// describes into a database that holds no account yet ([`corpus`]); `progress` hears
    /// the messages written so far.
    async fn seed_corpus(&self, spec: &corpus::Spec, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<corpus::Seeded>;
    /// The chats `user` may search: `chat` alone (`ChatNotFound` when they cannot read it),
    /// or all of theirs. Authorization first: an engine searches only these.
    async fn search_scope(&self, user: UserId, chat: Option<ChatId>) -> Result<Vec<ChatId>>;
    /// The messages among `found` that `user` may see now, in order (authorization last).
    async fn visible_messages(&self, user: UserId, found: &[(ChatId, MessageId)]) -> Result<Vec<Message>>;
    /// People and public groups and channels matching `query`, best first.
    async fn directory(&self, query: &str, limit: u32) -> Result<Directory>;

    // --- sync ------------------------------------------------------------------------------

    async fn state(&self, user: UserId) -> Result<Pts>;
    async fn difference(&self, user: UserId, pts: Pts, limit: u32) -> Result<Difference>;
    async fn chat_difference(&self, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> Result<Difference>;

    // --- accountability (account, #16) ----------------------------------------------------

    /// Accounts whose number is still in clear (made before schema 6), lowest id first.
    async fn phones_to_seal(&self, limit: u32) -> Result<Vec<(UserId, String)>>;
    /// Replaces `user`'s clear number with its hash and sealed copy.
    async fn seal_phone(&self, user: UserId, phone: &SealedPhone) -> Result<()>;
    /// `user`'s number sealed to the disclosure key (`None` for a bot); only the holder of
    /// the disclosure private key can open it.
    async fn sealed_phone(&self, user: UserId) -> Result<Option<Vec<u8>>>;
    /// Records `value` under `key` the first time it is asked; afterwards answers whether
    /// `value` is the one recorded.
    async fn settle_setting(&self, key: &str, value: &[u8]) -> Result<bool>;
    /// Rewrites the database files so nothing overwritten or deleted survives in them
    /// (SQLite: `VACUUM` with `secure_delete`, then the WAL truncated; PostgreSQL:
    /// `VACUUM FULL` of the tables that held numbers). Slow on a big database: the server
    /// runs it once, after sealing the numbers of an older database.
    async fn compact(&self) -> Result<()>;

    /// `reporter` reports a message of a chat they are in (`ChatNotFound` /
    /// `MessageNotFound` otherwise, as for reading it); the message and the chosen context are
    /// copied into the report. Reporting one message twice returns the first report.
    async fn report(&self, reporter: UserId, report: NewReport) -> Result<Report>;
    /// Reports after id `after`, oldest first; only open ones when `open_only`.
    async fn reports(&self, open_only: bool, after: i64, limit: u32) -> Result<Vec<Report>>;
    async fn report_by_id(&self, id: i64) -> Result<Option<Report>>;
    /// `user`'s report history, newest first: (reports they made, reports of their messages).
    async fn user_reports(&self, user: UserId, limit: u32) -> Result<(Vec<Report>, Vec<Report>)>;
    /// The sanctions in force on `user`, the most severe first.
    async fn sanctions(&self, user: UserId) -> Result<Vec<Sanction>>;
    /// Applies an operator's action, appends it to the audit log and sends its notice, in
    /// one transaction.
    async fn moderate(&self, action: Action) -> Result<Moderated>;
    /// The audit log after entry `after`, oldest first. Nothing can change or remove an entry.
    async fn audit_log(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>>;

    // --- secret chats (MLS, #15; see `commands/secret.rs`) ---------------------------------

    /// Stores a device's checked key packages; returns its one-time packages left.
    async fn upload_key_packages(&self, user: UserId, upload: KeyPackageUpload) -> Result<u64>;
    async fn key_package_count(&self, user: UserId, device: SessionId) -> Result<u64>;
    /// One package per live device of each of `users` but `except`; a one-time package is
    /// handed out at most once, even to concurrent claims.
    async fn claim_key_packages(&self, users: &[UserId], except: SessionId) -> Result<Vec<ClaimedKeyPackage>>;
    /// The MLS devices of `users` (live or not), in ascending device id per user.
    async fn mls_devices(&self, users: &[UserId]) -> Result<Vec<MlsDevice>>;
    /// Creates a secret chat with its group at its first epoch; `creator` is its one member.
    async fn create_secret(&self, creator: UserId, title: &Title, start: MlsGroup) -> Result<Chat>;
    /// The group's public state, for a member.
    async fn mls_group(&self, actor: UserId, chat: ChatId) -> Result<MlsGroup>;
    /// `user`'s secret chats, with their epochs.
    async fn secret_chats(&self, user: UserId) -> Result<Vec<(ChatId, u64)>>;
    /// Stores a checked commit if its epoch is still current ([`Error::CommitConflict`]).
    async fn mls_commit(&self, actor: UserId, chat: ChatId, commit: MlsCommit) -> Result<MlsSent>;
    /// Stores an application message for the current epoch; idempotent by `random_id`.
    async fn mls_send(&self, actor: UserId, chat: ChatId, send: MlsSend) -> Result<MlsSent>;
    /// MLS messages after `after`, oldest first.
    async fn mls_history(&self, actor: UserId, chat: ChatId, after: MessageId, limit: u32) -> Result<Vec<MlsMessage>>;
}
