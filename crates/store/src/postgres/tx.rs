//! The transaction interface on PostgreSQL: tokio-postgres on a pooled connection inside the
//! engine's transaction, every statement through the connection's prepared-statement cache.

use std::future::Future;

use heliograph_core::UserId;
use tokio_postgres::types::ToSql;

use crate::commands::{dialect, Arg, Ids, Row, Sql, Tx};
use crate::{Error, Limits, Logged, Result};

pub use deadpool_postgres::ClientWrapper as Db;

pub struct PgTx<'t> {
    db: &'t Db,
    limits: &'t Limits,
    events: &'t mut Vec<Logged>,
}

impl<'t> PgTx<'t> {
    pub fn new(db: &'t Db, limits: &'t Limits, events: &'t mut Vec<Logged>) -> PgTx<'t> {
        PgTx { db, limits, events }
    }

    async fn rows(&self, sql: &str, args: &[&dyn Arg]) -> Result<Vec<tokio_postgres::Row>> {
        let stmt = self.db.prepare_cached(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.postgres()).collect();
        Ok(self.db.query(&stmt, &params).await?)
    }
}

impl Tx for PgTx<'_> {
    const CONCURRENT: bool = true;
    /// Words are indexed by PostgreSQL itself (`messages.words`, migration 0007).
    const SEARCH_LOG: bool = false;

    fn limits(&self) -> &Limits {
        self.limits
    }

    fn logged(&mut self, event: Logged) {
        self.events.push(event);
    }

    async fn query<T: Send>(&mut self, sql: &Sql, args: &[&dyn Arg], mut row: impl FnMut(&dyn Row) -> Result<T> + Send) -> Result<Vec<T>> {
        self.rows(sql.postgres, args).await?.iter().map(|r| row(&PgRow(r))).collect()
    }

    async fn query_opt<T: Send>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Arg],
        row: impl FnOnce(&dyn Row) -> Result<T> + Send,
    ) -> Result<Option<T>> {
        let stmt = self.db.prepare_cached(sql.postgres).await?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.postgres()).collect();
        match self.db.query_opt(&stmt, &params).await? {
            Some(r) => Ok(Some(row(&PgRow(&r))?)),
            None => Ok(None),
        }
    }

    async fn execute(&mut self, sql: &Sql, args: &[&dyn Arg]) -> Result<u64> {
        let stmt = self.db.prepare_cached(sql.postgres).await?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.postgres()).collect();
        Ok(self.db.execute(&stmt, &params).await?)
    }

    fn lock_users(&mut self, ids: &[UserId]) -> impl Future<Output = Result<()>> + Send {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let ids = Ids::new(&ids);
        async move {
            self.rows(dialect::LOCK_USERS, &[&ids]).await?;
            Ok(())
        }
    }
}

struct PgRow<'a>(&'a tokio_postgres::Row);

impl PgRow<'_> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(&'a self, i: usize) -> Result<Option<T>> {
        self.0.try_get::<_, Option<T>>(i).map_err(|e| {
            let column = self.column(i);
            Error::Internal(crate::error::Failure::caused_by(format!("column `{column}`: {e}"), e))
        })
    }
}

impl Row for PgRow<'_> {
    crate::commands::row_getters!();

    fn column(&self, i: usize) -> String {
        self.0.columns().get(i).map_or_else(|| format!("#{i}"), |c| c.name().to_string())
    }
}
