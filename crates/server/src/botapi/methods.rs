//! One function per Bot API method, and the table that names them ([`find`]).
//!
//! Each runs as the bot through the store commands people use, so the store's authorization
//! applies unchanged: a chat the bot is not in answers `chat not found`.

use std::future::Future;
use std::pin::Pin;

use heliograph_core::*;
use heliograph_store::{Draft, Edit, Resolved};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::params::Params;
use super::parse_mode::{self, ParseMode};
use super::render::{self, Renderer};
use super::{members, profile, updates};
use super::{ApiError, ApiResult, Ctx};

pub type Handler = fn(Ctx, Params) -> Pin<Box<dyn Future<Output = ApiResult> + Send>>;

macro_rules! table {
    ($($name:literal => $f:path,)*) => {
        /// Every method this server answers, by Telegram's name.
        pub const METHODS: &[&str] = &[$($name),*];

        /// The handler of `method` (Telegram matches method names case-insensitively).
        pub fn find(method: &str) -> Option<(&'static str, Handler)> {
            $(if method.eq_ignore_ascii_case($name) {
                return Some(($name, |ctx, params| Box::pin($f(ctx, params))));
            })*
            None
        }
    };
}

table! {
    "getMe" => get_me,
    "logOut" => log_out,
    "close" => close,
    "getUpdates" => updates::get_updates,
    "setWebhook" => updates::set_webhook,
    "deleteWebhook" => updates::delete_webhook,
    "getWebhookInfo" => updates::get_webhook_info,
    "sendMessage" => send_message,
    "forwardMessage" => forward_message,
    "copyMessage" => copy_message,
    "editMessageText" => edit_message_text,
    "editMessageCaption" => edit_message_caption,
    "editMessageReplyMarkup" => edit_message_reply_markup,
    "deleteMessage" => delete_message,
    "deleteMessages" => delete_messages,
    "setMessageReaction" => set_message_reaction,
    "sendChatAction" => send_chat_action,
    "sendPhoto" => send_photo,
    "sendDocument" => send_document,
    "sendAudio" => send_audio,
    "sendVideo" => send_video,
    "sendVoice" => send_voice,
    "getFile" => get_file,
    "answerCallbackQuery" => answer_callback_query,
    "getChat" => get_chat,
    "getChatMember" => members::get_chat_member,
    "banChatMember" => members::ban_chat_member,
    "unbanChatMember" => members::unban_chat_member,
    "restrictChatMember" => members::restrict_chat_member,
    "promoteChatMember" => members::promote_chat_member,
    "setChatPermissions" => members::set_chat_permissions,
    "setChatDescription" => members::set_chat_description,
    "exportChatInviteLink" => members::export_chat_invite_link,
    "getChatMemberCount" => get_chat_member_count,
    "getChatAdministrators" => get_chat_administrators,
    "leaveChat" => leave_chat,
    "pinChatMessage" => pin_chat_message,
    "unpinChatMessage" => unpin_chat_message,
    "setChatTitle" => set_chat_title,
    "setMyCommands" => profile::set_my_commands,
    "getMyCommands" => profile::get_my_commands,
    "deleteMyCommands" => profile::delete_my_commands,
    "setMyName" => profile::set_my_name,
    "getMyName" => profile::get_my_name,
    "setMyDescription" => profile::set_my_description,
    "getMyDescription" => profile::get_my_description,
    "setMyShortDescription" => profile::set_my_short_description,
    "getMyShortDescription" => profile::get_my_short_description,
    "setChatMenuButton" => profile::set_chat_menu_button,
    "getChatMenuButton" => profile::get_chat_menu_button,
    "setMyDefaultAdministratorRights" => profile::set_my_default_administrator_rights,
    "getMyDefaultAdministratorRights" => profile::get_my_default_administrator_rights,
}

// --- the bot itself ------------------------------------------------------------------------

/// Read from the store, not the token cache: `setMyName` may have changed the name.
async fn get_me(ctx: Ctx, _: Params) -> ApiResult {
    let users = ctx.api.shared.store.users(&[ctx.bot.id]).await?;
    Ok(render::me(users.first().ok_or_else(ApiError::unauthorized)?))
}

