//! The transaction interface on SQLite: synchronous rusqlite underneath, every future ready
//! at once. A command runs inside the caller's transaction (the writer's savepoint, or a read
//! connection's implicit snapshot), through the connection's statement cache.

use std::future::{ready, Future};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use heliograph_core::UserId;
use rusqlite::{params_from_iter, Connection};

use crate::commands::{Arg, Row, Sql, Tx};
use crate::{Error, Limits, Logged, Result};

pub struct SqliteTx<'t> {
    /// `&mut`, not `&`: a connection is `Send` but not `Sync`, and a command's future must be
    /// `Send` (the same commands run on PostgreSQL's tasks).
    conn: &'t mut Connection,
    limits: &'t Limits,
    events: &'t mut Vec<Logged>,
}

impl<'t> SqliteTx<'t> {
    pub fn new(conn: &'t mut Connection, limits: &'t Limits, events: &'t mut Vec<Logged>) -> SqliteTx<'t> {
        SqliteTx { conn, limits, events }
    }
}

/// Runs a command to completion on this thread. Every SQLite `Tx` future is ready when made,
/// so one poll finishes the command; a command still pending would be a bug, refused rather
/// than spun on.
pub fn finish<T>(command: impl Future<Output = Result<T>>) -> Result<T> {
    match pin!(command).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::internal("a SQLite command waited on something; it was abandoned")),
    }
}

fn args<'a>(args: &'a [&'a dyn Arg]) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'a dyn rusqlite::ToSql>> {
    params_from_iter(args.iter().map(|a| a.sqlite()))
}

impl Tx for SqliteTx<'_> {
    const CONCURRENT: bool = false;
    /// The embedded index (tantivy) follows the search log.
    const SEARCH_LOG: bool = true;

    fn limits(&self) -> &Limits {
        self.limits
    }

    fn logged(&mut self, event: Logged) {
        self.events.push(event);
    }

    fn query<T: Send>(
        &mut self,
        sql: &Sql,
        params: &[&dyn Arg],
        mut row: impl FnMut(&dyn Row) -> Result<T> + Send,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        let mut run = || {
            let mut stmt = self.conn.prepare_cached(sql.sqlite)?;
            let mut rows = stmt.query(args(params))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(row(&SqliteRow(r))?);
            }
            Ok(out)
        };
        ready(run())
    }

    fn query_opt<T: Send>(
        &mut self,
        sql: &Sql,
        params: &[&dyn Arg],
        row: impl FnOnce(&dyn Row) -> Result<T> + Send,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let run = || {
            let mut stmt = self.conn.prepare_cached(sql.sqlite)?;
            let mut rows = stmt.query(args(params))?;
            match rows.next()? {
                Some(r) => Ok(Some(row(&SqliteRow(r))?)),
                None => Ok(None),
            }
        };
        ready(run())
    }

    fn execute(&mut self, sql: &Sql, params: &[&dyn Arg]) -> impl Future<Output = Result<u64>> + Send {
        let run = || Ok(self.conn.prepare_cached(sql.sqlite)?.execute(args(params))? as u64);
        ready(run())
    }

    /// One writer: nobody to lock out.
    fn lock_users(&mut self, _: &[UserId]) -> impl Future<Output = Result<()>> + Send {
        ready(Ok(()))
    }
}

struct SqliteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl SqliteRow<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> Result<Option<T>> {
        self.0.get(i).map_err(|e| {
            let column = self.column(i);
            Error::Internal(crate::error::Failure::caused_by(format!("column `{column}`: {e}"), e))
        })
    }
}

impl Row for SqliteRow<'_, '_> {
    crate::commands::row_getters!();

    fn column(&self, i: usize) -> String {
        self.0.as_ref().column_name(i).map_or_else(|_| format!("#{i}"), str::to_string)
    }
}
