//! Request handling: one function per protocol method, in one file per area, named as the
//! methods are (`auth.*` in [`auth`], `chats.*` in [`chats`], …). Each handler parses its
//! untrusted parameters into checked values, calls the store (which authorizes), and renders
//! the result for the caller; its doc comment starts with the method's name and says what it
//! checks and limits.
//!
//! [`call`] is the one way in: it checks the session and the per-session rate limit, picks the
//! handler from one table (a line per method), turns the result into JSON and records the
//! request's metric. No handler repeats any of that. Transport-agnostic: the WebSocket
//! gateway calls [`call`].

pub mod account;
pub mod auth;
pub mod bots;
pub mod chats;
pub mod contacts;
pub mod messages;
pub mod moderation;
pub mod search;
pub mod updates;
pub mod users;
// secret chats (#15)
pub mod secret;

use std::net::IpAddr;

use heliograph_core::{SessionId, UserId};
use heliograph_proto::{
    self as proto,
    frame::{MAX_IDS_PER_REQUEST, MAX_PAGE},
    ErrorCode, Request,
};
use serde::Serialize;
use serde_json::Value;

use crate::errors::{bad_params, flood_wait, Failure};
use crate::state::Shared;

/// What a handler answers.
pub type Outcome<T = Value> = Result<T, Failure>;

/// A page of a list when the client names no size.
const DEFAULT_PAGE: u32 = 50;

/// Who is calling: their address, and their session once signed in.
#[derive(Debug, Clone)]
pub struct Caller {
    pub addr: IpAddr,
    pub session: Option<SignedIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    pub user: UserId,
    pub session: SessionId,
}

/// What a request did to the connection's own state, beyond its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The connection is now signed in.
    SignedIn(SignedIn),
    /// The connection's session ended.
    SignedOut,
}

/// Handles one request. Methods other than sign-in need `caller.session`.
pub async fn call(shared: &Shared, caller: &Caller, request: Request) -> Result<(Value, Effect), proto::Error> {
    let method = request.method();
    let started = std::time::Instant::now();
    let result = dispatch(shared, caller, request).await;
    let outcome = match &result {
        Ok(_) => "OK",
        Err(Failure(e)) => e.code.as_str(),
    };
    crate::metrics::record_request(method, outcome, started.elapsed());
    result.map_err(|Failure(e)| e)
}