/// Telegram's `logOut` and `close` hand a bot over between servers; here there is one
/// server, so both succeed and change nothing (the token stays valid).
async fn log_out(_: Ctx, _: Params) -> ApiResult {
    Ok(json!(true))
}

async fn close(_: Ctx, _: Params) -> ApiResult {
    Ok(json!(true))
}

// --- chats ---------------------------------------------------------------------------------

/// The chat a `chat_id` parameter names, for this bot: a person's user id (their private
/// chat with the bot, which only they can open), a `-100…` group or channel id, or
/// `@username` of a public group or channel.
pub(super) async fn target(ctx: &Ctx, params: &Params, name: &str) -> ApiResult<ChatId> {
    let raw = params.str(name)?.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::empty(name))?;
    let store = &*ctx.api.shared.store;
    if let Some(username) = raw.strip_prefix('@') {
        let username = Username::parse(username).map_err(|_| ApiError::bad_request("chat not found"))?;
        return match store.resolve(&username).await? {
            Some(Resolved::Chat(chat)) => Ok(chat.id),
            _ => Err(ApiError::bad_request("chat not found")),
        };
    }
    let id: i64 = raw.trim().parse().map_err(|_| ApiError::bad_request("chat not found"))?;
    if let Some(chat) = render::group_id(id) {
        return Ok(chat);
    }
    if id > 0 {
        return match store.find_private(ctx.bot.id, UserId(id)).await? {
            Some(chat) => Ok(chat.id),
            None if store.users(&[UserId(id)]).await?.is_empty() => Err(ApiError::bad_request("chat not found")),
            None => Err(ApiError::forbidden("bot can't initiate conversation with a user")),
        };
    }
    Err(ApiError::bad_request("chat not found"))
}

async fn get_chat(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let store = &*ctx.api.shared.store;
    let view = store.chat(ctx.bot.id, chat).await?;
    let peer = match view.peer {
        Some(p) => Some(Renderer::new(store, ctx.bot.id).user(p).await?),
        None => None,
    };
    let mut full = render::chat_full(render::chat(&view.chat, peer.as_ref()));
    if view.chat.kind != ChatKind::Private {
        let settings = store.chat_settings(ctx.bot.id, chat).await?;
        if !settings.description.is_empty() {
            full["description"] = json!(settings.description);
        }
        if view.chat.kind == ChatKind::Group {
            full["permissions"] = Value::Object(members::permissions_json(settings.allowed));
        }
    }
    Ok(full)
}

async fn get_chat_member_count(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    Ok(json!(ctx.api.shared.store.chat(ctx.bot.id, chat).await?.chat.member_count))
}

async fn get_chat_administrators(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let store = &*ctx.api.shared.store;
    let mut admins = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.members(ctx.bot.id, chat, offset, 1000).await?;
        let n = page.len() as u32;
        admins.extend(page.into_iter().filter(|m| matches!(m.role, Role::Creator | Role::Admin)));
        if n < 1000 || admins.len() >= 200 {
            break;
        }
        offset += n;
    }
    let users = store.users(&admins.iter().map(|m| m.user).collect::<Vec<_>>()).await?;
    Ok(Value::Array(admins.iter().zip(&users).map(|(m, u)| render::chat_member(u, Some(m.role))).collect()))
}

async fn leave_chat(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    ctx.api.shared.store.remove_member(ctx.bot.id, chat, ctx.bot.id).await?;
    Ok(json!(true))
}

async fn pin_chat_message(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let id = MessageId(params.required_int("message_id")?);
    ctx.api.shared.store.pin(ctx.bot.id, chat, Some(id)).await?;
    Ok(json!(true))
}

async fn unpin_chat_message(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let store = &*ctx.api.shared.store;
    // A chat pins one message: naming another one unpins nothing.
    if let Some(id) = params.int("message_id")? {
        if store.chat(ctx.bot.id, chat).await?.chat.pinned != Some(MessageId(id)) {
            return Err(ApiError::bad_request("message to unpin not found"));
        }
    }
    store.pin(ctx.bot.id, chat, None).await?;
    Ok(json!(true))
}

