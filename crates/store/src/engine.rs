//! The [`Store`] trait adapted once, for every engine: each method runs its command (from
//! `commands/`) read-only or as a write, through the [`Engine`] the store is.
//!
//! A command's arguments travel as one owned value beside it (`args`), so an engine can run
//! it again from scratch (PostgreSQL retries a write that lost a race) without copying them.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use heliograph_core::*;

use crate::commands::{
    accounts, bots, chats, drafts, files, messages, moderation, people, reactions, restrictions, search, secret, sync, transparency, Tx,
};
use crate::{model::*, CommitFeed, Result, Store};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an engine provides: "run this command read-only", "run this command as a write".
pub trait Engine: Send + Sync + 'static {
    type Tx<'t>: Tx;

    /// Runs `command` on a read-only snapshot.
    fn read<A, T, C>(&self, args: A, command: C) -> impl Future<Output = Result<T>> + Send
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(Self::Tx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static;

    /// Runs `command` in one transaction (perhaps more than once, each from scratch); answers
    /// only once what it did is durable.
    fn write<A, T, C>(&self, args: A, command: C) -> impl Future<Output = Result<T>> + Send
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
        C: for<'t> Fn(Self::Tx<'t>, &'t A) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static;

    fn take_commit_feed(&self) -> Option<CommitFeed>;

    /// Rewrites the database files so that nothing deleted or overwritten survives in them
    /// (see [`Store::compact`]).
    fn compact(&self) -> impl Future<Output = Result<()>> + Send;
}

/// `run!(read | write, engine, (args…) => module::command)`: calls the command with the
/// transaction first, then the arguments as [`By`] hands them over.
macro_rules! run {
    ($how:ident, $engine:expr, ($($arg:ident),*) => $command:path $(, $extra:expr)?) => {
        $engine
            .$how(($($arg,)*), |mut tx, ($($arg,)*)| Box::pin(async move { $command(&mut tx, $($arg.by()),* $(, $extra)?).await }))
            .await
    };
}

/// How a command takes each kind of argument: ids and flags by value, the rest by reference.
trait By<'a> {
    type As;
    fn by(&'a self) -> Self::As;
}

macro_rules! by_value {
    ($($t:ty),*) => {$(
        impl<'a> By<'a> for $t {
            type As = $t;
            fn by(&'a self) -> $t {
                *self
            }
        }
    )*};
}
by_value!(
    UserId,
    ChatId,
    MessageId,
    SessionId,
    FileId,
    ChatKind,
    PhonePrivacy,
    bool,
    i64,
    u32,
    u64,
    [u8; 32],
    PhoneHash,
    Page,
    Option<MessageId>,
    Option<(i64, ChatId)>,
    (ChatId, MessageId),
    Option<ChatId>,
    Option<i64>,
    Permissions
);

