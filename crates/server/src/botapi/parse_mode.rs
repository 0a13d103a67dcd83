//! Bot API `parse_mode`: formatted text in, plain text and message entities out.
//!
//! A bot may send `text` with `parse_mode` set to `HTML`, `MarkdownV2` or the legacy
//! `Markdown` instead of explicit `entities`. [`parse`] turns such a text into the plain text
//! and the [`Entity`] list Telegram itself would store, or into the error Telegram would answer
//! (the description after `"Bad Request: "`, e.g. `can't parse entities: Unsupported start tag
//! "foo" at byte offset 0`).
//!
//! # Where the rules come from
//! - The user-facing rules are the Bot API's "Formatting options"
//!   (<https://core.telegram.org/bots/api#formatting-options>).
//! - The exact behaviour at the edges (which characters end an entity, which tags and
//!   attributes are tolerated, how links are normalised, the wording and byte offsets of every
//!   error) follows TDLib, which the Bot API server runs for `parse_mode`: `parse_html`,
//!   `parse_markdown_v2` and `parse_markdown` in `td/telegram/MessageEntity.cpp`, and
//!   `LinkManager::check_link`, `get_link_user_id` and `get_link_custom_emoji_id` for URLs.
//!   The parsers here are written from those algorithms, byte for byte: they walk UTF-8 bytes,
//!   treat the end of the text as a NUL (as TDLib's C strings do), report *byte* offsets into
//!   the input in errors and count entity offsets in UTF-16 code units.
//!
//! # What is deliberately different
//! - Only links Heliograph stores are kept: `http`, `https` and `tg` (the `ton:` and
//!   `tonsite:` schemes Telegram also accepts are dropped, like any other invalid link).
//! - Legacy Markdown `[text]` without `(url)` uses `text` as the URL. (TDLib reads that URL
//!   from its half-rewritten buffer, which shifts it by one character; we don't copy that.)
//! - Nothing is auto-detected (no URL, mention or hashtag entities), and nothing of Telegram's
//!   later clean-up when a message is sent is done here (trimming whitespace, splitting
//!   overlapping entities, the 100-entity limit): callers run [`heliograph_core::check_entities`].

use heliograph_core::{Entity, EntityKind, UserId};

/// The value of a Bot API `parse_mode` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    Html,
    MarkdownV2,
    /// The legacy mode: bold, italic, code, pre and links, no nesting.
    Markdown,
}

impl ParseMode {
    /// `"HTML"`, `"MarkdownV2"` or `"Markdown"`, in any letter case, as Telegram accepts them.
    pub fn parse(s: &str) -> Option<ParseMode> {
        match s.to_ascii_lowercase().as_str() {
            "html" => Some(ParseMode::Html),
            "markdownv2" => Some(ParseMode::MarkdownV2),
            "markdown" => Some(ParseMode::Markdown),
            _ => None,
        }
    }
}

/// Plain text and its entities; Err is the description after "Bad Request: " in Telegram's
/// wording, e.g. `can't parse entities: Unsupported start tag "foo" at byte offset 0` or
/// `can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`.
///
/// Entities are sorted by offset, longer (outer) ones first, and at equal spans in Telegram's
/// order (blockquote, pre, code, links, then bold, italic, underline, strikethrough, spoiler,
/// custom emoji). Empty entities are dropped.
pub fn parse(mode: ParseMode, text: &str) -> Result<(String, Vec<Entity>), String> {
    let parsed = match mode {
        ParseMode::Html => html::parse(text.as_bytes()),
        ParseMode::MarkdownV2 => markdown_v2::parse(text.as_bytes()),
        ParseMode::Markdown => markdown::parse(text.as_bytes()),
    };
    match parsed {
        Ok((plain, mut entities)) => {
            sort_entities(&mut entities);
            // Markup is ASCII and only whole characters are copied, so this is lossless.
            Ok((String::from_utf8_lossy(&plain).into_owned(), entities))
        }
        Err(message) => Err(format!("can't parse entities: {message}")),
    }
}

/// Telegram's order: by offset, then longer first, then by a fixed priority per kind.
fn sort_entities(entities: &mut [Entity]) {
    fn priority(kind: &EntityKind) -> u8 {
        match kind {
            EntityKind::Blockquote | EntityKind::ExpandableBlockquote => 0,
            EntityKind::Pre { language: Some(_) } => 10,
            EntityKind::Pre { language: None } => 11,
            EntityKind::Code => 20,
            EntityKind::TextLink { .. } | EntityKind::TextMention { .. } => 49,
            EntityKind::Mention
            | EntityKind::Hashtag
            | EntityKind::Cashtag
            | EntityKind::BotCommand
            | EntityKind::Url
            | EntityKind::Email
            | EntityKind::PhoneNumber => 50,
            EntityKind::Bold => 90,
            EntityKind::Italic => 91,
            EntityKind::Underline => 92,
            EntityKind::Strikethrough => 93,
            EntityKind::Spoiler => 94,
            EntityKind::CustomEmoji { .. } => 99,
        }
    }
    entities.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)).then(priority(&a.kind).cmp(&priority(&b.kind))));
}

// ---------------------------------------------------------------------------------------------
// Byte helpers shared by the parsers (TDLib's C-string view of the text).
// ---------------------------------------------------------------------------------------------

/// The byte at `i`, or NUL past the end, as TDLib reads its NUL-terminated strings.
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// TDLib's `is_space`: NUL counts, so scans stop at the end of the text.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b)
}

/// The UTF-16 units a UTF-8 character adds, counted at its first byte (0 for continuation bytes).
fn utf16_units(c: u8) -> u32 {
    match c {
        0x80..=0xbf => 0,
        0xf0..=0xff => 2,
        _ => 1,
    }
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_lowercase()
}