async fn set_chat_title(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let title = Title::parse(&params.required_str("title")?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    ctx.api.shared.store.set_title(ctx.bot.id, chat, &title).await?;
    Ok(json!(true))
}

async fn send_chat_action(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let action = params.required_str("action")?;
    const ACTIONS: &[&str] = &[
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ];
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    // Every action shows as "typing…": the one activity clients display. Limited per session
    // as `messages.typing` is, the bot's WebSocket and Bot API calls together.
    let shared = &ctx.api.shared;
    if let Err(wait) = shared.requests_per_session.check(&ctx.session.0) {
        return Err(ApiError::flood(wait.secs()));
    }
    shared.typing(ctx.bot.id, chat).await.map_err(|e| match crate::errors::from_store(e) {
        e if e.code == heliograph_proto::ErrorCode::ChatNotFound => ApiError::bad_request("chat not found"),
        e => ApiError::bad_request(e.message),
    })?;
    Ok(json!(true))
}

// --- composing -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct WireEntity {
    #[serde(rename = "type")]
    kind: String,
    offset: u32,
    length: u32,
    url: Option<String>,
    user: Option<WireUser>,
    language: Option<String>,
    custom_emoji_id: Option<String>,
}

#[derive(Deserialize)]
struct WireUser {
    id: i64,
}

#[derive(Deserialize)]
struct WireButton {
    text: String,
    callback_data: Option<String>,
    url: Option<String>,
}

/// Any of `InlineKeyboardMarkup`, `ReplyKeyboardMarkup`, `ReplyKeyboardRemove`, `ForceReply`.
#[derive(Deserialize)]
struct WireMarkup {
    inline_keyboard: Option<Vec<Vec<WireButton>>>,
    keyboard: Option<Vec<Vec<WireKeyboardButton>>>,
    #[serde(default)]
    resize_keyboard: bool,
    #[serde(default)]
    one_time_keyboard: bool,
    #[serde(default)]
    is_persistent: bool,
    input_field_placeholder: Option<String>,
    #[serde(default)]
    selective: bool,
    #[serde(default)]
    remove_keyboard: bool,
    #[serde(default)]
    force_reply: bool,
}

/// A reply keyboard's button: `"text"` or `{"text": …}`. Buttons that request a contact, a
/// location, a poll, users, chats or open a web app are not offered here.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireKeyboardButton {
    Text(String),
    Object {
        text: String,
        #[serde(flatten)]
        rest: Map<String, Value>,
    },
}

#[derive(Deserialize)]
struct ReplyParameters {
    message_id: i64,
    chat_id: Option<Value>,
    #[serde(default)]
    allow_sending_without_reply: bool,
}

