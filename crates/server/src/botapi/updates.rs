//! What a bot receives, and how: its own update log read from the last confirmed position,
//! rendered as Bot API `Update`s, by long polling (`getUpdates`) or pushed to a webhook.
//!
//! `update_id` is the event's pts in the bot's log. Events a bot does not see (its own
//! messages, read receipts, group chatter under privacy mode, kinds left out of
//! `allowed_updates`) are skipped, so ids have gaps, which Telegram allows. A bot confirms
//! updates by asking for a later `offset` (or, with a webhook, by the webhook's 2xx answer);
//! confirmed updates are never handed out again.
//!
//! Privacy mode, as in Telegram and always on here: in groups a bot sees commands (`/cmd`,
//! or `/cmd@its_name`), messages that mention it, and replies to its own messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heliograph_bus::Topic;
use heliograph_core::*;
use heliograph_store::{Bot, BotChange, Difference, Event, Logged, Message, ReactionChange, Store, User, Webhook};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::params::Params;
use super::render::{self, Renderer};
use super::{ApiError, ApiResult, BotApi, Ctx};

/// Longest long poll a bot may ask for, in seconds.
const MAX_POLL_SECS: i64 = 50;
/// A long poll (or an idle webhook worker) rereads the log this often even without a bus
/// notice: a notice lost between nodes delays an update by at most this much.
const RECHECK: Duration = Duration::from_secs(5);
/// Webhook retry backoff: doubling from the first, capped at the second.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
/// getWebhookInfo counts pending updates up to this many.
const MAX_COUNTED: usize = 10_000;
/// How often a node looks for webhooks set through other nodes.
const SUPERVISE: Duration = Duration::from_secs(10);

