//! What a message carries besides its text: formatting entities and a keyboard (buttons
//! under the message, a reply keyboard in place of the person's own, its removal, or a
//! request to reply).
//!
//! Both are checked here, once, so storage and rendering only ever see valid values.
//! Offsets and lengths count UTF-16 code units, as Telegram's do, so a bot library's
//! entities round-trip unchanged.

use thiserror::Error;

use crate::ids::UserId;

/// Why formatting or a keyboard was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidMarkup {
    #[error("an entity must lie within the text: offset {offset} + length {length} passes its {len} UTF-16 units")]
    EntityOutOfRange { offset: u32, length: u32, len: u32 },
    #[error("an entity cannot be empty")]
    EntityEmpty,
    #[error("a message has at most {max} entities")]
    TooManyEntities { max: usize },
    #[error("a text link needs an http, https or tg URL")]
    LinkUrl,
    #[error("a keyboard has at most {max_rows} rows of at most {max_per_row} buttons, {max_total} in all")]
    KeyboardTooLarge { max_rows: usize, max_per_row: usize, max_total: usize },
    #[error("a button's text is 1 to 64 characters")]
    ButtonText,
    #[error("a button's callback_data is 1 to 64 bytes")]
    CallbackData,
    #[error("a button needs exactly one of callback_data or url")]
    ButtonAction,
    #[error("a reply keyboard's buttons carry text only (no callback_data or url)")]
    ReplyButton,
    #[error("an input field placeholder is 1 to 64 characters")]
    Placeholder,
}

/// How a span of text is shown or what it refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Mention,
    Hashtag,
    Cashtag,
    BotCommand,
    Url,
    Email,
    PhoneNumber,
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Blockquote,
    ExpandableBlockquote,
    Code,
    Pre { language: Option<String> },
    TextLink { url: String },
    TextMention { user: UserId },
    CustomEmoji { id: String },
}

impl EntityKind {
    /// Telegram's name for the kind (`"bold"`, `"text_link"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            EntityKind::Mention => "mention",
            EntityKind::Hashtag => "hashtag",
            EntityKind::Cashtag => "cashtag",
            EntityKind::BotCommand => "bot_command",
            EntityKind::Url => "url",
            EntityKind::Email => "email",
            EntityKind::PhoneNumber => "phone_number",
            EntityKind::Bold => "bold",
            EntityKind::Italic => "italic",
            EntityKind::Underline => "underline",
            EntityKind::Strikethrough => "strikethrough",
            EntityKind::Spoiler => "spoiler",
            EntityKind::Blockquote => "blockquote",
            EntityKind::ExpandableBlockquote => "expandable_blockquote",
            EntityKind::Code => "code",
            EntityKind::Pre { .. } => "pre",
            EntityKind::TextLink { .. } => "text_link",
            EntityKind::TextMention { .. } => "text_mention",
            EntityKind::CustomEmoji { .. } => "custom_emoji",
        }
    }

    /// The kinds that carry nothing but their name.
    pub fn simple(name: &str) -> Option<EntityKind> {
        Some(match name {
            "mention" => EntityKind::Mention,
            "hashtag" => EntityKind::Hashtag,
            "cashtag" => EntityKind::Cashtag,
            "bot_command" => EntityKind::BotCommand,
            "url" => EntityKind::Url,
            "email" => EntityKind::Email,
            "phone_number" => EntityKind::PhoneNumber,
            "bold" => EntityKind::Bold,
            "italic" => EntityKind::Italic,
            "underline" => EntityKind::Underline,
            "strikethrough" => EntityKind::Strikethrough,
            "spoiler" => EntityKind::Spoiler,
            "blockquote" => EntityKind::Blockquote,
            "expandable_blockquote" => EntityKind::ExpandableBlockquote,
            "code" => EntityKind::Code,
            _ => return None,
        })
    }
}

/// A formatted span: `length` UTF-16 units from `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entity {
    pub kind: EntityKind,
    pub offset: u32,
    pub length: u32,
}

/// At most this many entities per message.
pub const MAX_ENTITIES: usize = 100;

