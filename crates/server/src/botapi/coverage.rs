//! What this server offers of the Bot API, method by method, in the specification's order
//! (`spec/telegram-bot-api.json`): the one list that `docs/bot-api.md`'s conformance table is
//! generated from (`tests/botapi_conformance.rs`; `BLESS=1` rewrites the table), and the
//! words a method of the specification that is not offered is refused with ([`refusal`]).
//!
//! A method is offered exactly when [`super::methods::METHODS`] has a handler for it; the
//! conformance test checks this list against both the handlers and the specification, and
//! calls every offered method with each parameter it honours: the specification's fields
//! less those it [ignores](Coverage::ignores) or [refuses](Coverage::refuses).

/// How much of a method is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Answered as specified (differences in the notes).
    Supported,
    /// Answered, with what is missing in the notes.
    Partial,
    /// Refused with `404`, naming the method and why ([`refusal`]).
    NotOffered,
}

impl Status {
    /// As the documentation's table writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Supported => "supported",
            Status::Partial => "partial",
            Status::NotOffered => "not yet",
        }
    }
}

/// The parameters no sending method here uses, because the feature behind them does not
/// exist; accepted and ignored by the methods marked [`Coverage::common`].
pub const COMMON_OPTIONS: &[&str] = &[
    "business_connection_id",
    "message_thread_id",
    "direct_messages_topic_id",
    "disable_notification",
    "protect_content",
    "allow_paid_broadcast",
    "message_effect_id",
    "suggested_post_parameters",
];

#[derive(Debug, Clone, Copy)]
pub struct Coverage {
    pub method: &'static str,
    pub status: Status,
    /// Parameters accepted and ignored.
    pub ignores: &'static [&'static str],
    /// Parameters refused with `400` (they name a feature this server does not have).
    pub refuses: &'static [&'static str],
    /// Whether the method also ignores those of [`COMMON_OPTIONS`] it has.
    pub common: bool,
    /// Differences from Telegram; for a method not offered, why not.
    pub notes: &'static str,
}

const fn entry(method: &'static str, status: Status, notes: &'static str) -> Coverage {
    Coverage { method, status, ignores: &[], refuses: &[], common: false, notes }
}
const fn supported(method: &'static str, notes: &'static str) -> Coverage {
    entry(method, Status::Supported, notes)
}
const fn partial(method: &'static str, notes: &'static str) -> Coverage {
    entry(method, Status::Partial, notes)
}
const fn not_offered(method: &'static str, notes: &'static str) -> Coverage {
    entry(method, Status::NotOffered, notes)
}

impl Coverage {
    const fn ignoring(self, ignores: &'static [&'static str]) -> Coverage {
        Coverage { ignores, ..self }
    }
    const fn refusing(self, refuses: &'static [&'static str]) -> Coverage {
        Coverage { refuses, ..self }
    }
    const fn common(self) -> Coverage {
        Coverage { common: true, ..self }
    }

    /// Whether the method ignores parameter `name`.
    pub fn ignored(&self, name: &str) -> bool {
        self.ignores.contains(&name) || (self.common && COMMON_OPTIONS.contains(&name))
    }
}

/// The entry of `method` (matched case-insensitively, as Telegram matches method names).
pub fn of(method: &str) -> Option<&'static Coverage> {
    COVERAGE.iter().find(|c| c.method.eq_ignore_ascii_case(method))
}

/// Why `method` is not answered: a method of the specification this server does not offer,
/// or no method of the Bot API at all. Telegram answers an unknown method `404 Not Found`;
/// so does this server, and it says which method and why.
pub fn refusal(method: &str) -> String {
    match of(method) {
        Some(c) => format!("Not Found: method {} is not offered by this server ({})", c.method, c.notes),
        None => {
            // The name is the caller's: shown only as far as it could be a method name.
            let shown: String = method.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
            format!("Not Found: there is no method \"{shown}\" in the Bot API")
        }
    }
}

