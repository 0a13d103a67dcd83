//! `chats.*`: the dialog list, private chats, groups and channels, their members and invites.
//! The store authorizes every call: a chat the caller is not in answers `CHAT_NOT_FOUND`.

use heliograph_core::{ChatId, ChatKind, Permissions, Title, UserId, Username};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store as store;

use super::{ids, page, Outcome, SignedIn};
use crate::convert::{self, chat_for, chat_of, users_for};
use crate::errors::{bad_params, Failure};
use crate::state::Shared;

/// `chats.dialogs`: the caller's chats, most recent activity first, a page at a time
/// (`limit` up to `MAX_PAGE`; `next` is the cursor of the following page, absent on the last).
pub async fn dialogs(s: &Shared, me: SignedIn, limit: Option<u32>, offset: Option<proto::DialogCursor>) -> Outcome<proto::Dialogs> {
    let limit = page(limit);
    let dialogs = s.store.dialogs(me.user, offset.map(|o| (o.activity, ChatId(o.chat_id))), limit).await?;
    let next = (dialogs.len() as u32 == limit)
        .then(|| dialogs.last().map(|d| proto::DialogCursor { activity: d.view.chat.activity, chat_id: d.view.chat.id.0 }))
        .flatten();
    let mut out = Vec::with_capacity(dialogs.len());
    for d in &dialogs {
        out.push(proto::Dialog {
            chat: chat_for(&*s.store, me.user, &d.view).await?,
            last_message: d.last_message.as_ref().map(convert::message),
            unread_count: d.unread,
            read_inbox_max_id: d.view.membership.read_inbox.0,
            read_outbox_max_id: d.view.membership.read_outbox.0,
            draft: d.draft.as_ref().map(convert::draft),
        });
    }
    Ok(proto::Dialogs { dialogs: out, next })
}

/// `chats.get`: one chat the caller is in.
pub async fn get(s: &Shared, me: SignedIn, chat_id: i64) -> Outcome<proto::Chat> {
    Ok(chat_of(&*s.store, me.user, ChatId(chat_id)).await?)
}

