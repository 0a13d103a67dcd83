//! What `helio` prints: one JSON object per line with `--json` (stable field names, see
//! `docs/cli.md`), or one plain line per item for people.

use heliograph_client::proto::{
    CallbackAnswer, Chat, ChatKind, Dialog, Message, MessageEntity, MessageReactions, ReactionType, Role, Session, Update, UpdateKind, User,
};
use serde_json::{json, Map, Value};

use crate::error::CliError;

/// Prints one JSON object as one line.
pub fn line(value: &Value) {
    println!("{value}");
}

fn insert_some<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

/// `{id, chat, from, text, date, reply_to?, edit_date?, forward_from?, entities?, reply_markup?,
/// reactions?}` (`entities`, `reply_markup` and `reactions` exactly as the server sent them).
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
    if !m.entities.is_empty() {
        map.insert("entities".into(), serde_json::to_value(&m.entities).unwrap_or(Value::Null));
    }
    if let Some(markup) = &m.reply_markup {
        map.insert("reply_markup".into(), serde_json::to_value(markup).unwrap_or(Value::Null));
    }
    if let Some(r) = &m.reactions {
        map.insert("reactions".into(), serde_json::to_value(r).unwrap_or(Value::Null));
    }
    map
}

/// A reaction as people type and read it: the emoji, or `custom:ID`.
pub fn reaction(r: &ReactionType) -> String {
    match r {
        ReactionType::Emoji { emoji } => emoji.clone(),
        ReactionType::CustomEmoji { custom_emoji_id } => format!("custom:{custom_emoji_id}"),
    }
}

/// The reaction `helio react` was given: `custom:ID` or an emoji (the server checks it).
pub fn reaction_arg(s: &str) -> ReactionType {
    match s.strip_prefix("custom:") {
        Some(id) => ReactionType::CustomEmoji { custom_emoji_id: id.to_owned() },
        None => ReactionType::Emoji { emoji: s.to_owned() },
    }
}

/// `👍 2  🔥 1*` (`*`: one of yours), empty when none.
pub fn reactions_text(r: &MessageReactions) -> String {
    let parts: Vec<String> =
        r.results.iter().map(|c| format!("{} {}{}", reaction(&c.reaction), c.count, if c.chosen { "*" } else { "" })).collect();
    parts.join("  ")
}

/// `{id, name, username?, bio?, phone?, contact, blocked, bot}`.
pub fn user(u: &User) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), u.id.into());
    map.insert("name".into(), u.name.clone().into());
    insert_some(&mut map, "username", u.username.clone());
    insert_some(&mut map, "bio", u.bio.clone());
    insert_some(&mut map, "phone", u.phone.clone());
    map.insert("contact".into(), u.contact.into());
    map.insert("blocked".into(), u.blocked.into());
    map.insert("bot".into(), u.bot.into());
    Value::Object(map)
}

/// A user's name as plain lines show it: bots are marked `(bot)`.
pub fn display_name(u: &User) -> String {
    if u.bot {
        format!("{} (bot)", u.name)
    } else {
        u.name.clone()
    }
}

/// A search snippet on one line with each match in [brackets]; `highlights` are
/// `[offset, length]` in UTF-16 code units, as the protocol counts them.
pub fn highlighted(snippet: &str, highlights: &[[u32; 2]]) -> String {
    let (mut out, mut at) = (String::with_capacity(snippet.len() + 8), 0u32);
    for c in snippet.chars() {
        if highlights.iter().any(|&[start, len]| start == at && len > 0) {
            out.push('[');
        }
        out.push(if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c });
        at += c.len_utf16() as u32;
        if highlights.iter().any(|&[start, len]| start + len == at && len > 0) {
            out.push(']');
        }
    }
    out
}

/// The text with its formatting flattened for a plain terminal line: a `text_link` keeps its
/// words and gets its URL after them in angle brackets (unless the words are the URL).
pub fn plain_text(text: &str, entities: &[MessageEntity]) -> String {
    let links: Vec<(u32, &str)> = entities
        .iter()
        .filter(|e| e.kind == "text_link")
        .filter_map(|e| Some((e.offset.checked_add(e.length)?, e.url.as_deref()?)))
        .filter(|(_, url)| !url.is_empty())
        .collect();
    if links.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut unit = 0u32;
    for ch in text.chars() {
        out.push(ch);
        unit += ch.len_utf16() as u32;
        for (_, url) in links.iter().filter(|(end, _)| *end == unit) {
            out.push_str(&format!(" <{url}>"));
        }
    }
    // A span running past the text (the server never sends one) still shows its link.
    for (_, url) in links.iter().filter(|(end, _)| *end > unit) {
        out.push_str(&format!(" <{url}>"));
    }
    out
}

