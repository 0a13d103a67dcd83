//! Every method a client can call. The method name is the `method` field of the frame; the
//! variant's fields are its `params`. Results are documented on each variant.

use serde::{Deserialize, Serialize};

use crate::{
    error::Error,
    types::{DialogCursor, SendKind},
    ErrorCode,
};

/// Which way a history page runs from `from_id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Messages with ids below `from_id` (or the newest, without `from_id`).
    #[default]
    Older,
    /// Messages with ids above `from_id` (or from the first, without `from_id`).
    Newer,
}

macro_rules! requests {
    ($( $(#[$doc:meta])* $name:literal => $variant:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? } )*) => {
        /// A typed request. Serialized as `{"method": NAME, "params": {...}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "method", content = "params")]
        pub enum Request {
            $( $(#[$doc])* #[serde(rename = $name)] $variant { $( $(#[$fdoc])* $field : $ty ),* }, )*
        }

        impl Request {
            /// Every method name, in protocol order.
            pub const METHODS: &'static [&'static str] = &[$($name),*];

            /// This request's method name.
            pub fn method(&self) -> &'static str {
                match self { $( Request::$variant { .. } => $name, )* }
            }
        }
    };
}

requests! {
    /// Sends a one-time login code to `phone` (E.164). Result: `SentCode`.
    "auth.send_code" => SendCode { phone: String }
    /// Signs in with the code; creates the account on first sign-in (then `name` is required).
    /// Result: `Authorization`. The connection is signed in afterwards.
    "auth.sign_in" => SignIn {
        phone: String,
        code: String,
        #[serde(default)] name: Option<String>,
        #[serde(default)] device: Option<String>
    }
    /// Binds this connection to an existing session. Result: `User` (yourself).
    "auth.authorize" => Authorize { token: String }
    /// Ends the current session. Result: `Ok`.
    "auth.log_out" => LogOut {}
    /// Lists your sessions. Result: `[Session]`.
    "account.sessions" => GetSessions {}
    /// Ends one of your sessions; its live connections are closed. Result: `Ok`.
    "account.revoke_session" => RevokeSession { session_id: i64 }
    /// Changes name and/or bio (an empty bio clears it). Result: `User`.
    "account.update_profile" => UpdateProfile {
        #[serde(default)] name: Option<String>,
        #[serde(default)] bio: Option<String>
    }
    /// Sets or (with `null`) clears your `@username`. Result: `User`.
    "account.set_username" => SetUsername { #[serde(default)] username: Option<String> }
    /// Who may find you by your phone number (`contacts.add` with a `phone`). Result: `Privacy`.
    "account.set_privacy" => SetPrivacy { find_by_phone: crate::types::PhonePrivacy }
    /// Your privacy settings. Result: `Privacy`.
    "account.privacy" => GetPrivacy {}
    /// Creates a bot account you own (`name` as a display name, `username` must end in `bot`).
    /// Result: `CreatedBot` (the bot and its token, `"<bot id>:<secret>"`).
    "bots.create" => CreateBot { name: String, username: String }
    /// The bots you created, oldest first. Result: `[User]`.
    "bots.list" => GetBots {}
    /// Gives one of your bots a new token; the old one stops working at once. Result: `BotToken`.
    "bots.revoke_token" => RevokeBotToken { bot_id: i64 }
    /// Result: `User` (yourself, with phone).
    "users.get_me" => GetMe {}
    /// Result: `[User]` for the ids that exist.
    "users.get" => GetUsers { ids: Vec<i64> }
    /// Finds a user or public channel by `@username`. Result: `Peer`.
    "contacts.resolve" => Resolve { username: String }
    /// Result: `[User]`.
    "contacts.list" => GetContacts {}
    /// Adds a contact by phone number or username (exactly one). Result: `User`.
    "contacts.add" => AddContact {
        #[serde(default)] phone: Option<String>,
        #[serde(default)] username: Option<String>
    }
    /// Result: `Ok`.
    "contacts.remove" => RemoveContact { user_id: i64 }
    /// A blocked user cannot message you. Result: `Ok`.
    "contacts.block" => Block { user_id: i64 }
    /// Result: `Ok`.
    "contacts.unblock" => Unblock { user_id: i64 }
    /// Result: `[User]`.
    "contacts.blocked" => GetBlocked {}
    /// Dialog list, most recent activity first. Result: `Dialogs`.
    "chats.dialogs" => GetDialogs {
        #[serde(default)] limit: Option<u32>,
        #[serde(default)] offset: Option<DialogCursor>
    }
    /// Result: `Chat`.
    "chats.get" => GetChat { chat_id: i64 }
    /// The private chat with a user, created on first use. Result: `Chat`.
    "chats.open_private" => OpenPrivate { user_id: i64 }
    /// Result: `Chat` (you are its creator).
    "chats.create_group" => CreateGroup { title: String, #[serde(default)] user_ids: Vec<i64> }
    /// Result: `Chat`. With `username` the channel is public and anyone can join it by name.
    "chats.create_channel" => CreateChannel { title: String, #[serde(default)] username: Option<String> }
    /// Admins only. Result: `Chat`.
    "chats.add_members" => AddMembers { chat_id: i64, user_ids: Vec<i64> }
    /// Admins only (the creator cannot be removed). Result: `Ok`.
    "chats.remove_member" => RemoveMember { chat_id: i64, user_id: i64 }
    /// Result: `Ok`.
    "chats.leave" => Leave { chat_id: i64 }
    /// Admins only. Result: `Chat`.
    "chats.set_title" => SetTitle { chat_id: i64, title: String }
    /// Creator only. Result: `Ok`.
    "chats.set_admin" => SetAdmin { chat_id: i64, user_id: i64, admin: bool }
    /// Admins, groups only: what `user_id`, a member who is not an admin, may send from now
    /// on (`can_send`: the kinds allowed; empty: nothing; all of them lifts the restriction),
    /// until `until` (unix seconds) or for ever. Result: `Ok`.
    "chats.restrict" => Restrict {
        chat_id: i64,
        user_id: i64,
        can_send: Vec<SendKind>,
        #[serde(default)] until: Option<i64>
    }
    /// Admins: removes `user_id` (admins only by the creator) and keeps them out (joining by
    /// link or name refused) until `until` or `chats.unban`; an admin adding them lets them
    /// back. Result: `Ok`.
    "chats.ban" => Ban { chat_id: i64, user_id: i64, #[serde(default)] until: Option<i64> }
    /// Admins: lifts a ban. Result: `Ok`.
    "chats.unban" => Unban { chat_id: i64, user_id: i64 }
    /// Result: `[Member]`.
    "chats.members" => GetMembers {
        chat_id: i64,
        #[serde(default)] offset: u32,
        #[serde(default)] limit: Option<u32>
    }
    /// Admins only. Result: `InviteLink`.
    "chats.export_invite" => ExportInvite { chat_id: i64 }
    /// Joins by invite link or public `@name` (exactly one). Result: `Chat`.
    "chats.join" => Join {
        #[serde(default)] invite: Option<String>,
        #[serde(default)] username: Option<String>
    }
    /// Sends a text message. `random_id` makes retries safe: the same `random_id` from the
    /// same user returns the original message. Result: `Sent`, after the message is durable.
    "messages.send" => SendMessage {
        chat_id: i64,
        random_id: i64,
        text: String,
        #[serde(default)] reply_to: Option<i64>
    }
    /// Sends an uploaded file (`POST /files/uploads/{id}/complete` gave `file_id`) as `kind`
    /// (`photo` needs an image the server could read). You may send your own files and files
    /// you can see in your chats. Idempotent by `random_id` like `messages.send`. Result: `Sent`.
    "messages.send_media" => SendMedia {
        chat_id: i64,
        random_id: i64,
        file_id: i64,
        kind: crate::types::MediaKind,
        #[serde(default)] caption: Option<String>,
        #[serde(default)] reply_to: Option<i64>
    }
    /// Forwards messages, keeping their original author. One `random_id` per message.
    /// Result: `[Sent]`.
    "messages.forward" => Forward { from_chat_id: i64, ids: Vec<i64>, to_chat_id: i64, random_ids: Vec<i64> }
    /// Author only. Result: `Message`.
    "messages.edit" => Edit { chat_id: i64, id: i64, text: String }
    /// `for_everyone`: the author, or an admin in groups and channels. Result: `Ok`.
    "messages.delete" => Delete { chat_id: i64, ids: Vec<i64>, #[serde(default)] for_everyone: bool }
    /// Pins `id`, or unpins with `null`. Admins in groups and channels; both sides in private
    /// chats. Result: `Ok`.
    "messages.pin" => Pin { chat_id: i64, #[serde(default)] id: Option<i64> }
    /// Marks the chat read up to `max_id` (the top message when absent). Result: `Ok`.
    "messages.read" => ReadHistory { chat_id: i64, #[serde(default)] max_id: Option<i64> }
    /// Tells the other members you are typing (not stored). Result: `Ok`.
    "messages.typing" => SetTyping { chat_id: i64 }
    /// A page of history, always oldest to newest. Result: `[Message]`.
    "messages.history" => GetHistory {
        chat_id: i64,
        #[serde(default)] from_id: Option<i64>,
        #[serde(default)] direction: Direction,
        #[serde(default)] limit: Option<u32>
    }
    /// Presses the callback button carrying `data` under a bot's message, and waits (up to
    /// 10 s) for the bot's answer. Result: `CallbackAnswer` (`{"alert": false}` when the bot
    /// did not answer in time).
    "messages.press_button" => PressButton { chat_id: i64, message_id: i64, data: String }
    // daily use (#18)
    /// Sets your reactions on a message to exactly `reactions` (empty: takes yours away), at
    /// most 3, each one emoji or a custom emoji id. Members of the chat may react. Result:
    /// `MessageReactions`, as they stand after the change.
    "messages.react" => React { chat_id: i64, id: i64, #[serde(default)] reactions: Vec<crate::types::ReactionType> }
    /// Keeps `text` as your draft in the chat (synced to your other devices), or clears it when
    /// `text` is absent or blank. Sending a message in the chat clears it too. Result: `Ok`.
    "messages.save_draft" => SaveDraft {
        chat_id: i64,
        #[serde(default)] text: Option<String>,
        #[serde(default)] reply_to: Option<i64>
    }
    /// Searches the messages you can read (search, #17): all your chats, or `chat_id` only.
    /// `q`: words (all must match), `"a phrase"`, the last word also as a prefix. Filters:
    /// `from_id`, `kind` (`text`, `photo`, `video`, `audio`, `voice`, `file`, `link`),
    /// `min_date` / `max_date` (Unix seconds, inclusive). Best first (relevance and
    /// recency); `offset` + `limit` (1-100, default 20) page, up to 1,000 deep. Sees every
    /// message committed before the request. Result: `SearchResults`.
    "messages.search" => SearchMessages {
        q: String,
        #[serde(default)] chat_id: Option<i64>,
        #[serde(default)] from_id: Option<i64>,
        #[serde(default)] kind: Option<String>,
        #[serde(default)] min_date: Option<i64>,
        #[serde(default)] max_date: Option<i64>,
        #[serde(default)] offset: u32,
        #[serde(default)] limit: Option<u32>
    }
    /// People by name or username and public groups and channels by title or username
    /// (search, #17); a phone number finds an account only as `contacts.add` would (its
    /// owner's privacy setting, the lookup limits). Result: `Directory`.
    "contacts.search" => SearchDirectory { q: String, #[serde(default)] limit: Option<u32> }
    /// Result: `State`.
    "updates.get_state" => GetState {}
    /// Everything in your log after `pts`. Result: `Difference`.
    "updates.get_difference" => GetDifference { pts: i64, #[serde(default)] limit: Option<u32> }
    /// Everything in a chat's own log after `pts`. Result: `Difference`.
    "updates.get_chat_difference" => GetChatDifference {
        chat_id: i64,
        pts: i64,
        #[serde(default)] limit: Option<u32>
    }
    // --- account (#16): reports and moderation -----------------------------------------------
    /// Reports a message you can see in a cloud chat (`reason`: `spam`, `violence`,
    /// `child_abuse`, `illegal_goods`, `other`), with an optional `comment` and other messages
    /// of the chat shared as `context`. Reporting one message again returns the first report.
    /// Result: `Report`.
    "messages.report" => ReportMessage {
        chat_id: i64,
        message_id: i64,
        reason: String,
        #[serde(default)] comment: Option<String>,
        #[serde(default)] context: Vec<i64>
    }
    /// Operators only. Reports after `after` (oldest first); all of them with `all`, else
    /// the open ones. Result: `[Report]`.
    "moderation.reports" => GetReports {
        #[serde(default)] all: bool,
        #[serde(default)] after: Option<i64>,
        #[serde(default)] limit: Option<u32>
    }
    /// Operators only. One report with both parties' report histories. Result: `ReportCase`.
    "moderation.report" => GetReport { report_id: i64 }
    /// Operators only. Acts (`action`: `dismiss`, `delete_message`, `suspend`, `ban`,
    /// `restrict`, `take_down`) on a report, or on the account / chat / message given, for
    /// `reason`; sanctions last until `until` (unix seconds; required for `suspend`). Written
    /// to the audit log; the affected user is told in their chat with Moderation.
    /// Result: `AuditEntry`.
    "moderation.act" => Moderate {
        action: String,
        reason: String,
        #[serde(default)] report_id: Option<i64>,
        #[serde(default)] user_id: Option<i64>,
        #[serde(default)] chat_id: Option<i64>,
        #[serde(default)] message_id: Option<i64>,
        #[serde(default)] until: Option<i64>
    }
    /// Operators only. The audit log after entry `after`, oldest first. Result: `[AuditEntry]`.
    "moderation.audit_log" => GetAuditLog { #[serde(default)] after: Option<i64>, #[serde(default)] limit: Option<u32> }
    // --- secret chats (MLS, #15; docs/protocol.md §11). MLS bytes travel as standard base64
    // of their RFC 9420 TLS encoding (an `MLSMessage` unless said otherwise).
    /// Uploads key packages made on this device (`MLSMessage`s of wire format
    /// `mls_key_package`, ciphersuite 0x0001, credential naming your account and this
    /// session); `last_resort` (marked with the last_resort extension) replaces this device's
    /// last-resort package. Result: `KeyPackageCount`.
    "secret.upload_key_packages" => UploadKeyPackages {
        key_packages: Vec<String>,
        #[serde(default)] last_resort: Option<String>
    }
    /// How many one-time key packages this device has left. Result: `KeyPackageCount`.
    "secret.key_package_count" => GetKeyPackageCount {}
    /// One key package for each signed-in device of `user_ids` but your own current one
    /// (one-time packages are handed out once). Result: `[ClaimedKeyPackage]`.
    "secret.claim_key_packages" => ClaimKeyPackages { user_ids: Vec<i64> }
    /// The MLS devices of `user_ids` and their signature keys. Result: `[SecretDevice]`.
    "secret.devices" => GetSecretDevices { user_ids: Vec<i64> }
    /// Creates a secret chat from your new group's `group_info` (epoch 0, you its only
    /// member; the `ratchet_tree` extension included). Result: `Chat`.
    "secret.create" => CreateSecret { #[serde(default)] title: Option<String>, group_info: String }
    /// The group's newest GroupInfo and the server's ratchet tree (`RatchetTree`, TLS
    /// encoded), for joining. Result: `SecretGroupInfo`.
    "secret.group_info" => GetGroupInfo { chat_id: i64 }
    /// A commit (a public message) for the group's current epoch, with the GroupInfo of the
    /// epoch it starts and, when it adds devices, their Welcome (released after the commit).
    /// Result: `SecretSent`; `COMMIT_CONFLICT` (with `epoch`) when another commit won.
    "secret.commit" => SecretCommit {
        chat_id: i64,
        commit: String,
        group_info: String,
        #[serde(default)] welcome: Option<String>
    }
    /// An application message (a private message) for the current epoch. Idempotent by
    /// `random_id`. Result: `SecretSent`.
    "secret.send" => SecretSend { chat_id: i64, random_id: i64, message: String }
    /// MLS messages after `after_id`, oldest first. Result: `[SecretMessage]`.
    "secret.history" => SecretHistory { chat_id: i64, #[serde(default)] after_id: i64, #[serde(default)] limit: Option<u32> }
    /// Your secret chats and their epochs. Result: `[SecretChatState]`.
    "secret.chats" => GetSecretChats {}
}

impl Request {
    /// Types `params` for the method named `method`.
    pub fn parse(method: &str, params: serde_json::Value) -> Result<Request, Error> {
        if !Request::METHODS.contains(&method) {
            return Err(Error::new(ErrorCode::UnknownMethod, format!("there is no method `{method}`")));
        }
        let params = match params {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            p @ serde_json::Value::Object(_) => p,
            _ => return Err(Error::new(ErrorCode::BadParams, "`params` must be an object")),
        };
        serde_json::from_value(serde_json::json!({ "method": method, "params": params }))
            .map_err(|e| Error::new(ErrorCode::BadParams, format!("bad params for `{method}`: {e}")))
    }

    /// Whether this method may be called before signing in.
    pub fn is_public(&self) -> bool {
        matches!(self, Request::SendCode { .. } | Request::SignIn { .. } | Request::Authorize { .. })
    }

    /// The params object of this request.
    pub fn params(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(mut v) => v.get_mut("params").map(serde_json::Value::take).unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ClientFrame;

    fn check(text: &str, expect: Result<&str, ErrorCode>) {
        let got = ClientFrame::parse(text).map(|(_, r)| r.method()).map_err(|(_, e)| e.code);
        assert_eq!(got, expect, "{text}");
    }

    #[test]
    fn parse_table() {
        check(r#"{"id":1,"method":"users.get_me"}"#, Ok("users.get_me"));
        check(r#"{"id":1,"method":"users.get_me","params":{}}"#, Ok("users.get_me"));
        check(r#"{"id":1,"method":"messages.send","params":{"chat_id":1,"random_id":2,"text":"hi"}}"#, Ok("messages.send"));
        check(r#"{"id":1,"method":"messages.send","params":{"chat_id":"x","random_id":2,"text":"hi"}}"#, Err(ErrorCode::BadParams));
        check(r#"{"id":1,"method":"messages.send","params":{"chat_id":1}}"#, Err(ErrorCode::BadParams));
        check(r#"{"id":1,"method":"messages.send","params":[1]}"#, Err(ErrorCode::BadParams));
        check(r#"{"id":1,"method":"nope"}"#, Err(ErrorCode::UnknownMethod));
        check(r#"{"id":1}"#, Err(ErrorCode::BadRequest));
        check(r#"{"id":"1","method":"users.get_me"}"#, Err(ErrorCode::BadRequest));
        check("not json", Err(ErrorCode::BadRequest));
        check("[]", Err(ErrorCode::BadRequest));
    }

    #[test]
    fn every_method_round_trips_its_name() {
        for name in Request::METHODS {
            let err = Request::parse(name, serde_json::json!({})).err();
            assert!(err.is_none_or(|e| e.code == ErrorCode::BadParams), "{name}");
        }
    }
}