macro_rules! by_ref {
    ($($t:ty => $as:ty),*) => {$(
        impl<'a> By<'a> for $t {
            type As = &'a $as;
            fn by(&'a self) -> &'a $as {
                self
            }
        }
    )*};
}
by_ref!(Phone => Phone, SealedPhone => SealedPhone, DisplayName => DisplayName, Username => Username, Title => Title, LoginCodeHash => LoginCodeHash,
    Draft => Draft, Edit => Edit, ReactionSet => ReactionSet, JoinBy => JoinBy, BotChange => BotChange, BotSetting => BotSetting, NewFile => NewFile,
    NewReport => NewReport, Action => Action, Vec<UserId> => [UserId], Vec<MessageId> => [MessageId], Vec<i64> => [i64], Vec<u8> => [u8], String => str,
    Vec<(ChatId, MessageId)> => [(ChatId, MessageId)],
    KeyPackageUpload => KeyPackageUpload, MlsGroup => MlsGroup, MlsCommit => MlsCommit, MlsSend => MlsSend);

impl<'a, T: 'a> By<'a> for Option<T>
where
    T: ByRef,
{
    type As = Option<&'a T>;
    fn by(&'a self) -> Option<&'a T> {
        self.as_ref()
    }
}

/// Optional values a command takes as `Option<&T>`.
trait ByRef {}
impl ByRef for DisplayName {}
impl ByRef for Bio {}
impl ByRef for Username {}
impl ByRef for MessageText {}

#[async_trait]
impl<E: Engine> Store for E {
    fn take_commit_feed(&self) -> Option<CommitFeed> {
        Engine::take_commit_feed(self)
    }

    async fn save_login_code(&self, phone: PhoneHash, code: LoginCodeHash) -> Result<()> {
        run!(write, self, (phone, code) => accounts::save_login_code)
    }
    async fn login_attempt(&self, phone: PhoneHash) -> Result<Option<LoginCodeHash>> {
        run!(write, self, (phone) => accounts::login_attempt)
    }
    async fn delete_login_code(&self, phone: PhoneHash) -> Result<()> {
        run!(write, self, (phone) => accounts::delete_login_code)
    }
    async fn user_by_phone(&self, phone: PhoneHash) -> Result<Option<User>> {
        run!(read, self, (phone) => accounts::user_by_phone)
    }
    async fn create_user(&self, phone: &SealedPhone, name: &DisplayName) -> Result<User> {
        let (phone, name) = (phone.clone(), name.clone());
        run!(write, self, (phone, name) => accounts::create_user)
    }
    async fn create_session(&self, user: UserId, token_hash: &[u8], device: &str) -> Result<Session> {
        let (hash, device) = (token_hash.to_vec(), device.to_string());
        run!(write, self, (user, hash, device) => accounts::create_session)
    }
    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let hash = token_hash.to_vec();
        run!(write, self, (hash) => accounts::session_by_token)
    }
    async fn sessions(&self, user: UserId) -> Result<Vec<Session>> {
        run!(read, self, (user) => accounts::sessions)
    }
    async fn revoke_session(&self, user: UserId, session: SessionId) -> Result<bool> {
        run!(write, self, (user, session) => accounts::revoke_session)
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let ids = ids.to_vec();
        run!(read, self, (ids) => people::users)
    }
    async fn relations(&self, viewer: UserId, others: &[UserId]) -> Result<Vec<Relation>> {
        let others = others.to_vec();
        run!(read, self, (viewer, others) => people::relations)
    }
    async fn resolve(&self, username: &Username) -> Result<Option<Resolved>> {
        let username = username.clone();
        run!(read, self, (username) => people::resolve)
    }
    async fn update_profile(&self, user: UserId, name: Option<DisplayName>, bio: Option<Bio>) -> Result<User> {
        run!(write, self, (user, name, bio) => people::update_profile)
    }
    async fn set_username(&self, user: UserId, username: Option<Username>) -> Result<User> {
        run!(write, self, (user, username) => people::set_username)
    }
    async fn add_contact(&self, owner: UserId, contact: UserId) -> Result<()> {
        run!(write, self, (owner, contact) => people::add_contact)
    }
    async fn remove_contact(&self, owner: UserId, contact: UserId) -> Result<()> {
        run!(write, self, (owner, contact) => people::remove_contact)
    }
    async fn contacts(&self, owner: UserId) -> Result<Vec<User>> {
        run!(read, self, (owner) => people::contacts)
    }
    async fn set_blocked(&self, owner: UserId, target: UserId, blocked: bool) -> Result<()> {
        run!(write, self, (owner, target, blocked) => people::set_blocked)
    }
    async fn blocked(&self, owner: UserId) -> Result<Vec<User>> {
        run!(read, self, (owner) => people::blocked)
    }
    async fn phone_privacy(&self, user: UserId) -> Result<PhonePrivacy> {
        run!(read, self, (user) => people::phone_privacy)
    }
    async fn set_phone_privacy(&self, user: UserId, privacy: PhonePrivacy) -> Result<()> {
        run!(write, self, (user, privacy) => people::set_phone_privacy)
    }

    async fn open_private(&self, user: UserId, peer: UserId) -> Result<Chat> {
        run!(write, self, (user, peer) => chats::open_private)
    }
    async fn create_chat(
        &self,
        creator: UserId,
        kind: ChatKind,
        title: &Title,
        username: Option<&Username>,
        members: &[UserId],
    ) -> Result<Chat> {
        let (title, username, members) = (title.clone(), username.cloned(), members.to_vec());
        run!(write, self, (creator, kind, title, username, members) => chats::create_chat)
    }
    async fn chat_info(&self, chat: ChatId) -> Result<Option<Chat>> {
        run!(read, self, (chat) => chats::load)
    }
    async fn chat(&self, user: UserId, chat: ChatId) -> Result<View> {
        run!(read, self, (user, chat) => chats::view)
    }
    async fn add_members(&self, actor: UserId, chat: ChatId, users: &[UserId]) -> Result<Chat> {
        let users = users.to_vec();
        run!(write, self, (actor, chat, users) => chats::add_members)
    }
    async fn remove_member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<()> {
        run!(write, self, (actor, chat, user) => chats::remove_member)
    }
    async fn set_title(&self, actor: UserId, chat: ChatId, title: &Title) -> Result<Chat> {
        let title = title.clone();
        run!(write, self, (actor, chat, title) => chats::set_title)
    }
    async fn set_admin(&self, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> Result<()> {
        run!(write, self, (actor, chat, user, admin) => chats::set_admin)
    }
    async fn members(&self, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> Result<Vec<Membership>> {
        run!(read, self, (actor, chat, offset, limit) => chats::members)
    }
    async fn member(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
        run!(read, self, (actor, chat, user) => chats::member)
    }
    async fn set_chat_permissions(&self, actor: UserId, chat: ChatId, allowed: Permissions) -> Result<()> {
        run!(write, self, (actor, chat, allowed) => restrictions::set_chat_permissions)
    }
    async fn set_description(&self, actor: UserId, chat: ChatId, description: &str) -> Result<()> {
        let description = description.to_string();
        run!(write, self, (actor, chat, description) => restrictions::set_description)
    }
    async fn chat_settings(&self, actor: UserId, chat: ChatId) -> Result<ChatSettings> {
        run!(read, self, (actor, chat) => restrictions::chat_settings)
    }
    async fn restrict_member(&self, actor: UserId, chat: ChatId, user: UserId, allowed: Permissions, until: Option<i64>) -> Result<()> {
        run!(write, self, (actor, chat, user, allowed, until) => restrictions::restrict_member)
    }
    async fn ban_member(&self, actor: UserId, chat: ChatId, user: UserId, until: Option<i64>) -> Result<()> {
        run!(write, self, (actor, chat, user, until) => restrictions::ban_member)
    }
    async fn unban_member(&self, actor: UserId, chat: ChatId, user: UserId, only_if_banned: bool) -> Result<()> {
        run!(write, self, (actor, chat, user, only_if_banned) => restrictions::unban_member)
    }
    async fn standing(&self, actor: UserId, chat: ChatId, user: UserId) -> Result<Standing> {
        run!(read, self, (actor, chat, user) => restrictions::standing)
    }
    async fn find_private(&self, user: UserId, peer: UserId) -> Result<Option<Chat>> {
        run!(read, self, (user, peer) => chats::find_private)
    }
    async fn export_invite(&self, actor: UserId, chat: ChatId) -> Result<String> {
        run!(write, self, (actor, chat) => chats::export_invite)
    }
    async fn join(&self, user: UserId, how: JoinBy) -> Result<Chat> {
        run!(write, self, (user, how) => chats::join)
    }
    async fn typing_audience(&self, actor: UserId, chat: ChatId) -> Result<Option<Vec<UserId>>> {
        run!(read, self, (actor, chat) => chats::typing_audience)
    }
    async fn own_log_chats(&self, user: UserId) -> Result<Vec<(ChatId, Pts)>> {
        run!(read, self, (user) => chats::own_log_chats)
    }

    async fn send(&self, actor: UserId, chat: ChatId, random_id: i64, draft: Draft) -> Result<Sent> {
        run!(write, self, (actor, chat, random_id, draft) => messages::send, None)
    }
    async fn forward(&self, actor: UserId, from: ChatId, ids: &[MessageId], to: ChatId, random_ids: &[i64]) -> Result<Vec<Sent>> {
        let (ids, random_ids) = (ids.to_vec(), random_ids.to_vec());
        run!(write, self, (actor, from, ids, to, random_ids) => messages::forward)
    }
    async fn edit(&self, actor: UserId, chat: ChatId, id: MessageId, edit: Edit) -> Result<Message> {
        run!(write, self, (actor, chat, id, edit) => messages::edit)
    }
    async fn delete(&self, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> Result<()> {
        let ids = ids.to_vec();
        run!(write, self, (actor, chat, ids, for_everyone) => messages::delete)
    }
    async fn pin(&self, actor: UserId, chat: ChatId, id: Option<MessageId>) -> Result<()> {
        run!(write, self, (actor, chat, id) => messages::pin)
    }
    // daily use (#18)
    async fn react(&self, actor: UserId, chat: ChatId, id: MessageId, set: ReactionSet) -> Result<Reactions> {
        run!(write, self, (actor, chat, id, set) => reactions::react)
    }
    async fn reactions(&self, viewer: UserId, chat: ChatId, ids: &[MessageId]) -> Result<Vec<Reactions>> {
        let ids = ids.to_vec();
        run!(read, self, (viewer, chat, ids) => reactions::of_messages)
    }
    async fn public_reactions(&self, chat: ChatId, id: MessageId) -> Result<Reactions> {
        run!(read, self, (chat, id) => reactions::public)
    }
    async fn save_draft(&self, actor: UserId, chat: ChatId, text: Option<MessageText>, reply_to: Option<MessageId>) -> Result<()> {
        run!(write, self, (actor, chat, text, reply_to) => drafts::save)
    }
    async fn draft(&self, user: UserId, chat: ChatId) -> Result<Option<SavedDraft>> {
        run!(read, self, (user, chat) => drafts::draft)
    }
    async fn read(&self, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> Result<()> {
        run!(write, self, (actor, chat, max_id) => messages::read)
    }
    async fn history(&self, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>> {
        run!(read, self, (actor, chat, page) => messages::history)
    }
    async fn dialogs(&self, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> Result<Vec<Dialog>> {
        run!(read, self, (user, before, limit) => messages::dialogs)
    }

    async fn create_bot(&self, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> Result<User> {
        let (name, username, hash) = (name.clone(), username.clone(), token_hash.to_vec());
        run!(write, self, (owner, name, username, hash) => bots::create_bot)
    }
    async fn bots(&self, owner: UserId) -> Result<Vec<User>> {
        run!(read, self, (owner) => bots::bots)
    }
    async fn replace_bot_token(&self, owner: UserId, bot: UserId, token_hash: &[u8]) -> Result<()> {
        let hash = token_hash.to_vec();
        run!(write, self, (owner, bot, hash) => bots::replace_bot_token)
    }
    async fn bot(&self, bot: UserId) -> Result<Option<Bot>> {
        run!(read, self, (bot) => bots::bot)
    }
    async fn update_bot(&self, bot: UserId, change: BotChange) -> Result<Bot> {
        run!(write, self, (bot, change) => bots::update_bot)
    }
    async fn bot_setting(&self, bot: UserId, setting: BotSetting) -> Result<Option<String>> {
        run!(read, self, (bot, setting) => bots::bot_setting)
    }
    async fn webhook_bots(&self) -> Result<Vec<UserId>> {
        run!(read, self, () => bots::webhook_bots)
    }
    async fn press_button(&self, user: UserId, chat: ChatId, message: MessageId, data: &str) -> Result<(UserId, Pts)> {
        let data = data.to_string();
        run!(write, self, (user, chat, message, data) => bots::press_button)
    }

    async fn create_file(&self, owner: UserId, file: NewFile, quota: u64) -> Result<File> {
        run!(write, self, (owner, file, quota) => files::create_file)
    }
    async fn file(&self, user: UserId, id: FileId) -> Result<File> {
        run!(read, self, (user, id) => files::file)
    }
    async fn file_usage(&self, user: UserId) -> Result<u64> {
        run!(read, self, (user) => files::file_usage)
    }
    async fn file_refs(&self, sha256: [u8; 32]) -> Result<u64> {
        run!(read, self, (sha256) => files::file_refs)
    }

    async fn search_log_head(&self) -> Result<i64> {
        run!(read, self, () => search::log_head)
    }
    async fn search_log(&self, after: i64, limit: u32) -> Result<Vec<SearchEntry>> {
        run!(read, self, (after, limit) => search::log_after)
    }
    async fn trim_search_log(&self, upto: i64) -> Result<u64> {
        run!(write, self, (upto) => search::trim_log)
    }
    async fn search_corpus(&self, after: (ChatId, MessageId), limit: u32) -> Result<Vec<Message>> {
        run!(read, self, (after, limit) => search::corpus)
    }
    async fn transparency_size(&self) -> Result<u64> {
        run!(read, self, () => transparency::size)
    }
    async fn transparency_root(&self, size: u64) -> Result<[u8; 32]> {
        run!(read, self, (size) => transparency::root)
    }
    async fn transparency_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>> {
        run!(read, self, (from, limit) => transparency::entries)
    }
    async fn transparency_tile(&self, path: &str, size: u64) -> Result<Option<Vec<u8>>> {
        let path = path.to_string();
        run!(read, self, (path, size) => transparency::tile)
    }
    async fn transparency_prove_entry(&self, size: u64, n: u64) -> Result<Vec<[u8; 32]>> {
        run!(read, self, (size, n) => transparency::prove_entry)
    }
    async fn transparency_prove_consistency(&self, size: u64, old: u64) -> Result<Vec<[u8; 32]>> {
        run!(read, self, (size, old) => transparency::prove_consistency)
    }
    async fn seed_corpus(&self, spec: &crate::corpus::Spec, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<crate::corpus::Seeded> {
        crate::corpus::seed(self, spec, progress).await
    }
    async fn search_scope(&self, user: UserId, chat: Option<ChatId>) -> Result<Vec<ChatId>> {
        run!(read, self, (user, chat) => search::scope)
    }
    async fn visible_messages(&self, user: UserId, found: &[(ChatId, MessageId)]) -> Result<Vec<Message>> {
        let found = found.to_vec();
        run!(read, self, (user, found) => search::visible)
    }
    async fn directory(&self, query: &str, limit: u32) -> Result<Directory> {
        let query = query.to_string();
        run!(read, self, (query, limit) => search::directory)
    }
    async fn state(&self, user: UserId) -> Result<Pts> {
        run!(read, self, (user) => sync::state)
    }
    async fn difference(&self, user: UserId, pts: Pts, limit: u32) -> Result<Difference> {
        run!(read, self, (user, pts, limit) => sync::difference)
    }
    async fn chat_difference(&self, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> Result<Difference> {
        run!(read, self, (user, chat, pts, limit) => sync::chat_difference)
    }

    // account (#16): sealed phones.
    async fn phones_to_seal(&self, limit: u32) -> Result<Vec<(UserId, String)>> {
        run!(read, self, (limit) => accounts::phones_to_seal)
    }
    async fn seal_phone(&self, user: UserId, phone: &SealedPhone) -> Result<()> {
        let phone = phone.clone();
        run!(write, self, (user, phone) => accounts::seal_phone)
    }
    async fn sealed_phone(&self, user: UserId) -> Result<Option<Vec<u8>>> {
        run!(read, self, (user) => accounts::sealed_phone)
    }
    async fn settle_setting(&self, key: &str, value: &[u8]) -> Result<bool> {
        let (key, value) = (key.to_string(), value.to_vec());
        run!(write, self, (key, value) => accounts::settle_setting)
    }
    async fn compact(&self) -> Result<()> {
        Engine::compact(self).await
    }
    async fn report(&self, reporter: UserId, report: NewReport) -> Result<Report> {
        run!(write, self, (reporter, report) => moderation::report)
    }
    async fn reports(&self, open_only: bool, after: i64, limit: u32) -> Result<Vec<Report>> {
        run!(read, self, (open_only, after, limit) => moderation::reports)
    }
    async fn report_by_id(&self, id: i64) -> Result<Option<Report>> {
        run!(read, self, (id) => moderation::report_by_id)
    }
    async fn user_reports(&self, user: UserId, limit: u32) -> Result<(Vec<Report>, Vec<Report>)> {
        run!(read, self, (user, limit) => moderation::user_reports)
    }
    async fn sanctions(&self, user: UserId) -> Result<Vec<Sanction>> {
        run!(read, self, (user) => moderation::sanctions)
    }
    async fn moderate(&self, action: Action) -> Result<Moderated> {
        run!(write, self, (action) => moderation::moderate)
    }
    async fn audit_log(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        run!(read, self, (after, limit) => moderation::audit_log)
    }

    // --- secret chats (#15) ---
    async fn upload_key_packages(&self, user: UserId, upload: KeyPackageUpload) -> Result<u64> {
        run!(write, self, (user, upload) => secret::upload_key_packages)
    }
    async fn key_package_count(&self, user: UserId, device: SessionId) -> Result<u64> {
        run!(read, self, (user, device) => secret::key_package_count)
    }
    async fn claim_key_packages(&self, users: &[UserId], except: SessionId) -> Result<Vec<ClaimedKeyPackage>> {
        let users = users.to_vec();
        run!(write, self, (users, except) => secret::claim_key_packages)
    }
    async fn mls_devices(&self, users: &[UserId]) -> Result<Vec<MlsDevice>> {
        let users = users.to_vec();
        run!(read, self, (users) => secret::devices)
    }
    async fn create_secret(&self, creator: UserId, title: &Title, start: MlsGroup) -> Result<Chat> {
        let title = title.clone();
        run!(write, self, (creator, title, start) => secret::create_secret)
    }
    async fn mls_group(&self, actor: UserId, chat: ChatId) -> Result<MlsGroup> {
        run!(read, self, (actor, chat) => secret::group_of)
    }
    async fn secret_chats(&self, user: UserId) -> Result<Vec<(ChatId, u64)>> {
        run!(read, self, (user) => secret::secret_chats)
    }
    async fn mls_commit(&self, actor: UserId, chat: ChatId, commit: MlsCommit) -> Result<MlsSent> {
        run!(write, self, (actor, chat, commit) => secret::commit)
    }
    async fn mls_send(&self, actor: UserId, chat: ChatId, send: MlsSend) -> Result<MlsSent> {
        run!(write, self, (actor, chat, send) => secret::send)
    }
    async fn mls_history(&self, actor: UserId, chat: ChatId, after: MessageId, limit: u32) -> Result<Vec<MlsMessage>> {
        run!(read, self, (actor, chat, after, limit) => secret::history)
    }
}
