//! Accountability (account, #16): reports, sanctions, take-downs and the append-only audit log.
//!
//! A report is made by someone who can see the message (the `chats::view` choke point and
//! `messages::visible_message`), and copies the message and the context the reporter chose, so
//! the operator reviews what the server held when it was reported. An operator's action is one
//! transaction: applied, written to `audit_log` (whose triggers refuse any UPDATE or DELETE),
//! and told to the affected user by the moderation service account, or none of it.

use heliograph_core::*;
use serde_json::{json, Value};

use super::{accounts, chats, messages, one, people, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

macro_rules! report_cols {
    () => {
        "id, reporter, chat_id, msg_id, sender, reason, comment, text, context, created, resolution, resolved_by, resolved"
    };
}
macro_rules! audit_cols {
    () => {
        "id, date, operator, action, target_user, target_chat, target_msg, report_id, until, reason"
    };
}

/// The `settings` key of the moderation service account's id.
const SERVICE_ACCOUNT: &str = "moderation_account";

fn copy_of(m: &Message) -> ReportedMessage {
    let text = match &m.content {
        Content::Text(t) => t.as_str().to_string(),
        Content::Media(media) => {
            let caption = media.caption.as_ref().map(|c| format!(" {}", c.as_str())).unwrap_or_default();
            format!("[{}: {}]{caption}", media.kind.as_str(), media.name)
        }
    };
    ReportedMessage { id: m.id, from: m.from, date: m.date, text }
}

fn encode_context(context: &[ReportedMessage]) -> String {
    Value::Array(context.iter().map(|m| json!([m.id.0, m.from.0, m.date, m.text])).collect()).to_string()
}

fn decode_context(text: &str) -> Vec<ReportedMessage> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            Some(ReportedMessage {
                id: MessageId(item.get(0)?.as_i64()?),
                from: UserId(item.get(1)?.as_i64()?),
                date: item.get(2)?.as_i64()?,
                text: item.get(3)?.as_str()?.to_string(),
            })
        })
        .collect()
}

fn report_row(r: &dyn super::Row) -> Result<Report> {
    let read = || {
        let reason: String = r.get(5)?;
        Ok(Report {
            id: r.get(0)?,
            reporter: UserId(r.get(1)?),
            chat: ChatId(r.get(2)?),
            message: ReportedMessage { id: MessageId(r.get(3)?), from: UserId(r.get(4)?), date: r.get(9)?, text: r.get(7)? },
            reason: ReportReason::parse(&reason).unwrap_or(ReportReason::Other),
            comment: r.get(6)?,
            context: decode_context(&r.get::<String>(8)?),
            created: r.get(9)?,
            resolution: r.get::<Option<String>>(10)?.as_deref().and_then(ModerationAction::parse),
            resolved_by: r.get::<Option<i64>>(11)?.map(UserId),
            resolved: r.get(12)?,
        })
    };
    read().map_err(|e: Error| e.reading("reports"))
}

fn audit_row(r: &dyn super::Row) -> Result<AuditEntry> {
    let read = || {
        let action: String = r.get(3)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            date: r.get(1)?,
            operator: UserId(r.get(2)?),
            kind: ModerationAction::parse(&action).ok_or_else(|| Error::internal(format!("unknown audit action `{action}`")))?,
            user: r.get::<Option<i64>>(4)?.map(UserId),
            chat: r.get::<Option<i64>>(5)?.map(ChatId),
            message: r.get::<Option<i64>>(6)?.map(MessageId),
            report: r.get(7)?,
            until: r.get(8)?,
            reason: r.get(9)?,
        })
    };
    read().map_err(|e: Error| e.reading("audit_log"))
}

