//! A search query as people type it, parsed once for every engine.
//!
//! Words are ANDed; `"quoted words"` must appear side by side, in order (a phrase); the last
//! unquoted word also matches as a prefix (search as you type: `hel` finds `hello`). A word
//! that folds into several words (`東京`, `don't`) is a phrase of them. Everything is folded
//! by [`heliograph_core::words`], the tokenizer both engines index with.

use heliograph_core::words::words;

/// One condition of a query; a message must meet all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Word(String),
    /// A word, or the start of one.
    Prefix(String),
    /// Words side by side, in this order.
    Phrase(Vec<String>),
}

/// The clauses of `text`; empty when it holds no word.
pub fn parse(text: &str) -> Vec<Clause> {
    let mut clauses = Vec::new();
    let mut last_bare = None;
    for (i, part) in text.split('"').enumerate() {
        let quoted = i % 2 == 1;
        if quoted {
            push(&mut clauses, words(part));
            last_bare = None;
        } else {
            for chunk in part.split_whitespace() {
                push(&mut clauses, words(chunk));
                last_bare = Some(clauses.len());
            }
        }
    }
    // As you type: the last word, when typed bare and still at the end, may be unfinished.
    // A single letter would expand to most of the vocabulary; it stays a word.
    let ends_bare = !text.trim_end().ends_with('"') && !text.ends_with(char::is_whitespace);
    if let (Some(n), true) = (last_bare, ends_bare) {
        if n == clauses.len() {
            if let Some(Clause::Word(w)) = clauses.last() {
                if w.chars().count() >= 2 {
                    let w = w.clone();
                    *clauses.last_mut().expect("a last clause") = Clause::Prefix(w);
                }
            }
        }
    }
    clauses
}

fn push(clauses: &mut Vec<Clause>, mut words: Vec<String>) {
    match words.len() {
        0 => {}
        1 => clauses.push(Clause::Word(words.remove(0))),
        _ => clauses.push(Clause::Phrase(words)),
    }
}

/// The words a highlighted snippet marks: every word of every clause (prefixes as prefixes).
pub fn marks(clauses: &[Clause]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for c in clauses {
        match c {
            Clause::Word(w) => out.push((w.clone(), false)),
            Clause::Prefix(w) => out.push((w.clone(), true)),
            Clause::Phrase(ws) => out.extend(ws.iter().map(|w| (w.clone(), false))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Clause::*;
    use super::*;

    fn s(w: &str) -> String {
        w.to_string()
    }

    #[test]
    fn queries_parse_into_words_prefixes_and_phrases() {
        let cases: Vec<(&str, Vec<Clause>)> = vec![
            ("hello", vec![Prefix(s("hello"))]),
            ("hello ", vec![Word(s("hello"))]),
            ("Hello Wor", vec![Word(s("hello")), Prefix(s("wor"))]),
            ("\"quick brown\" fox", vec![Phrase(vec![s("quick"), s("brown")]), Prefix(s("fox"))]),
            ("fox \"quick brown\"", vec![Word(s("fox")), Phrase(vec![s("quick"), s("brown")])]),
            ("東京", vec![Phrase(vec![s("東"), s("京")])]),
            ("a", vec![Word(s("a"))]),
            ("Café", vec![Prefix(s("cafe"))]),
            ("  ...  ", vec![]),
            ("\"unclosed phrase", vec![Phrase(vec![s("unclosed"), s("phrase")])]),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "{text:?}");
        }
    }
}