/// The length of `text` in UTF-16 code units: the unit entity offsets count.
pub fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// Checks `entities` against the text they format and returns them ordered by offset.
pub fn check_entities(text: &str, mut entities: Vec<Entity>) -> Result<Vec<Entity>, InvalidMarkup> {
    if entities.len() > MAX_ENTITIES {
        return Err(InvalidMarkup::TooManyEntities { max: MAX_ENTITIES });
    }
    let len = utf16_len(text);
    for e in &entities {
        if e.length == 0 {
            return Err(InvalidMarkup::EntityEmpty);
        }
        if e.offset.checked_add(e.length).is_none_or(|end| end > len) {
            return Err(InvalidMarkup::EntityOutOfRange { offset: e.offset, length: e.length, len });
        }
        if let EntityKind::TextLink { url } = &e.kind {
            if !["http://", "https://", "tg://"].iter().any(|p| url.starts_with(p)) {
                return Err(InvalidMarkup::LinkUrl);
            }
        }
    }
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
    Ok(entities)
}

/// Entities Telegram finds in text by itself: bot commands, @mentions, #hashtags, $CASHTAGS,
/// `http(s)://` links and e-mail addresses. Bots rely on them (python-telegram-bot routes
/// commands by their `bot_command` entity). Spans inside `explicit` entities that are not
/// mere styling (code, links, mentions…) are left alone; the result is `explicit` plus what
/// was found, ordered as [`check_entities`] orders them.
pub fn detect_entities(text: &str, explicit: Vec<Entity>) -> Vec<Entity> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // UTF-16 offset of each char, and of the end.
    let mut at = Vec::with_capacity(chars.len() + 1);
    let mut unit = 0u32;
    for &(_, c) in &chars {
        at.push(unit);
        unit += c.len_utf16() as u32;
    }
    at.push(unit);
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let ascii_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let run = |from: usize, ok: &dyn Fn(char) -> bool| chars[from..].iter().take_while(|&&(_, c)| ok(c)).count();
    let trailing = |c: char| ".,;:!?)]}'\"".contains(c);
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let after_word = i > 0 && word(chars[i - 1].1);
        let mut len = 0;
        let mut kind = None;
        match c {
            '/' if i == 0 || chars[i - 1].1.is_whitespace() => {
                let name = run(i + 1, &ascii_word);
                if (1..=64).contains(&name) {
                    len = 1 + name;
                    if chars.get(i + len).is_some_and(|&(_, c)| c == '@') {
                        let bot = run(i + len + 1, &ascii_word);
                        if (3..=32).contains(&bot) {
                            len += 1 + bot;
                        }
                    }
                    kind = Some(EntityKind::BotCommand);
                }
            }
            '@' if !after_word => {
                let name = run(i + 1, &ascii_word);
                if (5..=32).contains(&name) && chars[i + 1].1.is_ascii_alphabetic() {
                    len = 1 + name;
                    kind = Some(EntityKind::Mention);
                }
            }
            '#' if !after_word => {
                let tag = run(i + 1, &word);
                if (1..=256).contains(&tag) && !chars[i + 1..i + 1 + tag].iter().all(|&(_, c)| c.is_ascii_digit()) {
                    len = 1 + tag;
                    kind = Some(EntityKind::Hashtag);
                }
            }
            '$' if !after_word => {
                let tag = run(i + 1, &|c: char| c.is_ascii_uppercase());
                if (1..=8).contains(&tag) && !chars.get(i + 1 + tag).is_some_and(|&(_, c)| word(c)) {
                    len = 1 + tag;
                    kind = Some(EntityKind::Cashtag);
                }
            }
            _ if !after_word
                && ["http://", "https://"].iter().any(|p| text[chars[i].0..].get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p))) =>
            {
                let mut n = run(i, &|c: char| !c.is_whitespace());
                while n > 0 && trailing(chars[i + n - 1].1) {
                    n -= 1;
                }
                let scheme = text[chars[i].0..].find("://").map_or(0, |p| p + 3);
                if n > scheme {
                    len = n;
                    kind = Some(EntityKind::Url);
                }
            }
            _ if !after_word && ascii_word(c) => {
                // An e-mail address: local@domain.tld, as one whitespace-delimited word.
                let mut n = run(i, &|c: char| !c.is_whitespace());
                while n > 0 && trailing(chars[i + n - 1].1) {
                    n -= 1;
                }
                let token: String = chars[i..i + n].iter().map(|&(_, c)| c).collect();
                if let Some((local, domain)) = token.split_once('@') {
                    let local_ok = !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c));
                    let labels: Vec<&str> = domain.split('.').collect();
                    let domain_ok = labels.len() >= 2
                        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
                    if local_ok && domain_ok {
                        len = n;
                        kind = Some(EntityKind::Email);
                    }
                }
                if kind.is_none() {
                    // Skip the rest of this word: nothing starts inside it.
                    i += run(i, &word).max(1);
                    continue;
                }
            }
            _ => {}
        }
        match kind {
            Some(kind) => {
                let (offset, end) = (at[i], at[i + len]);
                let kept = |e: &Entity| e.offset < end && offset < e.offset + e.length && !is_style(&e.kind);
                if !explicit.iter().any(kept) {
                    found.push(Entity { kind, offset, length: end - offset });
                }
                i += len;
            }
            None => i += 1,
        }
    }
    let mut all = explicit;
    all.extend(found);
    all.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
    all
}