/// Text (or a caption) and its entities, from `parse_mode` or an explicit entity list.
fn formatted(params: &Params, text_field: &str, entities_field: &str) -> ApiResult<Option<(MessageText, Vec<Entity>)>> {
    let Some(raw) = params.str(text_field)? else { return Ok(None) };
    let explicit: Option<Vec<WireEntity>> = params.json(entities_field)?;
    let (text, entities) = match (params.str("parse_mode")?.filter(|m| !m.is_empty()), explicit) {
        (_, Some(list)) => (raw, list.into_iter().map(entity).collect::<ApiResult<Vec<_>>>()?),
        (Some(mode), None) => {
            let mode = ParseMode::parse(&mode).ok_or_else(|| ApiError::bad_request(format!("unsupported parse_mode \"{mode}\"")))?;
            parse_mode::parse(mode, &raw).map_err(ApiError::bad_request)?
        }
        (None, None) => (raw, Vec::new()),
    };
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(if text_field == "text" { "message text is empty" } else { "caption is empty" }));
    }
    let entities =
        check_entities(&text, detect_entities(&text, entities)).map_err(|e| ApiError::bad_request(format!("can't parse entities: {e}")))?;
    let text = MessageText::parse(text).map_err(|e| match e {
        InvalidValue::TextTooLong { .. } if text_field == "text" => ApiError::bad_request("message is too long"),
        InvalidValue::TextTooLong { .. } => ApiError::bad_request("message caption is too long"),
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(Some((text, entities)))
}

fn entity(e: WireEntity) -> ApiResult<Entity> {
    let kind = match e.kind.as_str() {
        "pre" => EntityKind::Pre { language: e.language.filter(|l| !l.is_empty()) },
        "text_link" => {
            EntityKind::TextLink { url: e.url.ok_or_else(|| ApiError::bad_request("can't parse entities: text_link needs a url"))? }
        }
        "text_mention" => EntityKind::TextMention {
            user: UserId(e.user.ok_or_else(|| ApiError::bad_request("can't parse entities: text_mention needs a user"))?.id),
        },
        "custom_emoji" => EntityKind::CustomEmoji {
            id: e.custom_emoji_id.ok_or_else(|| ApiError::bad_request("can't parse entities: custom_emoji needs custom_emoji_id"))?,
        },
        other => EntityKind::simple(other)
            .ok_or_else(|| ApiError::bad_request(format!("can't parse entities: unsupported entity type \"{other}\"")))?,
    };
    Ok(Entity { kind, offset: e.offset, length: e.length })
}

/// `reply_markup`: an inline keyboard, a reply keyboard, its removal or a reply request
/// (`Some(Some)`), or an inline keyboard without buttons (`Some(None)`: no keyboard); `None`
/// when absent.
fn keyboard(params: &Params) -> ApiResult<Option<Option<Keyboard>>> {
    let Some(markup) = params.json::<WireMarkup>("reply_markup")? else { return Ok(None) };
    let refused = |e: InvalidMarkup| ApiError::bad_request(format!("can't parse reply keyboard markup: {e}"));
    if let Some(rows) = markup.keyboard {
        let rows = rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|b| {
                        let text = match b {
                            WireKeyboardButton::Text(text) => text,
                            WireKeyboardButton::Object { text, rest } => match rest.iter().find(|(_, v)| !v.is_null()) {
                                Some((field, _)) => {
                                    return Err(ApiError::bad_request(format!(
                                        "keyboard buttons with {field} are not supported by this server"
                                    )))
                                }
                                None => text,
                            },
                        };
                        Button::new(text, ButtonAction::Text)
                            .map_err(|e| ApiError::bad_request(format!("can't parse keyboard button: {e}")))
                    })
                    .collect::<ApiResult<Vec<_>>>()
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let options = ReplyOptions {
            resize: markup.resize_keyboard,
            one_time: markup.one_time_keyboard,
            persistent: markup.is_persistent,
            placeholder: markup.input_field_placeholder.filter(|p| !p.is_empty()),
            selective: markup.selective,
        };
        let keyboard = Keyboard::reply(rows, options).map_err(refused)?;
        return match keyboard {
            Some(k) => Ok(Some(Some(k))),
            None => Err(ApiError::bad_request("can't parse reply keyboard markup: a reply keyboard needs a button")),
        };
    }
    if markup.remove_keyboard {
        return Ok(Some(Some(Keyboard::remove(markup.selective))));
    }
    if markup.force_reply {
        let placeholder = markup.input_field_placeholder.filter(|p| !p.is_empty());
        return Ok(Some(Some(Keyboard::force_reply(placeholder, markup.selective).map_err(refused)?)));
    }
    let Some(rows) = markup.inline_keyboard else {
        return Err(ApiError::bad_request(
            "can't parse reply keyboard markup: expected inline_keyboard, keyboard, remove_keyboard or force_reply",
        ));
    };
    let rows = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|b| {
                    let action = match (b.callback_data, b.url) {
                        (Some(data), None) => ButtonAction::Callback(data),
                        (None, Some(url)) => ButtonAction::Url(url),
                        _ => {
                            return Err(ApiError::bad_request(
                                "can't parse inline keyboard button: a button needs exactly one of callback_data or url",
                            ))
                        }
                    };
                    Button::new(b.text, action).map_err(|e| ApiError::bad_request(format!("can't parse inline keyboard button: {e}")))
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Some(Keyboard::new(rows).map_err(refused)?))
}

/// `reply_markup` of an edit: only an inline keyboard (or none, which removes it).
fn edit_keyboard(params: &Params) -> ApiResult<Option<Option<Keyboard>>> {
    let keyboard = Some(keyboard(params)?.flatten());
    if keyboard.as_ref().is_some_and(|k| k.as_ref().is_some_and(|k| !k.is_inline())) {
        return Err(ApiError::bad_request("inline keyboard expected"));
    }
    Ok(keyboard)
}

