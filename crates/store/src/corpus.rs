//! Benchmarks only: the synthetic corpus of the search benchmark (`heliograph bench-corpus`,
//! `heliograph-bench search`), written into a database that holds no account yet, the same
//! way on both engines so that they are measured on the same messages.
//!
//! The accounts and the chats come from the store's own commands (`create_user`,
//! `create_session`, `create_chat`), so a running server cannot tell them from ones made
//! through the protocol. The messages are imported in bulk, 5,000 rows a statement: one
//! durable send each (update logs, idempotency rows, a transaction per message) would take
//! hours at ten million. They are ordinary message rows, so history, search and the access
//! checks see them as sent; the chats' newest message ids are set once at the end. They are
//! not in the search log: the embedded index learns them from `heliograph reindex` (which
//! the benchmark times), PostgreSQL indexes them as they are written (`messages.words`).
//!
//! The text is deterministic for a seed: words drawn from a Zipf distribution over a
//! vocabulary of made-up Latin words, with some in Cyrillic, some accented and some in Han
//! characters, so that the scripts the search folds are all present.

use heliograph_core::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::commands::{accounts, chats, dialect::sql, Tx};
use crate::engine::Engine;
use crate::{Error, Result};

/// Messages per import statement.
const ROWS_PER_STATEMENT: usize = 5_000;
/// Words in the vocabulary.
const VOCABULARY: usize = 50_000;
/// Zipf's exponent: a few words are very common, most are rare.
const ZIPF: f64 = 1.05;
/// A year of messages, ending now.
const SPAN_SECONDS: i64 = 365 * 24 * 3600;

/// What to write.
#[derive(Debug, Clone)]
pub struct Spec {
    pub chats: u64,
    pub messages: u64,
    /// The reader (account 0, the one with a session) is a member of the first this many chats.
    pub reader_chats: u64,
    /// Accounts besides the reader that write the messages; each chat has three of them.
    pub authors: u64,
    pub seed: u64,
    /// What the store keeps of the phone numbers of accounts 0..=authors, in order.
    pub phones: Vec<SealedPhone>,
    /// The reader's session (SHA-256 of its token).
    pub reader_session: Vec<u8>,
    pub device: String,
}

/// What was written, and what to search for.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub reader: UserId,
    /// The reader's chats.
    pub reader_chats: Vec<ChatId>,
    pub messages: u64,
    pub queries: Queries,
}

/// Queries drawn from the corpus, by kind.
#[derive(Debug, Clone, Default)]
pub struct Queries {
    /// Among the 20 most frequent words.
    pub common: Vec<String>,
    /// Ranks 500 to 5,000.
    pub medium: Vec<String>,
    /// Ranks 20,000 and beyond: a few hundred messages each at ten million.
    pub rare: Vec<String>,
    /// Two medium words (both must match).
    pub two_words: Vec<String>,
    /// Two adjacent words of a message in one of the reader's chats, in quotes.
    pub phrases: Vec<String>,
    /// The first three letters of a medium word, as typed so far.
    pub prefixes: Vec<String>,
    /// A word in Cyrillic, or in Han characters.
    pub scripts: Vec<String>,
}

/// The made-up words, most frequent first, and the cumulative Zipf weights to draw them.
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new(rng: &mut StdRng) -> Words {
        const CONSONANTS: &[char] = &['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
        const VOWELS: &[char] = &['a', 'e', 'i', 'o', 'u'];
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY);
        while words.len() < VOCABULARY {
            let rank = words.len();
            let syllables = rng.random_range(2..=4);
            let mut w = String::new();
            for _ in 0..syllables {
                w.push(CONSONANTS[rng.random_range(0..CONSONANTS.len())]);
                w.push(VOWELS[rng.random_range(0..VOWELS.len())]);
            }
            if !seen.insert(w.clone()) {
                continue;
            }
            let w = match rank % 40 {
                // Every tenth word in Cyrillic, every fortieth in Han characters, some accented.
                3 | 13 | 23 | 33 => cyrillic(&w),
                7 => han(rng),
                11 | 29 => accented(&w),
                _ => w,
            };
            words.push(w);
        }
        let mut cumulative = Vec::with_capacity(VOCABULARY);
        let mut total = 0.0;
        for rank in 1..=VOCABULARY {
            total += 1.0 / (rank as f64).powf(ZIPF);
            cumulative.push(total);
        }
        Words { words, cumulative }
    }

    fn draw(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.random::<f64>() * total;
        let rank = self.cumulative.partition_point(|&c| c < x).min(self.words.len() - 1);
        &self.words[rank]
    }

    fn text(&self, rng: &mut StdRng) -> String {
        let n = rng.random_range(3..=18);
        let mut text = String::with_capacity(n * 8);
        for i in 0..n {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.draw(rng));
        }
        text
    }
}

