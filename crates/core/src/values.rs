//! Checked values. Each constructor is the only way in, so holding one means it is valid.

use crate::ids::FileId;

use thiserror::Error;
use unicode_properties::{GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidValue {
    #[error("a phone number is `+` followed by 8 to 15 digits, country code first (E.164)")]
    Phone,
    #[error("a username is 5 to 32 letters, digits or underscores, starting with a letter")]
    Username,
    #[error("a name is 1 to 64 characters and not only spaces")]
    Name,
    #[error("a bio is at most 140 characters")]
    Bio,
    #[error("a title is 1 to 128 characters and not only spaces")]
    Title,
    #[error("a message cannot be empty")]
    TextEmpty,
    #[error("a message is at most {max} characters; this one has {len}")]
    TextTooLong { len: usize, max: usize },
    #[error("a login code is 5 digits")]
    Code,
    /// Not one emoji, nor a custom emoji id.
    #[error("a reaction is one emoji (such as 👍), or a custom emoji id (digits)")]
    Reaction,
    #[error("at most {max} reactions per person on a message; this asks for {len}")]
    TooManyReactions { len: usize, max: usize },
    /// An invisible or text-direction character ([`spoofing_char`]) in a name, title or bio.
    #[error("{what} cannot contain U+{:04X}: invisible and text-direction characters are refused, since they can make text look like other text", u32::from(*.ch))]
    Spoofing { what: Spoofable, ch: char },
}

/// Which value held a [`spoofing_char`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoofable {
    Name,
    Title,
    Bio,
}

impl std::fmt::Display for Spoofable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Spoofable::Name => "a name",
            Spoofable::Title => "a title",
            Spoofable::Bio => "a bio",
        })
    }
}

/// The first character of `text` that could make it render as other text, if any:
///
/// - format characters (Unicode category Cf): bidi embeddings, overrides and isolates
///   (U+202A–U+202E, U+2066–U+2069), direction marks (U+200E, U+200F, U+061C), zero-width
///   characters (U+200B, U+200C, U+2060–U+2064, U+FEFF), U+180E, U+00AD, tags; except a
///   zero-width joiner (U+200D) between two emoji (👩‍💻) and tags inside an emoji flag
///   sequence (U+1F3F4, tags, U+E007F: 🏴󠁧󠁢󠁳󠁣󠁴󠁿);
/// - line and paragraph separators (U+2028, U+2029);
/// - variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF), except U+FE0E and U+FE0F right
///   after an emoji (❤️);
/// - characters that are letters or marks but draw nothing: U+034F, U+115F, U+1160, U+17B4,
///   U+17B5, U+3164, U+FFA0.
///
/// Control characters are refused by the callers, with their own error.
pub fn spoofing_char(text: &str) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    // Whether the previous character ends an emoji (one, or a selector on one), so that a
    // joiner may follow; and whether it may take a presentation selector (keycap digits too).
    let (mut after_emoji, mut selectable) = (false, false);
    let mut in_flag_tags = false;
    for (i, &c) in chars.iter().enumerate() {
        let allowed = match c {
            '\u{200D}' => after_emoji && chars.get(i + 1).is_some_and(|&n| is_emoji(n)),
            '\u{FE0E}' | '\u{FE0F}' => selectable,
            '\u{E0020}'..='\u{E007E}' => in_flag_tags,
            '\u{E007F}' => in_flag_tags,
            '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}' => false,
            '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{3164}' | '\u{FFA0}' => false,
            _ => !matches!(
                c.general_category(),
                GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            ),
        };
        if !allowed {
            return Some(c);
        }
        in_flag_tags = c == '\u{1F3F4}' || (in_flag_tags && matches!(c, '\u{E0020}'..='\u{E007E}'));
        let selector = matches!(c, '\u{FE0E}' | '\u{FE0F}');
        after_emoji = is_emoji(c) || (after_emoji && selector);
        selectable = !selector && (is_emoji(c) || matches!(c, '0'..='9' | '#' | '*'));
    }
    None
}

/// An emoji character that is not plain ASCII (digits, `#` and `*` have the Emoji property
/// for keycaps, but a joiner between two digits is no emoji sequence).
fn is_emoji(c: char) -> bool {
    !c.is_ascii() && c.is_emoji_char()
}