/// TDLib's `to_integer_safe<int64>`: a plain decimal that prints back identically
/// (no `+`, no leading zeros, no spaces).
fn strict_i64(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().filter(|n| n.to_string() == s)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

// ---------------------------------------------------------------------------------------------
// Links: what TDLib's LinkManager accepts in a text link, a user mention or a custom emoji.
// ---------------------------------------------------------------------------------------------

mod links {
    use super::{at, is_space, strict_i64, strip_prefix_ci};

    /// The largest id TDLib treats as a valid user id.
    const MAX_USER_ID: i64 = (1 << 40) - 1;

    /// `tg://user?id=N` (any case, `//` and `/` optional): the user it mentions.
    pub fn user_id(url: &str) -> Option<i64> {
        let url = url.to_ascii_lowercase();
        let rest = url.strip_prefix("tg:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let rest = rest.strip_prefix("user")?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let query = rest.strip_prefix('?')?;
        let query = query.split('#').next().unwrap_or("");
        for parameter in query.split('&') {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if key == "id" {
                return strict_i64(value).filter(|id| (1..=MAX_USER_ID).contains(id));
            }
        }
        None
    }

    /// `tg://emoji?id=N`: the custom emoji id, or Telegram's error.
    pub fn custom_emoji_id(url: &str) -> Result<i64, String> {
        let url = url.to_ascii_lowercase();
        let rest = url.strip_prefix("tg:").ok_or("Custom emoji URL must have scheme tg")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let rest = rest
            .strip_prefix("emoji")
            .filter(|r| r.is_empty() || r.starts_with(['/', '?', '#']))
            .ok_or("Custom emoji URL must have host \"emoji\"")?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let query = rest.strip_prefix('?').ok_or("Custom emoji URL must have an emoji identifier")?;
        let query = query.split('#').next().unwrap_or("");
        for parameter in query.split('&') {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if key == "id" {
                return strict_i64(value).filter(|&id| id != 0).ok_or_else(|| "Invalid custom emoji identifier specified".into());
            }
        }
        Err("Custom emoji URL must have an emoji identifier".into())
    }

    /// A link as TDLib's `get_checked_link` normalises it (`example.org` becomes
    /// `http://example.org/`), or `None` when Telegram would drop the entity.
    pub fn checked(link: &str) -> Option<String> {
        if let Some(rest) = strip_prefix_ci(link, "tg:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let url = HttpUrl::parse(rest)?;
            if strip_prefix_ci(rest, "http://").is_some() || url.https || !url.userinfo.is_empty() || url.specified_port != 0 || url.ipv6 {
                return None;
            }
            let query = match url.query.as_bytes() {
                [b'/', b'?', ..] => &url.query[1..],
                _ => &url.query[..],
            };
            if !url.host.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
                return None;
            }
            return Some(format!("tg://{}{query}", url.host));
        }
        // Telegram also accepts ton:// and tonsite:// links; Heliograph stores only http, https and tg.
        if strip_prefix_ci(link, "ton:").is_some() || strip_prefix_ci(link, "tonsite:").is_some() {
            return None;
        }
        let url = HttpUrl::parse(link)?;
        if !url.host.contains('.') && !url.ipv6 {
            return None;
        }
        Some(url.to_url())
    }

    /// TDLib's `parse_url`: `[http[s]://][userinfo@]host[:port][/query]`.
    struct HttpUrl {
        https: bool,
        userinfo: String,
        host: String,
        ipv6: bool,
        specified_port: u16,
        query: String,
    }

    impl HttpUrl {
        fn parse(url: &str) -> Option<HttpUrl> {
            let b = url.as_bytes();
            let protocol_end = b.iter().position(|c| b":/?#@[]".contains(c)).unwrap_or(b.len());
            let (https, rest) = if b[protocol_end..].starts_with(b"://") {
                match url[..protocol_end].to_ascii_lowercase().as_str() {
                    "http" => (false, &b[protocol_end + 3..]),
                    "https" => (true, &b[protocol_end + 3..]),
                    _ => return None, // "Unsupported URL protocol"
                }
            } else {
                (false, b)
            };
            let authority_end = rest.iter().position(|c| b"/?#".contains(c)).unwrap_or(rest.len());
            let authority = &rest[..authority_end];

            // The port follows the last ':' that comes after any ']' or '@'.
            let mut port = 0i64;
            let mut userinfo_host = authority;
            if let Some(colon) = (1..authority.len()).rev().find(|&j| matches!(authority[j], b':' | b']' | b'@')) {
                if authority[colon] == b':' {
                    let mut digits = &authority[colon + 1..];
                    while digits.len() > 1 && digits[0] == b'0' {
                        digits = &digits[1..];
                    }
                    port = std::str::from_utf8(digits).ok().and_then(strict_i64).filter(|&p| p != 0).unwrap_or(-1);
                    userinfo_host = &authority[..colon];
                }
            }
            if !(0..=65535).contains(&port) {
                return None; // "Wrong port number specified in the URL"
            }
            let (userinfo, host) = match userinfo_host.iter().rposition(|&c| c == b'@') {
                Some(at_sign) => (&userinfo_host[..at_sign], &userinfo_host[at_sign + 1..]),
                None => (&b""[..], userinfo_host),
            };
            let ipv6 = host.len() >= 2 && host[0] == b'[' && host[host.len() - 1] == b']';
            if ipv6 {
                let inner = std::str::from_utf8(&host[1..host.len() - 1]).ok()?;
                inner.parse::<std::net::Ipv6Addr>().ok()?;
            }
            if host.is_empty() || host == b"." {
                return None;
            }

            let mut query = &rest[authority_end..];
            while let [head @ .., last] = query {
                if !is_space(*last) {
                    break;
                }
                query = head;
            }
            let mut query_str = Vec::with_capacity(query.len() + 1);
            if query.first() != Some(&b'/') {
                query_str.push(b'/');
            }
            for &c in query {
                if c <= 0x20 {
                    query_str.extend_from_slice(format!("%{c:02X}").as_bytes());
                } else {
                    query_str.push(c);
                }
            }

            let host = String::from_utf8_lossy(host).to_ascii_lowercase();
            let valid = ipv6 || (url_part_ok(host.as_bytes(), false) && url_part_ok(userinfo, true));
            if !valid {
                return None;
            }
            Some(HttpUrl {
                https,
                userinfo: String::from_utf8_lossy(userinfo).into_owned(),
                host,
                ipv6,
                specified_port: port as u16,
                query: String::from_utf8_lossy(&query_str).into_owned(),
            })
        }

        fn to_url(&self) -> String {
            let mut url = String::from(if self.https { "https://" } else { "http://" });
            if !self.userinfo.is_empty() {
                url.push_str(&self.userinfo);
                url.push('@');
            }
            url.push_str(&self.host);
            if self.specified_port > 0 {
                url.push_str(&format!(":{}", self.specified_port));
            }
            url.push_str(&self.query);
            url
        }
    }

    /// The characters RFC 3986 allows in a host or userinfo, percent escapes and any non-ASCII.
    fn url_part_ok(part: &[u8], allow_colon: bool) -> bool {
        let mut i = 0;
        while i < part.len() {
            let c = part[i];
            if c.is_ascii_alphanumeric() || b".-_!$,~*'();&+=".contains(&c) || (allow_colon && c == b':') || c >= 0x80 {
                i += 1;
            } else if c == b'%' && at(part, i + 1).is_ascii_hexdigit() && at(part, i + 2).is_ascii_hexdigit() {
                i += 3;
            } else {
                return false;
            }
        }
        true
    }
}

/// The entity a link makes: a mention for `tg://user?id=N`, a text link for a valid URL,
/// nothing for an invalid one.
fn link_entity(url: &str) -> Option<EntityKind> {
    match links::user_id(url) {
        Some(id) => Some(EntityKind::TextMention { user: UserId(id) }),
        None => links::checked(url).map(|url| EntityKind::TextLink { url }),
    }
}

fn entity(kind: EntityKind, offset: u32, length: u32) -> Entity {
    Entity { kind, offset, length }
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

mod html {
    use super::{at, entity, is_space, link_entity, lower, strict_i64, utf16_units, Entity, EntityKind};

    const TAGS: [&str; 16] =
        ["a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"];

    /// A start tag waiting for its end tag.
    struct Open {
        tag: String,
        /// `href`, the code language, `spoiler` for a span, the emoji id, or "1" for an
        /// expandable blockquote.
        argument: String,
        offset: u32,
        /// Where its content starts in the output.
        begin: usize,
    }

    /// A found entity; `code_language` is a `<code class="language-…">` that an enclosing
    /// `<pre>` of the same span turns into the pre's language.
    struct Found {
        entity: Entity,
        code_language: String,
    }

    /// `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;` and `&#xNN;` (the `;` is optional) at `pos`:
    /// the code point and where the text continues. Anything else is not an entity.
    fn decode_entity(s: &[u8], pos: usize) -> Option<(u32, usize)> {
        let mut end = pos + 1;
        let code = if at(s, pos + 1) == b'#' {
            end += 1;
            let mut code = 0u32;
            if at(s, pos + 2) == b'x' {
                end += 1;
                while let Some(digit) = (at(s, end) as char).to_digit(16) {
                    code = code.wrapping_mul(16).wrapping_add(digit);
                    end += 1;
                }
            } else {
                while let Some(digit) = (at(s, end) as char).to_digit(10) {
                    code = code.wrapping_mul(10).wrapping_add(digit);
                    end += 1;
                }
            }
            if code == 0 || code >= 0x10ffff || end - pos >= 10 {
                return None;
            }
            code
        } else {
            while at(s, end).is_ascii_alphabetic() {
                end += 1;
            }
            match &s[pos + 1..end] {
                b"lt" => u32::from('<'),
                b"gt" => u32::from('>'),
                b"amp" => u32::from('&'),
                b"quot" => u32::from('"'),
                _ => return None,
            }
        };
        Some((code, if at(s, end) == b';' { end + 1 } else { end }))
    }

    /// Appends a decoded code point; a lone surrogate (which the caller reports) becomes U+FFFD.
    fn push_code_point(out: &mut Vec<u8>, code: u32) {
        let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }

    pub fn parse(s: &[u8]) -> Result<(Vec<u8>, Vec<Entity>), String> {
        let mut out = Vec::with_capacity(s.len());
        let mut utf16 = 0u32;
        let mut has_surrogate = false;
        let mut open: Vec<Open> = Vec::new();
        let mut found: Vec<Found> = Vec::new();

        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            if c == b'&' {
                if let Some((code, next)) = decode_entity(s, i) {
                    utf16 += if code > 0xffff { 2 } else { 1 };
                    has_surrogate |= (0xd800..=0xdfff).contains(&code);
                    push_code_point(&mut out, code);
                    i = next;
                    continue;
                }
            }
            if c != b'<' {
                utf16 += utf16_units(c);
                out.push(c);
                i += 1;
                continue;
            }

            let begin_pos = i;
            i += 1;
            if at(s, i) != b'/' {
                // A start tag.
                while !is_space(at(s, i)) && at(s, i) != b'>' {
                    i += 1;
                }
                if at(s, i) == 0 {
                    return Err(format!("Unclosed start tag at byte offset {begin_pos}"));
                }
                let tag = lower(&s[begin_pos + 1..i]);
                if !TAGS.contains(&tag.as_str()) {
                    return Err(format!("Unsupported start tag \"{tag}\" at byte offset {begin_pos}"));
                }

                let mut argument = String::new();
                while at(s, i) != b'>' {
                    while at(s, i) != 0 && is_space(at(s, i)) {
                        i += 1;
                    }
                    if at(s, i) == b'>' {
                        break;
                    }
                    let name_begin = i;
                    while !is_space(at(s, i)) && !b"=>/\"'".contains(&at(s, i)) {
                        i += 1;
                    }
                    let name = &s[name_begin..i];
                    if name.is_empty() {
                        return Err(format!("Empty attribute name in the tag \"{tag}\" at byte offset {begin_pos}"));
                    }
                    while at(s, i) != 0 && is_space(at(s, i)) {
                        i += 1;
                    }
                    if at(s, i) != b'=' {
                        // An attribute without a value.
                        if at(s, i) == 0 {
                            return Err(format!("Unclosed start tag \"{tag}\" at byte offset {begin_pos}"));
                        }
                        if tag == "blockquote" && name == b"expandable" {
                            argument = "1".into();
                        }
                        continue;
                    }
                    i += 1;
                    while at(s, i) != 0 && is_space(at(s, i)) {
                        i += 1;
                    }
                    if at(s, i) == 0 {
                        return Err(format!("Unclosed start tag \"{tag}\" at byte offset {begin_pos}"));
                    }

                    let value = if at(s, i) != b'\'' && at(s, i) != b'"' {
                        // A name token: letters, digits, '.' and '-', case-insensitive.
                        let token_begin = i;
                        while at(s, i).is_ascii_alphanumeric() || at(s, i) == b'.' || at(s, i) == b'-' {
                            i += 1;
                        }
                        if !is_space(at(s, i)) && at(s, i) != b'>' {
                            return Err(format!("Unexpected end of name token at byte offset {token_begin}"));
                        }
                        lower(&s[token_begin..i])
                    } else {
                        // A quoted string, in which entities are decoded.
                        let quote = at(s, i);
                        i += 1;
                        let mut value = Vec::new();
                        while at(s, i) != quote && at(s, i) != 0 {
                            if at(s, i) == b'&' {
                                if let Some((code, next)) = decode_entity(s, i) {
                                    push_code_point(&mut value, code);
                                    i = next;
                                    continue;
                                }
                            }
                            value.push(s[i]);
                            i += 1;
                        }
                        if at(s, i) == quote {
                            i += 1;
                        }
                        String::from_utf8_lossy(&value).into_owned()
                    };
                    if at(s, i) == 0 {
                        return Err(format!("Unclosed start tag at byte offset {begin_pos}"));
                    }

                    match (tag.as_str(), name) {
                        ("a", b"href") | ("tg-emoji", b"emoji-id") => argument = value,
                        ("code", b"class") if value.starts_with("language-") => argument = value["language-".len()..].into(),
                        ("span", b"class") if value.starts_with("tg-") => argument = value["tg-".len()..].into(),
                        ("blockquote", b"expandable") => argument = "1".into(),
                        _ => {}
                    }
                }

                if tag == "span" && argument != "spoiler" {
                    return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin_pos}"));
                }
                open.push(Open { tag, argument, offset: utf16, begin: out.len() });
            } else {
                // An end tag; `</>` closes whatever is open.
                let Some(top) = open.pop() else {
                    return Err(format!("Unexpected end tag at byte offset {begin_pos}"));
                };
                while !is_space(at(s, i)) && at(s, i) != b'>' {
                    i += 1;
                }
                let end_tag = lower(&s[begin_pos + 2..i]);
                while at(s, i) != 0 && is_space(at(s, i)) {
                    i += 1;
                }
                if at(s, i) != b'>' {
                    return Err(format!("Unclosed end tag at byte offset {begin_pos}"));
                }
                if !end_tag.is_empty() && end_tag != top.tag {
                    return Err(format!(
                        "Unmatched end tag at byte offset {begin_pos}, expected \"</{}>\", found \"</{end_tag}>\"",
                        top.tag
                    ));
                }
                if utf16 > top.offset {
                    close(top, utf16, &out, &mut found)?;
                }
            }
            i += 1; // past '>'
        }
        if let Some(top) = open.last() {
            return Err(format!("Can't find end tag corresponding to start tag \"{}\"", top.tag));
        }
        if has_surrogate {
            return Err(
                "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units".into()
            );
        }
        Ok((out, found.into_iter().map(|f| f.entity).collect()))
    }

    /// Records the entity of a closed, non-empty tag.
    fn close(top: Open, utf16: u32, out: &[u8], found: &mut Vec<Found>) -> Result<(), String> {
        let (offset, length) = (top.offset, utf16 - top.offset);
        let simple = |kind| Found { entity: entity(kind, offset, length), code_language: String::new() };
        // The last entity found, when it spans exactly this tag's content.
        let same_span = |found: &Vec<Found>| found.last().is_some_and(|f| f.entity.offset == offset && f.entity.length == length);
        let new = match top.tag.as_str() {
            "b" | "strong" => simple(EntityKind::Bold),
            "i" | "em" => simple(EntityKind::Italic),
            "u" | "ins" => simple(EntityKind::Underline),
            "s" | "strike" | "del" => simple(EntityKind::Strikethrough),
            "tg-spoiler" | "span" => simple(EntityKind::Spoiler),
            "blockquote" if top.argument.is_empty() => simple(EntityKind::Blockquote),
            "blockquote" => simple(EntityKind::ExpandableBlockquote),
            "tg-emoji" => {
                let id = strict_i64(&top.argument).filter(|&id| id != 0).ok_or("Invalid custom emoji identifier specified")?;
                simple(EntityKind::CustomEmoji { id: id.to_string() })
            }
            "a" => {
                let url = match top.argument.is_empty() {
                    true => String::from_utf8_lossy(&out[top.begin..]).into_owned(),
                    false => top.argument,
                };
                match link_entity(&url) {
                    Some(kind) => simple(kind),
                    None => return Ok(()),
                }
            }
            "pre" => {
                // <code class="language-x"> closed just inside: the pre takes its language.
                if same_span(found) {
                    if let Some(last) = found.last_mut() {
                        if last.entity.kind == EntityKind::Code && !last.code_language.is_empty() {
                            last.entity.kind = EntityKind::Pre { language: Some(std::mem::take(&mut last.code_language)) };
                            return Ok(());
                        }
                    }
                }
                simple(EntityKind::Pre { language: None })
            }
            "code" => {
                // <pre> closed just inside <code class="language-x">: same as the other nesting.
                if same_span(found) && !top.argument.is_empty() {
                    if let Some(last) = found.last_mut() {
                        if last.entity.kind == (EntityKind::Pre { language: None }) {
                            last.entity.kind = EntityKind::Pre { language: Some(top.argument) };
                            return Ok(());
                        }
                    }
                }
                Found { entity: entity(EntityKind::Code, offset, length), code_language: top.argument }
            }
            _ => return Ok(()), // not reachable: start tags are checked against TAGS
        };
        found.push(new);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// MarkdownV2
// ---------------------------------------------------------------------------------------------

mod markdown_v2 {
    use super::{at, entity, is_space, link_entity, links, utf16_units, Entity, EntityKind};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Bold,
        Italic,
        Underline,
        Strikethrough,
        Spoiler,
        Code,
        Pre,
        PreCode,
        TextUrl,
        CustomEmoji,
        BlockQuote,
        ExpandableBlockQuote,
    }

    impl Kind {
        /// TDLib's name, as it appears in "Can't find end of … entity".
        fn name(self) -> &'static str {
            match self {
                Kind::Bold => "Bold",
                Kind::Italic => "Italic",
                Kind::Underline => "Underline",
                Kind::Strikethrough => "Strikethrough",
                Kind::Spoiler => "Spoiler",
                Kind::Code => "Code",
                Kind::Pre => "Pre",
                Kind::PreCode => "PreCode",
                Kind::TextUrl => "TextUrl",
                Kind::CustomEmoji => "CustomEmoji",
                Kind::BlockQuote => "BlockQuote",
                Kind::ExpandableBlockQuote => "ExpandableBlockQuote",
            }
        }
    }

    /// An entity whose end has not been seen yet.
    struct Open {
        kind: Kind,
        /// The language of a pre.
        argument: String,
        offset: u32,
        /// Where its markup starts in the input (for errors).
        byte: usize,
        /// Where its content starts in the output.
        begin: usize,
    }

    fn reserved(c: u8) -> String {
        format!("Character '{}' is reserved and must be escaped with the preceding '\\'", c as char)
    }

    fn no_end(open: &Open) -> String {
        format!("Can't find end of {} entity at byte offset {}", open.kind.name(), open.byte)
    }

    /// Reads the `(…)` of a link or custom emoji from `*i` (at the `(`), unescaping `\x`;
    /// leaves `*i` at the `)`.
    fn read_url(s: &[u8], i: &mut usize, error: &str) -> Result<String, String> {
        *i += 1;
        let begin = *i;
        let mut url = Vec::new();
        while *i < s.len() && s[*i] != b')' {
            if s[*i] == b'\\' && (1..=126).contains(&at(s, *i + 1)) {
                url.push(s[*i + 1]);
                *i += 2;
            } else {
                url.push(s[*i]);
                *i += 1;
            }
        }
        if at(s, *i) != b')' {
            return Err(format!("{error} at byte offset {begin}"));
        }
        Ok(String::from_utf8_lossy(&url).into_owned())
    }

    pub fn parse(s: &[u8]) -> Result<(Vec<u8>, Vec<Entity>), String> {
        let n = s.len();
        let mut out = Vec::with_capacity(n);
        let mut entities = Vec::new();
        let mut utf16 = 0u32;
        let mut open: Vec<Open> = Vec::new();
        // A blockquote is open (they don't nest); a '>' here would start or continue one.
        let mut have_blockquote = false;
        let mut can_start_blockquote = true;

        let mut i = 0;
        while i < n {
            'step: {
                let c = s[i];
                if c == b'\\' && (1..=126).contains(&at(s, i + 1)) {
                    i += 1;
                    utf16 += 1;
                    out.push(s[i]);
                    if s[i] != b'\r' {
                        can_start_blockquote = s[i] == b'\n';
                    }
                    break 'step;
                }

                let in_code = open.last().is_some_and(|o| matches!(o.kind, Kind::Code | Kind::Pre | Kind::PreCode));
                let reserved_here: &[u8] = if in_code { b"`" } else { b"_*[]()~`>#+-=|{}.!\n" };
                if !reserved_here.contains(&c) {
                    if utf16_units(c) > 0 {
                        utf16 += utf16_units(c);
                        if c != b'\r' {
                            can_start_blockquote = false;
                        }
                    }
                    out.push(c);
                    break 'step;
                }

                let is_end = match open.last() {
                    None => false,
                    Some(_) if have_blockquote && c == b'\n' && at(s, i + 1) != b'>' => true,
                    Some(top) => match top.kind {
                        Kind::Bold => c == b'*',
                        Kind::Italic => c == b'_' && at(s, i + 1) != b'_',
                        Kind::Underline => c == b'_' && at(s, i + 1) == b'_',
                        Kind::Strikethrough => c == b'~',
                        Kind::Spoiler => c == b'|' && at(s, i + 1) == b'|',
                        Kind::Code => c == b'`',
                        Kind::Pre | Kind::PreCode => c == b'`' && at(s, i + 1) == b'`' && at(s, i + 2) == b'`',
                        Kind::TextUrl | Kind::CustomEmoji => c == b']',
                        Kind::BlockQuote | Kind::ExpandableBlockQuote => false,
                    },
                };

                if !is_end {
                    // The start of an entity, a line break, or an unescaped reserved character.
                    let byte = i;
                    let mut argument = String::new();
                    let kind = match c {
                        b'_' if at(s, i + 1) == b'_' => {
                            i += 1;
                            Kind::Underline
                        }
                        b'_' => Kind::Italic,
                        b'*' => Kind::Bold,
                        b'~' => Kind::Strikethrough,
                        b'|' if at(s, i + 1) == b'|' => {
                            i += 1;
                            Kind::Spoiler
                        }
                        b'[' => Kind::TextUrl,
                        b'!' if at(s, i + 1) == b'[' => {
                            i += 1;
                            Kind::CustomEmoji
                        }
                        b'`' if at(s, i + 1) == b'`' && at(s, i + 2) == b'`' => {
                            // ```language\n…```: the language runs to the first space.
                            i += 3;
                            let mut kind = Kind::Pre;
                            let mut language_end = i;
                            while !is_space(at(s, language_end)) && at(s, language_end) != b'`' {
                                language_end += 1;
                            }
                            if i != language_end && language_end < n && at(s, language_end) != b'`' {
                                kind = Kind::PreCode;
                                argument = String::from_utf8_lossy(&s[i..language_end]).into_owned();
                                i = language_end;
                            }
                            // One line break after the opening is not part of the text.
                            if matches!(at(s, i), b'\n' | b'\r') {
                                if matches!(at(s, i + 1), b'\n' | b'\r') && at(s, i) != at(s, i + 1) {
                                    i += 2;
                                } else {
                                    i += 1;
                                }
                            }
                            i -= 1;
                            kind
                        }
                        b'`' => Kind::Code,
                        b'\n' => {
                            utf16 += 1;
                            out.push(b'\n');
                            can_start_blockquote = true;
                            break 'step;
                        }
                        b'>' if can_start_blockquote => {
                            if have_blockquote {
                                break 'step; // the next line of the open blockquote
                            }
                            have_blockquote = true;
                            Kind::BlockQuote
                        }
                        _ => return Err(reserved(c)),
                    };
                    open.push(Open { kind, argument, offset: utf16, byte, begin: out.len() });
                    break 'step;
                }

                // The end of the innermost entity.
                let Some(top) = open.last() else { break 'step };
                let mut kind = top.kind;
                if c == b'\n' && kind != Kind::BlockQuote {
                    // A line break ends the blockquote; only a `||` right before it (the
                    // expandability mark) may be open inside it.
                    let mark_before = top.byte + 2 == i || (top.byte + 3 == i && out.last() == Some(&b'\r'));
                    if kind != Kind::Spoiler || !mark_before {
                        return Err(no_end(top));
                    }
                    open.pop();
                    match open.last() {
                        Some(quote) if quote.kind == Kind::BlockQuote => kind = Kind::ExpandableBlockQuote,
                        Some(other) => return Err(no_end(other)),
                        None => return Err(reserved(c)), // not reachable: a blockquote is open
                    }
                }
                let Some(top) = open.pop() else { break 'step };
                let mut skip = utf16 == top.offset;
                let new_kind = match kind {
                    Kind::Bold => Some(EntityKind::Bold),
                    Kind::Italic => Some(EntityKind::Italic),
                    Kind::Strikethrough => Some(EntityKind::Strikethrough),
                    Kind::Code => Some(EntityKind::Code),
                    Kind::Underline => {
                        i += 1;
                        Some(EntityKind::Underline)
                    }
                    Kind::Spoiler => {
                        i += 1;
                        Some(EntityKind::Spoiler)
                    }
                    Kind::Pre => {
                        i += 2;
                        Some(EntityKind::Pre { language: None })
                    }
                    Kind::PreCode => {
                        i += 2;
                        Some(EntityKind::Pre { language: Some(top.argument) })
                    }
                    Kind::TextUrl => {
                        let url = if at(s, i + 1) != b'(' {
                            String::from_utf8_lossy(&out[top.begin..]).into_owned()
                        } else {
                            i += 1;
                            read_url(s, &mut i, "Can't find end of a URL")?
                        };
                        let link = link_entity(&url);
                        skip |= link.is_none();
                        link
                    }
                    Kind::CustomEmoji => {
                        if at(s, i + 1) != b'(' {
                            return Err("Custom emoji entity must contain a tg://emoji URL".into());
                        }
                        i += 1;
                        let url = read_url(s, &mut i, "Can't find end of a custom emoji URL")?;
                        let id = links::custom_emoji_id(&url)?;
                        Some(EntityKind::CustomEmoji { id: id.to_string() })
                    }
                    Kind::BlockQuote | Kind::ExpandableBlockQuote => {
                        // The line break that ends it belongs to it.
                        have_blockquote = false;
                        out.push(c);
                        can_start_blockquote = true;
                        utf16 += 1;
                        skip = false;
                        Some(if kind == Kind::BlockQuote { EntityKind::Blockquote } else { EntityKind::ExpandableBlockquote })
                    }
                };
                if let (false, Some(new_kind)) = (skip, new_kind) {
                    entities.push(entity(new_kind, top.offset, utf16 - top.offset));
                }
            }
            i += 1;
        }

        if have_blockquote {
            // A blockquote may run to the end of the text, with `||` as its last characters.
            let mut kind = EntityKind::Blockquote;
            if open.last().is_some_and(|o| o.kind == Kind::Spoiler && o.byte + 2 == n) {
                open.pop();
                kind = EntityKind::ExpandableBlockquote;
            }
            if open.last().is_some_and(|o| o.kind == Kind::BlockQuote) {
                if let Some(quote) = open.pop() {
                    if utf16 != quote.offset {
                        entities.push(entity(kind, quote.offset, utf16 - quote.offset));
                    }
                }
            }
        }
        if let Some(top) = open.last() {
            return Err(no_end(top));
        }
        Ok((out, entities))
    }
}

// ---------------------------------------------------------------------------------------------
// Legacy Markdown
// ---------------------------------------------------------------------------------------------

mod markdown {
    use super::{at, entity, is_space, link_entity, utf16_units, Entity, EntityKind};

    pub fn parse(s: &[u8]) -> Result<(Vec<u8>, Vec<Entity>), String> {
        let n = s.len();
        let mut out = Vec::with_capacity(n);
        let mut entities = Vec::new();
        let mut utf16 = 0u32;

        let mut i = 0;
        while i < n {
            let c = s[i];
            // Outside entities, '\' escapes the four markup characters.
            if c == b'\\' && matches!(at(s, i + 1), b'_' | b'*' | b'`' | b'[') {
                out.push(s[i + 1]);
                utf16 += 1;
                i += 2;
                continue;
            }
            if !matches!(c, b'_' | b'*' | b'`' | b'[') {
                utf16 += utf16_units(c);
                out.push(c);
                i += 1;
                continue;
            }

            let begin_pos = i;
            let end_character = if c == b'[' { b']' } else { c };
            i += 1;
            let mut is_pre = false;
            let mut language = String::new();
            if c == b'`' && at(s, i) == b'`' && at(s, i + 1) == b'`' {
                i += 2;
                is_pre = true;
                let mut language_end = i;
                while !is_space(at(s, language_end)) && at(s, language_end) != b'`' {
                    language_end += 1;
                }
                if i != language_end && language_end < n && at(s, language_end) != b'`' {
                    language = String::from_utf8_lossy(&s[i..language_end]).into_owned();
                    i = language_end;
                }
                if matches!(at(s, i), b'\n' | b'\r') {
                    if matches!(at(s, i + 1), b'\n' | b'\r') && at(s, i) != at(s, i + 1) {
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }

            // No escapes and no nesting inside an entity: copy up to its end.
            let offset = utf16;
            let content_begin = i;
            while i < n && (s[i] != end_character || (is_pre && !(at(s, i + 1) == b'`' && at(s, i + 2) == b'`'))) {
                utf16 += utf16_units(s[i]);
                out.push(s[i]);
                i += 1;
            }
            if i == n {
                return Err(format!("Can't find end of the entity starting at byte offset {begin_pos}"));
            }
            let content_end = i;

            if utf16 != offset {
                let length = utf16 - offset;
                let kind = match c {
                    b'_' => Some(EntityKind::Italic),
                    b'*' => Some(EntityKind::Bold),
                    b'[' => {
                        let url = if at(s, i + 1) != b'(' {
                            String::from_utf8_lossy(&s[content_begin..content_end]).into_owned()
                        } else {
                            // The URL runs to ')' or, without one, to the end of the text.
                            i += 2;
                            let url_begin = i;
                            while i < n && s[i] != b')' {
                                i += 1;
                            }
                            String::from_utf8_lossy(&s[url_begin..i]).into_owned()
                        };
                        link_entity(&url)
                    }
                    _ if is_pre => Some(EntityKind::Pre { language: (!language.is_empty()).then_some(language) }),
                    _ => Some(EntityKind::Code),
                };
                if let Some(kind) = kind {
                    entities.push(entity(kind, offset, length));
                }
            }
            if is_pre {
                i += 2;
            }
            i += 1;
        }
        Ok((out, entities))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: EntityKind, offset: u32, length: u32) -> Entity {
        Entity { kind, offset, length }
    }
    fn pre(language: Option<&str>) -> EntityKind {
        EntityKind::Pre { language: language.map(String::from) }
    }
    fn link(url: &str) -> EntityKind {
        EntityKind::TextLink { url: url.into() }
    }
    fn mention(id: i64) -> EntityKind {
        EntityKind::TextMention { user: UserId(id) }
    }
    fn emoji(id: &str) -> EntityKind {
        EntityKind::CustomEmoji { id: id.into() }
    }
    use EntityKind::{Blockquote, Bold, Code, ExpandableBlockquote, Italic, Spoiler, Strikethrough, Underline};

    /// Inputs that parse: (mode, input, plain text, entities).
    #[test]
    fn formatted_text_becomes_plain_text_and_entities() {
        use ParseMode::{Html, Markdown, MarkdownV2};
        let cases: Vec<(ParseMode, &str, &str, Vec<Entity>)> = vec![
            // --- HTML ---
            (Html, "", "", vec![]),
            (Html, "<b>bold</b> <strong>strong</strong>", "bold strong", vec![e(Bold, 0, 4), e(Bold, 5, 6)]),
            (
                Html,
                "<i>a</i><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>",
                "abcdefg",
                vec![
                    e(Italic, 0, 1),
                    e(Italic, 1, 1),
                    e(Underline, 2, 1),
                    e(Underline, 3, 1),
                    e(Strikethrough, 4, 1),
                    e(Strikethrough, 5, 1),
                    e(Strikethrough, 6, 1),
                ],
            ),
            (Html, "<span class=\"tg-spoiler\">x</span><tg-spoiler>y</tg-spoiler>", "xy", vec![e(Spoiler, 0, 1), e(Spoiler, 1, 1)]),
            // The spec's nesting example: outer entities first at equal offsets.
            (
                Html,
                "<b>bold <i>italic bold <s>italic bold strikethrough <span class=\"tg-spoiler\">italic bold strikethrough spoiler</span></s> <u>underline italic bold</u></i> bold</b>",
                "bold italic bold italic bold strikethrough italic bold strikethrough spoiler underline italic bold bold",
                vec![e(Bold, 0, 103), e(Italic, 5, 93), e(Strikethrough, 17, 59), e(Spoiler, 43, 33), e(Underline, 77, 21)],
            ),
            // Same span: Telegram orders code before bold before italic.
            (Html, "<i><b><code>x</code></b></i>", "x", vec![e(Code, 0, 1), e(Bold, 0, 1), e(Italic, 0, 1)]),
            // Offsets count UTF-16 units: 🏟 is two, ➡️ is two (➡ + VS16).
            (Html, "🏟 🏟<i>🏟 &lt;🏟</i>", "🏟 🏟🏟 <🏟", vec![e(Italic, 5, 6)]),
            (Html, "➡️ ➡️<b>➡️ ➡️</b>", "➡️ ➡️➡️ ➡️", vec![e(Bold, 5, 5)]),
            // Named entities (only four), numeric ones, a missing ';', unknown ones kept as text.
            (Html, "&lt;&gt;&amp;&quot;&#65;&#x42;&lt&ge;&nbsp;&#12345678;", "<>&\"AB<&ge;&nbsp;&#12345678;", vec![]),
            (Html, "&#128512;<b>x</b>", "😀x", vec![e(Bold, 2, 1)]),
            (Html, "<a href=\"https://example.org/a?b=c\">site</a>", "site", vec![e(link("https://example.org/a?b=c"), 0, 4)]),
            // Links are normalised as Telegram does: a scheme and a path are added.
            (Html, "<a href=telegram.org>x</a>", "x", vec![e(link("http://telegram.org/"), 0, 1)]),
            (Html, "<a href='telegram.org?&lt;'>x</a>", "x", vec![e(link("http://telegram.org/?<"), 0, 1)]),
            (Html, "<a>telegram.org</a>", "telegram.org", vec![e(link("http://telegram.org/"), 0, 12)]),
            (Html, "<a href=\"tg://user?id=123456789\">Bob</a>", "Bob", vec![e(mention(123456789), 0, 3)]),
            (Html, "<a href=\"tg://resolve?domain=bob\">x</a>", "x", vec![e(link("tg://resolve?domain=bob"), 0, 1)]),
            // Invalid links and empty entities are dropped silently.
            (Html, "<a href=\"javascript:alert(1)\">x</a><a href=\"nodot\">y</a><a>a b</a>", "xya b", vec![]),
            (Html, "a<b></b>b<i> </i>", "ab ", vec![e(Italic, 2, 1)]),
            (Html, "<code>x</code><pre>y</pre>", "xy", vec![e(Code, 0, 1), e(pre(None), 1, 1)]),
            (Html, "<pre><code class=\"language-rust\">fn</code></pre>", "fn", vec![e(pre(Some("rust")), 0, 2)]),
            (Html, "<code class=\"language-rust\"><pre>fn</pre></code>", "fn", vec![e(pre(Some("rust")), 0, 2)]),
            // The language only counts on the code right inside the pre; a lone code drops it.
            (Html, "<pre> <code class=\"language-c\">x</code></pre>", " x", vec![e(pre(None), 0, 2), e(Code, 1, 1)]),
            (Html, "<code class=\"language-c\">x</code>", "x", vec![e(Code, 0, 1)]),
            (Html, "<blockquote>q</blockquote><blockquote expandable>r</blockquote>", "qr", vec![e(Blockquote, 0, 1), e(ExpandableBlockquote, 1, 1)]),
            (Html, "<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>", "👍", vec![e(emoji("5368324170671202286"), 0, 2)]),
            // Tags and attribute names are case-insensitive; `</>` closes the innermost tag.
            (Html, "<B Class=x>a</b><I>b</>", "ab", vec![e(Bold, 0, 1), e(Italic, 1, 1)]),
            // --- MarkdownV2 ---
            (MarkdownV2, "*bold* _italic_ __underline__ ~strike~ ||spoiler||", "bold italic underline strike spoiler", vec![
                e(Bold, 0, 4),
                e(Italic, 5, 6),
                e(Underline, 12, 9),
                e(Strikethrough, 22, 6),
                e(Spoiler, 29, 7),
            ]),
            (
                MarkdownV2,
                "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*",
                "bold italic bold italic bold strikethrough italic bold strikethrough spoiler underline italic bold bold",
                vec![e(Bold, 0, 103), e(Italic, 5, 93), e(Strikethrough, 17, 59), e(Spoiler, 43, 33), e(Underline, 77, 21)],
            ),
            (MarkdownV2, "🏟 🏟_🏟 *🏟*_", "🏟 🏟🏟 🏟", vec![e(Italic, 5, 5), e(Bold, 8, 2)]),
            // Any ASCII character may be escaped; '\' before anything else is literal.
            (MarkdownV2, "\\*not bold\\* 1\\.0 \\\\ \\a é\\", "*not bold* 1.0 \\ a é\\", vec![]),
            (MarkdownV2, "`co\\`de` and `*raw*`", "co`de and *raw*", vec![e(Code, 0, 5), e(Code, 10, 5)]),
            (MarkdownV2, "```\npre```", "pre", vec![e(pre(None), 0, 3)]),
            (MarkdownV2, "```python\nprint(1)\n```", "print(1)\n", vec![e(pre(Some("python")), 0, 9)]),
            (MarkdownV2, "[inline URL](http://www.example.com/)", "inline URL", vec![e(link("http://www.example.com/"), 0, 10)]),
            (MarkdownV2, "[a](https://x.org/\\(1\\))", "a", vec![e(link("https://x.org/(1)"), 0, 1)]),
            (MarkdownV2, "[telegram\\.org]", "telegram.org", vec![e(link("http://telegram.org/"), 0, 12)]),
            (MarkdownV2, "[Bob](tg://user?id=42)", "Bob", vec![e(mention(42), 0, 3)]),
            (MarkdownV2, "[x](asdasd) [](telegram.org)", "x ", vec![]),
            (MarkdownV2, "![👍](tg://emoji?id=5368324170671202286)", "👍", vec![e(emoji("5368324170671202286"), 0, 2)]),
            (MarkdownV2, "🏟 🏟![👍](TG://EMoJI/?test=1231&id=25#id=32)a", "🏟 🏟👍a", vec![e(emoji("25"), 5, 2)]),
            // `___` is greedily underline-then-italic; an empty bold separates them.
            (MarkdownV2, "___italic underline_**__", "italic underline", vec![e(Italic, 0, 16), e(Underline, 0, 16)]),
            (MarkdownV2, "a**b", "ab", vec![]),
            // Blockquotes: the line break that ends one belongs to it.
            (MarkdownV2, ">line 1\n>line 2\nafter", "line 1\nline 2\nafter", vec![e(Blockquote, 0, 14)]),
            (MarkdownV2, ">quoted", "quoted", vec![e(Blockquote, 0, 6)]),
            (MarkdownV2, "x\n>*b*", "x\nb", vec![e(Blockquote, 2, 1), e(Bold, 2, 1)]),
            // An empty bold lets a second quote follow the first directly.
            (MarkdownV2, ">a\n**>b", "a\nb", vec![e(Blockquote, 0, 2), e(Blockquote, 2, 1)]),
            // `||` at the end of the last line makes the quote expandable.
            (MarkdownV2, ">asd\n>q||e||w||\nasdad", "asd\nqew\nasdad", vec![e(ExpandableBlockquote, 0, 8), e(Spoiler, 5, 1)]),
            (MarkdownV2, "**>hidden\n>more||", "hidden\nmore", vec![e(ExpandableBlockquote, 0, 11)]),
            (MarkdownV2, "> a \\> b", " a > b", vec![e(Blockquote, 0, 6)]),
            // Edge cases from TDLib's test suite (test/message_entities.cpp).
            (MarkdownV2, "🏟 🏟```🏟 🏟```", "🏟 🏟 🏟", vec![e(pre(Some("🏟")), 5, 3)]),
            (MarkdownV2, "🏟 🏟```🏟\r\n🏟```", "🏟 🏟🏟", vec![e(pre(Some("🏟")), 5, 2)]),
            (MarkdownV2, "`_* *_`__*` `*__", "_* *_ ", vec![e(Code, 0, 5), e(Code, 5, 1), e(Bold, 5, 1), e(Underline, 5, 1)]),
            (MarkdownV2, "[telegram\\.org](https://telegram.dog?\\\\\\()", "telegram.org", vec![e(link("https://telegram.dog/?\\("), 0, 12)]),
            (MarkdownV2, "> \n> \n>", " \n \n", vec![e(Blockquote, 0, 4)]),
            (MarkdownV2, "\r\r>\r\ra\r\n\r", "\r\r\r\ra\r\n\r", vec![e(Blockquote, 2, 5)]),
            (MarkdownV2, ">*abcd*\n", "abcd\n", vec![e(Blockquote, 0, 5), e(Bold, 0, 4)]),
            (MarkdownV2, "*>abcd\n*", "abcd\n", vec![e(Blockquote, 0, 5), e(Bold, 0, 5)]),
            (MarkdownV2, ">asd\r\n>q||e||w||\r\n", "asd\r\nqew\r\n", vec![e(ExpandableBlockquote, 0, 10), e(Spoiler, 6, 1)]),
            (MarkdownV2, ">`b\n>ld \n>bo\nld`\n>asd\ndef", "b\n>ld \n>bo\nld\nasd\ndef", vec![e(Blockquote, 0, 18), e(Code, 0, 13)]),
            (MarkdownV2, ">||", "", vec![]),
            (Html, "<blockquote   cite=\"\" askdlbas nasjdbaj nj12b3>a&lt;<pre  >b;</></>", "a<b;", vec![e(Blockquote, 0, 4), e(pre(None), 2, 2)]),
            (Html, "<blockquote   expandable=false>a&lt;<pre  >b;</></>", "a<b;", vec![e(ExpandableBlockquote, 0, 4), e(pre(None), 2, 2)]),
            (Html, "🏟 🏟<b aba   =   caba><tg-emoji emoji-id=\"1\">🏟</tg-emoji>1</b>", "🏟 🏟🏟1", vec![e(Bold, 5, 3), e(emoji("1"), 5, 2)]),
            (Html, "<a>https://telegram.org/asdsa?asdasdwe#12e3we</a>", "https://telegram.org/asdsa?asdasdwe#12e3we", vec![e(link("https://telegram.org/asdsa?asdasdwe#12e3we"), 0, 42)]),
            // --- legacy Markdown ---
            (Markdown, "*bold* _italic_ `code`", "bold italic code", vec![e(Bold, 0, 4), e(Italic, 5, 6), e(Code, 12, 4)]),
            (Markdown, "```\npre```", "pre", vec![e(pre(None), 0, 3)]),
            (Markdown, "```go\nx := 1```", "x := 1", vec![e(pre(Some("go")), 0, 6)]),
            (Markdown, "[site](https://example.org) [Bob](tg://user?id=7)", "site Bob", vec![
                e(link("https://example.org/"), 0, 4),
                e(mention(7), 5, 3),
            ]),
            // Escapes only outside entities; other characters need none.
            (Markdown, "\\*a\\_b\\`c\\[d 1.0 - (x) \\e", "*a_b`c[d 1.0 - (x) \\e", vec![]),
            (Markdown, "_snake_\\__case_", "snake_case", vec![e(Italic, 0, 5), e(Italic, 6, 4)]),
            // No nesting: markup inside an entity is text.
            (Markdown, "*a _b_ c*", "a _b_ c", vec![e(Bold, 0, 7)]),
            (Markdown, "😀*😀*", "😀😀", vec![e(Bold, 2, 2)]),
            (Markdown, "**", "", vec![]),
        ];
        for (mode, input, text, entities) in cases {
            assert_eq!(parse(mode, input), Ok((text.to_string(), entities)), "{mode:?} {input:?}");
        }
    }

    /// Inputs Telegram refuses, with its exact description.
    #[test]
    fn malformed_markup_is_refused_in_telegrams_words() {
        use ParseMode::{Html, Markdown, MarkdownV2};
        let cases: Vec<(ParseMode, &str, &str)> = vec![
            // --- HTML ---
            (Html, "<foo>x</foo>", "Unsupported start tag \"foo\" at byte offset 0"),
            (Html, "🏟 🏟&lt;<abac aba>", "Unsupported start tag \"abac\" at byte offset 13"),
            (Html, "a <b", "Unclosed start tag at byte offset 2"),
            (Html, "<i =aba>", "Empty attribute name in the tag \"i\" at byte offset 0"),
            (Html, "<i aba = ", "Unclosed start tag \"i\" at byte offset 0"),
            (Html, "<i aba=190azAz-.,>", "Unexpected end of name token at byte offset 7"),
            (Html, "<i aba=\"x>", "Unclosed start tag at byte offset 0"),
            (Html, "<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0"),
            (Html, "x</b>", "Unexpected end tag at byte offset 1"),
            (Html, "<i>a</i   ", "Unclosed end tag at byte offset 4"),
            (Html, "<i>a</em>", "Unmatched end tag at byte offset 4, expected \"</i>\", found \"</em>\""),
            (Html, "<b>unbalanced", "Can't find end tag corresponding to start tag \"b\""),
            (Html, "<b><i>x</b></i>", "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""),
            (Html, "<tg-emoji emoji-id=\"025\">👍</tg-emoji>", "Invalid custom emoji identifier specified"),
            (
                Html,
                "&#xD83D;",
                "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
            ),
            // --- MarkdownV2 ---
            (MarkdownV2, "Version 1.0", "Character '.' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "a-b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "x > y", "Character '>' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "a|b", "Character '|' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "wow!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "(x)", "Character '(' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, "🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
            (MarkdownV2, "🏟 🏟__", "Can't find end of Underline entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟`", "Can't find end of Code entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟```a ", "Can't find end of PreCode entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟```", "Can't find end of Pre entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟||test\\|", "Can't find end of Spoiler entity at byte offset 9"),
            (MarkdownV2, "[a", "Can't find end of TextUrl entity at byte offset 0"),
            (MarkdownV2, "[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
            (MarkdownV2, "🏟 🏟![👍", "Can't find end of CustomEmoji entity at byte offset 9"),
            (MarkdownV2, "🏟 🏟![👍]", "Custom emoji entity must contain a tg://emoji URL"),
            (MarkdownV2, "🏟 🏟![👍](tg://emoji?id=1234", "Can't find end of a custom emoji URL at byte offset 17"),
            (MarkdownV2, "![👍](t://emoji?id=1)", "Custom emoji URL must have scheme tg"),
            (MarkdownV2, "![👍](tg:emojis?id=1)", "Custom emoji URL must have host \"emoji\""),
            (MarkdownV2, "![👍](tg://emoji#test)", "Custom emoji URL must have an emoji identifier"),
            (MarkdownV2, "![👍](tg://emoji?test=1231&id=025)", "Invalid custom emoji identifier specified"),
            // A quote's line break may not fall inside another entity.
            (MarkdownV2, ">*b\n>ld \n>bo\nld*\nasd", "Can't find end of Bold entity at byte offset 1"),
            (MarkdownV2, ">asd\n>q||ew\n||asdad", "Can't find end of Spoiler entity at byte offset 7"),
            (MarkdownV2, ">\n*a*>2", "Character '>' is reserved and must be escaped with the preceding '\\'"),
            (MarkdownV2, ">asd\n>q||e||w__\n||asdad", "Can't find end of Underline entity at byte offset 13"),
            (MarkdownV2, "🏟 🏟__🏟 _🏟___", "Can't find end of Italic entity at byte offset 23"),
            (
                Html,
                "&#57311;",
                "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
            ),
            (Html, "🏟 🏟&lt;<i    aba  =  \"&lt;&gt;&quot;>", "Unclosed start tag at byte offset 13"),
            (Html, "🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
            // --- legacy Markdown ---
            (Markdown, "*unclosed", "Can't find end of the entity starting at byte offset 0"),
            (Markdown, "ok `code", "Can't find end of the entity starting at byte offset 3"),
            (Markdown, "```pre``", "Can't find end of the entity starting at byte offset 0"),
            (Markdown, "snake_case", "Can't find end of the entity starting at byte offset 5"),
        ];
        for (mode, input, error) in cases {
            assert_eq!(parse(mode, input), Err(format!("can't parse entities: {error}")), "{mode:?} {input:?}");
        }
    }

    /// Every reserved character is refused alone and accepted escaped; others pass through.
    #[test]
    fn markdown_v2_reserved_characters() {
        for c in (1u8..127).map(char::from) {
            if "_*[~`>\\\n".contains(c) {
                continue; // these start entities, line breaks or escapes
            }
            let alone = parse(ParseMode::MarkdownV2, &c.to_string());
            if "]()#+-=|{}.!".contains(c) {
                let error = format!("can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'");
                assert_eq!(alone, Err(error), "{c:?}");
                assert_eq!(parse(ParseMode::MarkdownV2, &format!("\\{c}")), Ok((c.to_string(), vec![])), "{c:?}");
            } else {
                assert_eq!(alone, Ok((c.to_string(), vec![])), "{c:?}");
            }
        }
    }

    #[test]
    fn parse_modes_are_case_insensitive() {
        for (name, mode) in [
            ("HTML", Some(ParseMode::Html)),
            ("html", Some(ParseMode::Html)),
            ("MarkdownV2", Some(ParseMode::MarkdownV2)),
            ("markdownv2", Some(ParseMode::MarkdownV2)),
            ("Markdown", Some(ParseMode::Markdown)),
            ("MARKDOWN", Some(ParseMode::Markdown)),
            ("", None),
            ("markdown3", None),
            ("text", None),
        ] {
            assert_eq!(ParseMode::parse(name), mode, "{name:?}");
        }
    }

    /// What the parsers produce always passes the core checks.
    #[test]
    fn parsed_entities_pass_the_core_checks() {
        let inputs = [
            (ParseMode::Html, "😀 <b>a <i>b</i></b> <a href=\"example.org\">c</a> <pre><code class=\"language-c\">d</code></pre>"),
            (ParseMode::MarkdownV2, "😀 *a _b_* [c](example.org) ```c\nd```\n>e"),
            (ParseMode::Markdown, "😀 *a* _b_ [c](example.org) ```c\nd```"),
        ];
        for (mode, input) in inputs {
            let Ok((text, entities)) = parse(mode, input) else { panic!("{mode:?} {input:?} does not parse") };
            assert_eq!(heliograph_core::check_entities(&text, entities.clone()), Ok(entities), "{mode:?} {input:?}");
        }
    }
}