fn cyrillic(w: &str) -> String {
    w.chars()
        .map(|c| match c {
            'a' => 'а',
            'b' => 'б',
            'd' => 'д',
            'e' => 'е',
            'f' => 'ф',
            'g' => 'г',
            'i' => 'и',
            'k' => 'к',
            'l' => 'л',
            'm' => 'м',
            'n' => 'н',
            'o' => 'о',
            'p' => 'п',
            'r' => 'р',
            's' => 'с',
            't' => 'т',
            'u' => 'у',
            'v' => 'в',
            'z' => 'з',
            other => other,
        })
        .collect()
}

fn accented(w: &str) -> String {
    let mut done = false;
    w.chars()
        .map(|c| match c {
            'e' if !done => {
                done = true;
                'é'
            }
            'a' if !done => {
                done = true;
                'à'
            }
            other => other,
        })
        .collect()
}

/// Two Han ideographs (each its own word once folded: a search for both is a phrase).
fn han(rng: &mut StdRng) -> String {
    (0..2).filter_map(|_| char::from_u32(rng.random_range(0x4E00..0x9FA0))).collect()
}

/// The three authors of chat `index` (accounts 1..=authors).
fn authors_of(index: u64, authors: u64) -> [u64; 3] {
    [1 + index % authors, 1 + (index + 1) % authors, 1 + (index + 2) % authors]
}