fn visible(s: &str, what: Spoofable) -> Result<(), InvalidValue> {
    match spoofing_char(s) {
        Some(ch) => Err(InvalidValue::Spoofing { what, ch }),
        None => Ok(()),
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts spaces, dashes, dots and parentheses between digits, as people type them.
    pub fn parse(input: &str) -> Result<Phone, InvalidValue> {
        let input = input.trim();
        let rest = input.strip_prefix('+').ok_or(InvalidValue::Phone)?;
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(InvalidValue::Phone),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(InvalidValue::Phone);
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Telegram's test numbers: `+99966XYYYY` signs in with the code `XXXXX`. Whether they
    /// are accepted is the operator's decision, not this function's.
    pub fn test_code(&self) -> Option<String> {
        let d = self.0.strip_prefix("+99966")?;
        let mut chars = d.chars();
        let x = chars.next()?;
        (d.len() == 5 && d.chars().all(|c| c.is_ascii_digit())).then(|| x.to_string().repeat(5))
    }
}

/// A username, stored as typed and compared case-insensitively (see [`Username::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Accepts an optional leading `@`.
    pub fn parse(input: &str) -> Result<Username, InvalidValue> {
        let name = input.trim().strip_prefix('@').unwrap_or(input.trim());
        let ok = (5..=32).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(Username(name.to_string()))
        } else {
            Err(InvalidValue::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn bounded(input: &str, max: usize, err: InvalidValue, what: Spoofable) -> Result<String, InvalidValue> {
    let s = input.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(err);
    }
    visible(s, what)?;
    Ok(s.to_string())
}

/// A display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<DisplayName, InvalidValue> {
        bounded(input, 64, InvalidValue::Name, Spoofable::Name).map(DisplayName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A profile bio; may be empty (which clears it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    pub fn parse(input: &str) -> Result<Bio, InvalidValue> {
        let s = input.trim();
        if s.chars().count() > 140 {
            return Err(InvalidValue::Bio);
        }
        visible(s, Spoofable::Bio)?;
        Ok(Bio(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group or channel title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(input: &str) -> Result<Title, InvalidValue> {
        bounded(input, 128, InvalidValue::Title, Spoofable::Title).map(Title)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;

/// Message text: not blank, at most [`MAX_TEXT_CHARS`] characters. Kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(input: String) -> Result<MessageText, InvalidValue> {
        if input.trim().is_empty() {
            return Err(InvalidValue::TextEmpty);
        }
        let len = input.chars().count();
        if len > MAX_TEXT_CHARS {
            return Err(InvalidValue::TextTooLong { len, max: MAX_TEXT_CHARS });
        }
        Ok(MessageText(input))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// What a message carries. End-to-end ciphertext joins as a variant later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(MessageText),
    Media(Media),
}

impl Content {
    /// The text a person typed: the message itself, or a media caption.
    pub fn text(&self) -> Option<&MessageText> {
        match self {
            Content::Text(t) => Some(t),
            Content::Media(m) => m.caption.as_ref(),
        }
    }
}

/// How a file is shown in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Photo,
    Video,
    Audio,
    Voice,
    Document,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
            MediaKind::Document => "document",
        }
    }
    pub fn parse(s: &str) -> Option<MediaKind> {
        Some(match s {
            "photo" => MediaKind::Photo,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "voice" => MediaKind::Voice,
            "document" => MediaKind::Document,
            _ => return None,
        })
    }
}

/// A file attached to a message, with what a client needs to show it before downloading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    pub file: FileId,
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Pixel size, for images the server could decode within its limits.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// A small JPEG preview (images only).
    pub thumb: Option<FileId>,
    pub caption: Option<MessageText>,
}

/// A one-time login code as typed by a person: exactly 5 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode(String);

impl LoginCode {
    pub const LEN: usize = 5;

    pub fn parse(input: &str) -> Result<LoginCode, InvalidValue> {
        let s = input.trim();
        if s.len() == Self::LEN && s.chars().all(|c| c.is_ascii_digit()) {
            Ok(LoginCode(s.to_string()))
        } else {
            Err(InvalidValue::Code)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for (input, expect) in [
            ("+14155550100", Some("+14155550100")),
            ("+1 (415) 555-0100", Some("+14155550100")),
            ("+9996612345", Some("+9996612345")),
            ("14155550100", None),
            ("+0123456789", None),
            ("+1234567", None),
            ("+1234567890123456", None),
            ("+1415555O100", None),
            ("", None),
        ] {
            assert_eq!(Phone::parse(input).ok().as_ref().map(Phone::as_str), expect, "{input:?}");
        }
    }

    #[test]
    fn test_numbers() {
        for (input, code) in [("+9996612345", Some("11111")), ("+9996652222", Some("55555")), ("+999661234", None), ("+14155550100", None)]
        {
            let phone = Phone::parse(input).expect(input);
            assert_eq!(phone.test_code().as_deref(), code, "{input}");
        }
    }

    #[test]
    fn usernames() {
        for (input, ok) in [
            ("alice", true),
            ("@Alice_99", true),
            ("abcd", false),
            ("a".repeat(32).as_str(), true),
            ("a".repeat(33).as_str(), false),
            ("9lives", false),
            ("bad-name", false),
            ("ünicode", false),
        ] {
            assert_eq!(Username::parse(input).is_ok(), ok, "{input:?}");
        }
        assert_eq!(Username::parse("@Alice_99").unwrap().key(), "alice_99");
    }

    #[test]
    fn texts() {
        assert_eq!(MessageText::parse("  ".into()), Err(InvalidValue::TextEmpty));
        assert!(MessageText::parse("é".repeat(4096)).is_ok());
        assert_eq!(MessageText::parse("é".repeat(4097)), Err(InvalidValue::TextTooLong { len: 4097, max: 4096 }));
        assert_eq!(DisplayName::parse(" Ann ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(LoginCode::parse("12345").is_ok());
        assert!(LoginCode::parse("1234a").is_err());
    }

    /// Names that could render as other text are refused; emoji sequences are not.
    #[test]
    fn spoofing_characters() {
        for (input, refused) in [
            ("Alice", None),
            ("Анна Мария", None),
            ("محمد", None),
            ("Bob \u{1F600}", None),
            // Emoji sequences: ZWJ between emoji, VS16, skin tones, keycaps, tag flags.
            ("dev \u{1F469}\u{200D}\u{1F4BB}", None),
            ("\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB}", None),
            ("\u{2764}\u{FE0F} love", None),
            ("\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}", None),
            ("1\u{FE0F}\u{20E3}", None),
            ("\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} Scot", None),
            ("\u{1F1FA}\u{1F1E6}", None),
            // Direction overrides, embeddings, isolates and marks.
            ("Alice\u{202E}gnp.exe", Some('\u{202E}')),
            ("\u{202A}x", Some('\u{202A}')),
            ("\u{202B}x", Some('\u{202B}')),
            ("\u{202C}x", Some('\u{202C}')),
            ("\u{202D}x", Some('\u{202D}')),
            ("a\u{2066}b", Some('\u{2066}')),
            ("a\u{2067}b", Some('\u{2067}')),
            ("a\u{2068}b", Some('\u{2068}')),
            ("a\u{2069}b", Some('\u{2069}')),
            ("a\u{200E}b", Some('\u{200E}')),
            ("a\u{200F}b", Some('\u{200F}')),
            ("a\u{061C}b", Some('\u{061C}')),
            // Zero-width and invisible formatting.
            ("Al\u{200B}ice", Some('\u{200B}')),
            ("Al\u{200C}ice", Some('\u{200C}')),
            ("Al\u{200D}ice", Some('\u{200D}')),
            ("\u{1F469}\u{200D}", Some('\u{200D}')),
            ("\u{200D}\u{1F4BB}", Some('\u{200D}')),
            ("1\u{200D}2", Some('\u{200D}')),
            ("a\u{2060}b", Some('\u{2060}')),
            ("a\u{2061}b", Some('\u{2061}')),
            ("a\u{2064}b", Some('\u{2064}')),
            ("\u{FEFF}Alice", Some('\u{FEFF}')),
            ("a\u{180E}b", Some('\u{180E}')),
            ("a\u{00AD}b", Some('\u{00AD}')),
            ("a\u{2028}b", Some('\u{2028}')),
            ("a\u{2029}b", Some('\u{2029}')),
            ("A\u{FE0F}", Some('\u{FE0F}')),
            ("A\u{FE00}", Some('\u{FE00}')),
            ("A\u{E0100}", Some('\u{E0100}')),
            ("\u{3164}", Some('\u{3164}')),
            ("a\u{034F}b", Some('\u{034F}')),
            // Tags outside a flag sequence, and a flag sequence broken off.
            ("Alice\u{E0041}\u{E0042}", Some('\u{E0041}')),
            ("\u{1F3F4}x\u{E0067}", Some('\u{E0067}')),
            ("a\u{E007F}", Some('\u{E007F}')),
            ("a\u{E0001}", Some('\u{E0001}')),
        ] {
            assert_eq!(spoofing_char(input), refused, "{input:?}");
            let name = DisplayName::parse(input).map(|n| n.as_str().to_owned());
            match refused {
                None => assert_eq!(name.as_deref(), Ok(input), "{input:?}"),
                Some(ch) => assert_eq!(name, Err(InvalidValue::Spoofing { what: Spoofable::Name, ch }), "{input:?}"),
            }
        }
        assert!(matches!(Title::parse("News\u{202E}"), Err(InvalidValue::Spoofing { what: Spoofable::Title, .. })));
        assert!(matches!(Bio::parse("hi\u{200B}"), Err(InvalidValue::Spoofing { what: Spoofable::Bio, .. })));
        let message = DisplayName::parse("a\u{202E}").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("a name cannot contain U+202E"), "{message}");
    }
}