/// The session check, the rate limit, and the one table of handlers. A signed-in method's
/// line matches only with a session (`Some(me)`), so no handler can run without one.
async fn dispatch(s: &Shared, caller: &Caller, request: Request) -> Outcome<(Value, Effect)> {
    let me = match (&caller.session, request.is_public()) {
        (_, true) => None,
        (Some(me), false) => {
            if let Err(wait) = s.requests_per_session.check(&me.session.0) {
                return Err(Failure(flood_wait(wait.secs(), "requests")));
            }
            Some(*me)
        }
        (None, false) => {
            return Err(Failure(proto::Error::new(
                ErrorCode::AuthRequired,
                "sign in first: auth.sign_in, or auth.authorize with a session token",
            )))
        }
    };
    use Request as R;
    match (request, me) {
        (R::SendCode { phone }, _) => answer(auth::send_code(s, caller, &phone).await),
        (R::SignIn { phone, code, name, device }, _) => answer_with(auth::sign_in(s, caller, &phone, &code, name, device).await),
        (R::Authorize { token }, _) => answer_with(auth::authorize(s, caller, &token).await),
        (R::LogOut {}, Some(me)) => answer_with(auth::log_out(s, me).await),
        (R::GetSessions {}, Some(me)) => answer(account::sessions(s, me).await),
        (R::RevokeSession { session_id }, Some(me)) => answer_with(account::revoke_session(s, me, session_id).await),
        (R::UpdateProfile { name, bio }, Some(me)) => answer(account::update_profile(s, me, name, bio).await),
        (R::SetUsername { username }, Some(me)) => answer(account::set_username(s, me, username).await),
        (R::SetPrivacy { find_by_phone }, Some(me)) => answer(account::set_privacy(s, me, find_by_phone).await),
        (R::GetPrivacy {}, Some(me)) => answer(account::privacy(s, me).await),
        (R::CreateBot { name, username }, Some(me)) => answer(bots::create(s, me, &name, &username).await),
        (R::GetBots {}, Some(me)) => answer(bots::list(s, me).await),
        (R::RevokeBotToken { bot_id }, Some(me)) => answer(bots::revoke_token(s, me, bot_id).await),
        (R::GetMe {}, Some(me)) => answer(users::get_me(s, me).await),
        (R::GetUsers { ids }, Some(me)) => answer(users::get(s, me, &ids).await),
        (R::Resolve { username }, Some(me)) => answer(contacts::resolve(s, me, &username).await),
        (R::GetContacts {}, Some(me)) => answer(contacts::list(s, me).await),
        (R::AddContact { phone, username }, Some(me)) => answer(contacts::add(s, me, phone, username).await),
        (R::RemoveContact { user_id }, Some(me)) => answer(contacts::remove(s, me, user_id).await),
        (R::Block { user_id }, Some(me)) => answer(contacts::block(s, me, user_id).await),
        (R::Unblock { user_id }, Some(me)) => answer(contacts::unblock(s, me, user_id).await),
        (R::GetBlocked {}, Some(me)) => answer(contacts::blocked(s, me).await),
        (R::GetDialogs { limit, offset }, Some(me)) => answer(chats::dialogs(s, me, limit, offset).await),
        (R::GetChat { chat_id }, Some(me)) => answer(chats::get(s, me, chat_id).await),
        (R::OpenPrivate { user_id }, Some(me)) => answer(chats::open_private(s, me, user_id).await),
        (R::CreateGroup { title, user_ids }, Some(me)) => answer(chats::create_group(s, me, &title, &user_ids).await),
        (R::CreateChannel { title, username }, Some(me)) => answer(chats::create_channel(s, me, &title, username).await),
        (R::AddMembers { chat_id, user_ids }, Some(me)) => answer(chats::add_members(s, me, chat_id, &user_ids).await),
        (R::RemoveMember { chat_id, user_id }, Some(me)) => answer(chats::remove_member(s, me, chat_id, user_id).await),
        (R::Leave { chat_id }, Some(me)) => answer(chats::leave(s, me, chat_id).await),
        (R::SetTitle { chat_id, title }, Some(me)) => answer(chats::set_title(s, me, chat_id, &title).await),
        (R::SetAdmin { chat_id, user_id, admin }, Some(me)) => answer(chats::set_admin(s, me, chat_id, user_id, admin).await),
        (R::Restrict { chat_id, user_id, can_send, until }, Some(me)) => {
            answer(chats::restrict(s, me, chat_id, user_id, &can_send, until).await)
        }
        (R::Ban { chat_id, user_id, until }, Some(me)) => answer(chats::ban(s, me, chat_id, user_id, until).await),
        (R::Unban { chat_id, user_id }, Some(me)) => answer(chats::unban(s, me, chat_id, user_id).await),
        (R::GetMembers { chat_id, offset, limit }, Some(me)) => answer(chats::members(s, me, chat_id, offset, limit).await),
        (R::ExportInvite { chat_id }, Some(me)) => answer(chats::export_invite(s, me, chat_id).await),
        (R::Join { invite, username }, Some(me)) => answer(chats::join(s, me, invite, username).await),
        (R::SendMessage { chat_id, random_id, text, reply_to }, Some(me)) => {
            answer(messages::send(s, me, chat_id, random_id, text, reply_to).await)
        }
        (R::SendMedia { chat_id, random_id, file_id, kind, caption, reply_to }, Some(me)) => {
            answer(messages::send_media(s, me, chat_id, random_id, file_id, kind, caption, reply_to).await)
        }
        (R::Forward { from_chat_id, ids, to_chat_id, random_ids }, Some(me)) => {
            answer(messages::forward(s, me, from_chat_id, &ids, to_chat_id, &random_ids).await)
        }
        (R::Edit { chat_id, id, text }, Some(me)) => answer(messages::edit(s, me, chat_id, id, text).await),
        (R::Delete { chat_id, ids, for_everyone }, Some(me)) => answer(messages::delete(s, me, chat_id, &ids, for_everyone).await),
        (R::Pin { chat_id, id }, Some(me)) => answer(messages::pin(s, me, chat_id, id).await),
        (R::ReadHistory { chat_id, max_id }, Some(me)) => answer(messages::read(s, me, chat_id, max_id).await),
        (R::SetTyping { chat_id }, Some(me)) => answer(messages::typing(s, me, chat_id).await),
        (R::GetHistory { chat_id, from_id, direction, limit }, Some(me)) => {
            answer(messages::history(s, me, chat_id, from_id, direction, limit).await)
        }
        (R::PressButton { chat_id, message_id, data }, Some(me)) => answer(messages::press_button(s, me, chat_id, message_id, &data).await),
        // daily use (#18)
        (R::React { chat_id, id, reactions }, Some(me)) => answer(messages::react(s, me, chat_id, id, &reactions).await),
        (R::SaveDraft { chat_id, text, reply_to }, Some(me)) => answer(messages::save_draft(s, me, chat_id, text, reply_to).await),
        // search (#17)
        (R::SearchMessages { q, chat_id, from_id, kind, min_date, max_date, offset, limit }, Some(me)) => {
            answer(search::messages(s, me, q, chat_id, from_id, kind, min_date, max_date, offset, limit).await)
        }
        (R::SearchDirectory { q, limit }, Some(me)) => answer(search::directory(s, me, q, limit).await),
        (R::GetState {}, Some(me)) => answer(updates::get_state(s, me).await),
        (R::GetDifference { pts, limit }, Some(me)) => answer(updates::get_difference(s, me, pts, limit).await),
        (R::GetChatDifference { chat_id, pts, limit }, Some(me)) => answer(updates::get_chat_difference(s, me, chat_id, pts, limit).await),
        // account (#16): reports and moderation.
        (R::ReportMessage { chat_id, message_id, reason, comment, context }, Some(me)) => {
            answer(moderation::report(s, me, chat_id, message_id, &reason, comment, &context).await)
        }
        (R::GetReports { all, after, limit }, Some(me)) => answer(moderation::reports(s, me, all, after, limit).await),
        (R::GetReport { report_id }, Some(me)) => answer(moderation::case(s, me, report_id).await),
        (R::Moderate { action, reason, report_id, user_id, chat_id, message_id, until }, Some(me)) => {
            answer(moderation::act(s, me, &action, &reason, report_id, user_id, chat_id, message_id, until).await)
        }
        (R::GetAuditLog { after, limit }, Some(me)) => answer(moderation::audit_log(s, me, after, limit).await),
        // --- secret chats (#15) ---
        (R::UploadKeyPackages { key_packages, last_resort }, Some(me)) => {
            answer(secret::upload_key_packages(s, me, &key_packages, last_resort.as_deref()).await)
        }
        (R::GetKeyPackageCount {}, Some(me)) => answer(secret::key_package_count(s, me).await),
        (R::ClaimKeyPackages { user_ids }, Some(me)) => answer(secret::claim_key_packages(s, me, &user_ids).await),
        (R::GetSecretDevices { user_ids }, Some(me)) => answer(secret::devices(s, me, &user_ids).await),
        (R::CreateSecret { title, group_info }, Some(me)) => answer(secret::create(s, me, title, &group_info).await),
        (R::GetGroupInfo { chat_id }, Some(me)) => answer(secret::group_info(s, me, chat_id).await),
        (R::SecretCommit { chat_id, commit, group_info, welcome }, Some(me)) => {
            answer(secret::commit(s, me, chat_id, &commit, &group_info, welcome.as_deref()).await)
        }
        (R::SecretSend { chat_id, random_id, message }, Some(me)) => answer(secret::send(s, me, chat_id, random_id, &message).await),
        (R::SecretHistory { chat_id, after_id, limit }, Some(me)) => answer(secret::history(s, me, chat_id, after_id, limit).await),
        (R::GetSecretChats {}, Some(me)) => answer(secret::chats(s, me).await),
        (other, None) => Err(Failure(proto::Error::new(ErrorCode::Internal, format!("`{}` reached no handler", other.method())))),
    }
}

/// A handler's result as JSON; the connection's state is unchanged.
fn answer<T: Serialize>(result: Outcome<T>) -> Outcome<(Value, Effect)> {
    Ok((json(result?)?, Effect::None))
}

/// A result, and what the request did to the connection (sign-in, sign-out).
fn answer_with<T: Serialize>(result: Outcome<(T, Effect)>) -> Outcome<(Value, Effect)> {
    let (value, effect) = result?;
    Ok((json(value)?, effect))
}

fn json<T: Serialize>(value: T) -> Outcome {
    serde_json::to_value(value).map_err(|e| Failure(proto::Error::new(ErrorCode::Internal, format!("cannot encode the result: {e}"))))
}

/// A page size: the client's, within 1 and [`MAX_PAGE`], or [`DEFAULT_PAGE`].
fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// Typed ids, at most [`MAX_IDS_PER_REQUEST`] of them.
fn ids<T>(ids: &[i64], wrap: fn(i64) -> T) -> Outcome<Vec<T>> {
    if ids.len() > MAX_IDS_PER_REQUEST {
        return Err(Failure(bad_params(format!("at most {MAX_IDS_PER_REQUEST} ids per request; got {}", ids.len()))));
    }
    Ok(ids.iter().copied().map(wrap).collect())
}
