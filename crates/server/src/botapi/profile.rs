//! The bot's own profile: its commands (per scope and language), its name, description and
//! short description (per language), the menu button of its private chats, and the admin
//! rights it asks for. Kept by the store ([`BotSetting`], `BotChange::Commands`).
//!
//! What everyone sees without a language of their own is the account itself: the default
//! name is the bot's name (as `getMe` and people see it) and the default short description
//! is its bio; other languages' texts, the description and the rest are bot settings. A
//! getter answers what a person with that language is shown: the language's own text, or
//! the default one.

use heliograph_core::*;
use heliograph_store::{BotChange, BotSetting};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::params::Params;
use super::{methods, ApiError, ApiResult, Ctx};

/// `language_code`: empty (everyone without a text of their own) or two lowercase letters.
fn language(params: &Params) -> ApiResult<String> {
    let lang = params.str("language_code")?.unwrap_or_default();
    if !lang.is_empty() && (lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase())) {
        return Err(ApiError::bad_request("language_code is a two-letter ISO 639-1 code"));
    }
    Ok(lang)
}

async fn setting(ctx: &Ctx, setting: BotSetting) -> ApiResult<Option<String>> {
    Ok(ctx.api.shared.store.bot_setting(ctx.bot.id, setting).await?)
}

async fn set(ctx: &Ctx, setting: BotSetting, value: Option<String>) -> ApiResult {
    ctx.api.shared.store.update_bot(ctx.bot.id, BotChange::Setting(setting, value)).await?;
    Ok(json!(true))
}

/// The bot's account as it is now (the token cache may hold an older copy).
async fn account(ctx: &Ctx) -> ApiResult<heliograph_store::User> {
    let users = ctx.api.shared.store.users(&[ctx.bot.id]).await?;
    users.into_iter().next().ok_or_else(ApiError::unauthorized)
}

// --- commands ------------------------------------------------------------------------------

#[derive(Deserialize, serde::Serialize)]
struct BotCommand {
    command: String,
    description: String,
}

/// The key a command list is kept under: its scope and language.
fn commands_key(params: &Params) -> ApiResult<String> {
    let scope: Option<Map<String, Value>> = params.json("scope")?;
    let scope = scope.unwrap_or_default();
    let kind = scope.get("type").and_then(Value::as_str).unwrap_or("default");
    const SCOPES: &[&str] =
        &["default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat", "chat_administrators", "chat_member"];
    if !SCOPES.contains(&kind) {
        return Err(ApiError::bad_request("unsupported bot command scope type"));
    }
    let chat = scope.get("chat_id").map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
    let user = scope.get("user_id").map(Value::to_string).unwrap_or_default();
    let lang = language(params)?;
    Ok(format!("{kind}:{chat}:{user}:{lang}"))
}

async fn commands(ctx: &Ctx) -> ApiResult<Map<String, Value>> {
    let bot = ctx.api.shared.store.bot(ctx.bot.id).await?.ok_or_else(ApiError::unauthorized)?;
    Ok(serde_json::from_str(&bot.commands).unwrap_or_default())
}

pub async fn set_my_commands(ctx: Ctx, params: Params) -> ApiResult {
    let list: Vec<BotCommand> = params.json("commands")?.ok_or_else(|| ApiError::empty("commands"))?;
    if list.len() > 100 {
        return Err(ApiError::bad_request("too many commands (at most 100)"));
    }
    for c in &list {
        let name_ok =
            (1..=32).contains(&c.command.len()) && c.command.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&c.description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    let key = commands_key(&params)?;
    let mut all = commands(&ctx).await?;
    if list.is_empty() {
        all.remove(&key);
    } else {
        all.insert(key, serde_json::to_value(&list).map_err(|_| ApiError::internal())?);
    }
    ctx.api.shared.store.update_bot(ctx.bot.id, BotChange::Commands(Value::Object(all).to_string())).await?;
    Ok(json!(true))
}

pub async fn get_my_commands(ctx: Ctx, params: Params) -> ApiResult {
    let key = commands_key(&params)?;
    Ok(commands(&ctx).await?.remove(&key).unwrap_or_else(|| json!([])))
}

pub async fn delete_my_commands(ctx: Ctx, params: Params) -> ApiResult {
    let key = commands_key(&params)?;
    let mut all = commands(&ctx).await?;
    if all.remove(&key).is_some() {
        ctx.api.shared.store.update_bot(ctx.bot.id, BotChange::Commands(Value::Object(all).to_string())).await?;
    }
    Ok(json!(true))
}

// --- name and descriptions -----------------------------------------------------------------

/// A description of at most `max` characters: visible text, lines allowed, nothing that
/// could make it read as other text.
fn description(params: &Params, field: &str, max: usize) -> ApiResult<String> {
    let text = params.str(field)?.unwrap_or_default();
    if text.chars().count() > max {
        return Err(ApiError::bad_request(format!("{field} is too long (at most {max} characters)")));
    }
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        return Err(ApiError::bad_request(format!("{field} cannot contain the control character U+{:04X}", u32::from(c))));
    }
    if let Some(c) = spoofing_char(&text) {
        return Err(ApiError::bad_request(format!(
            "{field} cannot contain U+{:04X}: invisible and text-direction characters are refused",
            u32::from(c)
        )));
    }
    Ok(text)
}