/// The message replied to, from `reply_parameters` (or the older `reply_to_message_id`).
async fn reply_to(ctx: &Ctx, params: &Params, chat: ChatId) -> ApiResult<Option<MessageId>> {
    let (id, lenient) = match params.json::<ReplyParameters>("reply_parameters")? {
        Some(p) => {
            if p.chat_id.as_ref().is_some_and(|c| !c.is_null()) {
                return Err(ApiError::bad_request("replies to messages of other chats are not supported by this server"));
            }
            (Some(p.message_id), p.allow_sending_without_reply)
        }
        None => (params.int("reply_to_message_id")?, params.bool("allow_sending_without_reply")?),
    };
    let Some(id) = id else { return Ok(None) };
    let r = Renderer::new(&*ctx.api.shared.store, ctx.bot.id);
    match r.fetch(chat, MessageId(id)).await? {
        Some(_) => Ok(Some(MessageId(id))),
        None if lenient => Ok(None),
        None => Err(ApiError::bad_request("message to be replied not found")),
    }
}

async fn sent(ctx: &Ctx, chat: ChatId, draft: Draft) -> ApiResult {
    let store = &*ctx.api.shared.store;
    // The Bot API has no idempotency key; every call is a new message.
    let sent = store.send(ctx.bot.id, chat, rand::random::<i64>(), draft).await.map_err(send_error)?;
    Renderer::new(store, ctx.bot.id).message(&sent.message).await
}

fn send_error(e: heliograph_store::Error) -> ApiError {
    match e {
        heliograph_store::Error::ChatNotFound => ApiError::bad_request("chat not found"),
        heliograph_store::Error::WriteForbidden => ApiError::bad_request("need administrator rights in the channel chat"),
        other => other.into(),
    }
}

async fn send_message(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let (text, entities) = formatted(&params, "text", "entities")?.ok_or_else(|| ApiError::bad_request("message text is empty"))?;
    let keyboard = keyboard(&params)?.flatten();
    let reply_to = reply_to(&ctx, &params, chat).await?;
    sent(&ctx, chat, Draft { content: Content::Text(text), entities, keyboard, reply_to }).await
}

async fn forward_message(ctx: Ctx, params: Params) -> ApiResult {
    let to = target(&ctx, &params, "chat_id").await?;
    let from = target(&ctx, &params, "from_chat_id").await?;
    let id = MessageId(params.required_int("message_id")?);
    let store = &*ctx.api.shared.store;
    let sent = store.forward(ctx.bot.id, from, &[id], to, &[rand::random::<i64>()]).await.map_err(|e| match e {
        heliograph_store::Error::MessageNotFound => ApiError::bad_request("message to forward not found"),
        other => send_error(other),
    })?;
    let message = sent.into_iter().next().ok_or_else(|| ApiError::bad_request("message to forward not found"))?;
    Renderer::new(store, ctx.bot.id).message(&message.message).await
}

async fn copy_message(ctx: Ctx, params: Params) -> ApiResult {
    let to = target(&ctx, &params, "chat_id").await?;
    let from = target(&ctx, &params, "from_chat_id").await?;
    let id = MessageId(params.required_int("message_id")?);
    let original = Renderer::new(&*ctx.api.shared.store, ctx.bot.id)
        .fetch(from, id)
        .await?
        .ok_or_else(|| ApiError::bad_request("message to copy not found"))?;
    let (mut content, mut entities) = (original.content, original.entities);
    if params.has("caption") {
        let Content::Media(media) = &mut content else { return Err(ApiError::bad_request("message has no caption to replace")) };
        let caption = formatted(&params, "caption", "caption_entities")?;
        entities = caption.as_ref().map(|(_, e)| e.clone()).unwrap_or_default();
        media.caption = caption.map(|(t, _)| t);
    }
    let keyboard = keyboard(&params)?.flatten();
    let reply_to = reply_to(&ctx, &params, to).await?;
    let store = &*ctx.api.shared.store;
    let sent =
        store.send(ctx.bot.id, to, rand::random::<i64>(), Draft { content, entities, keyboard, reply_to }).await.map_err(send_error)?;
    Ok(json!({ "message_id": sent.message.id.0 }))
}

