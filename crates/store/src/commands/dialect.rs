//! Where the two SQL dialects differ, and the only place that knows it.
//!
//! Commands write their SQL once, in the form both engines accept: PostgreSQL's `$1`
//! placeholders (turned into SQLite's `?1` at compile time by [`sql!`]: same length, so the
//! text stays a `&'static str` and both engines' statement caches key on it), `RETURNING`,
//! `ON CONFLICT … DO NOTHING / DO UPDATE` upserts (SQLite >= 3.35 reads both), `TRUE` and
//! `FALSE`, `NOT deleted`, `CAST(… AS BIGINT)`. What cannot be written once is spelled twice
//! below, side by side:
//! - a list of ids: `= ANY($1)` with an array, or `IN (SELECT value FROM json_each(?1))`
//!   with the same ids as JSON text ([`Ids`]);
//! - row locks: `FOR UPDATE` on PostgreSQL, nothing on SQLite (its one writer never races);
//! - boolean tests a partial index must recognise (`WHERE bot = 1` on SQLite, `WHERE bot`
//!   on PostgreSQL).

use heliograph_core::UserId;

/// One statement, in each engine's spelling.
#[derive(Debug)]
pub struct Sql {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A statement written once ([`Sql`] from one text with `$N` placeholders), or twice
/// (`sql!(sqlite: "…", postgres: "…")`) where the dialects differ.
macro_rules! sql {
    (sqlite: $sqlite:expr, postgres: $postgres:expr $(,)?) => {{
        const SQL: $crate::commands::dialect::Sql = $crate::commands::dialect::Sql { sqlite: $sqlite, postgres: $postgres };
        &SQL
    }};
    ($text:expr) => {{
        const POSTGRES: &str = $text;
        const BYTES: [u8; POSTGRES.len()] = $crate::commands::dialect::sqlite_placeholders(POSTGRES);
        const SQL: $crate::commands::dialect::Sql = $crate::commands::dialect::Sql {
            sqlite: match std::str::from_utf8(&BYTES) {
                Ok(text) => text,
                Err(_) => panic!("a statement is not UTF-8"),
            },
            postgres: POSTGRES,
        };
        &SQL
    }};
}
pub(crate) use sql;

/// `$1` → `?1`, byte for byte (a `$` is always a placeholder in our statements).
pub const fn sqlite_placeholders<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if bytes[i] == b'$' && i + 1 < N && bytes[i + 1].is_ascii_digit() { b'?' } else { bytes[i] };
        i += 1;
    }
    out
}

/// A list of ids bound as one parameter: an array for PostgreSQL (`= ANY($1)`), JSON text
/// for SQLite (`json_each(?1)`).
pub struct Ids {
    list: Vec<i64>,
    json: String,
}

impl Ids {
    pub fn new(ids: &[UserId]) -> Ids {
        Ids::of(ids.iter().map(|u| u.0).collect())
    }

    /// Any list of numbers (the transparency log's hash indexes).
    pub fn of(list: Vec<i64>) -> Ids {
        let json = format!("[{}]", list.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        Ids { list, json }
    }
}

/// A statement parameter, as each driver binds it.
pub trait Arg: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync> Arg for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

impl Arg for Ids {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        &self.json
    }
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        &self.list
    }
}

// --- statements spelled twice ----------------------------------------------------------------

/// The chat's row, locked until COMMIT on PostgreSQL (see `chats::view_for_update`).
pub const CHAT_FOR_UPDATE: &Sql = sql!(
    sqlite: concat!("SELECT ", chat_cols!(), " FROM chats WHERE id = ?1"),
    postgres: concat!("SELECT ", chat_cols!(), " FROM chats WHERE id = $1 FOR UPDATE"),
);

/// Users' rows in ascending id order, locked until COMMIT (PostgreSQL only: see `Tx::lock_users`).
pub const LOCK_USERS: &str = "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE";

pub const USERS_BY_IDS: &Sql = sql!(
    sqlite: concat!("SELECT ", user_cols!(), " FROM users WHERE id IN (SELECT value FROM json_each(?1))"),
    postgres: concat!("SELECT ", user_cols!(), " FROM users WHERE id = ANY($1)"),
);

/// Through the partial index `members_bots`, whose condition each dialect spells its own way.
pub const BOT_MEMBERS: &Sql = sql!(
    sqlite: "SELECT user_id FROM members WHERE chat_id = ?1 AND bot = 1 ORDER BY user_id",
    postgres: "SELECT user_id FROM members WHERE chat_id = $1 AND bot ORDER BY user_id",
);

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_sqlite_ones() {
        let s = sql!("UPDATE users SET name = $2 WHERE id = $1 AND $10 = $10");
        assert_eq!(s.sqlite, "UPDATE users SET name = ?2 WHERE id = ?1 AND ?10 = ?10");
        assert_eq!(s.postgres, "UPDATE users SET name = $2 WHERE id = $1 AND $10 = $10");
    }
}