/// Styling that may overlap anything; other entities own their span.
fn is_style(kind: &EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::Bold
            | EntityKind::Italic
            | EntityKind::Underline
            | EntityKind::Strikethrough
            | EntityKind::Spoiler
            | EntityKind::Blockquote
            | EntityKind::ExpandableBlockquote
    )
}

/// What pressing a button does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ButtonAction {
    /// Sends `data` to the bot that posted the message, as a callback query.
    Callback(String),
    /// Opens a URL.
    Url(String),
    /// A reply keyboard's button: the person sends its text as their own message.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Button {
    pub text: String,
    pub action: ButtonAction,
}

impl Button {
    pub fn new(text: String, action: ButtonAction) -> Result<Button, InvalidMarkup> {
        if text.trim().is_empty() || text.chars().count() > 64 {
            return Err(InvalidMarkup::ButtonText);
        }
        match &action {
            ButtonAction::Callback(data) if data.is_empty() || data.len() > 64 => return Err(InvalidMarkup::CallbackData),
            ButtonAction::Url(url) if !["http://", "https://", "tg://"].iter().any(|p| url.starts_with(p)) => {
                return Err(InvalidMarkup::LinkUrl)
            }
            _ => {}
        }
        Ok(Button { text, action })
    }
}

/// What a message does to the keyboard of the people who read it: buttons under the
/// message ([`Keyboard::new`]), a reply keyboard in place of their own ([`Keyboard::reply`]),
/// the removal of one ([`Keyboard::remove`]), or a request to reply ([`Keyboard::force_reply`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keyboard {
    rows: Vec<Vec<Button>>,
    kind: KeyboardKind,
}

/// The kinds of [`Keyboard`], with Telegram's options for each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyboardKind {
    /// Buttons under the message (callback or URL buttons).
    Inline,
    /// Buttons shown instead of the letter keys until removed; each sends its text.
    Reply(ReplyOptions),
    /// Hides the reply keyboard shown before.
    Remove { selective: bool },
    /// Opens a reply to this message, as if the person chose "Reply".
    ForceReply { placeholder: Option<String>, selective: bool },
}

/// How a reply keyboard is shown (Telegram's `ReplyKeyboardMarkup` fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReplyOptions {
    /// Fit the keyboard's height to its buttons.
    pub resize: bool,
    /// Hide it once a button was pressed.
    pub one_time: bool,
    /// Keep it shown even when the person switches to the letter keys.
    pub persistent: bool,
    /// Shown in the input field while the keyboard is up (1 to 64 characters).
    pub placeholder: Option<String>,
    /// Only for the people the message mentions and the author of the message it replies to.
    pub selective: bool,
}

fn check_placeholder(placeholder: &Option<String>) -> Result<(), InvalidMarkup> {
    match placeholder {
        Some(p) if p.trim().is_empty() || p.chars().count() > 64 => Err(InvalidMarkup::Placeholder),
        _ => Ok(()),
    }
}

impl Keyboard {
    pub const MAX_ROWS: usize = 100;
    pub const MAX_PER_ROW: usize = 8;
    pub const MAX_TOTAL: usize = 100;

