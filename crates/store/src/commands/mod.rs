//! Every store command, written once, over [`Tx`]: the small transaction interface both
//! engines implement (`sqlite/tx.rs`, `postgres/tx.rs`).
//!
//! A command is an `async fn` generic over `Tx`. On PostgreSQL it awaits the driver inside
//! one READ COMMITTED transaction (reads: a read-only REPEATABLE READ snapshot). On SQLite
//! every `Tx` future is ready at once: the writer thread runs the command synchronously
//! inside its savepoint of the group commit (reads: on a read connection), polling it once.
//!
//! # Layout
//! - [`dialect`]: the SQL each engine spells its own way, and [`Arg`] / [`Ids`] parameters.
//! - `rows`: decoding each record from its row, once (errors, never panics).
//! - `log`: the update logs (encode, decode, append to a user's or a chat's log).
//! - one file per area: [`accounts`], [`people`], [`chats`], [`messages`], [`bots`],
//!   [`files`], [`sync`], [`reactions`], [`drafts`], [`search`].
//!
//! # Locks
//! Several PostgreSQL nodes write at once, so sequencing rests on row locks held until
//! COMMIT (on SQLite both are no-ops: its one writer never races):
//! - a command on a chat locks the chat's row first (`chats::view_for_update`): its message
//!   sequence (`top_message`), its own log (`pts`) and its membership change one transaction
//!   at a time, and every later statement (READ COMMITTED takes a fresh snapshot for each)
//!   sees the newest committed state;
//! - then users' rows, whose `pts` sequences their logs, always in ascending id order
//!   ([`Tx::lock_users`], or member lists sorted by id), so two commands never wait on each
//!   other in a circle. A command locks at most one chat (`forward` reads its source without
//!   a lock). Bot members count among them: an event in a chat's own log is also appended to
//!   each bot member's log (`log::chat`), their rows taken after the chat's, in ascending id
//!   order, and taken up front with the others' by a membership change
//!   (`chats::lock_for_membership`).

use std::future::Future;

use heliograph_core::UserId;

use crate::{Limits, Logged, Result};

/// The columns each record is read from, in the order its `rows` decoder reads them.
macro_rules! user_cols {
    () => {
        "id, name, username, bio, created, bot_owner"
    };
}
macro_rules! chat_cols {
    () => {
        "id, kind, title, username, creator, member_count, pinned, own_log, pts, top_message, created, activity, taken_down"
    };
}
macro_rules! member_cols {
    () => {
        "chat_id, user_id, role, joined, read_inbox, read_outbox"
    };
}
macro_rules! message_cols {
    () => {
        "chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date, edit_date, media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup"
    };
}
macro_rules! file_cols {
    () => {
        "id, owner, sha256, size, name, mime, width, height, thumb, created"
    };
}
macro_rules! bot_cols {
    () => {
        "confirmed, webhook_url, webhook_secret, webhook_max_connections, webhook_set, webhook_error_date, webhook_error, allowed_updates, commands"
    };
}

pub mod dialect;
mod rows;

pub mod accounts;
pub mod bots;
pub mod chats;
pub mod files;
mod log;
pub mod messages;
pub mod moderation;
pub mod people;
pub mod search;
pub mod sync;
// accountability (#16): the transparency log.
pub mod transparency;
// secret chats (#15)
pub mod secret;
// daily use (#18)
pub mod drafts;
pub mod reactions;
// Bot API breadth (#19): groups moderated by their admins
pub mod restrictions;

use dialect::sql;
pub use dialect::{Arg, Ids, Sql};

/// One transaction of one engine, as a command sees it.
pub trait Tx: Send {
    /// Whether other writers may run at the same time (PostgreSQL's nodes and pool), so a
    /// check made before taking a lock must be made again under it.
    const CONCURRENT: bool;

    /// Whether message writes go to the search log an index outside the database follows
    /// (`commands::search`), because the database does not index words itself.
    const SEARCH_LOG: bool;

    fn limits(&self) -> &Limits;

    /// Where a write command puts the events it logged; they reach the commit feed only if
    /// the transaction commits.
    fn logged(&mut self, event: Logged);

