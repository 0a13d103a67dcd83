//! Checked values. Each constructor is the only way in, so holding one means it is valid.

use crate::ids::FileId;

use thiserror::Error;

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

fn bounded(input: &str, max: usize, err: InvalidValue) -> Result<String, InvalidValue> {
    let s = input.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(err);
    }
    Ok(s.to_string())
}

/// A display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<DisplayName, InvalidValue> {
        bounded(input, 64, InvalidValue::Name).map(DisplayName)
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
        bounded(input, 128, InvalidValue::Title).map(Title)
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
}