/// `chats.open_private`: the private chat with `user_id`, created on first use.
pub async fn open_private(s: &Shared, me: SignedIn, user_id: i64) -> Outcome<proto::Chat> {
    let chat = s.store.open_private(me.user, UserId(user_id)).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// `chats.create_group`: a group the caller creates, with up to `MAX_IDS_PER_REQUEST` first
/// members; checked `Title`.
pub async fn create_group(s: &Shared, me: SignedIn, title: &str, user_ids: &[i64]) -> Outcome<proto::Chat> {
    let title = Title::parse(title)?;
    let members = ids(user_ids, UserId)?;
    let chat = s.store.create_chat(me.user, ChatKind::Group, &title, None, &members).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// `chats.create_channel`: a broadcast channel the caller creates; public (joinable by name)
/// with a `username`.
pub async fn create_channel(s: &Shared, me: SignedIn, title: &str, username: Option<String>) -> Outcome<proto::Chat> {
    let title = Title::parse(title)?;
    let username = username.as_deref().map(Username::parse).transpose()?;
    let chat = s.store.create_chat(me.user, ChatKind::Channel, &title, username.as_ref(), &[]).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// `chats.add_members`: admins only; up to `MAX_IDS_PER_REQUEST` users per call.
pub async fn add_members(s: &Shared, me: SignedIn, chat_id: i64, user_ids: &[i64]) -> Outcome<proto::Chat> {
    let chat = s.store.add_members(me.user, ChatId(chat_id), &ids(user_ids, UserId)?).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// `chats.remove_member`: admins only; the creator cannot be removed.
pub async fn remove_member(s: &Shared, me: SignedIn, chat_id: i64, user_id: i64) -> Outcome<proto::Ok> {
    s.store.remove_member(me.user, ChatId(chat_id), UserId(user_id)).await?;
    Ok(proto::Ok {})
}

/// `chats.leave`: the caller leaves the chat.
pub async fn leave(s: &Shared, me: SignedIn, chat_id: i64) -> Outcome<proto::Ok> {
    s.store.remove_member(me.user, ChatId(chat_id), me.user).await?;
    Ok(proto::Ok {})
}

/// `chats.set_title`: admins only; checked `Title`.
pub async fn set_title(s: &Shared, me: SignedIn, chat_id: i64, title: &str) -> Outcome<proto::Chat> {
    let chat = s.store.set_title(me.user, ChatId(chat_id), &Title::parse(title)?).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// `chats.set_admin`: the creator only.
pub async fn set_admin(s: &Shared, me: SignedIn, chat_id: i64, user_id: i64, admin: bool) -> Outcome<proto::Ok> {
    s.store.set_admin(me.user, ChatId(chat_id), UserId(user_id), admin).await?;
    Ok(proto::Ok {})
}

/// `chats.restrict`: admins, groups only; `can_send` becomes the member's [`Permissions`]
/// (every kind: the restriction is lifted). `messages.send` obeys it for every client.
pub async fn restrict(
    s: &Shared,
    me: SignedIn,
    chat_id: i64,
    user_id: i64,
    can_send: &[proto::SendKind],
    until: Option<i64>,
) -> Outcome<proto::Ok> {
    use proto::SendKind as K;
    let allowed = can_send.iter().fold(Permissions::NONE, |p, kind| {
        let bit = match kind {
            K::Text => Permissions::TEXT,
            K::Photos => Permissions::PHOTOS,
            K::Videos => Permissions::VIDEOS,
            K::Audios => Permissions::AUDIOS,
            K::Documents => Permissions::DOCUMENTS,
            K::Voice => Permissions::VOICE,
        };
        p.with(bit, true)
    });
    s.store.restrict_member(me.user, ChatId(chat_id), UserId(user_id), allowed, until).await?;
    Ok(proto::Ok {})
}

/// `chats.ban`: admins; removes and keeps out (admins only by the creator).
pub async fn ban(s: &Shared, me: SignedIn, chat_id: i64, user_id: i64, until: Option<i64>) -> Outcome<proto::Ok> {
    s.store.ban_member(me.user, ChatId(chat_id), UserId(user_id), until).await?;
    Ok(proto::Ok {})
}

/// `chats.unban`: admins; lifts a ban (a member who was not banned stays).
pub async fn unban(s: &Shared, me: SignedIn, chat_id: i64, user_id: i64) -> Outcome<proto::Ok> {
    s.store.unban_member(me.user, ChatId(chat_id), UserId(user_id), true).await?;
    Ok(proto::Ok {})
}

/// `chats.members`: a page of the chat's members with their roles (`limit` up to `MAX_PAGE`).
pub async fn members(s: &Shared, me: SignedIn, chat_id: i64, offset: u32, limit: Option<u32>) -> Outcome<Vec<proto::Member>> {
    let members = s.store.members(me.user, ChatId(chat_id), offset, page(limit)).await?;
    let ids: Vec<UserId> = members.iter().map(|m| m.user).collect();
    let users = s.store.users(&ids).await?;
    let users = users_for(&*s.store, me.user, &users).await?;
    Ok(members.iter().zip(users).map(|(m, u)| proto::Member { user: u, role: convert::role(m.role), joined: m.joined }).collect())
}

/// `chats.export_invite`: admins only; the chat's invite link, `{public_url}/+TOKEN`.
pub async fn export_invite(s: &Shared, me: SignedIn, chat_id: i64) -> Outcome<proto::InviteLink> {
    let token = s.store.export_invite(me.user, ChatId(chat_id)).await?;
    Ok(proto::InviteLink { link: format!("{}/+{token}", s.config.public_url()) })
}

/// `chats.join`: joins by invite link (`INVITE_INVALID` for one that is not
/// `https://host/+TOKEN`) or by a public chat's `@username`, exactly one of them.
pub async fn join(s: &Shared, me: SignedIn, invite: Option<String>, username: Option<String>) -> Outcome<proto::Chat> {
    let how = match (invite, username) {
        (Some(link), None) => store::JoinBy::Invite(
            invite_token(&link)
                .ok_or_else(|| Failure(proto::Error::new(ErrorCode::InviteInvalid, "an invite link looks like https://host/+TOKEN")))?,
        ),
        (None, Some(name)) => store::JoinBy::Username(Username::parse(&name)?),
        _ => return Err(Failure(bad_params("give exactly one of `invite` or `username`"))),
    };
    let chat = s.store.join(me.user, how).await?;
    Ok(chat_of(&*s.store, me.user, chat.id).await?)
}

/// The token of an invite link: `https://host/+TOKEN`, `+TOKEN` or `TOKEN`.
pub fn invite_token(link: &str) -> Option<String> {
    let tail = link.trim().rsplit('/').next()?;
    let token = tail.strip_prefix('+').unwrap_or(tail);
    (!token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric())).then(|| token.to_string())
}
