//! Highlighted snippets: the part of a message's text around its first match, with the
//! matching words marked. Made from the message as the store holds it now, for both engines
//! alike, so a snippet never shows words an edit removed.

use heliograph_core::words::{fold, is_cjk};

/// A piece of a message's text with the words that matched the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    /// (offset, length) of each highlighted word in `text`, in UTF-16 code units (the unit
    /// of message entities).
    pub highlights: Vec<(u32, u32)>,
}

/// Characters of context kept before the first match (the whole text when it is short).
const BEFORE: usize = 40;
/// Longest snippet, in characters.
const LONGEST: usize = 200;

/// The snippet of `text` for the words `marks` ((word, is a prefix) pairs, folded).
pub fn snippet(text: &str, marks: &[(String, bool)]) -> Snippet {
    let spans: Vec<(usize, usize)> = word_spans(text)
        .into_iter()
        .filter(|(_, _, folded)| marks.iter().any(|(w, prefix)| if *prefix { folded.starts_with(w.as_str()) } else { folded == w }))
        .map(|(start, end, _)| (start, end))
        .collect();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let total = chars.len();
    // Start a little before the first match, on a character boundary; end LONGEST later.
    let first_char = spans.first().map_or(0, |&(start, _)| chars.partition_point(|&(i, _)| i < start));
    let from_char = if total <= LONGEST { 0 } else { first_char.saturating_sub(BEFORE) };
    let to_char = (from_char + LONGEST).min(total);
    let from = chars.get(from_char).map_or(text.len(), |&(i, _)| i);
    let to = chars.get(to_char).map_or(text.len(), |&(i, _)| i);
    let prefix = if from > 0 { "…" } else { "" };
    let suffix = if to < text.len() { "…" } else { "" };
    let body = &text[from..to];
    let shown = format!("{prefix}{body}{suffix}");
    let lead = utf16(prefix);
    let highlights = spans
        .into_iter()
        .filter(|&(start, end)| start >= from && end <= to)
        .map(|(start, end)| (lead + utf16(&text[from..start]), utf16(&text[start..end])))
        .collect();
    Snippet { text: shown, highlights }
}

fn utf16(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// Each word of `text` as (byte start, byte end, folded), cut as `heliograph_core::words`
/// cuts the folded text: letters and digits make words, a diacritic stays inside its word,
/// each Han or kana character is a word.
fn word_spans(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, c) in text.char_indices() {
        let folded = fold(c.encode_utf8(&mut [0; 4]));
        let end = i + c.len_utf8();
        if folded.chars().any(is_cjk) {
            if let Some((start, w)) = current.take() {
                out.push((start, i, w));
            }
            out.push((i, end, folded));
        } else if !folded.is_empty() && folded.chars().all(char::is_alphanumeric) {
            current.get_or_insert_with(|| (i, String::new())).1.push_str(&folded);
        } else if folded.is_empty() {
            // A diacritic: part of the word it marks.
        } else if let Some((start, w)) = current.take() {
            out.push((start, i, w));
        }
    }
    if let Some((start, w)) = current {
        out.push((start, text.len(), w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(words: &[(&str, bool)]) -> Vec<(String, bool)> {
        words.iter().map(|(w, p)| (w.to_string(), *p)).collect()
    }

    /// The highlighted pieces, read back through their UTF-16 offsets.
    fn marked(s: &Snippet) -> Vec<String> {
        let units: Vec<u16> = s.text.encode_utf16().collect();
        s.highlights.iter().map(|&(o, l)| String::from_utf16_lossy(&units[o as usize..(o + l) as usize])).collect()
    }

    #[test]
    fn snippets_mark_matching_words_in_the_original_spelling() {
        let cases: &[(&str, &[(&str, bool)], &[&str])] = &[
            ("Meet me at the Café tonight", &[("cafe", false)], &["Café"]),
            ("hello hellos help", &[("hel", true)], &["hello", "hellos", "help"]),
            ("Привет, мир", &[("мир", false)], &["мир"]),
            ("我住在東京都", &[("東", false), ("京", false)], &["東", "京"]),
            ("😀 emoji then word", &[("word", false)], &["word"]),
            ("nothing here", &[("absent", false)], &[]),
        ];
        for (text, m, expected) in cases {
            let s = snippet(text, &marks(m));
            assert_eq!(s.text, *text);
            assert_eq!(marked(&s), *expected, "{text}");
        }
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let text = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let s = snippet(&text, &marks(&[("needle", false)]));
        assert!(s.text.starts_with('…') && s.text.ends_with('…'), "{}", s.text);
        assert!(s.text.chars().count() <= LONGEST + 2);
        assert_eq!(marked(&s), ["needle"]);
    }
}
