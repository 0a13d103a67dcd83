//! Chat management and moderation: bans, restrictions, the group's permissions, promotion,
//! the description and the invite link, each through the store command people's clients use
//! (`Store::ban_member`, `restrict_member`, `set_chat_permissions`, `set_admin`…), so what a
//! bot decides binds every client: `messages::send` refuses a restricted member wherever the
//! message comes from.
//!
//! `ChatPermissions` maps onto [`Permissions`]: sending text (`can_send_messages`), photos,
//! videos, audios, documents and voice notes. Its other fields name things members cannot
//! do here at all (polls, video notes, stickers, previews; changing info, inviting and
//! pinning are admins' rights): they are accepted, and always reported `false`.

use heliograph_core::*;
use serde_json::{json, Map, Value};

use super::methods::target;
use super::params::Params;
use super::render;
use super::{ApiError, ApiResult, Ctx};

/// The `ChatPermissions` fields that are [`Permissions`] here.
const SENDS: &[(&str, Permissions)] = &[
    ("can_send_messages", Permissions::TEXT),
    ("can_send_audios", Permissions::AUDIOS),
    ("can_send_documents", Permissions::DOCUMENTS),
    ("can_send_photos", Permissions::PHOTOS),
    ("can_send_videos", Permissions::VIDEOS),
    ("can_send_voice_notes", Permissions::VOICE),
];
/// The other `ChatPermissions` fields: nothing a member can do here.
const NEVER: &[&str] = &[
    "can_send_video_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
];

/// `permissions`: a `ChatPermissions` object; fields left out are not granted.
fn permissions(params: &Params) -> ApiResult<Permissions> {
    let given: Map<String, Value> = params.json("permissions")?.ok_or_else(|| ApiError::empty("permissions"))?;
    let mut allowed = Permissions::NONE;
    for (name, value) in &given {
        let on = match value {
            Value::Bool(b) => *b,
            Value::Null => false,
            _ => return Err(ApiError::bad_request(format!("can't parse permissions: field \"{name}\" must be of type Boolean"))),
        };
        match SENDS.iter().find(|(n, _)| n == name) {
            Some((_, p)) => allowed = allowed.with(*p, on),
            None if NEVER.contains(&name.as_str()) => {}
            None => return Err(ApiError::bad_request(format!("can't parse permissions: unknown permission \"{name}\""))),
        }
    }
    Ok(allowed)
}

/// `ChatPermissions` as [`Permissions`] allow.
pub fn permissions_json(allowed: Permissions) -> Map<String, Value> {
    let mut v: Map<String, Value> = SENDS.iter().map(|(n, p)| (n.to_string(), json!(allowed.allows(*p)))).collect();
    v.extend(NEVER.iter().map(|n| (n.to_string(), json!(false))));
    v
}

/// `until_date`, as Telegram reads it: absent, 0, under 30 s from now or over 366 days
/// from now is for ever.
fn until(params: &Params) -> ApiResult<Option<i64>> {
    let now = heliograph_store::now();
    Ok(params.int("until_date")?.filter(|&t| t >= now + 30 && t <= now + 366 * 86_400))
}

/// The person a `user_id` names, for the store (which refuses unknown people itself).
fn user(params: &Params) -> ApiResult<UserId> {
    Ok(UserId(params.required_int("user_id")?))
}

/// Store refusals in the words Telegram uses for moderation (`not enough rights to {what}`).
fn refused(what: &'static str) -> impl Fn(heliograph_store::Error) -> ApiError {
    move |e| match e {
        heliograph_store::Error::UserNotFound => ApiError::bad_request("user not found"),
        heliograph_store::Error::AdminRequired => ApiError::bad_request(format!("not enough rights to {what}")),
        other => other.into(),
    }
}

const RESTRICT: &str = "restrict/unrestrict chat member";

pub async fn ban_chat_member(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let (user, until) = (user(&params)?, until(&params)?);
    ctx.api.shared.store.ban_member(ctx.bot.id, chat, user, until).await.map_err(refused(RESTRICT))?;
    Ok(json!(true))
}

pub async fn unban_chat_member(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let user = user(&params)?;
    let only_if_banned = params.bool("only_if_banned")?;
    ctx.api.shared.store.unban_member(ctx.bot.id, chat, user, only_if_banned).await.map_err(refused(RESTRICT))?;
    Ok(json!(true))
}

pub async fn restrict_chat_member(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let (user, allowed, until) = (user(&params)?, permissions(&params)?, until(&params)?);
    ctx.api.shared.store.restrict_member(ctx.bot.id, chat, user, allowed, until).await.map_err(refused(RESTRICT))?;
    Ok(json!(true))
}

pub async fn set_chat_permissions(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let allowed = permissions(&params)?;
    ctx.api.shared.store.set_chat_permissions(ctx.bot.id, chat, allowed).await.map_err(refused("change chat permissions"))?;
    Ok(json!(true))
}

/// Any right granted makes an admin, none a member again: admins' rights are one fixed set
/// here. Only the chat's creator appoints admins (`rules.rs`).
pub async fn promote_chat_member(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let user = user(&params)?;
    let mut admin = false;
    for right in super::profile::RIGHTS {
        admin |= params.bool(right)?;
    }
    ctx.api.shared.store.set_admin(ctx.bot.id, chat, user, admin).await.map_err(|e| match e {
        heliograph_store::Error::AdminRequired => ApiError::bad_request("not enough rights: only the chat's creator appoints admins"),
        other => refused("promote members")(other),
    })?;
    Ok(json!(true))
}

pub async fn set_chat_description(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let description = params.str("description")?.unwrap_or_default();
    ctx.api.shared.store.set_description(ctx.bot.id, chat, &description).await.map_err(refused("change chat description"))?;
    Ok(json!(true))
}

/// The chat's one invite link (made on first use), as people's clients show it.
pub async fn export_chat_invite_link(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let token = ctx.api.shared.store.export_invite(ctx.bot.id, chat).await.map_err(refused("manage invite links"))?;
    Ok(json!(format!("{}/+{token}", ctx.api.shared.config.public_url())))
}

/// `getChatMember`: bans (`kicked`) and restrictions (`restricted`) as the store keeps them.
pub async fn get_chat_member(ctx: Ctx, params: Params) -> ApiResult {
    let chat = target(&ctx, &params, "chat_id").await?;
    let user = user(&params)?;
    let store = &*ctx.api.shared.store;
    let standing = store.standing(ctx.bot.id, chat, user).await?;
    let person = store.users(&[user]).await?.into_iter().next().ok_or_else(|| ApiError::bad_request("user not found"))?;
    let role = standing.membership.as_ref().map(|m| m.role);
    Ok(match (standing.banned, standing.restricted, role) {
        (Some(until), _, _) => json!({ "status": "kicked", "user": render::user(&person), "until_date": until.unwrap_or(0) }),
        (None, Some((allowed, until)), Some(Role::Member)) => {
            let mut v = permissions_json(allowed);
            v.insert("status".into(), json!("restricted"));
            v.insert("user".into(), render::user(&person));
            v.insert("is_member".into(), json!(true));
            v.insert("until_date".into(), json!(until.unwrap_or(0)));
            Value::Object(v)
        }
        _ => render::chat_member(&person, role),
    })
}