pub const COVERAGE: &[Coverage] = &[
    supported("getUpdates", "`update_id` is the position in the bot's log (gaps are normal); `timeout` at most 50 s; a second poller ends the first with 409"),
    partial("setWebhook", "`max_connections` kept and reported, but updates go one at a time; `http://` and any port accepted").ignoring(&["certificate", "ip_address"]),
    supported("deleteWebhook", ""),
    partial("getWebhookInfo", "`pending_update_count` is counted up to 10,000; no `ip_address` or `last_synchronization_error_date`"),
    supported("getMe", "`can_read_all_group_messages` and `supports_inline_queries` are always false"),
    supported("logOut", "a no-op: there is one server; the token stays valid"),
    supported("close", "a no-op, as `logOut`"),
    partial("sendMessage", "`reply_parameters` within the same chat only (`quote` ignored); see [keyboards](#keyboards-and-formatting)").ignoring(&["link_preview_options"]).common(),
    partial("forwardMessage", "").ignoring(&["video_start_timestamp"]).common(),
    not_offered("forwardMessages", "one at a time with `forwardMessage`"),
    partial("copyMessage", "`caption` only on a media message").ignoring(&["video_start_timestamp", "show_caption_above_media"]).common(),
    not_offered("copyMessages", "one at a time with `copyMessage`"),
    partial("sendPhoto", "upload or `file_id`, no URL").ignoring(&["has_spoiler", "show_caption_above_media"]).common(),
    not_offered("sendLivePhoto", "no live photos"),
    partial("sendAudio", "upload or `file_id`, no URL; `duration` is 0").ignoring(&["duration", "performer", "title", "thumbnail"]).common(),
    partial("sendDocument", "upload or `file_id`, no URL").ignoring(&["thumbnail", "disable_content_type_detection"]).common(),
    partial("sendVideo", "upload or `file_id`, no URL; `duration` is 0").ignoring(&["duration", "width", "height", "thumbnail", "cover", "start_timestamp", "has_spoiler", "supports_streaming", "show_caption_above_media"]).common(),
    not_offered("sendAnimation", "no animations; send the file with `sendDocument` or `sendVideo`"),
    partial("sendVoice", "upload or `file_id`, no URL; `duration` is 0").ignoring(&["duration"]).common(),
    not_offered("sendVideoNote", "no video notes"),
    not_offered("sendPaidMedia", "no paid media (no Stars)"),
    not_offered("sendMediaGroup", "no albums; send the files one by one"),
    not_offered("sendLocation", "no locations"),
    not_offered("sendVenue", "no venues"),
    not_offered("sendContact", "no shared contacts"),
    not_offered("sendPoll", "no polls"),
    not_offered("sendChecklist", "no checklists (no business accounts)"),
    not_offered("sendDice", "no dice"),
    not_offered("sendMessageDraft", "no drafts"),
    partial("sendChatAction", "every action shows as \"typing…\"").common(),
    supported("setMessageReaction", "one reaction at most, as for bots on Telegram; no paid reactions").ignoring(&["is_big"]),
    not_offered("getUserProfilePhotos", "no profile photos"),
    not_offered("getUserProfileAudios", "no profile audios"),
    not_offered("setUserEmojiStatus", "no emoji statuses"),
    supported("getFile", "`file_path` works for as long as the bot may see the file; no 20 MB limit"),
    partial("banChatMember", "groups and channels; a ban keeps the person out (joining by link refused) until lifted, `until_date` or an admin adding them; an `until_date` under 30 s or over 366 days away is for ever").ignoring(&["revoke_messages"]),
    supported("unbanChatMember", "as on Telegram, a member who was not banned is removed unless `only_if_banned`"),
    partial("restrictChatMember", "groups only, members who are not admins; `ChatPermissions` here are sending text, photos, videos, audios, documents and voice notes, its other fields are accepted and always `false` (members cannot do those things here); every client obeys (`messages.send` refuses)").ignoring(&["use_independent_chat_permissions"]),
    partial("promoteChatMember", "any right granted makes an administrator, none a member again: administrators' rights are one fixed set; only the chat's creator appoints administrators (a bot is one when a creator who leaves hands it the chat)"),
    not_offered("setChatAdministratorCustomTitle", "no admin titles"),
    not_offered("setChatMemberTag", "no member tags"),
    not_offered("banChatSenderChat", "no sender chats in groups"),
    not_offered("unbanChatSenderChat", "no sender chats in groups"),
    partial("setChatPermissions", "groups only; the same `ChatPermissions` as `restrictChatMember`").ignoring(&["use_independent_chat_permissions"]),
    partial("exportChatInviteLink", "the chat's one invite link, as people's clients show it, made on first use; exporting again answers the same link instead of revoking it"),
    not_offered("createChatInviteLink", "as `exportChatInviteLink`"),
    not_offered("editChatInviteLink", "as `exportChatInviteLink`"),
    not_offered("createChatSubscriptionInviteLink", "no subscriptions (no Stars)"),
    not_offered("editChatSubscriptionInviteLink", "no subscriptions (no Stars)"),
    not_offered("revokeChatInviteLink", "as `exportChatInviteLink`"),
    not_offered("approveChatJoinRequest", "no join requests"),
    not_offered("declineChatJoinRequest", "no join requests"),
    not_offered("answerChatJoinRequestQuery", "no join requests"),
    not_offered("sendChatJoinRequestWebApp", "no join requests, no Web Apps"),
    not_offered("setChatPhoto", "no chat photos"),
    not_offered("deleteChatPhoto", "no chat photos"),
    supported("setChatTitle", "the bot must be an admin"),
    supported("setChatDescription", "at most 255 visible characters; the bot must be an admin"),
    partial("pinChatMessage", "one pinned message per chat (a new pin replaces it)").common(),
    partial("unpinChatMessage", "a chat pins one message: `message_id`, if given, must name it").common(),
    not_offered("unpinAllChatMessages", "`unpinChatMessage` does the same here"),
    supported("leaveChat", ""),
    partial("getChat", "only `id`, `type`, `title` or `first_name`, `username`, `description`, `permissions` (groups) and the required fields: no `photo`, `pinned_message`, `invite_link`"),
    partial("getChatAdministrators", "administrators that are bots are always listed; at most 200").ignoring(&["return_bots"]),
    supported("getChatMemberCount", ""),
    partial("getChatMember", "statuses `creator`, `administrator`, `member`, `restricted`, `left` and `kicked`; an administrator's rights are a fixed set, not per admin; no `custom_title`"),
    not_offered("getUserPersonalChatMessages", "no personal chats"),
    not_offered("setChatStickerSet", "no stickers"),
    not_offered("deleteChatStickerSet", "no stickers"),
    not_offered("getForumTopicIconStickers", "no forum topics"),
    not_offered("createForumTopic", "no forum topics"),
    not_offered("editForumTopic", "no forum topics"),
    not_offered("closeForumTopic", "no forum topics"),
    not_offered("reopenForumTopic", "no forum topics"),
    not_offered("deleteForumTopic", "no forum topics"),
    not_offered("unpinAllForumTopicMessages", "no forum topics"),
    not_offered("editGeneralForumTopic", "no forum topics"),
    not_offered("closeGeneralForumTopic", "no forum topics"),
    not_offered("reopenGeneralForumTopic", "no forum topics"),
    not_offered("hideGeneralForumTopic", "no forum topics"),
    not_offered("unhideGeneralForumTopic", "no forum topics"),
    not_offered("unpinAllGeneralForumTopicMessages", "no forum topics"),
    partial("answerCallbackQuery", "the answer reaches the person only while their press waits (10 s); any well-formed query id of the bot is answered `true`, even a stale one").ignoring(&["cache_time"]),
    not_offered("answerGuestQuery", "no guest messages"),
    not_offered("getUserChatBoosts", "no boosts"),
    not_offered("getBusinessConnection", "no business accounts"),
    not_offered("getManagedBotToken", "no managed bots; owners use `helio bot token revoke`"),
    not_offered("replaceManagedBotToken", "no managed bots; owners use `helio bot token revoke`"),
    not_offered("getManagedBotAccessSettings", "no managed bots"),
    not_offered("setManagedBotAccessSettings", "no managed bots"),
    supported("setMyCommands", "kept per scope and language"),
    supported("deleteMyCommands", ""),
    supported("getMyCommands", "the list of exactly that scope and language, as in Telegram"),
    supported("setMyName", "without `language_code`, the bot's own name (as `getMe` and people see it); a name is 1 to 64 visible characters"),
    supported("getMyName", "a language without a name of its own gets the default one"),
    supported("setMyDescription", ""),
    supported("getMyDescription", "a language without a description of its own gets the default one"),
    supported("setMyShortDescription", "without `language_code`, the bot's bio, which people see on its profile"),
    supported("getMyShortDescription", "a language without a short description of its own gets the default one"),
    not_offered("setMyProfilePhoto", "no profile photos"),
    not_offered("removeMyProfilePhoto", "no profile photos"),
    partial("setChatMenuButton", "`commands` and `default` only: there are no Web Apps (`web_app` is refused)"),
    supported("getChatMenuButton", ""),
    supported("setMyDefaultAdministratorRights", "kept and answered by `getMyDefaultAdministratorRights`; clients do not suggest them yet"),
    supported("getMyDefaultAdministratorRights", ""),
    not_offered("getAvailableGifts", "no gifts"),
    not_offered("sendGift", "no gifts"),
    not_offered("giftPremiumSubscription", "no Premium"),
    not_offered("verifyUser", "no verification"),
    not_offered("verifyChat", "no verification"),
    not_offered("removeUserVerification", "no verification"),
    not_offered("removeChatVerification", "no verification"),
    not_offered("readBusinessMessage", "no business accounts"),
    not_offered("deleteBusinessMessages", "no business accounts"),
    not_offered("setBusinessAccountName", "no business accounts"),
    not_offered("setBusinessAccountUsername", "no business accounts"),
    not_offered("setBusinessAccountBio", "no business accounts"),
    not_offered("setBusinessAccountProfilePhoto", "no business accounts"),
    not_offered("removeBusinessAccountProfilePhoto", "no business accounts"),
    not_offered("setBusinessAccountGiftSettings", "no business accounts"),
    not_offered("getBusinessAccountStarBalance", "no business accounts"),
    not_offered("transferBusinessAccountStars", "no business accounts"),
    not_offered("getBusinessAccountGifts", "no business accounts"),
    not_offered("getUserGifts", "no gifts"),
    not_offered("getChatGifts", "no gifts"),
    not_offered("convertGiftToStars", "no gifts"),
    not_offered("upgradeGift", "no gifts"),
    not_offered("transferGift", "no gifts"),
    not_offered("postStory", "no stories"),
    not_offered("repostStory", "no stories"),
    not_offered("editStory", "no stories"),
    not_offered("deleteStory", "no stories"),
    not_offered("answerWebAppQuery", "no Web Apps"),
    not_offered("savePreparedInlineMessage", "no inline mode"),
    not_offered("savePreparedKeyboardButton", "no prepared buttons"),
    partial("editMessageText", "leaving out `reply_markup` removes the keyboard, as in Telegram").ignoring(&["link_preview_options", "rich_message"]).refusing(&["inline_message_id"]).common(),
    partial("editMessageCaption", "a caption can't be removed (an empty one is refused)").ignoring(&["show_caption_above_media"]).refusing(&["inline_message_id"]).common(),
    not_offered("editMessageMedia", "send a new message instead"),
    not_offered("editMessageLiveLocation", "no locations"),
    not_offered("stopMessageLiveLocation", "no locations"),
    not_offered("editMessageChecklist", "no checklists"),
    partial("editMessageReplyMarkup", "").refusing(&["inline_message_id"]).common(),
    not_offered("stopPoll", "no polls"),
    not_offered("approveSuggestedPost", "no suggested posts"),
    not_offered("declineSuggestedPost", "no suggested posts"),
    supported("deleteMessage", "its own messages anywhere; others' in groups and channels where it is an admin"),
    partial("deleteMessages", "messages that can't be found are skipped, as in Telegram; fails only when none is found; deletes for everyone only (the store's one mode for bots)"),
    not_offered("deleteMessageReaction", "no reactions"),
    not_offered("deleteAllMessageReactions", "no reactions"),
    not_offered("sendSticker", "no stickers"),
    not_offered("getStickerSet", "no stickers"),
    not_offered("getCustomEmojiStickers", "no stickers"),
    not_offered("uploadStickerFile", "no stickers"),
    not_offered("createNewStickerSet", "no stickers"),
    not_offered("addStickerToSet", "no stickers"),
    not_offered("setStickerPositionInSet", "no stickers"),
    not_offered("deleteStickerFromSet", "no stickers"),
    not_offered("replaceStickerInSet", "no stickers"),
    not_offered("setStickerEmojiList", "no stickers"),
    not_offered("setStickerKeywords", "no stickers"),
    not_offered("setStickerMaskPosition", "no stickers"),
    not_offered("setStickerSetTitle", "no stickers"),
    not_offered("setStickerSetThumbnail", "no stickers"),
    not_offered("setCustomEmojiStickerSetThumbnail", "no stickers"),
    not_offered("deleteStickerSet", "no stickers"),
    not_offered("sendRichMessage", "no rich messages"),
    not_offered("sendRichMessageDraft", "no rich messages, no drafts"),
    not_offered("answerInlineQuery", "no inline mode"),
    not_offered("sendInvoice", "no payments"),
    not_offered("createInvoiceLink", "no payments"),
    not_offered("answerShippingQuery", "no payments"),
    not_offered("answerPreCheckoutQuery", "no payments"),
    not_offered("getMyStarBalance", "no Stars"),
    not_offered("getStarTransactions", "no Stars"),
    not_offered("refundStarPayment", "no Stars"),
    not_offered("editUserStarSubscription", "no Stars"),
    not_offered("setPassportDataErrors", "no Telegram Passport"),
    not_offered("sendGame", "no games"),
    not_offered("setGameScore", "no games"),
    not_offered("getGameHighScores", "no games"),
];