/// The buttons under a message as lines: `  [Yes] [No]`, a URL button as `[Docs <https://…>]`;
/// a reply keyboard as `  keyboard: [Red] [Blue]` (a line per row, then `  (placeholder)`),
/// its removal as `  (keyboard removed)`, a reply request as `  (reply requested)`.
pub fn keyboard_lines(m: &Message) -> Vec<String> {
    let Some(markup) = &m.reply_markup else { return Vec::new() };
    let mut lines: Vec<String> = markup
        .inline_keyboard
        .iter()
        .filter(|row| !row.is_empty())
        .map(|row| {
            let buttons: Vec<String> = row
                .iter()
                .map(|b| match &b.url {
                    Some(url) => format!("[{} <{url}>]", b.text),
                    None => format!("[{}]", b.text),
                })
                .collect();
            format!("  {}", buttons.join(" "))
        })
        .collect();
    for row in markup.keyboard.iter().filter(|row| !row.is_empty()) {
        let buttons: Vec<String> = row.iter().map(|b| format!("[{}]", b.text)).collect();
        lines.push(format!("  keyboard: {}", buttons.join(" ")));
    }
    if markup.remove_keyboard {
        lines.push("  (keyboard removed)".into());
    }
    if markup.force_reply {
        lines.push("  (reply requested)".into());
    }
    if let Some(p) = &markup.input_field_placeholder {
        lines.push(format!("  ({p})"));
    }
    lines
}

/// The reply keyboard's button `which` names (a label, or the Nth counted row by row): the
/// text pressing it sends.
pub fn find_key(m: &Message, which: &Which) -> Result<String, CliError> {
    let keys: Vec<&str> = m.reply_markup.iter().flat_map(|k| k.keyboard.iter().flatten()).map(|b| b.text.as_str()).collect();
    let found = match which {
        Which::Index(n) => n.checked_sub(1).and_then(|i| keys.get(i)).copied(),
        Which::Label(label) | Which::Data(label) => {
            keys.iter().find(|k| *k == label).or_else(|| keys.iter().find(|k| k.trim().eq_ignore_ascii_case(label.trim()))).copied()
        }
    };
    found.map(str::to_string).ok_or_else(|| {
        CliError::new(
            "BUTTON_DATA_INVALID",
            format!("the keyboard has no such button; it has {}", keys.iter().map(|k| format!("[{k}]")).collect::<Vec<_>>().join(" ")),
        )
    })
}

/// Which button `helio press` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Data(String),
    /// Counted from 1, row by row, left to right.
    Index(usize),
    Label(String),
}

/// What pressing the chosen button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    Data(String),
    Url(String),
}

/// The button of `m` that `which` names.
pub fn find_button(m: &Message, which: &Which) -> Result<Pick, CliError> {
    let buttons: Vec<_> = m.reply_markup.iter().flat_map(|k| k.buttons()).collect();
    if buttons.is_empty() {
        return Err(CliError::new("BUTTON_DATA_INVALID", format!("message #{} has no buttons", m.id)));
    }
    let found = match which {
        Which::Data(data) => return Ok(Pick::Data(data.clone())),
        Which::Index(n) => n.checked_sub(1).and_then(|i| buttons.get(i)).copied(),
        Which::Label(label) => buttons
            .iter()
            .find(|b| b.text == *label)
            .or_else(|| buttons.iter().find(|b| b.text.trim().eq_ignore_ascii_case(label.trim())))
            .copied(),
    };
    let labels: Vec<String> = buttons.iter().enumerate().map(|(i, b)| format!("{} [{}]", i + 1, b.text)).collect();
    let Some(b) = found else {
        return Err(CliError::new("BUTTON_DATA_INVALID", format!("message #{} has no such button; it has {}", m.id, labels.join(", "))));
    };
    match (&b.callback_data, &b.url) {
        (Some(data), _) => Ok(Pick::Data(data.clone())),
        (None, Some(url)) => Ok(Pick::Url(url.clone())),
        (None, None) => Err(CliError::new("BUTTON_DATA_INVALID", format!("the button [{}] does nothing", b.text))),
    }
}

