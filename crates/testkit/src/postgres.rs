//! PostgreSQL for tests and benchmarks behind the `HELIOGRAPH_TEST_POSTGRES` switch: one fresh
//! database per run, dropped afterwards.

use std::str::FromStr;

/// The switch: an admin URL of a PostgreSQL server the tests may create databases on.
pub const POSTGRES: &str = "HELIOGRAPH_TEST_POSTGRES";

/// Connects, or fails loudly: a switch naming an unreachable server is a failure.
pub async fn connect(url: &str) -> tokio_postgres::Client {
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

/// A new empty database `heliograph_test_<random>` on the server `admin` names, dropped
/// (`WITH (FORCE)`) when this is dropped.
///
/// It also holds what every node of one deployment shares besides the database: the phone
/// key (a node started with another one refuses to serve) and the disclosure public key.
pub struct Database {
    admin: String,
    name: String,
    url: String,
    keys: tempfile::TempDir,
    disclosure_public_key: String,
}

fn random_hex_key() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
}

impl Database {
    pub async fn create(admin: &str) -> Database {
        let name = format!("heliograph_test_{:016x}", rand::random::<u64>());
        connect(admin)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e:?}"));
        let keys = tempfile::Builder::new().prefix("heliograph-keys-").tempdir().expect("a folder for the phone key");
        std::fs::write(keys.path().join("phone.key"), random_hex_key()).expect("write the phone key");
        Database { admin: admin.to_owned(), url: with_dbname(admin, &name), name, keys, disclosure_public_key: random_hex_key() }
    }

    /// The phone key file every node on this database is started with.
    pub fn phone_key_file(&self) -> std::path::PathBuf {
        self.keys.path().join("phone.key")
    }

    /// The disclosure public key every node seals numbers to (random: nobody holds its
    /// private half, which tests never need).
    pub fn disclosure_public_key(&self) -> &str {
        &self.disclosure_public_key
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Best effort, on a runtime of its own: the test's runtime may be shutting down.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        })
        .join();
    }
}
