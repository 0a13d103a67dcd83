//! account (#16): `messages.report` (anyone who can see a message) and `moderation.*` (the
//! operators named in `[accountability] operators`).
//!
//! Reports are limited per reporter ([`crate::state::Shared::reports_per_account`]) so a flood
//! of reports costs its sender, not the queue. Every operator action goes through
//! `Store::moderate`: applied, written to the append-only audit log and told to the affected
//! user in one transaction; the notice reaches them live like any message.

use heliograph_core::{ChatId, MessageId, ModerationAction, ReportReason, UserId};
use heliograph_proto::{self as proto, ErrorCode};
use heliograph_store as store;

use super::{ids, page, Outcome, SignedIn};
use crate::convert;
use crate::errors::{bad_params, flood_wait, Failure};
use crate::state::Shared;

/// Reports a case lists of each party's history.
const HISTORY: u32 = 50;

/// `messages.report`: reports a message the caller can see (`CHAT_NOT_FOUND` /
/// `MESSAGE_NOT_FOUND` otherwise, as for reading it; `BAD_PARAMS` for their own message, an
/// unknown reason, a comment over 1,024 characters or more than 20 context messages). The
/// server copies the message and the shared context as it holds them. Limit: reports per
/// account (`FLOOD_WAIT`). Idempotent: the same message again answers the first report.
pub async fn report(
    s: &Shared,
    me: SignedIn,
    chat_id: i64,
    message_id: i64,
    reason: &str,
    comment: Option<String>,
    context: &[i64],
) -> Outcome<proto::Report> {
    let reason = ReportReason::parse(reason).ok_or_else(|| {
        let known: Vec<&str> = ReportReason::ALL.iter().map(|r| r.as_str()).collect();
        Failure(bad_params(format!("`reason` must be one of {}", known.join(", "))))
    })?;
    if let Err(wait) = s.reports_per_account.check(&me.user.0) {
        return Err(Failure(flood_wait(wait.secs(), "reports")));
    }
    let new = store::NewReport {
        chat: ChatId(chat_id),
        message: MessageId(message_id),
        reason,
        comment: comment.unwrap_or_default().trim().to_string(),
        context: ids(context, MessageId)?,
    };
    Ok(convert::report(&s.store.report(me.user, new).await?))
}

/// Only the operators named in the configuration.
fn operator(s: &Shared, me: SignedIn) -> Outcome<()> {
    if s.config.accountability.operators.contains(&me.user.0) {
        Ok(())
    } else {
        Err(Failure(proto::Error::new(
            ErrorCode::OperatorRequired,
            "only this server's operators ([accountability] operators) can review reports",
        )))
    }
}

/// `moderation.reports`: the queue (open reports, or all with `all`), oldest first. Operators.
pub async fn reports(s: &Shared, me: SignedIn, all: bool, after: Option<i64>, limit: Option<u32>) -> Outcome<Vec<proto::Report>> {
    operator(s, me)?;
    let found = s.store.reports(!all, after.unwrap_or(0), page(limit)).await?;
    Ok(found.iter().map(convert::report).collect())
}

/// `moderation.report`: one report with the reporter's and the sender's report histories and
/// the sender's sanctions. Operators.
pub async fn case(s: &Shared, me: SignedIn, report_id: i64) -> Outcome<proto::ReportCase> {
    operator(s, me)?;
    let report = s.store.report_by_id(report_id).await?.ok_or_else(|| Failure(bad_params(format!("there is no report {report_id}"))))?;
    let (reporter_reports, _) = s.store.user_reports(report.reporter, HISTORY).await?;
    let (_, sender_reported) = s.store.user_reports(report.message.from, HISTORY).await?;
    let sanctions = s.store.sanctions(report.message.from).await?;
    Ok(proto::ReportCase {
        reporter: convert::user_for(&*s.store, me.user, report.reporter).await?,
        sender: convert::user_for(&*s.store, me.user, report.message.from).await?,
        report: convert::report(&report),
        reporter_reports: reporter_reports.iter().map(convert::report).collect(),
        sender_reported: sender_reported.iter().map(convert::report).collect(),
        sender_sanctions: sanctions.iter().map(convert::sanction).collect(),
    })
}

/// What the affected user reads in their chat with Moderation.
fn notice(kind: ModerationAction, reason: &str, until: Option<i64>, appeal: &str) -> Option<String> {
    let until = until.map(|t| format!(" until {} UTC", date(t))).unwrap_or_default();
    let what = match kind {
        ModerationAction::Dismiss | ModerationAction::Unseal => return None,
        ModerationAction::DeleteMessage => "One of your messages was deleted by this server's operators.".to_string(),
        ModerationAction::Suspend => format!("Your account is suspended{until}: you cannot sign in on new devices or send messages."),
        ModerationAction::Ban => format!("Your account is banned{until}: you cannot sign in on new devices or send messages."),
        ModerationAction::Restrict => format!("Your account is restricted{until}: you cannot send messages."),
        ModerationAction::TakeDown => "A group or channel you created was taken down by this server's operators.".to_string(),
    };
    Some(format!("{what}\nReason: {reason}\nTo appeal: {appeal}"))
}

/// `YYYY-MM-DD HH:MM` of unix seconds (civil-from-days, no time-zone database needed).
fn date(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", secs / 3_600, secs % 3_600 / 60)
}

/// `moderation.act`: one action on a report, an account, a chat or a message (see
/// `messages.report`'s targets), for `reason` (required). Applied, appended to the audit log
/// and told to the affected user in one transaction. Operators.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    s: &Shared,
    me: SignedIn,
    action: &str,
    reason: &str,
    report_id: Option<i64>,
    user_id: Option<i64>,
    chat_id: Option<i64>,
    message_id: Option<i64>,
    until: Option<i64>,
) -> Outcome<proto::AuditEntry> {
    operator(s, me)?;
    let kind = ModerationAction::parse(action)
        .filter(|a| *a != ModerationAction::Unseal)
        .ok_or_else(|| Failure(bad_params("`action` must be one of dismiss, delete_message, suspend, ban, restrict, take_down")))?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1024 {
        return Err(Failure(bad_params("give a `reason` (at most 1,024 characters): it is recorded and shown to the user")));
    }
    let done = s
        .store
        .moderate(store::Action {
            operator: me.user,
            kind,
            report: report_id,
            user: user_id.map(UserId),
            chat: chat_id.map(ChatId),
            message: message_id.map(MessageId),
            until,
            reason: reason.to_string(),
            notice: notice(kind, reason, until, &s.config.accountability.appeal),
        })
        .await?;
    Ok(convert::audit_entry(&done.entry, done.notified.is_some()))
}

/// `moderation.audit_log`: the audit log after entry `after`, oldest first. Operators.
pub async fn audit_log(s: &Shared, me: SignedIn, after: Option<i64>, limit: Option<u32>) -> Outcome<Vec<proto::AuditEntry>> {
    operator(s, me)?;
    let entries = s.store.audit_log(after.unwrap_or(0), page(limit)).await?;
    Ok(entries.iter().map(|e| convert::audit_entry(e, false)).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        for (unix, text) in [(0, "1970-01-01 00:00"), (951_782_400, "2000-02-29 00:00"), (1_798_761_599, "2026-12-31 23:59")] {
            assert_eq!(super::date(unix), text);
        }
    }
}
