//! What `helio` prints: one JSON object per line with `--json` (stable field names, see
//! `docs/cli.md`), or one plain line per item for people.

use heliograph_client::proto::{Chat, ChatKind, Dialog, Message, Role, Session, Update, UpdateKind, User};
use serde_json::{json, Map, Value};

/// Prints one JSON object as one line.
pub fn line(value: &Value) {
    println!("{value}");
}

fn insert_some<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

/// `{id, chat, from, text, date, reply_to?, edit_date?, forward_from?}`.
pub fn message(m: &Message) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), m.id.into());
    map.insert("chat".into(), m.chat_id.into());
    map.insert("from".into(), m.from.into());
    map.insert("text".into(), m.content.text().unwrap_or("").into());
    map.insert("date".into(), m.date.into());
    insert_some(&mut map, "reply_to", m.reply_to);
    insert_some(&mut map, "edit_date", m.edit_date);
    insert_some(&mut map, "forward_from", m.forward.as_ref().map(|f| f.from_user));
    map
}

/// `{id, name, username?, bio?, phone?, contact, blocked}`.
pub fn user(u: &User) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), u.id.into());
    map.insert("name".into(), u.name.clone().into());
    insert_some(&mut map, "username", u.username.clone());
    insert_some(&mut map, "bio", u.bio.clone());
    insert_some(&mut map, "phone", u.phone.clone());
    map.insert("contact".into(), u.contact.into());
    map.insert("blocked".into(), u.blocked.into());
    Value::Object(map)
}

pub fn kind(k: ChatKind) -> &'static str {
    match k {
        ChatKind::Private => "private",
        ChatKind::Group => "group",
        ChatKind::Channel => "channel",
    }
}

pub fn role(r: Role) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// `{chat, kind, title, username?, peer?, members, role?, pinned?}`.
pub fn chat(c: &Chat) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("chat".into(), c.id.into());
    map.insert("kind".into(), kind(c.kind).into());
    map.insert("title".into(), c.title.clone().into());
    insert_some(&mut map, "username", c.username.clone());
    insert_some(&mut map, "peer", c.peer.as_ref().map(|p| p.id));
    map.insert("members".into(), c.member_count.into());
    insert_some(&mut map, "role", c.role.map(role));
    insert_some(&mut map, "pinned", c.pinned_message_id);
    map
}

/// A chat object plus `{unread, last_id?, last_from?, last_text?, last_date?}`.
pub fn dialog(d: &Dialog) -> Value {
    let mut map = chat(&d.chat);
    map.insert("unread".into(), d.unread_count.into());
    if let Some(m) = &d.last_message {
        map.insert("last_id".into(), m.id.into());
        map.insert("last_from".into(), m.from.into());
        map.insert("last_text".into(), m.content.text().unwrap_or("").into());
        map.insert("last_date".into(), m.date.into());
    }
    Value::Object(map)
}

/// `{id, device, created, last_active, current}`.
pub fn session(s: &Session) -> Value {
    json!({"id": s.id, "device": s.device, "created": s.created, "last_active": s.last_active, "current": s.current})
}

/// One update as `{type, chat, ...}`; see `docs/cli.md` for each type's fields.
pub fn update(u: &Update) -> Value {
    let mut map = match &u.kind {
        UpdateKind::NewMessage { message: m } | UpdateKind::EditMessage { message: m } => message(m),
        UpdateKind::DeleteMessages { chat_id, ids } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("ids".into(), ids.clone().into());
            map
        }
        UpdateKind::ReadInbox { chat_id, max_id } | UpdateKind::ReadOutbox { chat_id, max_id } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("max_id".into(), (*max_id).into());
            map
        }
        UpdateKind::PinnedMessage { chat_id, id } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("id".into(), id.map_or(Value::Null, Value::from));
            map
        }
        UpdateKind::Participant { chat_id, user_id, role: r, by } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("user".into(), (*user_id).into());
            map.insert("role".into(), r.map_or(Value::Null, role));
            map.insert("by".into(), (*by).into());
            map
        }
        UpdateKind::Chat { chat: c } => chat(c),
    };
    let kind = match &u.kind {
        UpdateKind::NewMessage { .. } => "new_message",
        UpdateKind::EditMessage { .. } => "edit_message",
        UpdateKind::DeleteMessages { .. } => "delete_messages",
        UpdateKind::ReadInbox { .. } => "read_inbox",
        UpdateKind::ReadOutbox { .. } => "read_outbox",
        UpdateKind::PinnedMessage { .. } => "pinned_message",
        UpdateKind::Participant { .. } => "participant",
        UpdateKind::Chat { .. } => "chat",
    };
    map.insert("type".into(), kind.into());
    if !matches!(&u.kind, UpdateKind::NewMessage { .. } | UpdateKind::EditMessage { .. }) {
        map.entry("date").or_insert(u.date.into());
    }
    Value::Object(map)
}

/// A plain line for an update (text mode of `watch`).
pub fn update_text(u: &Update, name_of: impl Fn(i64) -> String) -> String {
    match &u.kind {
        UpdateKind::NewMessage { message: m } => {
            format!("[chat {}] {}", m.chat_id, message_text(m, &name_of(m.from)))
        }
        UpdateKind::EditMessage { message: m } => format!("[chat {}] (edited) {}", m.chat_id, message_text(m, &name_of(m.from))),
        UpdateKind::DeleteMessages { chat_id, ids } => format!("[chat {chat_id}] deleted {ids:?}"),
        UpdateKind::ReadInbox { chat_id, max_id } => {
            format!("[chat {chat_id}] you read up to #{max_id}")
        }
        UpdateKind::ReadOutbox { chat_id, max_id } => {
            format!("[chat {chat_id}] read by the other side up to #{max_id}")
        }
        UpdateKind::PinnedMessage { chat_id, id: Some(id) } => format!("[chat {chat_id}] pinned #{id}"),
        UpdateKind::PinnedMessage { chat_id, id: None } => format!("[chat {chat_id}] unpinned"),
        UpdateKind::Participant { chat_id, user_id, role: Some(_), by } => {
            format!("[chat {chat_id}] {} joined (by {})", name_of(*user_id), name_of(*by))
        }
        UpdateKind::Participant { chat_id, user_id, role: None, by } => {
            format!("[chat {chat_id}] {} left (by {})", name_of(*user_id), name_of(*by))
        }
        UpdateKind::Chat { chat: c } => {
            format!("[chat {}] {} \"{}\" updated", c.id, kind(c.kind), c.title)
        }
    }
}

/// `#ID DATE NAME: TEXT` (with `(reply to #N)` and `(edited)` marks).
pub fn message_text(m: &Message, from: &str) -> String {
    let mut out = format!("#{} {} {from}:", m.id, date(m.date));
    if let Some(r) = m.reply_to {
        out.push_str(&format!(" (reply to #{r})"));
    }
    if m.edit_date.is_some() {
        out.push_str(" (edited)");
    }
    out.push(' ');
    out.push_str(m.content.text().unwrap_or(""));
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for (unix, want) in [(0, "1970-01-01 00:00"), (951_782_400, "2000-02-29 00:00"), (1_764_466_552, "2025-11-30 01:35")] {
            assert_eq!(date(unix), want, "{unix}");
        }
    }
}