/// `reporter` reports a message they can see. Reporting the same message again returns the
/// first report unchanged.
pub async fn report<X: Tx>(tx: &mut X, reporter: UserId, new: &NewReport) -> Result<Report> {
    if new.comment.chars().count() > NewReport::COMMENT_MAX {
        return Err(Error::Invalid(format!("the comment is longer than {} characters", NewReport::COMMENT_MAX)));
    }
    if new.context.len() > NewReport::CONTEXT_MAX {
        return Err(Error::Invalid(format!("share at most {} messages as context", NewReport::CONTEXT_MAX)));
    }
    chats::view(tx, reporter, new.chat).await?;
    let reported = messages::visible_message(tx, reporter, new.chat, new.message).await?;
    if reported.from == reporter {
        return Err(Error::Invalid("you cannot report your own message".into()));
    }
    if let Some(earlier) = tx
        .query_opt(
            sql!(concat!("SELECT ", report_cols!(), " FROM reports WHERE reporter = $1 AND chat_id = $2 AND msg_id = $3")),
            &[&reporter.0, &new.chat.0, &new.message.0],
            report_row,
        )
        .await?
    {
        return Ok(earlier);
    }
    let mut context = Vec::with_capacity(new.context.len());
    let mut ids = new.context.clone();
    ids.sort();
    ids.dedup();
    for id in ids.into_iter().filter(|&id| id != new.message) {
        context.push(copy_of(&messages::visible_message(tx, reporter, new.chat, id).await?));
    }
    let copy = copy_of(&reported);
    tx.query_opt(
        sql!(concat!(
            "INSERT INTO reports (reporter, chat_id, msg_id, sender, reason, comment, text, context, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
            report_cols!()
        )),
        &[
            &reporter.0,
            &new.chat.0,
            &new.message.0,
            &copy.from.0,
            &new.reason.as_str(),
            &new.comment.as_str(),
            &copy.text.as_str(),
            &encode_context(&context),
            &now(),
        ],
        report_row,
    )
    .await?
    .ok_or_else(|| Error::internal("a report vanished while being made"))
}

/// Reports, oldest first: only open ones when `open_only`. At most `limit`, after id `after`.
pub async fn reports<X: Tx>(tx: &mut X, open_only: bool, after: i64, limit: u32) -> Result<Vec<Report>> {
    tx.query(
        sql!(concat!("SELECT ", report_cols!(), " FROM reports WHERE id > $1 AND (resolution IS NULL OR NOT $2) ORDER BY id LIMIT $3")),
        &[&after, &open_only, &i64::from(limit)],
        report_row,
    )
    .await
}

pub async fn report_by_id<X: Tx>(tx: &mut X, id: i64) -> Result<Option<Report>> {
    tx.query_opt(sql!(concat!("SELECT ", report_cols!(), " FROM reports WHERE id = $1")), &[&id], report_row).await
}

/// `user`'s history: the reports they made and the reports about their messages, newest first.
pub async fn user_reports<X: Tx>(tx: &mut X, user: UserId, limit: u32) -> Result<(Vec<Report>, Vec<Report>)> {
    let made = tx
        .query(
            sql!(concat!("SELECT ", report_cols!(), " FROM reports WHERE reporter = $1 ORDER BY id DESC LIMIT $2")),
            &[&user.0, &i64::from(limit)],
            report_row,
        )
        .await?;
    let against = tx
        .query(
            sql!(concat!("SELECT ", report_cols!(), " FROM reports WHERE sender = $1 ORDER BY id DESC LIMIT $2")),
            &[&user.0, &i64::from(limit)],
            report_row,
        )
        .await?;
    Ok((made, against))
}

/// The sanctions in force on `user` now, the most severe first (ban, suspend, restrict).
pub async fn sanctions<X: Tx>(tx: &mut X, user: UserId) -> Result<Vec<Sanction>> {
    let mut found = tx
        .query(
            sql!("SELECT kind, until, reason FROM sanctions WHERE user_id = $1 AND (until IS NULL OR until > $2)"),
            &[&user.0, &now()],
            |r| {
                let kind: String = r.get(0)?;
                let (until, reason) = (r.get::<Option<i64>>(1)?, r.get::<String>(2)?);
                Ok(SanctionKind::parse(&kind).map(|kind| Sanction { kind, until, reason }))
            },
        )
        .await?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    found.sort_by_key(|s| match s.kind {
        SanctionKind::Ban => 0,
        SanctionKind::Suspend => 1,
        SanctionKind::Restrict => 2,
    });
    Ok(found)
}