    /// An inline keyboard. Empty rows are dropped; a keyboard with no buttons is `None`.
    pub fn new(rows: Vec<Vec<Button>>) -> Result<Option<Keyboard>, InvalidMarkup> {
        if rows.iter().flatten().any(|b| b.action == ButtonAction::Text) {
            return Err(InvalidMarkup::ButtonAction);
        }
        Self::checked(rows, KeyboardKind::Inline)
    }

    /// A reply keyboard of text buttons; `None` when it has none.
    pub fn reply(rows: Vec<Vec<Button>>, options: ReplyOptions) -> Result<Option<Keyboard>, InvalidMarkup> {
        if rows.iter().flatten().any(|b| b.action != ButtonAction::Text) {
            return Err(InvalidMarkup::ReplyButton);
        }
        check_placeholder(&options.placeholder)?;
        Self::checked(rows, KeyboardKind::Reply(options))
    }

    /// Removes the reply keyboard shown before.
    pub fn remove(selective: bool) -> Keyboard {
        Keyboard { rows: Vec::new(), kind: KeyboardKind::Remove { selective } }
    }

    /// Asks the reader to reply to the message.
    pub fn force_reply(placeholder: Option<String>, selective: bool) -> Result<Keyboard, InvalidMarkup> {
        check_placeholder(&placeholder)?;
        Ok(Keyboard { rows: Vec::new(), kind: KeyboardKind::ForceReply { placeholder, selective } })
    }

    fn checked(rows: Vec<Vec<Button>>, kind: KeyboardKind) -> Result<Option<Keyboard>, InvalidMarkup> {
        let rows: Vec<Vec<Button>> = rows.into_iter().filter(|r| !r.is_empty()).collect();
        let total: usize = rows.iter().map(Vec::len).sum();
        if rows.len() > Self::MAX_ROWS || rows.iter().any(|r| r.len() > Self::MAX_PER_ROW) || total > Self::MAX_TOTAL {
            return Err(InvalidMarkup::KeyboardTooLarge {
                max_rows: Self::MAX_ROWS,
                max_per_row: Self::MAX_PER_ROW,
                max_total: Self::MAX_TOTAL,
            });
        }
        Ok((total > 0).then_some(Keyboard { rows, kind }))
    }

    /// The buttons, row by row (none for a removal or a reply request).
    pub fn rows(&self) -> &[Vec<Button>] {
        &self.rows
    }

    pub fn kind(&self) -> &KeyboardKind {
        &self.kind
    }

    /// Buttons under the message, which edits may change (the other kinds are set once).
    pub fn is_inline(&self) -> bool {
        self.kind == KeyboardKind::Inline
    }