/// The message an edit names; inline messages do not exist here.
async fn edited(ctx: &Ctx, params: &Params) -> ApiResult<(ChatId, MessageId)> {
    if params.has("inline_message_id") {
        return Err(ApiError::bad_request("inline_message_id is not supported: there are no inline messages on this server"));
    }
    let chat = target(ctx, params, "chat_id").await?;
    Ok((chat, MessageId(params.required_int("message_id")?)))
}

async fn apply_edit(ctx: &Ctx, chat: ChatId, id: MessageId, edit: Edit) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let mut r = Renderer::new(store, ctx.bot.id);
    let current = r.fetch(chat, id).await?.ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    let same_text = edit.text.as_ref().is_none_or(|(t, e)| current.content.text() == Some(t) && &current.entities == e);
    let same_keyboard = edit.keyboard.as_ref().is_none_or(|k| *k == current.keyboard);
    if same_text && same_keyboard {
        return Err(ApiError::bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    let message = store.edit(ctx.bot.id, chat, id, edit).await.map_err(|e| match e {
        heliograph_store::Error::MessageNotFound => ApiError::bad_request("message to edit not found"),
        other => other.into(),
    })?;
    r.message(&message).await
}

async fn edit_message_text(ctx: Ctx, params: Params) -> ApiResult {
    let (chat, id) = edited(&ctx, &params).await?;
    let text = formatted(&params, "text", "entities")?.ok_or_else(|| ApiError::bad_request("message text is empty"))?;
    let keyboard = edit_keyboard(&params)?;
    apply_edit(&ctx, chat, id, Edit { text: Some(text), keyboard }).await
}

async fn edit_message_caption(ctx: Ctx, params: Params) -> ApiResult {
    let (chat, id) = edited(&ctx, &params).await?;
    let caption = formatted(&params, "caption", "caption_entities")?.ok_or_else(|| ApiError::bad_request("caption is empty"))?;
    let keyboard = edit_keyboard(&params)?;
    apply_edit(&ctx, chat, id, Edit { text: Some(caption), keyboard }).await
}

async fn edit_message_reply_markup(ctx: Ctx, params: Params) -> ApiResult {
    let (chat, id) = edited(&ctx, &params).await?;
    let keyboard = edit_keyboard(&params)?;
    apply_edit(&ctx, chat, id, Edit { text: None, keyboard }).await
}

async fn delete_message(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let id = MessageId(params.required_int("message_id")?);
    delete(&ctx, chat, &[id]).await
}

async fn delete_messages(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let ids: Vec<i64> = params.json("message_ids")?.ok_or_else(|| ApiError::empty("message_ids"))?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request("message_ids must list 1 to 100 messages"));
    }
    delete(&ctx, chat, &ids.into_iter().map(MessageId).collect::<Vec<_>>()).await
}

/// Deletes for everyone. As in Telegram, messages that cannot be found are skipped; when
/// none can, the call fails.
async fn delete(ctx: &Ctx, chat: ChatId, ids: &[MessageId]) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let r = Renderer::new(store, ctx.bot.id);
    let mut found = Vec::with_capacity(ids.len());
    for &id in ids {
        if r.fetch(chat, id).await?.is_some() {
            found.push(id);
        }
    }
    if found.is_empty() {
        return Err(ApiError::bad_request("message to delete not found"));
    }
    store.delete(ctx.bot.id, chat, &found, true).await.map_err(|e| match e {
        heliograph_store::Error::AuthorRequired | heliograph_store::Error::AdminRequired => {
            ApiError::bad_request("message can't be deleted")
        }
        other => other.into(),
    })?;
    Ok(json!(true))
}

// --- reactions -----------------------------------------------------------------------------

/// A `ReactionType`.
#[derive(Deserialize)]
struct WireReaction {
    #[serde(rename = "type")]
    kind: String,
    emoji: Option<String>,
    custom_emoji_id: Option<String>,
}

