//! The PostgreSQL engine: full-text search in the database the messages live in.
//!
//! `messages.words` is a `tsvector` generated from the message's text and file name by
//! `heliograph_words` (migration 0007, the same folding and cutting as
//! `heliograph_core::words`), so it changes in the transaction that changes the message:
//! nothing to follow, nothing to catch up, and every node of a cluster answers from it. A GIN
//! index serves `@@`; the scope (the user's chats) and filters are ordinary conditions.
//!
//! The query is built from [`crate::query`]'s clauses, not by `websearch_to_tsquery`: that
//! function has the same syntax (words, `"phrases"`) but cannot say "this word, or a word
//! starting with it" (`:*`), which search as you type needs. Each word is quoted, so no
//! character of a query is ever read as tsquery syntax. Ranking: `ts_rank_cd` (cover density,
//! normalized by document length) times [`crate::recency`], computed in SQL.

use std::str::FromStr;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use heliograph_core::*;
use tokio_postgres::NoTls;

use crate::{Clause, Error, Find, Found, Index, Result};

pub struct Postgres {
    pool: Pool,
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Index(e.to_string())
}

impl Postgres {
    /// Searches the database at `url` (the store's, migrated to version 7 or later).
    pub fn connect(url: &str, pool_size: usize) -> Result<Postgres> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| Error::Invalid(format!("not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(pool_size.max(1)).build().map_err(failed)?;
        Ok(Postgres { pool })
    }
}

/// A `tsquery` for `clauses`: each word quoted, ANDed; prefixes `:*`; phrases `<->`.
pub fn tsquery(clauses: &[Clause]) -> String {
    let quote = |w: &str| format!("'{}'", w.replace('\'', "''").replace('\\', "\\\\"));
    clauses
        .iter()
        .map(|c| match c {
            Clause::Word(w) => quote(w),
            Clause::Prefix(w) => format!("{}:*", quote(w)),
            Clause::Phrase(ws) => format!("({})", ws.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" <-> ")),
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

const FIND: &str = "
    SELECT m.chat_id, m.id,
           (ts_rank_cd(m.words, q, 1) * (1 + 1 / (1 + GREATEST($9 - m.date, 0) / 86400.0 / 30)))::real AS score
    FROM messages m, to_tsquery('simple', $1) q
    WHERE m.chat_id = ANY($2) AND m.words @@ q AND NOT m.deleted
      AND ($3::bigint IS NULL OR m.from_id = $3)
      AND ($4::text IS NULL OR m.kind = $4 OR ($4 = 'link' AND m.text ~* '(https?://|www\\.)'))
      AND ($5::bigint IS NULL OR m.date >= $5)
      AND ($6::bigint IS NULL OR m.date <= $6)
      AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = $7 AND h.chat_id = m.chat_id AND h.msg_id = m.id)
    ORDER BY score DESC, m.date DESC, m.chat_id, m.id
    LIMIT $8";

#[async_trait]
impl Index for Postgres {
    /// Always caught up: the words commit with the message.
    async fn catch_up(&self, _: std::time::Duration) -> Result<bool> {
        Ok(true)
    }

    async fn find(&self, find: Find<'_>) -> Result<Vec<Found>> {
        let conn = self.pool.get().await.map_err(failed)?;
        let chats: Vec<i64> = find.chats.iter().map(|c| c.0).collect();
        let q = find.query;
        let kind = q.kind.map(|k| k.as_str());
        let rows = conn
            .query(
                FIND,
                &[
                    &tsquery(find.clauses),
                    &chats,
                    &q.from.map(|u| u.0),
                    &kind,
                    &q.min_date,
                    &q.max_date,
                    &find.user.0,
                    &(find.limit as i64),
                    &find.now,
                ],
            )
            .await
            .map_err(failed)?;
        rows.iter()
            .map(|r| {
                Ok(Found {
                    chat: ChatId(r.try_get(0).map_err(failed)?),
                    id: MessageId(r.try_get(1).map_err(failed)?),
                    score: r.try_get(2).map_err(failed)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    #[test]
    fn tsqueries_quote_every_word() {
        for (text, expected) in [
            ("hello wor", "'hello' & 'wor':*"),
            ("\"quick brown\" fox ", "('quick' <-> 'brown') & 'fox'"),
            ("東京", "('東' <-> '京')"),
            ("a & b | !c", "'a' & 'b' & 'c'"),
        ] {
            assert_eq!(tsquery(&parse(text)), expected, "{text}");
        }
    }
}