/// The bot's answer to a press as one line: its text (`alert: TEXT` for an alert), its URL,
/// or `(no answer)`.
pub fn answer_text(a: &CallbackAnswer) -> String {
    let mut out = match a.text.as_deref().filter(|t| !t.is_empty()) {
        Some(t) if a.alert => format!("alert: {t}"),
        Some(t) => t.to_owned(),
        None => String::new(),
    };
    if let Some(url) = &a.url {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("<{url}>"));
    }
    if out.is_empty() {
        out.push_str("(no answer)");
    }
    out
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

/// A chat object plus `{unread, last_id?, last_from?, last_text?, last_date?, draft?}`.
pub fn dialog(d: &Dialog) -> Value {
    let mut map = chat(&d.chat);
    map.insert("unread".into(), d.unread_count.into());
    if let Some(m) = &d.last_message {
        map.insert("last_id".into(), m.id.into());
        map.insert("last_from".into(), m.from.into());
        map.insert("last_text".into(), m.content.text().unwrap_or("").into());
        map.insert("last_date".into(), m.date.into());
    }
    insert_some(&mut map, "draft", d.draft.as_ref().map(|d| d.text.clone()));
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
        // Ciphertext only: `helio secret read` decrypts.
        UpdateKind::SecretMessage { message: m } => {
            let mut map = Map::new();
            map.insert("chat".into(), m.chat_id.into());
            map.insert("id".into(), m.id.into());
            map.insert("from".into(), m.from_id.into());
            map.insert("device".into(), m.device_id.into());
            map
        }
        UpdateKind::MessageReactions { chat_id, id, reactions } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("id".into(), (*id).into());
            map.insert("reactions".into(), serde_json::to_value(reactions).unwrap_or(Value::Null));
            map
        }
        UpdateKind::Draft { chat_id, draft } => {
            let mut map = Map::new();
            map.insert("chat".into(), (*chat_id).into());
            map.insert("text".into(), draft.as_ref().map_or(Value::Null, |d| d.text.clone().into()));
            insert_some(&mut map, "reply_to", draft.as_ref().and_then(|d| d.reply_to));
            map
        }
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
        UpdateKind::SecretMessage { .. } => "secret_message",
        UpdateKind::MessageReactions { .. } => "message_reactions",
        UpdateKind::Draft { .. } => "draft",
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
        UpdateKind::SecretMessage { message: m } => {
            format!("[chat {}] encrypted message #{} from {} (helio secret read {})", m.chat_id, m.id, name_of(m.from_id), m.chat_id)
        }
        UpdateKind::MessageReactions { chat_id, id, reactions } if reactions.results.is_empty() => {
            format!("[chat {chat_id}] #{id} has no reactions")
        }
        UpdateKind::MessageReactions { chat_id, id, reactions } => {
            format!("[chat {chat_id}] #{id} reactions: {}", reactions_text(reactions))
        }
        UpdateKind::Draft { chat_id, draft: Some(d) } => format!("[chat {chat_id}] draft: {}", d.text),
        UpdateKind::Draft { chat_id, draft: None } => format!("[chat {chat_id}] draft cleared"),
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
    out.push_str(&plain_text(m.content.text().unwrap_or(""), &m.entities));
    if let Some(r) = m.reactions.as_ref().filter(|r| !r.results.is_empty()) {
        out.push_str("  [");
        out.push_str(&reactions_text(r));
        out.push(']');
    }
    for line in keyboard_lines(m) {
        out.push('\n');
        out.push_str(&line);
    }
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

// --- account (#16) -------------------------------------------------------------------------

/// A report as the protocol gives it (its field names).
pub fn report(r: &heliograph_client::proto::Report) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

pub fn report_case(c: &heliograph_client::proto::ReportCase) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