    /// Whether some button sends `data`.
    pub fn has_callback(&self, data: &str) -> bool {
        self.rows.iter().flatten().any(|b| matches!(&b.action, ButtonAction::Callback(d) if d == data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: EntityKind, offset: u32, length: u32) -> Entity {
        Entity { kind, offset, length }
    }

    #[test]
    fn entities_are_checked_in_utf16_units() {
        // "😀" is two UTF-16 units.
        let text = "😀 hi";
        assert_eq!(utf16_len(text), 5);
        let cases = [
            (vec![e(EntityKind::Bold, 0, 5)], true),
            (vec![e(EntityKind::Bold, 3, 2)], true),
            (vec![e(EntityKind::Bold, 3, 3)], false),
            (vec![e(EntityKind::Bold, 0, 0)], false),
            (vec![e(EntityKind::Bold, u32::MAX, 2)], false),
            (vec![e(EntityKind::TextLink { url: "javascript:alert(1)".into() }, 0, 1)], false),
            (vec![e(EntityKind::TextLink { url: "https://example.org".into() }, 0, 1)], true),
            ((0..=MAX_ENTITIES as u32).map(|_| e(EntityKind::Italic, 0, 1)).collect(), false),
        ];
        for (entities, ok) in cases {
            assert_eq!(check_entities(text, entities.clone()).is_ok(), ok, "{entities:?}");
        }
    }

    #[test]
    fn entities_are_found_as_telegram_finds_them() {
        let found = |text: &str| -> Vec<(&'static str, String)> {
            let units: Vec<u16> = text.encode_utf16().collect();
            detect_entities(text, Vec::new())
                .into_iter()
                .map(|e| (e.kind.as_str(), String::from_utf16_lossy(&units[e.offset as usize..(e.offset + e.length) as usize])))
                .collect()
        };
        let s = |k: &'static str, t: &str| (k, t.to_string());
        let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
            ("/start", vec![s("bot_command", "/start")]),
            ("/start@echo_bot now", vec![s("bot_command", "/start@echo_bot")]),
            ("not a/command", vec![]),
            ("😀 /help", vec![s("bot_command", "/help")]),
            ("hi @alicia, see #news and $USD", vec![s("mention", "@alicia"), s("hashtag", "#news"), s("cashtag", "$USD")]),
            ("@ab too short, #123 digits only, $usd lower", vec![]),
            ("mail bob@example.org.", vec![s("email", "bob@example.org")]),
            ("go to https://example.org/a?b=1). now", vec![s("url", "https://example.org/a?b=1")]),
            ("HTTP://X.ORG", vec![s("url", "HTTP://X.ORG")]),
            ("https:// alone", vec![]),
            ("x@y", vec![]),
            ("", vec![]),
        ];
        for (text, want) in cases {
            assert_eq!(found(text), want, "{text:?}");
        }
        // An explicit link or code keeps its span; bold does not.
        let code = Entity { kind: EntityKind::Code, offset: 0, length: 6 };
        assert_eq!(detect_entities("/start", vec![code.clone()]), vec![code]);
        let bold = Entity { kind: EntityKind::Bold, offset: 0, length: 6 };
        assert_eq!(detect_entities("/start", vec![bold.clone()]).len(), 2);
    }

    #[test]
    fn keyboards_are_bounded() {
        let b = |d: &str| Button::new("x".into(), ButtonAction::Callback(d.into()));
        assert!(b("").is_err());
        assert!(b(&"a".repeat(65)).is_err());
        assert!(Button::new(" ".into(), ButtonAction::Callback("a".into())).is_err());
        assert!(Button::new("x".into(), ButtonAction::Url("file:///etc/passwd".into())).is_err());
        assert_eq!(Keyboard::new(vec![vec![]]).unwrap(), None);
        let row = || (0..8).map(|_| b("a").unwrap()).collect::<Vec<_>>();
        assert!(Keyboard::new(vec![row(); 12]).unwrap().is_some());
        assert!(Keyboard::new(vec![row(); 13]).is_err());
        let mut wide = row();
        wide.push(b("a").unwrap());
        assert!(Keyboard::new(vec![wide]).is_err());
        let k = Keyboard::new(vec![vec![b("yes").unwrap(), b("no").unwrap()]]).unwrap().unwrap();
        assert!(k.has_callback("no") && !k.has_callback("maybe"));
    }

    #[test]
    fn reply_keyboards_hold_text_buttons_only() {
        let text = |t: &str| Button::new(t.into(), ButtonAction::Text).unwrap();
        let data = Button::new("x".into(), ButtonAction::Callback("x".into())).unwrap();
        let k = Keyboard::reply(vec![vec![text("Red"), text("Blue")]], ReplyOptions::default()).unwrap().unwrap();
        assert_eq!((k.rows()[0].len(), k.is_inline(), k.has_callback("Red")), (2, false, false));
        assert_eq!(Keyboard::reply(vec![vec![data.clone()]], ReplyOptions::default()), Err(InvalidMarkup::ReplyButton));
        assert_eq!(Keyboard::new(vec![vec![text("Red")]]), Err(InvalidMarkup::ButtonAction));
        assert_eq!(Keyboard::reply(vec![vec![]], ReplyOptions::default()), Ok(None));
        let long = ReplyOptions { placeholder: Some("p".repeat(65)), ..ReplyOptions::default() };
        assert_eq!(Keyboard::reply(vec![vec![text("Red")]], long), Err(InvalidMarkup::Placeholder));
        assert_eq!(Keyboard::force_reply(Some(" ".into()), false), Err(InvalidMarkup::Placeholder));
        assert!(Keyboard::remove(true).rows().is_empty());
    }
}
