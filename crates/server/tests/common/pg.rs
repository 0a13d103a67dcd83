//! PostgreSQL for tests behind the `HELIOGRAPH_TEST_POSTGRES` switch.

use std::str::FromStr;

/// The switch: an admin URL of a PostgreSQL server the tests may create databases on.
pub const POSTGRES: &str = "HELIOGRAPH_TEST_POSTGRES";

/// Connects, or fails loudly: a switch naming an unreachable server is a failure.
pub async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES} is set but PostgreSQL at {url} cannot be reached: {e:?}"));
    tokio::spawn(conn);
    client
}

/// `url` with its database name replaced by `name`.
pub fn with_dbname(url: &str, name: &str) -> String {
    tokio_postgres::Config::from_str(url).unwrap_or_else(|e| panic!("{POSTGRES} is not a PostgreSQL URL: {e}"));
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap_or_else(|| panic!("{POSTGRES} must be a postgres:// URL"));
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}