/// Refuses a send by an account under a sanction (every sanction forbids sending).
pub async fn check_may_send<X: Tx>(tx: &mut X, user: UserId) -> Result<()> {
    match sanctions(tx, user).await?.into_iter().next() {
        Some(s) => Err(Error::Sanctioned { kind: s.kind, until: s.until, reason: s.reason }),
        None => Ok(()),
    }
}

/// The audit log after entry `after`, oldest first.
pub async fn audit_log<X: Tx>(tx: &mut X, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
    tx.query(
        sql!(concat!("SELECT ", audit_cols!(), " FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2")),
        &[&after, &i64::from(limit)],
        audit_row,
    )
    .await
}

async fn append_audit<X: Tx>(
    tx: &mut X,
    a: &Action,
    user: Option<UserId>,
    chat: Option<ChatId>,
    message: Option<MessageId>,
) -> Result<AuditEntry> {
    let entry = one(
        tx,
        sql!(concat!(
            "INSERT INTO audit_log (date, operator, action, target_user, target_chat, target_msg, report_id, until, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
            audit_cols!()
        )),
        &[
            &now(),
            &a.operator.0,
            &a.kind.as_str(),
            &user.map(|u| u.0),
            &chat.map(|c| c.0),
            &message.map(|m| m.0),
            &a.report,
            &a.until,
            &a.reason.as_str(),
        ],
        audit_row,
    )
    .await?;
    // The public record of it: what kind of action, when, and its audit entry's number (the
    // operator's log keeps who and why; the public one cannot be edited to drop an action).
    let public = serde_json::json!({"v": 1, "kind": "moderation", "action": entry.kind.as_str(), "date": entry.date, "audit": entry.id});
    super::transparency::append(tx, public.to_string().as_bytes()).await?;
    Ok(entry)
}

/// The moderation service account (no phone, made on first use): notices come from it.
async fn service_account<X: Tx>(tx: &mut X) -> Result<UserId> {
    let known = tx.query_opt(sql!("SELECT value FROM settings WHERE key = $1"), &[&SERVICE_ACCOUNT], |r| r.get::<Vec<u8>>(0)).await?;
    if let Some(id) = known.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()) {
        return Ok(UserId(i64::from_be_bytes(id)));
    }
    let id = one(
        tx,
        sql!("INSERT INTO users (name, bio, created) VALUES ($1, $2, $3) RETURNING id"),
        &[&"Moderation", &"Notices from this server's operators about your account.", &now()],
        super::int,
    )
    .await?;
    if !accounts::settle_setting(tx, SERVICE_ACCOUNT, &id.to_be_bytes()).await? {
        return Err(Error::internal("the moderation account was made twice at once"));
    }
    Ok(UserId(id))
}