pub async fn set_my_name(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let name = params.str("name")?.unwrap_or_default();
    if name.is_empty() {
        if lang.is_empty() {
            return Err(ApiError::bad_request("name is empty: a bot always has a name; pass language_code to remove a language's own"));
        }
        return set(&ctx, BotSetting::Name(lang), None).await;
    }
    let name = DisplayName::parse(&name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if lang.is_empty() {
        ctx.api.shared.store.update_profile(ctx.bot.id, Some(name), None).await?;
        return Ok(json!(true));
    }
    set(&ctx, BotSetting::Name(lang), Some(name.as_str().to_string())).await
}

pub async fn get_my_name(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let own = if lang.is_empty() { None } else { setting(&ctx, BotSetting::Name(lang)).await? };
    let name = match own {
        Some(name) => name,
        None => account(&ctx).await?.name,
    };
    Ok(json!({ "name": name }))
}

pub async fn set_my_description(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let text = description(&params, "description", 512)?;
    set(&ctx, BotSetting::Description(lang), Some(text).filter(|t| !t.is_empty())).await
}

pub async fn get_my_description(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let mut text = setting(&ctx, BotSetting::Description(lang.clone())).await?;
    if text.is_none() && !lang.is_empty() {
        text = setting(&ctx, BotSetting::Description(String::new())).await?;
    }
    Ok(json!({ "description": text.unwrap_or_default() }))
}

pub async fn set_my_short_description(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let text = description(&params, "short_description", 120)?;
    if lang.is_empty() {
        let bio = Bio::parse(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
        ctx.api.shared.store.update_profile(ctx.bot.id, None, Some(bio)).await?;
        return Ok(json!(true));
    }
    set(&ctx, BotSetting::ShortDescription(lang), Some(text).filter(|t| !t.is_empty())).await
}

pub async fn get_my_short_description(ctx: Ctx, params: Params) -> ApiResult {
    let lang = language(&params)?;
    let own = if lang.is_empty() { None } else { setting(&ctx, BotSetting::ShortDescription(lang)).await? };
    let text = match own {
        Some(text) => text,
        None => account(&ctx).await?.bio,
    };
    Ok(json!({ "short_description": text }))
}

// --- menu button ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct WireMenuButton {
    #[serde(rename = "type")]
    kind: String,
}

/// The private chat `chat_id` names (a person's id), or `None` for the bot's default.
async fn menu_chat(ctx: &Ctx, params: &Params) -> ApiResult<Option<ChatId>> {
    if !params.has("chat_id") {
        return Ok(None);
    }
    let chat = methods::target(ctx, params, "chat_id").await?;
    if ctx.api.shared.store.chat(ctx.bot.id, chat).await?.chat.kind != ChatKind::Private {
        return Err(ApiError::bad_request("menu buttons are set for private chats only"));
    }
    Ok(Some(chat))
}

/// `MenuButtonCommands` is stored; `MenuButtonDefault` removes what was stored (a chat then
/// shows the bot's default, the bot's default is the command list). There are no Web Apps.
pub async fn set_chat_menu_button(ctx: Ctx, params: Params) -> ApiResult {
    let chat = menu_chat(&ctx, &params).await?;
    let button: Option<WireMenuButton> = params.json("menu_button")?;
    let kind = button.map_or_else(|| "default".to_string(), |b| b.kind);
    let value = match kind.as_str() {
        "commands" => Some(kind),
        "default" => None,
        "web_app" => {
            return Err(ApiError::bad_request("menu buttons of type web_app are not supported by this server: there are no Web Apps"))
        }
        _ => return Err(ApiError::bad_request("unsupported menu button type")),
    };
    set(&ctx, BotSetting::MenuButton(chat), value).await
}

pub async fn get_chat_menu_button(ctx: Ctx, params: Params) -> ApiResult {
    let chat = menu_chat(&ctx, &params).await?;
    let stored = setting(&ctx, BotSetting::MenuButton(chat)).await?;
    let kind = match (stored, chat) {
        (Some(kind), _) => kind,
        // A chat without a button of its own shows the default one; the bot's default is
        // the list of its commands.
        (None, Some(_)) => "default".to_string(),
        (None, None) => "commands".to_string(),
    };
    Ok(json!({ "type": kind }))
}

// --- default administrator rights ------------------------------------------------------------

/// Every right of `ChatAdministratorRights`, in the specification's order; the first eleven
/// are required fields of the type, the rest optional.
pub(super) const RIGHTS: &[&str] = &[
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
    "can_manage_topics",
    "can_manage_direct_messages",
    "can_manage_tags",
];

/// The rights asked for, kept as the names of those granted (`can_manage_chat,…`).
pub async fn set_my_default_administrator_rights(ctx: Ctx, params: Params) -> ApiResult {
    let channels = params.bool("for_channels")?;
    let Some(rights) = params.json::<Map<String, Value>>("rights")? else {
        return set(&ctx, BotSetting::DefaultRights { channels }, None).await;
    };
    let mut granted = Vec::new();
    for (name, value) in &rights {
        if !RIGHTS.contains(&name.as_str()) {
            return Err(ApiError::bad_request(format!("can't parse rights: unknown right \"{name}\"")));
        }
        match value {
            Value::Bool(true) => granted.push(name.as_str()),
            Value::Bool(false) | Value::Null => {}
            _ => return Err(ApiError::bad_request(format!("can't parse rights: field \"{name}\" must be of type Boolean"))),
        }
    }
    granted.sort_by_key(|name| RIGHTS.iter().position(|r| r == name));
    set(&ctx, BotSetting::DefaultRights { channels }, Some(granted.join(","))).await
}

pub async fn get_my_default_administrator_rights(ctx: Ctx, params: Params) -> ApiResult {
    let channels = params.bool("for_channels")?;
    let stored = setting(&ctx, BotSetting::DefaultRights { channels }).await?.unwrap_or_default();
    let granted: Vec<&str> = stored.split(',').collect();
    Ok(Value::Object(RIGHTS.iter().map(|r| (r.to_string(), json!(granted.contains(r)))).collect()))
}