pub fn audit_entry(e: &heliograph_client::proto::AuditEntry) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    use heliograph_client::proto::{Content, InlineButton, ReplyMarkup};

    fn button(text: &str, data: Option<&str>, url: Option<&str>) -> InlineButton {
        InlineButton { text: text.into(), callback_data: data.map(Into::into), url: url.map(Into::into) }
    }

    fn bot_message() -> Message {
        Message {
            id: 7,
            chat_id: 3,
            from: 9,
            date: 0,
            content: Content::Text { text: "Pick one".into() },
            entities: vec![MessageEntity {
                kind: "bold".into(),
                offset: 0,
                length: 4,
                url: None,
                user_id: None,
                language: None,
                custom_emoji_id: None,
            }],
            reply_markup: Some(ReplyMarkup {
                inline_keyboard: vec![
                    vec![button("Yes", Some("y"), None), button("No", Some("n"), None)],
                    vec![button("Docs", None, Some("https://example.org"))],
                ],
                ..ReplyMarkup::default()
            }),
            reply_to: None,
            forward: None,
            edit_date: None,
            reactions: None,
        }
    }

    #[test]
    fn messages_show_their_buttons_and_keep_markup_in_json() {
        let m = bot_message();
        assert_eq!(
            message_text(&m, "Menu (bot)"),
            "#7 1970-01-01 00:00 Menu (bot): Pick one\n  [Yes] [No]\n  [Docs <https://example.org>]"
        );
        let json = Value::Object(message(&m));
        assert_eq!(json["reply_markup"]["inline_keyboard"][0][1], json!({"text": "No", "callback_data": "n"}));
        assert_eq!(json["entities"][0], json!({"type": "bold", "offset": 0, "length": 4}));
        let mut plain = m.clone();
        plain.reply_markup = None;
        plain.entities.clear();
        let json = Value::Object(message(&plain));
        assert!(json.get("reply_markup").is_none() && json.get("entities").is_none(), "{json}");
    }

    #[test]
    fn search_matches_are_bracketed_by_utf16_offsets() {
        for (snippet, highlights, want) in [
            ("the garden party", vec![[4, 6]], "the [garden] party"),
            ("…naïve 🌱 plan\nnext", vec![[10, 4], [1, 5]], "…[naïve] 🌱 [plan] next"),
            ("no match", vec![], "no match"),
        ] {
            assert_eq!(highlighted(snippet, &highlights), want);
        }
    }

    #[test]
    fn text_links_show_their_url() {
        let link = |offset, length, url: &str| MessageEntity {
            kind: "text_link".into(),
            offset,
            length,
            url: Some(url.into()),
            user_id: None,
            language: None,
            custom_emoji_id: None,
        };
        assert_eq!(plain_text("see docs now", &[link(4, 4, "https://d.org")]), "see docs <https://d.org> now");
        // Offsets count UTF-16 units: the emoji is two.
        assert_eq!(plain_text("😀 go", &[link(3, 2, "https://g.org")]), "😀 go <https://g.org>");
        assert_eq!(plain_text("short", &[link(0, 99, "https://x.org")]), "short <https://x.org>");
        assert_eq!(plain_text("plain", &[]), "plain");
    }

    #[test]
    fn press_finds_buttons_by_number_label_or_data() {
        let m = bot_message();
        assert_eq!(find_button(&m, &Which::Index(2)).unwrap(), Pick::Data("n".into()));
        assert_eq!(find_button(&m, &Which::Index(3)).unwrap(), Pick::Url("https://example.org".into()));
        assert_eq!(find_button(&m, &Which::Label("yes".into())).unwrap(), Pick::Data("y".into()));
        assert_eq!(find_button(&m, &Which::Data("whatever".into())).unwrap(), Pick::Data("whatever".into()));
        for bad in [Which::Index(0), Which::Index(4), Which::Label("Maybe".into())] {
            let e = find_button(&m, &bad).unwrap_err();
            assert_eq!(e.code, "BUTTON_DATA_INVALID", "{bad:?}");
            assert!(e.message.contains("1 [Yes], 2 [No], 3 [Docs]"), "{}", e.message);
        }
        let mut none = m.clone();
        none.reply_markup = None;
        assert!(find_button(&none, &Which::Index(1)).is_err());
    }

    #[test]
    fn answers() {
        let a =
            |text: Option<&str>, alert, url: Option<&str>| CallbackAnswer { text: text.map(Into::into), alert, url: url.map(Into::into) };
        assert_eq!(answer_text(&a(None, false, None)), "(no answer)");
        assert_eq!(answer_text(&a(Some("Done"), false, None)), "Done");
        assert_eq!(answer_text(&a(Some("Sure?"), true, None)), "alert: Sure?");
        assert_eq!(answer_text(&a(None, false, Some("https://g.org"))), "<https://g.org>");
    }

    #[test]
    fn dates() {
        for (unix, want) in [(0, "1970-01-01 00:00"), (951_782_400, "2000-02-29 00:00"), (1_764_466_552, "2025-11-30 01:35")] {
            assert_eq!(date(unix), want, "{unix}");
        }
    }
}