/// Applies `action`, appends it to the audit log and tells the affected user, in one
/// transaction.
pub async fn moderate<X: Tx>(tx: &mut X, action: &Action) -> Result<Moderated> {
    let report = match action.report {
        Some(id) => Some(report_by_id(tx, id).await?.ok_or_else(|| Error::Invalid(format!("there is no report {id}")))?),
        None => None,
    };
    let user = action.user.or(report.as_ref().map(|r| r.message.from));
    let chat = action.chat.or(report.as_ref().map(|r| r.chat));
    let message = action.message.or(report.as_ref().map(|r| r.message.id));
    let need = |what: &str| Error::Invalid(format!("{} needs {what}", action.kind.as_str()));
    if let Some(until) = action.until {
        if until <= now() {
            return Err(Error::Invalid("`until` is in the past".into()));
        }
    }
    // Who is told: the account sanctioned, the author of a deleted message, the creator of a
    // chat taken down.
    let mut affected = None;
    let (user, chat, message) = match action.kind {
        ModerationAction::Dismiss => {
            if report.is_none() {
                return Err(need("a report"));
            }
            (user, chat, message)
        }
        ModerationAction::DeleteMessage => {
            let (chat_id, id) = (chat.ok_or_else(|| need("a chat"))?, message.ok_or_else(|| need("a message"))?);
            let c = chats::load(tx, chat_id).await?.ok_or(Error::ChatNotFound)?;
            if c.kind == ChatKind::Private {
                return Err(Error::Invalid(
                    "private chats are between their two members: sanction the sender instead of deleting their message".into(),
                ));
            }
            let m = messages::message(tx, chat_id, id).await?.ok_or(Error::MessageNotFound)?;
            messages::erase(tx, chat_id, action.operator, &[id]).await?;
            affected = Some(m.from);
            (Some(m.from), Some(chat_id), Some(id))
        }
        ModerationAction::Suspend | ModerationAction::Ban | ModerationAction::Restrict => {
            let target = user.ok_or_else(|| need("an account"))?;
            if !people::user_exists(tx, target).await? {
                return Err(Error::UserNotFound);
            }
            if action.kind == ModerationAction::Suspend && action.until.is_none() {
                return Err(need("`until` (a suspension ends; a ban may not)"));
            }
            let kind = action.kind.sanction().ok_or_else(|| Error::internal("a sanction without a kind"))?;
            tx.execute(
                sql!(
                    "INSERT INTO sanctions (user_id, kind, until, reason) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id, kind) DO UPDATE SET until = excluded.until, reason = excluded.reason"
                ),
                &[&target.0, &kind.as_str(), &action.until, &action.reason.as_str()],
            )
            .await?;
            affected = Some(target);
            (Some(target), chat, message)
        }
        ModerationAction::TakeDown => {
            let chat_id = chat.ok_or_else(|| need("a chat"))?;
            let c = chats::load(tx, chat_id).await?.ok_or(Error::ChatNotFound)?;
            if c.kind == ChatKind::Private {
                return Err(Error::Invalid("only groups and channels can be taken down".into()));
            }
            tx.execute(sql!("UPDATE chats SET taken_down = $2, invite = NULL WHERE id = $1"), &[&chat_id.0, &now()]).await?;
            affected = Some(c.creator);
            (Some(c.creator), Some(chat_id), message)
        }
        ModerationAction::Unseal => (Some(user.ok_or_else(|| need("an account"))?), chat, message),
    };
    if let Some(r) = &report {
        tx.execute(
            sql!("UPDATE reports SET resolution = $2, resolved_by = $3, resolved = $4 WHERE id = $1"),
            &[&r.id, &action.kind.as_str(), &action.operator.0, &now()],
        )
        .await?;
    }
    let entry = append_audit(tx, action, user, chat, message).await?;
    let notified = match (affected, &action.notice) {
        (Some(target), Some(text)) => notify(tx, target, text, entry.id).await?,
        _ => None,
    };
    Ok(Moderated { entry, notified })
}

/// Sends `text` to `user` from the moderation account, unless `user` blocked it.
async fn notify<X: Tx>(tx: &mut X, user: UserId, text: &str, entry: i64) -> Result<Option<(UserId, Sent)>> {
    let service = service_account(tx).await?;
    if people::is_blocked(tx, user, service).await? {
        return Ok(None);
    }
    let text = MessageText::parse(text.to_string()).map_err(|_| Error::Invalid("the notice is not a valid message".into()))?;
    let chat = chats::open_private(tx, service, user).await?;
    // The audit entry's id makes the notice's random id: one notice per entry.
    let sent = messages::send(tx, service, chat.id, i64::MIN + entry, &Draft::text(text), None).await?;
    Ok(Some((user, sent)))
}
