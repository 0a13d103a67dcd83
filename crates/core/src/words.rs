//! The words of a text, as search finds them: the one tokenizer every search engine uses.
//!
//! Chosen so that the embedded index (tantivy, fed by [`words`]) and PostgreSQL's full-text
//! search (the SQL function `heliograph_words` in the PostgreSQL migration `0006_search.sql`,
//! which spells the same steps in SQL) cut every text into the same words:
//!
//! 1. **Compatibility decomposition** (Unicode NFKD): `ﬁ` is `fi`, full-width `Ａ` is `A`,
//!    `é` is `e` + a combining acute accent.
//! 2. **Diacritics dropped**: the combining marks of [`is_diacritic`] (Latin, Greek and
//!    Cyrillic accents, Hebrew points, Arabic harakat), so `café` finds `cafe`, `ёлка` finds
//!    `елка`, `مَرْحَبًا` finds `مرحبا`. Spacing vowel signs (Devanagari, Thai…) are kept.
//! 3. **Recomposition** (NFC: Hangul syllables come back whole) and **lower case** (full
//!    Unicode case mapping, so Cyrillic, Greek and Armenian fold like Latin).
//! 4. **Segmentation**: a word is a run of letters and digits; everything else separates.
//!    Han ideographs, hiragana and katakana are written without spaces, so each is a word of
//!    its own, and a query's run of them is searched as a phrase: `東京` finds `東京都に`.
//!    (Unigrams, not a dictionary segmenter: no dictionary to ship or keep in step with
//!    PostgreSQL, at the cost of some precision on long CJK queries.) Thai, Lao, Khmer and
//!    Burmese, also written without spaces, are not segmented: a query finds them only from
//!    the start of a run.
//!
//! No stemming: the language of a chat is not known, and a stemmer for the wrong language
//! does more harm than none. Prefix matching (as you type) covers most inflections.

use unicode_normalization::UnicodeNormalization;

/// The folded words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut word = String::new();
    for c in folded.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Steps 1–3 of the module's list: `text` decomposed, without diacritics, recomposed, lower case.
pub fn fold(text: &str) -> String {
    let stripped: String = text.nfkd().filter(|&c| !is_diacritic(c)).collect();
    stripped.nfc().flat_map(char::to_lowercase).collect()
}

/// The combining marks folding drops (the same ranges as `heliograph_words` in SQL).
pub fn is_diacritic(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'   // combining diacritical marks (Latin, Greek, Cyrillic)
        | '\u{0483}'..='\u{0489}' // Cyrillic combining marks
        | '\u{0591}'..='\u{05c7}' // Hebrew points and cantillation
        | '\u{0610}'..='\u{061a}' // Arabic honorifics
        | '\u{064b}'..='\u{065f}' // Arabic harakat
        | '\u{0670}'              // Arabic superscript alef
        | '\u{06d6}'..='\u{06ed}' // Quranic annotation marks
        | '\u{1ab0}'..='\u{1aff}' // combining diacritical marks extended
        | '\u{1dc0}'..='\u{1dff}' // combining diacritical marks supplement
        | '\u{20d0}'..='\u{20ff}' // combining marks for symbols
        | '\u{fe20}'..='\u{fe2f}' // combining half marks
    )
}

/// Scripts written without spaces whose every character is a word (the same ranges as
/// `heliograph_words` in SQL): hiragana, katakana, CJK ideographs.
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// Whether a text holds a link (the `link` kind of message search): an address with a
/// scheme or starting with `www.`. Spelled the same in SQL (`0006_search.sql`).
pub fn has_link(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("http://") || lower.contains("https://") || lower.contains("www.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_case_diacritics_and_split_cjk() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello, WORLD!", &["hello", "world"]),
            ("Café ÉTÉ naïve", &["cafe", "ete", "naive"]),
            ("Привет, Ёлка", &["привет", "елка"]),
            ("مَرْحَبًا بالعالم", &["مرحبا", "بالعالم"]),
            ("東京都に", &["東", "京", "都", "に"]),
            ("カタカナ abc", &["カ", "タ", "カ", "ナ", "abc"]),
            ("한국어 문장", &["한국어", "문장"]),
            ("ﬁle Ａｂｃ", &["file", "abc"]),
            ("example.com 3.14 don't", &["example", "com", "3", "14", "don", "t"]),
            ("", &[]),
            ("!!! ...", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(words(text), *expected, "{text}");
        }
    }

    #[test]
    fn links_are_schemes_or_www() {
        for (text, link) in [("see https://x.org", true), ("WWW.example.com", true), ("http:/no", false), ("plain", false)] {
            assert_eq!(has_link(text), link, "{text}");
        }
    }
}