/// Writes the corpus through `engine`; `progress` hears the messages written so far.
pub(crate) async fn seed<E: Engine>(engine: &E, spec: &Spec, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<Seeded> {
    if spec.authors < 3 || spec.chats == 0 || spec.reader_chats > spec.chats {
        return Err(Error::Invalid("a corpus needs at least 3 authors, a chat, and no more reader chats than chats".into()));
    }
    if spec.phones.len() as u64 != spec.authors + 1 {
        return Err(Error::Invalid(format!("{} phone numbers for {} accounts", spec.phones.len(), spec.authors + 1)));
    }
    let people = spec.clone();
    let (users, chats) = engine.write(people, |mut tx, spec| Box::pin(async move { people_and_chats(&mut tx, spec).await })).await?;
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let words = Words::new(&mut rng);
    let mut queries = pick_queries(&words, &mut rng);
    let now = crate::model::now();
    let mut written = 0u64;
    let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
    while written < spec.messages {
        batch.clear();
        for k in written..(written + ROWS_PER_STATEMENT as u64).min(spec.messages) {
            let index = k % spec.chats;
            let id = k / spec.chats + 1;
            let author = users[authors_of(index, spec.authors)[(k % 3) as usize] as usize];
            let date = now - SPAN_SECONDS + (k as i64 * SPAN_SECONDS) / spec.messages as i64;
            let text = words.text(&mut rng);
            if index < spec.reader_chats && queries.phrases.len() < 50 && k % 997 == 0 {
                let w: Vec<&str> = text.split(' ').collect();
                queries.phrases.push(format!("\"{} {}\"", w[0], w[1]));
            }
            batch.push(serde_json::json!({"c": chats[index as usize].0, "i": id, "f": author.0, "d": date, "t": text}));
        }
        let rows = serde_json::Value::Array(std::mem::take(&mut batch)).to_string();
        written += engine.write(rows, |mut tx, rows| Box::pin(async move { import(&mut tx, rows).await })).await?;
        progress(written);
    }
    engine.write((), |mut tx, ()| Box::pin(async move { newest_ids(&mut tx).await })).await?;
    Ok(Seeded { reader: users[0], reader_chats: chats[..spec.reader_chats as usize].to_vec(), messages: written, queries })
}

fn pick_queries(words: &Words, rng: &mut StdRng) -> Queries {
    let latin = |w: &&String| w.chars().all(|c| c.is_ascii_lowercase());
    let range = |from: usize, to: usize| words.words[from..to.min(words.words.len())].iter().filter(latin).cloned().collect::<Vec<_>>();
    let sample =
        |pool: &[String], n: usize, rng: &mut StdRng| (0..n).map(|_| pool[rng.random_range(0..pool.len())].clone()).collect::<Vec<_>>();
    let common = range(0, 20);
    let medium = range(500, 5_000);
    let rare = range(20_000, VOCABULARY);
    let scripts: Vec<String> = words.words[100..5_000].iter().filter(|w| !w.is_ascii() && !w.contains(['é', 'à'])).cloned().collect();
    let two_words =
        (0..50).map(|_| format!("{} {}", medium[rng.random_range(0..medium.len())], medium[rng.random_range(0..medium.len())])).collect();
    Queries {
        common: sample(&common, 50, rng),
        medium: sample(&medium, 50, rng),
        rare: sample(&rare, 50, rng),
        two_words,
        phrases: Vec::new(),
        prefixes: sample(&medium, 50, rng).into_iter().map(|w| w[..3].to_owned()).collect(),
        scripts: sample(&scripts, 50, rng),
    }
}

/// The reader, the authors and the chats, in a database that holds no account yet.
async fn people_and_chats<X: Tx>(tx: &mut X, spec: &Spec) -> Result<(Vec<UserId>, Vec<ChatId>)> {
    let accounts = crate::commands::one(tx, sql!("SELECT count(*) FROM users"), &[], crate::commands::int).await?;
    if accounts > 0 {
        return Err(Error::Invalid(format!("the database already holds {accounts} accounts: a corpus is written only into a new one")));
    }
    let mut users = Vec::with_capacity(spec.phones.len());
    for (n, phone) in spec.phones.iter().enumerate() {
        let name = DisplayName::parse(&format!("corpus {n}")).map_err(|_| Error::Invalid("a corpus name is not a valid name".into()))?;
        users.push(accounts::create_user(tx, phone, &name).await?.id);
    }
    accounts::create_session(tx, users[0], &spec.reader_session, &spec.device).await?;
    let mut chats = Vec::with_capacity(spec.chats as usize);
    for index in 0..spec.chats {
        let [owner, a, b] = authors_of(index, spec.authors).map(|n| users[n as usize]);
        let mut members = vec![a, b];
        if index < spec.reader_chats {
            members.push(users[0]);
        }
        let title =
            Title::parse(&format!("corpus chat {index}")).map_err(|_| Error::Invalid("a corpus title is not a valid title".into()))?;
        chats.push(chats::create_chat(tx, owner, ChatKind::Group, &title, None, &members).await?.id);
    }
    Ok((users, chats))
}

/// Message rows from JSON (`[{"c": chat, "i": id, "f": from, "d": date, "t": text}, …]`); a
/// row already there is left alone, so a retried statement imports nothing twice.
async fn import<X: Tx>(tx: &mut X, rows: &String) -> Result<u64> {
    tx.execute(
        sql!(
            sqlite: "INSERT INTO messages (chat_id, id, from_id, date, kind, text)
                     SELECT json_extract(value, '$.c'), json_extract(value, '$.i'), json_extract(value, '$.f'),
                            json_extract(value, '$.d'), 'text', json_extract(value, '$.t')
                     FROM json_each(?1) WHERE TRUE ON CONFLICT DO NOTHING",
            postgres: "INSERT INTO messages (chat_id, id, from_id, date, kind, text)
                       SELECT r.c, r.i, r.f, r.d, 'text', r.t FROM json_to_recordset($1::text::json) AS r(c bigint, i bigint, f bigint, d bigint, t text)
                       ON CONFLICT DO NOTHING",
        ),
        &[rows],
    )
    .await
}

/// Each chat's newest message id, after the import.
async fn newest_ids<X: Tx>(tx: &mut X) -> Result<()> {
    tx.execute(
        sql!("UPDATE chats SET top_message = COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.chat_id = chats.id), 0), activity = $1"),
        &[&crate::model::now_ms()],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_words() {
        let (mut a, mut b) = (StdRng::seed_from_u64(7), StdRng::seed_from_u64(7));
        let (wa, wb) = (Words::new(&mut a), Words::new(&mut b));
        let texts = |w: &Words, rng: &mut StdRng| (0..100).map(|_| w.text(rng)).collect::<Vec<_>>();
        assert_eq!(texts(&wa, &mut a), texts(&wb, &mut b));
        // Every script is present, and frequent words are drawn far more often than rare ones.
        assert!(wa.words.iter().any(|w| w.chars().any(|c| ('а'..='я').contains(&c))));
        assert!(wa.words.iter().any(|w| w.chars().any(|c| ('\u{4E00}'..'\u{9FA0}').contains(&c))));
        assert!(wa.words.iter().any(|w| w.contains('é')));
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<&str> = (0..100_000).map(|_| wa.draw(&mut rng)).collect();
        let count = |w: &str| draws.iter().filter(|d| **d == w).count();
        assert!(count(&wa.words[0]) > 50 * count(&wa.words[10_000]).max(1), "Zipf: rank 1 far above rank 10,000");
    }
}