/// The update kinds this server produces.
pub const KINDS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "chat_member",
    "message_reaction",
    "message_reaction_count",
];
/// What a bot gets when it asked for nothing in particular (Telegram leaves `chat_member`
/// and the reaction kinds out).
const DEFAULT_KINDS: &[&str] = &["message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "my_chat_member"];

fn allowed(bot: &Bot) -> Vec<String> {
    match bot.allowed_updates.as_deref().filter(|s| !s.is_empty()) {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => DEFAULT_KINDS.iter().map(|s| s.to_string()).collect(),
    }
}

/// Whether a group message is for `bot` under privacy mode.
fn addressed(bot: &User, text: &str, reply_from: Option<UserId>) -> bool {
    if reply_from == Some(bot.id) {
        return true;
    }
    let Some(name) = bot.username.as_deref() else { return false };
    if let Some(command) = text.strip_prefix('/') {
        let word = command.split_whitespace().next().unwrap_or("");
        return match word.split_once('@') {
            Some((_, to)) => to.eq_ignore_ascii_case(name),
            None => !word.is_empty(),
        };
    }
    let mention = format!("@{}", name.to_ascii_lowercase());
    let lower = text.to_lowercase();
    lower.match_indices(&mention).any(|(at, m)| {
        let next = lower[at + m.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The update one logged event makes for `bot`, if any.
async fn update(r: &mut Renderer<'_>, bot: &User, allowed: &[String], logged: &Logged) -> ApiResult<Option<Value>> {
    let wants = |kind: &str| allowed.iter().any(|k| k == kind);
    let (kind, value) = match &logged.event {
        Event::NewMessage(m) | Event::EditMessage(m) => {
            let edited = matches!(logged.event, Event::EditMessage(_));
            let Some(kind) = message_kind(r, bot, m, edited).await? else { return Ok(None) };
            if !wants(kind) {
                return Ok(None);
            }
            (kind, r.message(m).await?)
        }
        Event::CallbackQuery { chat, message, from, data } => {
            if !wants("callback_query") {
                return Ok(None);
            }
            let mut q = json!({
                "id": crate::callbacks::query_id(bot.id, logged.pts),
                "from": render::user(&r.user(*from).await?),
                "chat_instance": chat.0.to_string(),
                "data": data,
            });
            if let Some(m) = r.fetch(*chat, *message).await? {
                q["message"] = r.message(&m).await?;
            }
            ("callback_query", q)
        }
        Event::Participant { chat, user, role, by } => {
            let kind = if *user == bot.id { "my_chat_member" } else { "chat_member" };
            if !wants(kind) {
                return Ok(None);
            }
            let member = r.user(*user).await?;
            // The log keeps the new role only; the old one follows from it: an admin was a
            // member before (promotion), someone who left was a member, a new member or a
            // creator was not in the chat. (A demotion reads as a join: the one case the log
            // cannot tell apart.)
            let old = match role {
                Some(Role::Admin) | None => Some(Role::Member),
                Some(Role::Member) | Some(Role::Creator) => None,
            };
            let value = json!({
                "chat": r.chat_json(*chat).await?,
                "from": render::user(&r.user(*by).await?),
                "date": logged.date,
                "old_chat_member": render::chat_member(&member, old),
                "new_chat_member": render::chat_member(&member, *role),
            });
            (kind, value)
        }
        Event::Reactions { chat, message, change } => {
            let Some((kind, value)) = reaction_update(r, bot, allowed, logged.date, *chat, *message, change.as_ref()).await? else {
                return Ok(None);
            };
            (kind, value)
        }
        _ => return Ok(None),
    };
    Ok(Some(json!({ "update_id": logged.pts, kind: value })))
}

/// A change of reactions, as Telegram tells bots: `message_reaction` (who, from what to
/// what) in private chats and in groups where the bot is an administrator, never for its
/// own; `message_reaction_count` (the counts) in channels where it is one, whose readers
/// react anonymously. Both only when asked for in `allowed_updates`.
async fn reaction_update(
    r: &mut Renderer<'_>,
    bot: &User,
    allowed: &[String],
    date: i64,
    chat: ChatId,
    message: MessageId,
    change: Option<&ReactionChange>,
) -> ApiResult<Option<(&'static str, Value)>> {
    let wants = |kind: &str| allowed.iter().any(|k| k == kind);
    let (info, _) = r.chat(chat).await?;
    let kind = match (info.kind, change) {
        (ChatKind::Private | ChatKind::Group, Some(c)) if c.by != bot.id && wants("message_reaction") => "message_reaction",
        (ChatKind::Channel, _) if wants("message_reaction_count") => "message_reaction_count",
        _ => return Ok(None),
    };
    let store = r.store();
    // A chat the bot has left since, or where it is no admin now, tells it nothing.
    let admin = match store.member(bot.id, chat, bot.id).await {
        Ok(member) => member.is_some_and(|m| m.role.is_admin()),
        Err(heliograph_store::Error::ChatNotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if info.kind != ChatKind::Private && !admin {
        return Ok(None);
    }
    let mut value = json!({ "chat": r.chat_json(chat).await?, "message_id": message.0, "date": date });
    match change {
        Some(c) if kind == "message_reaction" => {
            value["user"] = render::user(&r.user(c.by).await?);
            value["old_reaction"] = c.old.iter().map(render::reaction_type).collect();
            value["new_reaction"] = c.new.iter().map(render::reaction_type).collect();
        }
        _ => {
            // As they stand now: every reaction may have been taken away since.
            let now = store.reactions(bot.id, chat, &[message]).await?.pop();
            let counts = now.iter().flat_map(|n| &n.counts);
            value["reactions"] = counts.map(|c| json!({ "type": render::reaction_type(&c.reaction), "total_count": c.count })).collect();
        }
    }
    Ok(Some((kind, value)))
}

/// Which update a message is for `bot`: none for its own, privacy mode in groups.
async fn message_kind(r: &mut Renderer<'_>, bot: &User, m: &Message, edited: bool) -> ApiResult<Option<&'static str>> {
    if m.from == bot.id {
        return Ok(None);
    }
    let (chat, _) = r.chat(m.chat).await?;
    Ok(Some(match (chat.kind, edited) {
        (ChatKind::Channel, false) => "channel_post",
        (ChatKind::Channel, true) => "edited_channel_post",
        (ChatKind::Group, _) => {
            let reply_from = match m.reply_to {
                Some(id) => r.fetch(m.chat, id).await?.map(|o| o.from),
                None => None,
            };
            let text = m.content.text().map(MessageText::as_str).unwrap_or("");
            if !addressed(bot, text, reply_from) {
                return Ok(None);
            }
            if edited {
                "edited_message"
            } else {
                "message"
            }
        }
        (ChatKind::Private, false) => "message",
        (ChatKind::Private, true) => "edited_message",
    }))
}

/// Reads the bot's log after `from` and renders what the bot sees: the updates, and the pts
/// read up to (past skipped events too).
async fn pending(store: &dyn Store, bot: &Bot, from: Pts, limit: u32) -> ApiResult<(Vec<Value>, Pts)> {
    let (events, top) = match store.difference(bot.user.id, from, limit).await? {
        Difference::Empty { pts } => (Vec::new(), pts),
        Difference::Complete { events, pts } | Difference::Slice { events, pts } => {
            let top = events.last().map_or(pts, |e| e.pts);
            (events, top)
        }
        // Further behind than the log keeps: what is gone is gone (Telegram keeps 24 hours).
        Difference::TooLong { pts } => (Vec::new(), pts),
    };
    let allowed = allowed(bot);
    let mut r = Renderer::new(store, bot.user.id);
    let mut updates = Vec::new();
    for logged in &events {
        if let Some(u) = update(&mut r, &bot.user, &allowed, logged).await? {
            updates.push(u);
        }
    }
    Ok((updates, top.max(from)))
}

/// Updates waiting for the bot (counted up to [`MAX_COUNTED`]): what the log holds past the
/// confirmed position that the bot would actually receive.
async fn pending_count(store: &dyn Store, bot: &Bot) -> ApiResult<usize> {
    let (mut count, mut from) = (0, bot.confirmed);
    while count < MAX_COUNTED {
        let (updates, read) = pending(store, bot, from, 100).await?;
        if read <= from {
            break;
        }
        count += updates.len();
        from = read;
    }
    Ok(count)
}

/// The position to confirm so that only the last `n` updates the bot would receive stay
/// queued; `None` when fewer are queued. Counted in updates, not log positions: the log
/// also holds events the bot never sees as updates (its own messages, others' read marks).
async fn last_updates_from(store: &dyn Store, bot: &Bot, n: u64) -> ApiResult<Option<Pts>> {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_COUNTED);
    let mut last = std::collections::VecDeque::with_capacity(n.min(100) + 1);
    let mut from = bot.confirmed;
    loop {
        let (updates, read) = pending(store, bot, from, 100).await?;
        for u in &updates {
            last.push_back(u["update_id"].as_i64().ok_or_else(ApiError::internal)?);
            if last.len() > n {
                last.pop_front();
            }
        }
        if read <= from {
            break;
        }
        from = read;
    }
    Ok(if last.len() == n { last.front().map(|first| first - 1) } else { None })
}

async fn load(store: &dyn Store, bot: UserId) -> ApiResult<Bot> {
    store.bot(bot).await?.ok_or_else(|| ApiError::new(401, "Unauthorized".into()))
}

/// One long poll per bot: a new `getUpdates` ends the one in flight, as in Telegram.
#[derive(Default)]
pub struct Pollers {
    current: Mutex<HashMap<UserId, (u64, CancellationToken)>>,
    next: std::sync::atomic::AtomicU64,
}

impl Pollers {
    fn claim(&self, bot: UserId) -> (u64, CancellationToken) {
        let claim = (self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed), CancellationToken::new());
        if let Some((_, old)) = self.current.lock().expect("pollers lock").insert(bot, claim.clone()) {
            old.cancel();
        }
        claim
    }

    fn release(&self, bot: UserId, generation: u64) {
        let mut current = self.current.lock().expect("pollers lock");
        if current.get(&bot).is_some_and(|(g, _)| *g == generation) {
            current.remove(&bot);
        }
    }

    /// Ends `bot`'s poll in flight, if any.
    fn end(&self, bot: UserId) {
        if let Some((_, poll)) = self.current.lock().expect("pollers lock").remove(&bot) {
            poll.cancel();
        }
    }
}

pub async fn get_updates(ctx: Ctx, params: Params) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let id = ctx.bot.id;
    let mut bot = load(store, id).await?;
    if bot.webhook.is_some() {
        return Err(ApiError::new(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".into(),
        ));
    }
    let limit = params.int("limit")?.unwrap_or(100).clamp(1, 100) as u32;
    let timeout = params.int("timeout")?.unwrap_or(0).clamp(0, MAX_POLL_SECS) as u64;
    if let Some(kinds) = params.json::<Vec<String>>("allowed_updates")? {
        bot = store.update_bot(id, BotChange::AllowedUpdates(Some(checked_kinds(kinds)))).await?;
    }
    match params.int("offset")? {
        Some(offset) if offset > 0 => bot = store.update_bot(id, BotChange::Confirm(offset - 1)).await?,
        // Negative: only the last -offset updates of the queue; everything before is forgotten.
        Some(offset) if offset < 0 => {
            if let Some(before) = last_updates_from(store, &bot, offset.unsigned_abs()).await? {
                bot = store.update_bot(id, BotChange::Confirm(before)).await?;
            }
        }
        _ => {}
    }

    let (generation, claim) = ctx.api.updates.claim(id);
    let bus = &ctx.api.shared.bus;
    let mut sub = bus.subscribe(16);
    sub.follow(Topic::User(id.0));
    bus.ready().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let result = loop {
        let (updates, read) = pending(store, &bot, bot.confirmed, limit).await?;
        if !updates.is_empty() {
            break Ok(Value::Array(updates));
        }
        if read > bot.confirmed {
            // Everything read is for others' eyes (or kinds the bot did not ask for).
            bot = store.update_bot(id, BotChange::Confirm(read)).await?;
        }
        if tokio::time::Instant::now() >= deadline {
            break Ok(json!([]));
        }
        let recheck = (tokio::time::Instant::now() + RECHECK).min(deadline);
        tokio::select! {
            _ = sub.recv() => {}
            _ = tokio::time::sleep_until(recheck) => {}
            _ = claim.cancelled() => break Err(ApiError::new(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running".into())),
            _ = ctx.api.shared.shutdown.cancelled() => break Ok(json!([])),
        }
    };
    ctx.api.updates.release(id, generation);
    result
}

fn checked_kinds(kinds: Vec<String>) -> String {
    // Telegram ignores kinds it does not know; so do we, keeping the ones we deliver.
    kinds.into_iter().filter(|k| KINDS.contains(&k.as_str())).collect::<Vec<_>>().join(",")
}

pub async fn set_webhook(ctx: Ctx, params: Params) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let id = ctx.bot.id;
    let url = params.str("url")?.unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(ctx, params).await;
    }
    if url.len() > 2048 {
        return Err(ApiError::bad_request("bad webhook: the URL is longer than 2048 bytes"));
    }
    // What it resolves to now; every delivery checks again what it connects to.
    ctx.api.shared.egress.check(&url).await.map_err(|refusal| ApiError::bad_request(format!("bad webhook: {refusal}")))?;
    let secret = params.str("secret_token")?.filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        if s.len() > 256 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ApiError::bad_request("bad webhook: secret token contains unallowed characters"));
        }
    }
    let max_connections = params.int("max_connections")?.unwrap_or(40).clamp(1, 100) as u32;
    if let Some(kinds) = params.json::<Vec<String>>("allowed_updates")? {
        store.update_bot(id, BotChange::AllowedUpdates(Some(checked_kinds(kinds)))).await?;
    }
    if params.bool("drop_pending_updates")? {
        let top = store.state(id).await?;
        store.update_bot(id, BotChange::Confirm(top)).await?;
    }
    let hook = Webhook { url, secret, max_connections, set: heliograph_store::now() };
    store.update_bot(id, BotChange::Webhook(Some(hook))).await?;
    // A poll in flight ends, as in Telegram.
    ctx.api.updates.end(id);
    ctx.api.webhooks.start(ctx.api.clone(), id);
    Ok(json!(true))
}

pub async fn delete_webhook(ctx: Ctx, params: Params) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let id = ctx.bot.id;
    store.update_bot(id, BotChange::Webhook(None)).await?;
    ctx.api.webhooks.stop(id);
    if params.bool("drop_pending_updates")? {
        let top = store.state(id).await?;
        store.update_bot(id, BotChange::Confirm(top)).await?;
    }
    Ok(json!(true))
}

pub async fn get_webhook_info(ctx: Ctx, _params: Params) -> ApiResult {
    let store = &*ctx.api.shared.store;
    let bot = load(store, ctx.bot.id).await?;
    let mut info = json!({ "url": "", "has_custom_certificate": false, "pending_update_count": pending_count(store, &bot).await? });
    if let Some(hook) = &bot.webhook {
        info["url"] = json!(hook.url);
        info["max_connections"] = json!(hook.max_connections);
        if let Some((date, message)) = &bot.webhook_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
    }
    if let Some(kinds) = bot.allowed_updates.as_deref().filter(|s| !s.is_empty()) {
        info["allowed_updates"] = json!(kinds.split(',').collect::<Vec<_>>());
    }
    Ok(info)
}

/// Webhook delivery: one worker per bot with a webhook, on this node.
#[derive(Default)]
pub struct Webhooks {
    running: Mutex<HashMap<UserId, CancellationToken>>,
}

impl Webhooks {
    /// Starts (or restarts, after the webhook changed) `bot`'s worker.
    pub fn start(&self, api: Arc<BotApi>, bot: UserId) {
        if !api.shared.config.bot_webhooks {
            return;
        }
        let stop = api.shared.shutdown.child_token();
        if let Some(old) = self.running.lock().expect("webhooks lock").insert(bot, stop.clone()) {
            old.cancel();
        }
        tokio::spawn(deliver(api, bot, stop));
    }

    /// Starts `bot`'s worker unless one runs.
    fn ensure(&self, api: Arc<BotApi>, bot: UserId) {
        if self.running.lock().expect("webhooks lock").get(&bot).is_none_or(CancellationToken::is_cancelled) {
            self.start(api, bot);
        }
    }

    pub fn stop(&self, bot: UserId) {
        if let Some(old) = self.running.lock().expect("webhooks lock").remove(&bot) {
            old.cancel();
        }
    }
}

/// Keeps a delivery worker running for every bot with a webhook, on a node with
/// `bot_webhooks` on: at startup, and every [`SUPERVISE`] for webhooks set through other
/// nodes.
pub async fn supervise_webhooks(api: Arc<BotApi>) {
    if !api.shared.config.bot_webhooks {
        return;
    }
    loop {
        match api.shared.store.webhook_bots().await {
            Ok(bots) => {
                for bot in bots {
                    api.webhooks.ensure(api.clone(), bot);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list the bots with webhooks"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SUPERVISE) => {}
            _ = api.shared.shutdown.cancelled() => return,
        }
    }
}

/// Delivers `bot`'s updates to its webhook in order, one at a time, until the webhook is
/// removed or changed: each is confirmed once the webhook answers 2xx; a failure is recorded
/// (getWebhookInfo shows it) and retried with exponential backoff.
async fn deliver(api: Arc<BotApi>, id: UserId, stop: CancellationToken) {
    let store = &*api.shared.store;
    let bus = &api.shared.bus;
    let mut sub = bus.subscribe(16);
    sub.follow(Topic::User(id.0));
    bus.ready().await;
    let mut backoff = BACKOFF.0;
    while !stop.is_cancelled() {
        let round = async {
            let bot = load(store, id).await?;
            let Some(hook) = bot.webhook.clone() else { return Ok::<_, ApiError>(None) };
            let (updates, read) = pending(store, &bot, bot.confirmed, 100).await?;
            if updates.is_empty() {
                if read > bot.confirmed {
                    store.update_bot(id, BotChange::Confirm(read)).await?;
                }
                return Ok(Some(true));
            }
            for update in updates {
                let update_id = update["update_id"].as_i64().unwrap_or(0);
                let secret = hook.secret.as_deref().map(|s| ("X-Telegram-Bot-Api-Secret-Token", s));
                let outcome = match api.shared.egress.post_json(&hook.url, secret.as_slice(), &update).await {
                    Ok(answer) if answer.status.is_success() => Ok(()),
                    Ok(answer) => Err(format!("Wrong response from the webhook: {}", answer.status)),
                    Err(e) => Err(e.to_string()),
                };
                crate::metrics::webhook_delivery(outcome.is_ok());
                match outcome {
                    Ok(()) => {
                        store.update_bot(id, BotChange::Confirm(update_id)).await?;
                    }
                    Err(message) => {
                        store.update_bot(id, BotChange::WebhookError(Some((heliograph_store::now(), message)))).await?;
                        return Ok(Some(false));
                    }
                }
            }
            Ok(Some(true))
        };
        match round.await {
            Ok(None) => break,
            Ok(Some(true)) => {
                backoff = BACKOFF.0;
                tokio::select! {
                    _ = sub.recv() => {}
                    _ = tokio::time::sleep(RECHECK) => {}
                    _ = stop.cancelled() => break,
                }
                // Drain what queued meanwhile: one read covers them all.
                while sub.try_recv().is_some() {}
            }
            Ok(Some(false)) | Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
    // Forget this worker (a newer one for the same bot has a live token and stays).
    stop.cancel();
    api.webhooks.running.lock().expect("webhooks lock").retain(|b, t| *b != id || !t.is_cancelled());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_mode_lets_through_commands_mentions_and_replies() {
        let bot = User {
            id: UserId(9),
            name: "Echo".into(),
            username: Some("echo_bot".into()),
            bio: String::new(),
            created: 0,
            bot_owner: Some(UserId(1)),
        };
        let cases = [
            ("/start", None, true),
            ("/start@echo_bot now", None, true),
            ("/start@Echo_Bot", None, true),
            ("/start@other_bot", None, false),
            ("/", None, false),
            ("hello @echo_bot!", None, true),
            ("hello @ECHO_BOT", None, true),
            ("hello @echo_bot_2", None, false),
            ("hello everyone", None, false),
            ("thanks", Some(UserId(9)), true),
            ("thanks", Some(UserId(3)), false),
        ];
        for (text, reply_from, want) in cases {
            assert_eq!(addressed(&bot, text, reply_from), want, "{text:?} {reply_from:?}");
        }
    }
}