/// Sets the bot's reaction on a message it can see (`reaction` empty or absent: takes it
/// away), through the store's `react`, as people react. As on Telegram, a bot sets at most
/// one reaction and no paid ones.
async fn set_message_reaction(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let id = MessageId(params.required_int("message_id")?);
    let wire: Vec<WireReaction> = params.json("reaction")?.unwrap_or_default();
    if wire.len() > 1 {
        return Err(ApiError::bad_request("REACTIONS_TOO_MANY: a bot sets at most one reaction on a message"));
    }
    let invalid = || ApiError::bad_request("REACTION_INVALID");
    let reactions = wire
        .into_iter()
        .map(|r| match r.kind.as_str() {
            "emoji" => Reaction::emoji(r.emoji.as_deref().ok_or_else(invalid)?).map_err(|_| invalid()),
            "custom_emoji" => Reaction::custom_emoji(r.custom_emoji_id.as_deref().ok_or_else(invalid)?).map_err(|_| invalid()),
            "paid" => Err(ApiError::bad_request("paid reactions are not supported by this server: there are no Stars")),
            _ => Err(invalid()),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let set = ReactionSet::parse(reactions).map_err(|e| ApiError::bad_request(e.to_string()))?;
    ctx.api.shared.store.react(ctx.bot.id, chat, id, set).await.map_err(|e| match e {
        heliograph_store::Error::MessageNotFound => ApiError::bad_request("message to react not found"),
        other => other.into(),
    })?;
    Ok(json!(true))
}

// --- files ---------------------------------------------------------------------------------

async fn send_photo(ctx: Ctx, params: Params) -> ApiResult {
    send_media(ctx, params, "photo", MediaKind::Photo).await
}
async fn send_document(ctx: Ctx, params: Params) -> ApiResult {
    send_media(ctx, params, "document", MediaKind::Document).await
}
async fn send_audio(ctx: Ctx, params: Params) -> ApiResult {
    send_media(ctx, params, "audio", MediaKind::Audio).await
}
async fn send_video(ctx: Ctx, params: Params) -> ApiResult {
    send_media(ctx, params, "video", MediaKind::Video).await
}
async fn send_voice(ctx: Ctx, params: Params) -> ApiResult {
    send_media(ctx, params, "voice", MediaKind::Voice).await
}

/// The file a media method's `field` names: a file sent in the multipart body (under
/// `field`, or `attach://<name>`), or the `file_id` of a file the bot may see.
async fn input_file(ctx: &Ctx, params: &mut Params, field: &str) -> ApiResult<heliograph_store::File> {
    let upload = match params.str(field)? {
        Some(s) if s.starts_with("attach://") => params.take_file(&s["attach://".len()..]),
        Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
            return Err(ApiError::bad_request("sending files by URL is not supported by this server: upload the file or pass a file_id"));
        }
        Some(s) => {
            let id = render::parse_file_id(&s).ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
            return Ok(ctx.api.shared.store.file(ctx.bot.id, id).await?);
        }
        None => params.take_file(field),
    };
    let upload = upload.ok_or_else(|| ApiError::bad_request(format!("there is no {field} in the request")))?;
    let name = crate::files::clean_name(&upload.name);
    let mime = match upload.mime.as_deref() {
        Some(m) if m != "application/octet-stream" => crate::files::clean_mime(Some(m)).map_err(ApiError::from_refusal)?,
        _ => guess_mime(&name).to_string(),
    };
    let staged = &upload.staged;
    let new = heliograph_store::NewFile { sha256: staged.sha256, size: staged.size, name, mime, width: None, height: None, thumb: None };
    crate::files::ingest(&ctx.api.files, ctx.bot.id, std::slice::from_ref(&staged.path), new).await.map_err(ApiError::from_refusal)
}

/// A type for files sent without one, from their extension.
fn guess_mime(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

async fn send_media(ctx: Ctx, mut params: Params, field: &str, kind: MediaKind) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let caption = formatted(&params, "caption", "caption_entities")?;
    let keyboard = keyboard(&params)?.flatten();
    let reply_to = reply_to(&ctx, &params, chat).await?;
    let file = input_file(&ctx, &mut params, field).await?;
    let (caption, entities) = match caption {
        Some((t, e)) => (Some(t), e),
        None => (None, Vec::new()),
    };
    let content = Content::Media(file.into_media(kind, caption));
    sent(&ctx, chat, Draft { content, entities, keyboard, reply_to }).await
}

async fn get_file(ctx: Ctx, params: Params) -> ApiResult {
    let raw = params.required_str("file_id")?;
    let id = render::parse_file_id(&raw).ok_or_else(|| ApiError::bad_request("wrong file_id specified"))?;
    let file = ctx.api.shared.store.file(ctx.bot.id, id).await.map_err(|e| match e {
        heliograph_store::Error::FileNotFound => ApiError::bad_request("wrong file_id specified"),
        other => other.into(),
    })?;
    Ok(render::file(&file))
}

// --- buttons -------------------------------------------------------------------------------

async fn answer_callback_query(ctx: Ctx, params: Params) -> ApiResult {
    let raw = params.required_str("callback_query_id")?;
    let (bot, pts) = crate::callbacks::parse_query_id(&raw)
        .filter(|(bot, _)| *bot == ctx.bot.id)
        .ok_or_else(|| ApiError::bad_request("query is too old and response timeout expired or query ID is invalid"))?;
    let text = params.str("text")?.filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::bad_request("text is too long (at most 200 characters)"));
    }
    let answer = crate::callbacks::Answer { text, alert: params.bool("show_alert")?, url: params.str("url")?.filter(|u| !u.is_empty()) };
    ctx.api.shared.callbacks.answer(bot, pts, answer);
    Ok(json!(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_found_case_insensitively() {
        assert_eq!(find("sendmessage").map(|(n, _)| n), Some("sendMessage"));
        assert_eq!(find("getMe").map(|(n, _)| n), Some("getMe"));
        assert!(find("sendRocket").is_none());
        for name in METHODS {
            assert_eq!(find(name).map(|(n, _)| n), Some(*name));
        }
    }

    #[test]
    fn keyboards_and_entities_are_checked() {
        let p = Params::from_json(json!({"reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}}));
        assert!(keyboard(&p).unwrap().unwrap().unwrap().has_callback("y"));
        let p = Params::from_json(
            json!({"reply_markup": {"inline_keyboard": [[{"text": "Both", "callback_data": "y", "url": "https://x.org"}]]}}),
        );
        assert!(keyboard(&p).is_err());
        let p = Params::from_json(json!({"reply_markup": {"remove_keyboard": true}}));
        assert_eq!(keyboard(&p).unwrap(), Some(Some(Keyboard::remove(false))));
        assert!(edit_keyboard(&p).is_err(), "edits set inline keyboards only");
        let p = Params::from_json(json!({"reply_markup": {"inline_keyboard": []}}));
        assert_eq!(keyboard(&p).unwrap(), Some(None));
        let p = Params::from_json(json!({"reply_markup": {"keyboard": [["Red", {"text": "Blue"}]], "one_time_keyboard": true}}));
        let k = keyboard(&p).unwrap().unwrap().unwrap();
        assert_eq!((k.rows()[0].len(), k.kind()), (2, &KeyboardKind::Reply(ReplyOptions { one_time: true, ..ReplyOptions::default() })));
        let p = Params::from_json(json!({"reply_markup": {"keyboard": [[{"text": "Where", "request_location": true}]]}}));
        assert!(keyboard(&p).unwrap_err().description.contains("request_location"));
        let p = Params::from_json(json!({"reply_markup": {"force_reply": true, "input_field_placeholder": "Your name"}}));
        assert_eq!(keyboard(&p).unwrap(), Some(Some(Keyboard::force_reply(Some("Your name".into()), false).unwrap())));
        let p = Params::from_json(json!({"reply_markup": {"selective": true}}));
        assert!(keyboard(&p).is_err(), "no kind of markup at all");
        let p = Params::from_json(json!({"text": "hello", "entities": [{"type": "bold", "offset": 0, "length": 9}]}));
        assert!(formatted(&p, "text", "entities").is_err());
        let p = Params::from_json(json!({"text": "hello", "entities": "[{\"type\":\"bold\",\"offset\":0,\"length\":5}]"}));
        assert_eq!(formatted(&p, "text", "entities").unwrap().unwrap().1.len(), 1);
        let p = Params::from_json(json!({"text": "   "}));
        assert_eq!(formatted(&p, "text", "entities").unwrap_err().description, "Bad Request: message text is empty");
    }
}