    /// Every row of `sql`, each decoded by `row`.
    fn query<T: Send>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Arg],
        row: impl FnMut(&dyn Row) -> Result<T> + Send,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// The first row of `sql`, if any, decoded by `row`.
    fn query_opt<T: Send>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Arg],
        row: impl FnOnce(&dyn Row) -> Result<T> + Send,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Runs `sql`; returns the rows it changed.
    fn execute(&mut self, sql: &Sql, args: &[&dyn Arg]) -> impl Future<Output = Result<u64>> + Send;

    /// Locks the rows of `ids` in ascending id order until COMMIT, for a command that will
    /// append to several users' logs in more than one round (see `# Locks`).
    fn lock_users(&mut self, ids: &[UserId]) -> impl Future<Output = Result<()>> + Send;
}

/// One row of a result, as the decoders in `rows` read it. Every getter answers an error
/// naming the column when the value is not of the type asked for.
pub trait Row {
    fn int(&self, i: usize) -> Result<Option<i64>>;
    fn text(&self, i: usize) -> Result<Option<String>>;
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>>;
    fn boolean(&self, i: usize) -> Result<Option<bool>>;
    /// The column's name, for errors.
    fn column(&self, i: usize) -> String;
}

/// The four typed getters of a [`Row`] impl, for a driver row wrapper whose own
/// `get::<T>(i) -> Result<Option<T>>` answers errors that name the column.
macro_rules! row_getters {
    () => {
        fn int(&self, i: usize) -> $crate::Result<Option<i64>> {
            self.get(i)
        }
        fn text(&self, i: usize) -> $crate::Result<Option<String>> {
            self.get(i)
        }
        fn bytes(&self, i: usize) -> $crate::Result<Option<Vec<u8>>> {
            self.get(i)
        }
        fn boolean(&self, i: usize) -> $crate::Result<Option<bool>> {
            self.get(i)
        }
    };
}
pub(crate) use row_getters;

/// A value a [`Row`] can be read as.
pub trait Column: Sized {
    fn read(row: &dyn Row, i: usize) -> Result<Self>;
}

impl dyn Row + '_ {
    pub fn get<T: Column>(&self, i: usize) -> Result<T> {
        T::read(self, i)
    }

    fn not_null<T>(&self, i: usize, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| crate::Error::internal(format!("column `{}` is NULL where a value must be", self.column(i))))
    }
}

macro_rules! column {
    ($t:ty, $get:ident) => {
        impl Column for Option<$t> {
            fn read(row: &dyn Row, i: usize) -> Result<Self> {
                row.$get(i)
            }
        }
        impl Column for $t {
            fn read(row: &dyn Row, i: usize) -> Result<Self> {
                let value = row.$get(i)?;
                row.not_null(i, value)
            }
        }
    };
}
column!(i64, int);
column!(String, text);
column!(Vec<u8>, bytes);
column!(bool, boolean);

/// The first column, as a number.
pub(crate) fn int(r: &dyn Row) -> Result<i64> {
    r.get(0)
}

/// The first column, as a user id.
fn user_id(r: &dyn Row) -> Result<UserId> {
    Ok(UserId(r.get(0)?))
}

/// A row exists (nothing in it is read).
fn present(_: &dyn Row) -> Result<()> {
    Ok(())
}

/// The one row a statement always returns (an aggregate, `UPDATE … RETURNING` of a row the
/// command knows exists).
pub(crate) async fn one<X: Tx, T: Send>(
    tx: &mut X,
    sql: &Sql,
    args: &[&dyn Arg],
    row: impl FnOnce(&dyn Row) -> Result<T> + Send,
) -> Result<T> {
    tx.query_opt(sql, args, row).await?.ok_or_else(|| crate::Error::internal(format!("no row from `{}`", sql.postgres)))
}

/// Whether `sql` finds a row.
async fn exists<X: Tx>(tx: &mut X, sql: &Sql, args: &[&dyn Arg]) -> Result<bool> {
    Ok(tx.query_opt(sql, args, present).await?.is_some())
}
