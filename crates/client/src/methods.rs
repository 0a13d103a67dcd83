//! One typed method per protocol method (`heliograph_proto::Request::METHODS`), in protocol
//! order. Each says which wire method it calls; the semantics are documented on the
//! matching [`Request`] variant. Methods whose result is the empty `Ok` return `()`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use heliograph_proto::method::Direction;
use heliograph_proto::{AuditEntry, Report, ReportCase};
use heliograph_proto::{
    Authorization, BotToken, CallbackAnswer, Chat, CreatedBot, DialogCursor, Dialogs, Difference, InviteLink, Member, Message,
    MessageReactions, Peer, PhonePrivacy, Privacy, ReactionType, Request, SendKind, Sent, SentCode, Session, State, User,
};
use heliograph_proto::{ClaimedKeyPackage, KeyPackageCount, SecretChatState, SecretDevice, SecretGroupInfo, SecretMessage, SecretSent};
use heliograph_proto::{Directory, SearchResults};

use crate::client::Client;
use crate::error::ClientError;

/// A fresh `random_id` for a send. Zero is avoided so that it can never be mistaken for an
/// unset value by a server or a log reader.
pub fn random_id() -> i64 {
    loop {
        let id: i64 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

impl Client {
    /// Calls a method whose result is the empty `Ok`.
    async fn call_ok(&self, request: Request) -> Result<(), ClientError> {
        self.call_as::<heliograph_proto::Ok>(request).await.map(|_| ())
    }

    // --- auth ---

    /// `auth.send_code`: sends a login code to `phone` (E.164, `+...`).
    pub async fn send_code(&self, phone: &str) -> Result<SentCode, ClientError> {
        self.call_as(Request::SendCode { phone: phone.into() }).await
    }

    /// `auth.sign_in`: signs in with the code; `name` is required on a phone's first sign-in
    /// (else `NAME_REQUIRED`), `device` names this session in `account.sessions`. On success
    /// the client keeps the token ([`Client::token`]) and re-authorizes with it on reconnect,
    /// and starts following updates.
    pub async fn sign_in(&self, phone: &str, code: &str, name: Option<&str>, device: Option<&str>) -> Result<Authorization, ClientError> {
        self.call_as(Request::SignIn { phone: phone.into(), code: code.into(), name: name.map(Into::into), device: device.map(Into::into) })
            .await
    }

    /// `auth.authorize`: binds this connection to an existing session by `token`, which the
    /// client then keeps like a sign-in's. Rarely needed: [`crate::Config::token`] does this
    /// on every connection.
    pub async fn authorize(&self, token: &str) -> Result<User, ClientError> {
        self.call_as(Request::Authorize { token: token.into() }).await
    }

    /// `auth.log_out`: ends this session; the client forgets its token.
    pub async fn log_out(&self) -> Result<(), ClientError> {
        self.call_ok(Request::LogOut {}).await
    }

    // --- account ---

    /// `account.sessions`: your signed-in devices.
    pub async fn sessions(&self) -> Result<Vec<Session>, ClientError> {
        self.call_as(Request::GetSessions {}).await
    }

    /// `account.revoke_session`: ends one of your sessions.
    pub async fn revoke_session(&self, session_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::RevokeSession { session_id }).await
    }

    /// `account.update_profile`: changes your name and/or bio (`Some("")` clears the bio).
    pub async fn update_profile(&self, name: Option<&str>, bio: Option<&str>) -> Result<User, ClientError> {
        self.call_as(Request::UpdateProfile { name: name.map(Into::into), bio: bio.map(Into::into) }).await
    }

    /// `account.set_username`: sets your `@username`, or clears it with `None`.
    pub async fn set_username(&self, username: Option<&str>) -> Result<User, ClientError> {
        self.call_as(Request::SetUsername { username: username.map(Into::into) }).await
    }

    /// `account.set_privacy`: who may find you by your phone number.
    pub async fn set_privacy(&self, find_by_phone: PhonePrivacy) -> Result<Privacy, ClientError> {
        self.call_as(Request::SetPrivacy { find_by_phone }).await
    }

    /// `account.privacy`: your privacy settings.
    pub async fn privacy(&self) -> Result<Privacy, ClientError> {
        self.call_as(Request::GetPrivacy {}).await
    }

    // --- bots ---

    /// `bots.create`: a bot account you own; `username` must end in `bot`. The token in the
    /// answer (`"<bot id>:<secret>"`) is the bot's identity on the Bot API: keep it secret.
    pub async fn create_bot(&self, name: &str, username: &str) -> Result<CreatedBot, ClientError> {
        self.call_as(Request::CreateBot { name: name.into(), username: username.into() }).await
    }

    /// `bots.list`: the bots you own, oldest first.
    pub async fn bots(&self) -> Result<Vec<User>, ClientError> {
        self.call_as(Request::GetBots {}).await
    }

    /// `bots.revoke_token`: a new token for one of your bots; the old one stops working.
    pub async fn revoke_bot_token(&self, bot_id: i64) -> Result<BotToken, ClientError> {
        self.call_as(Request::RevokeBotToken { bot_id }).await
    }

    // --- users and contacts ---

    /// `users.get_me`: yourself, with your phone number.
    pub async fn get_me(&self) -> Result<User, ClientError> {
        self.call_as(Request::GetMe {}).await
    }

    /// `users.get`: the users among `ids` that exist.
    pub async fn get_users(&self, ids: &[i64]) -> Result<Vec<User>, ClientError> {
        self.call_as(Request::GetUsers { ids: ids.to_vec() }).await
    }

    /// `contacts.resolve`: a user or public channel by `@username` (with or without the `@`,
    /// as the server accepts it). A channel found this way is not followed until joined.
    pub async fn resolve(&self, username: &str) -> Result<Peer, ClientError> {
        self.call_as(Request::Resolve { username: username.into() }).await
    }

    /// `contacts.list`: your contacts.
    pub async fn get_contacts(&self) -> Result<Vec<User>, ClientError> {
        self.call_as(Request::GetContacts {}).await
    }

    /// `contacts.add` by phone number.
    pub async fn add_contact_by_phone(&self, phone: &str) -> Result<User, ClientError> {
        self.call_as(Request::AddContact { phone: Some(phone.into()), username: None }).await
    }

    /// `contacts.add` by `@username`.
    pub async fn add_contact_by_username(&self, username: &str) -> Result<User, ClientError> {
        self.call_as(Request::AddContact { phone: None, username: Some(username.into()) }).await
    }

    /// `contacts.remove`.
    pub async fn remove_contact(&self, user_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::RemoveContact { user_id }).await
    }

    /// `contacts.block`: the user can no longer message you.
    pub async fn block(&self, user_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::Block { user_id }).await
    }

    /// `contacts.unblock`.
    pub async fn unblock(&self, user_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::Unblock { user_id }).await
    }

    /// `contacts.blocked`: the users you blocked.
    pub async fn get_blocked(&self) -> Result<Vec<User>, ClientError> {
        self.call_as(Request::GetBlocked {}).await
    }

    // --- chats ---

    /// `chats.dialogs`: one page of the dialog list, most recent first; pass the previous
    /// page's `next` as `offset`. Channels and large groups in it are followed.
    pub async fn get_dialogs(&self, limit: Option<u32>, offset: Option<DialogCursor>) -> Result<Dialogs, ClientError> {
        self.call_as(Request::GetDialogs { limit, offset }).await
    }

    /// `chats.get`. A chat with its own log that you are a member of is followed.
    pub async fn get_chat(&self, chat_id: i64) -> Result<Chat, ClientError> {
        self.call_as(Request::GetChat { chat_id }).await
    }

    /// `chats.open_private`: the private chat with `user_id`, created on first use.
    pub async fn open_private(&self, user_id: i64) -> Result<Chat, ClientError> {
        self.call_as(Request::OpenPrivate { user_id }).await
    }

    /// `chats.create_group`: a group with you as creator and `user_ids` as members.
    pub async fn create_group(&self, title: &str, user_ids: &[i64]) -> Result<Chat, ClientError> {
        self.call_as(Request::CreateGroup { title: title.into(), user_ids: user_ids.to_vec() }).await
    }

    /// `chats.create_channel`: public (joinable by name) with a `username`. It is followed.
    pub async fn create_channel(&self, title: &str, username: Option<&str>) -> Result<Chat, ClientError> {
        self.call_as(Request::CreateChannel { title: title.into(), username: username.map(Into::into) }).await
    }

    /// `chats.add_members` (admins).
    pub async fn add_members(&self, chat_id: i64, user_ids: &[i64]) -> Result<Chat, ClientError> {
        self.call_as(Request::AddMembers { chat_id, user_ids: user_ids.to_vec() }).await
    }

    /// `chats.remove_member` (admins).
    pub async fn remove_member(&self, chat_id: i64, user_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::RemoveMember { chat_id, user_id }).await
    }

    /// `chats.leave`. The chat's own log, if any, is no longer followed.
    pub async fn leave(&self, chat_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::Leave { chat_id }).await
    }

    /// `chats.set_title` (admins).
    pub async fn set_title(&self, chat_id: i64, title: &str) -> Result<Chat, ClientError> {
        self.call_as(Request::SetTitle { chat_id, title: title.into() }).await
    }

    /// `chats.set_admin` (creator): makes `user_id` an admin (`admin = true`) or a member.
    pub async fn set_admin(&self, chat_id: i64, user_id: i64, admin: bool) -> Result<(), ClientError> {
        self.call_ok(Request::SetAdmin { chat_id, user_id, admin }).await
    }

    /// `chats.restrict` (admins, groups): what `user_id` may send from now on, until `until`
    /// (unix seconds) or for ever; [`SendKind::ALL`] lifts the restriction.
    pub async fn restrict(&self, chat_id: i64, user_id: i64, can_send: &[SendKind], until: Option<i64>) -> Result<(), ClientError> {
        self.call_ok(Request::Restrict { chat_id, user_id, can_send: can_send.to_vec(), until }).await
    }

    /// `chats.ban` (admins): removes `user_id` and keeps them out until `until` or an unban.
    pub async fn ban(&self, chat_id: i64, user_id: i64, until: Option<i64>) -> Result<(), ClientError> {
        self.call_ok(Request::Ban { chat_id, user_id, until }).await
    }

    /// `chats.unban` (admins): lifts a ban.
    pub async fn unban(&self, chat_id: i64, user_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::Unban { chat_id, user_id }).await
    }

    /// `chats.members`: one page of members from `offset`.
    pub async fn get_members(&self, chat_id: i64, offset: u32, limit: Option<u32>) -> Result<Vec<Member>, ClientError> {
        self.call_as(Request::GetMembers { chat_id, offset, limit }).await
    }

    /// `chats.export_invite` (admins): an invite link for [`Client::join_by_invite`].
    pub async fn export_invite(&self, chat_id: i64) -> Result<InviteLink, ClientError> {
        self.call_as(Request::ExportInvite { chat_id }).await
    }

    /// `chats.join` by invite link. The chat is followed.
    pub async fn join_by_invite(&self, invite: &str) -> Result<Chat, ClientError> {
        self.call_as(Request::Join { invite: Some(invite.into()), username: None }).await
    }

    /// `chats.join` a public channel by `@username`. The channel is followed.
    pub async fn join_by_username(&self, username: &str) -> Result<Chat, ClientError> {
        self.call_as(Request::Join { invite: None, username: Some(username.into()) }).await
    }

    // --- messages ---

    /// `messages.send` with a fresh random id. The result means the message is durably
    /// stored. On [`ClientError::Disconnected`] or [`ClientError::Timeout`] it is unknown
    /// whether it was: retry with [`Client::send_message_with_random_id`] and the same id
    /// (the server returns the original, never a duplicate). To know the id up front, make
    /// one with [`random_id`] and call that method directly.
    pub async fn send_message(&self, chat_id: i64, text: &str, reply_to: Option<i64>) -> Result<Sent, ClientError> {
        self.send_message_with_random_id(chat_id, random_id(), text, reply_to).await
    }

    /// `messages.send` with the caller's `random_id`: the same id always yields the same
    /// message, so retrying after a failure is safe.
    pub async fn send_message_with_random_id(
        &self,
        chat_id: i64,
        random_id: i64,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<Sent, ClientError> {
        self.call_as(Request::SendMessage { chat_id, random_id, text: text.into(), reply_to }).await
    }

    /// `messages.send_media`: sends an uploaded file (see [`crate::files`]). Retrying with the
    /// same `random_id` returns the original message.
    pub async fn send_media(
        &self,
        chat_id: i64,
        random_id: i64,
        file_id: i64,
        kind: heliograph_proto::MediaKind,
        caption: Option<&str>,
    ) -> Result<Sent, ClientError> {
        self.call_as(Request::SendMedia { chat_id, random_id, file_id, kind, caption: caption.map(str::to_string), reply_to: None }).await
    }

    /// `messages.forward` with fresh random ids (one per message).
    pub async fn forward_messages(&self, from_chat_id: i64, ids: &[i64], to_chat_id: i64) -> Result<Vec<Sent>, ClientError> {
        let random_ids: Vec<i64> = ids.iter().map(|_| random_id()).collect();
        self.forward_messages_with_random_ids(from_chat_id, ids, to_chat_id, &random_ids).await
    }

    /// `messages.forward` with the caller's random ids (one per message, same order), so
    /// that retrying is safe.
    pub async fn forward_messages_with_random_ids(
        &self,
        from_chat_id: i64,
        ids: &[i64],
        to_chat_id: i64,
        random_ids: &[i64],
    ) -> Result<Vec<Sent>, ClientError> {
        self.call_as(Request::Forward { from_chat_id, ids: ids.to_vec(), to_chat_id, random_ids: random_ids.to_vec() }).await
    }

    /// `messages.edit` (author only).
    pub async fn edit_message(&self, chat_id: i64, id: i64, text: &str) -> Result<Message, ClientError> {
        self.call_as(Request::Edit { chat_id, id, text: text.into() }).await
    }

    /// `messages.delete` for yourself only.
    pub async fn delete_messages_for_me(&self, chat_id: i64, ids: &[i64]) -> Result<(), ClientError> {
        self.call_ok(Request::Delete { chat_id, ids: ids.to_vec(), for_everyone: false }).await
    }

    /// `messages.delete` for everyone (the author, or an admin in groups and channels).
    pub async fn delete_messages_for_everyone(&self, chat_id: i64, ids: &[i64]) -> Result<(), ClientError> {
        self.call_ok(Request::Delete { chat_id, ids: ids.to_vec(), for_everyone: true }).await
    }

    /// `messages.pin`: pins message `id`, or unpins with `None`.
    pub async fn pin_message(&self, chat_id: i64, id: Option<i64>) -> Result<(), ClientError> {
        self.call_ok(Request::Pin { chat_id, id }).await
    }

    /// `messages.react`: sets your reactions on message `id` to exactly `reactions` (empty:
    /// takes yours away). Answers the message's reactions as they stand.
    pub async fn react(&self, chat_id: i64, id: i64, reactions: &[ReactionType]) -> Result<MessageReactions, ClientError> {
        self.call_as(Request::React { chat_id, id, reactions: reactions.to_vec() }).await
    }

    /// `messages.save_draft`: keeps `text` as your draft in the chat (your other devices see
    /// it), or clears it with `None`.
    pub async fn save_draft(&self, chat_id: i64, text: Option<&str>, reply_to: Option<i64>) -> Result<(), ClientError> {
        self.call_ok(Request::SaveDraft { chat_id, text: text.map(str::to_owned), reply_to }).await
    }

    /// `messages.read`: marks the chat read up to `max_id` (the newest message with `None`).
    pub async fn read_history(&self, chat_id: i64, max_id: Option<i64>) -> Result<(), ClientError> {
        self.call_ok(Request::ReadHistory { chat_id, max_id }).await
    }

    /// `messages.typing`: tells the other members you are typing.
    pub async fn set_typing(&self, chat_id: i64) -> Result<(), ClientError> {
        self.call_ok(Request::SetTyping { chat_id }).await
    }

    /// `messages.history`: a page of messages, oldest to newest, from `from_id` (exclusive)
    /// in `direction`, or the newest (`Older`) / the first (`Newer`) without it.
    pub async fn history(
        &self,
        chat_id: i64,
        from_id: Option<i64>,
        direction: Direction,
        limit: Option<u32>,
    ) -> Result<Vec<Message>, ClientError> {
        self.call_as(Request::GetHistory { chat_id, from_id, direction, limit }).await
    }

    /// `messages.press_button`: presses the callback button carrying `data` under a bot's
    /// message and returns the bot's answer (empty with `alert: false` when the bot did not
    /// answer within the server's wait, 10 s).
    pub async fn press_button(&self, chat_id: i64, message_id: i64, data: &str) -> Result<CallbackAnswer, ClientError> {
        self.call_as(Request::PressButton { chat_id, message_id, data: data.into() }).await
    }

    // --- updates (the client already follows these itself; for tools and tests) ---

    /// `updates.get_state`: where your log stands now.
    pub async fn get_state(&self) -> Result<State, ClientError> {
        self.call_as(Request::GetState {}).await
    }

    /// `updates.get_difference`: raw access to your log after `pts`. The client's own sync is
    /// not affected: its updates come from [`crate::Updates`].
    pub async fn get_difference(&self, pts: i64, limit: Option<u32>) -> Result<Difference, ClientError> {
        self.call_as(Request::GetDifference { pts, limit }).await
    }

    /// `updates.get_chat_difference`: raw access to a chat's own log after `pts`.
    pub async fn get_chat_difference(&self, chat_id: i64, pts: i64, limit: Option<u32>) -> Result<Difference, ClientError> {
        self.call_as(Request::GetChatDifference { chat_id, pts, limit }).await
    }

    // --- reports and moderation (account, #16) ---

    /// `messages.report`: reports message `message_id` of `chat_id` for `reason` (`spam`,
    /// `violence`, `child_abuse`, `illegal_goods`, `other`), sharing `context` (other message
    /// ids of the chat).
    pub async fn report_message(
        &self,
        chat_id: i64,
        message_id: i64,
        reason: &str,
        comment: Option<&str>,
        context: &[i64],
    ) -> Result<Report, ClientError> {
        self.call_as(Request::ReportMessage {
            chat_id,
            message_id,
            reason: reason.into(),
            comment: comment.map(Into::into),
            context: context.to_vec(),
        })
        .await
    }

    /// `moderation.reports` (operators): open reports after `after`, or all with `all`.
    pub async fn moderation_reports(&self, all: bool, after: Option<i64>, limit: Option<u32>) -> Result<Vec<Report>, ClientError> {
        self.call_as(Request::GetReports { all, after, limit }).await
    }

    // --- search (#17) ---

    /// `messages.search`: messages you can read matching `q` (all words; `"a phrase"`; the
    /// last word also as a prefix), best first, narrowed by `filter`; `offset` from the
    /// previous page's `next_offset`.
    pub async fn search_messages(
        &self,
        q: &str,
        filter: &SearchFilter,
        offset: u32,
        limit: Option<u32>,
    ) -> Result<SearchResults, ClientError> {
        let SearchFilter { chat_id, from_id, kind, min_date, max_date } = filter.clone();
        self.call_as(Request::SearchMessages { q: q.into(), chat_id, from_id, kind, min_date, max_date, offset, limit }).await
    }

    /// `contacts.search`: people by name or username and public groups and channels.
    pub async fn search_directory(&self, q: &str, limit: Option<u32>) -> Result<Directory, ClientError> {
        self.call_as(Request::SearchDirectory { q: q.into(), limit }).await
    }

    /// `moderation.report` (operators): one report with both parties' histories.
    pub async fn moderation_report(&self, report_id: i64) -> Result<ReportCase, ClientError> {
        self.call_as(Request::GetReport { report_id }).await
    }

    /// `moderation.act` (operators): `action` on the targets given, for `reason`.
    pub async fn moderate(&self, action: &str, reason: &str, target: ModerationTarget) -> Result<AuditEntry, ClientError> {
        let ModerationTarget { report_id, user_id, chat_id, message_id, until } = target;
        self.call_as(Request::Moderate { action: action.into(), reason: reason.into(), report_id, user_id, chat_id, message_id, until })
            .await
    }

    /// `moderation.audit_log` (operators): entries after `after`, oldest first.
    pub async fn audit_log(&self, after: Option<i64>, limit: Option<u32>) -> Result<Vec<AuditEntry>, ClientError> {
        self.call_as(Request::GetAuditLog { after, limit }).await
    }

    // --- secret chats (MLS, #15). MLS bytes go in as their RFC 9420 encoding; the SDK sends
    // them as standard base64, and answers carry them so (`data`, `key_package`, ...). ---

    /// `secret.upload_key_packages`: this device's one-time key packages, and a replacement
    /// for its last-resort one.
    pub async fn upload_key_packages(&self, key_packages: &[Vec<u8>], last_resort: Option<&[u8]>) -> Result<KeyPackageCount, ClientError> {
        let key_packages = key_packages.iter().map(|k| B64.encode(k)).collect();
        self.call_as(Request::UploadKeyPackages { key_packages, last_resort: last_resort.map(|k| B64.encode(k)) }).await
    }

    /// `secret.key_package_count`: this device's one-time key packages left.
    pub async fn key_package_count(&self) -> Result<KeyPackageCount, ClientError> {
        self.call_as(Request::GetKeyPackageCount {}).await
    }

    /// `secret.claim_key_packages`: one key package for each device of `user_ids` but this one.
    pub async fn claim_key_packages(&self, user_ids: &[i64]) -> Result<Vec<ClaimedKeyPackage>, ClientError> {
        self.call_as(Request::ClaimKeyPackages { user_ids: user_ids.to_vec() }).await
    }

    /// `secret.devices`: the MLS devices of `user_ids` and their signature keys.
    pub async fn secret_devices(&self, user_ids: &[i64]) -> Result<Vec<SecretDevice>, ClientError> {
        self.call_as(Request::GetSecretDevices { user_ids: user_ids.to_vec() }).await
    }

    /// `secret.create`: a secret chat from a new group's GroupInfo (epoch 0).
    pub async fn create_secret(&self, title: Option<&str>, group_info: &[u8]) -> Result<Chat, ClientError> {
        self.call_as(Request::CreateSecret { title: title.map(Into::into), group_info: B64.encode(group_info) }).await
    }

    /// `secret.group_info`: the group's newest GroupInfo and ratchet tree.
    pub async fn secret_group_info(&self, chat_id: i64) -> Result<SecretGroupInfo, ClientError> {
        self.call_as(Request::GetGroupInfo { chat_id }).await
    }

    /// `secret.commit`: a commit for the current epoch with the next epoch's GroupInfo and,
    /// when it adds devices, their Welcome. `COMMIT_CONFLICT` (with `epoch`) when another won.
    pub async fn secret_commit(
        &self,
        chat_id: i64,
        commit: &[u8],
        group_info: &[u8],
        welcome: Option<&[u8]>,
    ) -> Result<SecretSent, ClientError> {
        self.call_as(Request::SecretCommit {
            chat_id,
            commit: B64.encode(commit),
            group_info: B64.encode(group_info),
            welcome: welcome.map(|w| B64.encode(w)),
        })
        .await
    }

    /// `secret.send`: an MLS application message; idempotent by `random_id`.
    pub async fn secret_send(&self, chat_id: i64, random_id: i64, message: &[u8]) -> Result<SecretSent, ClientError> {
        self.call_as(Request::SecretSend { chat_id, random_id, message: B64.encode(message) }).await
    }

    /// `secret.history`: the chat's MLS messages after `after_id`, oldest first.
    pub async fn secret_history(&self, chat_id: i64, after_id: i64, limit: Option<u32>) -> Result<Vec<SecretMessage>, ClientError> {
        self.call_as(Request::SecretHistory { chat_id, after_id, limit }).await
    }

    /// `secret.chats`: your secret chats and their epochs.
    pub async fn secret_chats(&self) -> Result<Vec<SecretChatState>, ClientError> {
        self.call_as(Request::GetSecretChats {}).await
    }
}

/// What a [`Client::search_messages`] call narrows to; the default searches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub chat_id: Option<i64>,
    pub from_id: Option<i64>,
    /// `text`, `photo`, `video`, `audio`, `voice`, `file` or `link`.
    pub kind: Option<String>,
    /// Unix seconds, inclusive.
    pub min_date: Option<i64>,
    pub max_date: Option<i64>,
}

/// What a [`Client::moderate`] call acts on; a report fills in the targets it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModerationTarget {
    pub report_id: Option<i64>,
    pub user_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    /// Unix seconds, for sanctions.
    pub until: Option<i64>,
}
