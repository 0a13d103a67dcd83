//! `heliograph`: the server binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use heliograph_server::config::{Config, DatabaseUrl, Overrides, TlsOverrides};
use tracing_subscriber::EnvFilter;

/// Heliograph: a self-hostable messaging server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server: the web client, the WebSocket API at /ws, the Bot API and /healthz on
    /// one port (/metrics only on `metrics_listen`, when set).
    Serve {
        /// Folder for the embedded database [default: ./heliograph-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// PostgreSQL to keep the data in (postgres://user@host:5432/dbname), which several
        /// nodes may share [default: the embedded SQLite under --data].
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// NATS server carrying live updates between nodes (nats://host:4222)
        /// [default: in-process, one node].
        #[arg(long, value_name = "URL")]
        bus: Option<String>,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// TOML configuration file; HELIOGRAPH_* environment variables override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Serve HTTPS/WSS with this certificate chain (PEM, leaf first), reloaded when the
        /// file changes. Needs --tls-key.
        #[arg(long, value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, value_name = "FILE")]
        tls_key: Option<PathBuf>,
        /// Development mode: test phone numbers are accepted (+99966XYYYY signs in with
        /// XXXXX, no code is sent).
        #[arg(long)]
        dev: bool,
        /// Once serving, writes the address it listens on (127.0.0.1:40123) to FILE, so
        /// whoever started it with `--listen 127.0.0.1:0` learns the port the system picked.
        #[arg(long, value_name = "FILE")]
        address_file: Option<PathBuf>,
    },
    /// Copies the embedded database into a new file PATH while the server keeps serving: one
    /// consistent snapshot holding every message acknowledged before the backup began.
    /// (PostgreSQL: use pg_dump.) Uploaded files live in the object store and are backed up
    /// separately.
    Backup {
        /// The new backup file (never overwritten).
        #[arg(value_name = "PATH")]
        path: PathBuf,
        #[command(flatten)]
        place: Place,
    },
    /// Rebuilds the embedded search index from the database while the server keeps serving:
    /// a new index is built beside the current one, then the running server switches to it
    /// and applies what was written meanwhile. (PostgreSQL indexes messages itself.)
    Reindex {
        #[command(flatten)]
        place: Place,
    },
    /// Puts a backup made by `heliograph backup` in place of the embedded database. The
    /// server must be stopped: restore refuses while a process has the database open.
    Restore {
        /// The backup file to restore.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        #[command(flatten)]
        place: Place,
    },
    /// Benchmarks only (hidden from --help): fills a NEW embedded database with a channel of
    /// --subscribers accounts and prints session tokens for its owner and the first --online
    /// subscribers as JSON. Runs offline: refuses a database a server has open, one that holds
    /// any account, and PostgreSQL. Accounts get the reserved numbers +9997NNNNNNNNN. A
    /// running server has no way to reach this path.
    #[command(name = "bench-seed", hide = true)]
    BenchSeed {
        #[command(flatten)]
        place: Place,
        /// Subscribers (accounts besides the owner), all joined to the channel.
        #[arg(long)]
        subscribers: u64,
        /// Of which this many, the first ones, get a session token.
        #[arg(long)]
        online: u64,
        /// The channel's public username (title "bench").
        #[arg(long, value_name = "NAME")]
        channel: String,
        /// Subscribers written per transaction.
        #[arg(long, default_value_t = 50_000)]
        batch: u64,
    },
    /// Benchmarks only (hidden from --help): writes the search benchmark's synthetic corpus
    /// (crates/store/src/corpus.rs) into a NEW database, embedded or PostgreSQL, and prints
    /// the reader's session token, its chats and the queries to run as JSON. Refuses a
    /// database that holds any account. Accounts get the reserved numbers +9997NNNNNNNNN.
    #[command(name = "bench-corpus", hide = true)]
    BenchCorpus {
        #[command(flatten)]
        place: Place,
        #[arg(long, default_value_t = 10_000)]
        chats: u64,
        #[arg(long, default_value_t = 10_000_000)]
        messages: u64,
        /// The reader is a member of this many of the chats.
        #[arg(long, default_value_t = 500)]
        reader_chats: u64,
        /// Accounts that write the messages (three per chat).
        #[arg(long, default_value_t = 100)]
        authors: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The operator's tools for accountability (docs/accountability.md).
    #[command(subcommand)]
    Admin(Admin),
    /// An auditor's tools: check a server's public transparency log from the outside.
    #[command(subcommand)]
    Audit(Audit),
}

#[derive(Subcommand)]
enum Audit {
    /// Fetches the transparency log of the server at URL, checks its signed checkpoint,
    /// rebuilds the Merkle tree from every entry (it must have the checkpoint's root),
    /// checks the served hash tiles and, with --previous, that the log extends a checkpoint
    /// saved earlier; then recomputes the transparency report from the entries and compares
    /// it with the one the server publishes. Exits 1 on any mismatch.
    Verify {
        /// The server, e.g. https://chat.example.org
        url: String,
        /// The log's verifier key as the operator published it (`name+id+key`). Without it,
        /// the key the log serves is used, which proves only that the log is consistent.
        #[arg(long)]
        key: Option<String>,
        /// A checkpoint saved by an earlier audit (--save): the log must extend it.
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Where to save this checkpoint for the next audit's --previous.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Admin {
    /// Makes a disclosure key pair: writes the private key (hex) to a new file PATH, readable by
    /// you only, and prints the public key for `[accountability] disclosure_public_key`. Run
    /// it on the machine that will keep the private key, not on the server.
    DisclosureKey {
        /// Where the private key goes (never overwritten).
        #[arg(value_name = "PATH")]
        private_key: PathBuf,
    },
    /// Opens the sealed phone number of account USER_ID with the disclosure private key and
    /// prints it. Appends an `unseal` entry (with --reason) to the audit log first.
    Unseal {
        /// The account.
        #[arg(value_name = "USER_ID")]
        user: i64,
        /// The file holding the disclosure private key (hex).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        place: Place,
    },
}

const PG_TOOLS: &str = "use PostgreSQL's own tools (pg_dump / pg_restore, or pg_basebackup with WAL archiving for point-in-time recovery)";

/// Where the database is, read as `serve` reads it.
#[derive(clap::Args)]
struct Place {
    /// Folder of the embedded database [default: ./heliograph-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// PostgreSQL URL, if the server keeps its data there (backup and restore then refuse).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// TOML configuration file; HELIOGRAPH_* environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Place {
    /// The configuration, read as `serve` reads it.
    fn config(self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            data_dir: self.data,
            database: self.database.map(DatabaseUrl),
            bus: None,
            listen: None,
            dev: false,
            tls: TlsOverrides::default(),
        };
        Ok(Config::load(self.config.as_deref(), overrides)?)
    }

    /// The SQLite database file, or an error saying what to do instead with PostgreSQL.
    fn sqlite(self, what: &str, instead: &str) -> anyhow::Result<PathBuf> {
        let config = self.config()?;
        if config.database.is_some() {
            anyhow::bail!("the data is in PostgreSQL: heliograph {what} handles the embedded SQLite database only; {instead}");
        }
        Ok(config.data_dir.join("heliograph.db"))
    }
}

/// A failure is one line on stderr (`heliograph: cannot listen on …`) and exit status 1, not
/// a debug dump: it is what an operator reads first.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heliograph: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Dependencies that log payloads: tokio-postgres every statement's parameters (message
    // text, names) at debug, tungstenite every WebSocket frame (session tokens, login codes,
    // text) at trace. Capped below that unless RUST_LOG names them (tests/secrets.rs).
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    for (target, cap) in [("tokio_postgres", "info"), ("tungstenite", "debug")] {
        if !asked.contains(target) {
            filter = filter.add_directive(format!("{target}={cap}").parse().expect("a valid directive"));
        }
    }
    let cli = Cli::parse();
    // bench-seed and bench-corpus print their result as JSON on stdout: their log goes to stderr.
    if matches!(cli.command, Command::BenchSeed { .. } | Command::BenchCorpus { .. }) {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    match cli.command {
        Command::Serve { data, database, bus, listen, config, tls_cert, tls_key, dev, address_file } => {
            let tls = TlsOverrides { cert: tls_cert, key: tls_key };
            let overrides = Overrides { data_dir: data, database: database.map(DatabaseUrl), bus, listen, dev, tls };
            let config = Config::load(config.as_deref(), overrides)?;
            // Every connection holds a file descriptor, and many systems start a process with
            // a soft limit of 1,024 under a far higher hard one: take the hard one. The
            // connection caps are derived from what this leaves (`limits::ConnectionCaps`).
            match rlimit::increase_nofile_limit(u64::MAX) {
                Ok(limit) => tracing::info!(limit, "open files limit"),
                Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
            }
            if config.dev {
                tracing::warn!("development mode: test phone numbers (+99966XYYYY, code XXXXX) are accepted");
            }
            let server = heliograph_server::start(config).await?;
            if let Some(path) = address_file {
                write_address(&path, server.addr())?;
            }
            let stop = server.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing in-flight requests");
                stop.cancel();
            });
            server.wait().await;
            Ok(())
        }
        Command::Backup { path, place } => {
            let db = place.sqlite("backup", PG_TOOLS)?;
            if !db.is_file() {
                anyhow::bail!("no database at {}", db.display());
            }
            let started = std::time::Instant::now();
            let version = tokio::task::spawn_blocking({
                let (db, path) = (db.clone(), path.clone());
                move || heliograph_store::sqlite::backup(&db, &path)
            })
            .await??;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            println!(
                "backed up {} to {} ({size} bytes, schema version {version}) in {:.1} s",
                db.display(),
                path.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Reindex { place } => {
            let config = place.config()?;
            if config.database.is_some() {
                anyhow::bail!("the data is in PostgreSQL, which indexes every message itself in the same transaction (messages.words): there is no separate index to rebuild");
            }
            let store = heliograph_server::app::open_store(&config).await?;
            let root = config.data_dir.join("search");
            let started = std::time::Instant::now();
            let count = heliograph_search::embedded::rebuild(&*store, &root).await?;
            println!("reindexed {count} messages into {} in {:.1} s", root.display(), started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::BenchSeed { place, subscribers, online, channel, batch } => {
            let config = place.config()?;
            if config.database.is_some() {
                anyhow::bail!("the data is in PostgreSQL: heliograph bench-seed handles the embedded SQLite database only; benchmark a cluster by signing accounts in through the running server");
            }
            let keys = heliograph_server::identity::PhoneKeys::load_or_create(&config.accountability, &config.data_dir)?;
            let db = config.data_dir.join("heliograph.db");
            tokio::task::spawn_blocking(move || bench_seed(&db, &keys, subscribers, online, &channel, batch)).await?
        }
        Command::BenchCorpus { place, chats, messages, reader_chats, authors, seed } => {
            let config = place.config()?;
            let keys = heliograph_server::identity::PhoneKeys::load_or_create(&config.accountability, &config.data_dir)?;
            let store = heliograph_server::app::open_store(&config).await?;
            let token = heliograph_server::codes::new_token();
            let phones = (0..=authors)
                .map(|n| Ok(keys.seal(&heliograph_store::sqlite::seed_phone(n)?)))
                .collect::<Result<Vec<_>, heliograph_store::Error>>()?;
            let spec = heliograph_store::corpus::Spec {
                chats,
                messages,
                reader_chats,
                authors,
                seed,
                phones,
                reader_session: heliograph_server::codes::hash_token(&token),
                device: "bench-corpus".into(),
            };
            let started = std::time::Instant::now();
            let every = (messages / 20).max(1);
            let progress = move |done: u64| {
                if done % every < 5_000 || done == messages {
                    eprintln!("bench-corpus: {done} of {messages} messages ({:.1} s)", started.elapsed().as_secs_f64());
                }
            };
            let seeded = store.seed_corpus(&spec, &progress).await?;
            let q = &seeded.queries;
            let out = serde_json::json!({
                "reader": {"user_id": seeded.reader.0, "token": token},
                "reader_chats": seeded.reader_chats.iter().map(|c| c.0).collect::<Vec<_>>(),
                "messages": seeded.messages,
                "chats": chats,
                "seconds": started.elapsed().as_secs_f64(),
                "queries": {
                    "common": q.common, "medium": q.medium, "rare": q.rare, "two_words": q.two_words,
                    "phrase": q.phrases, "prefix": q.prefixes, "scripts": q.scripts,
                },
            });
            println!("{out}");
            Ok(())
        }
        Command::Admin(admin) => run_admin(admin).await,
        Command::Audit(Audit::Verify { url, key, previous, save }) => {
            let previous =
                previous.map(|p| std::fs::read(&p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))).transpose()?;
            let audited = heliograph_server::transparency::audit(&url, key.as_deref(), previous.as_deref()).await?;
            if audited.key_from_log {
                eprintln!("warning: no --key: the key was taken from the log itself; pin the key the operator published");
            }
            println!("log {}: {} entries, root {}, signature verified", audited.origin, audited.size, audited.root);
            println!("every entry matches the tree and the served tiles");
            if let Some(old) = audited.previous {
                println!("extends the previous checkpoint of {old} entries");
            }
            println!("the published transparency report matches the entries: {}", audited.report);
            if let Some(path) = save {
                std::fs::write(&path, &audited.checkpoint).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                println!("checkpoint saved to {}", path.display());
            }
            Ok(())
        }
        Command::Restore { path, place } => {
            let db = place.sqlite("restore", PG_TOOLS)?;
            let version = restore(&path, &db)?;
            println!("restored {} into {} (schema version {version}); start the server", path.display(), db.display());
            Ok(())
        }
    }
}

/// `heliograph admin …`.
async fn run_admin(admin: Admin) -> anyhow::Result<()> {
    use heliograph_server::identity;
    match admin {
        Admin::DisclosureKey { private_key } => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let (secret, public) = identity::disclosure_key_pair();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&private_key)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", private_key.display()))?;
            file.write_all(format!("{secret}\n").as_bytes())?;
            file.sync_all()?;
            println!("{public}");
            eprintln!("private key written to {}; put the line above in [accountability] disclosure_public_key", private_key.display());
            Ok(())
        }
        Admin::Unseal { user, key, reason, place } => {
            let config = place.config()?;
            let secret = std::fs::read_to_string(&key).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", key.display()))?;
            let store = heliograph_server::app::open_store(&config).await?;
            let user = heliograph_core::UserId(user);
            let sealed =
                store.sealed_phone(user).await?.ok_or_else(|| anyhow::anyhow!("account {} has no phone number (a bot)", user.0))?;
            // Recorded before the number is opened: an unseal is never silent.
            identity::record_unseal(&*store, user, &reason).await?;
            let phone = identity::unseal(&secret, &sealed)?;
            println!("{}", phone.as_str());
            Ok(())
        }
    }
}

/// Checks the backup, refuses while a process has the database open, then copies the backup
/// next to the database and renames it into place (atomic), removing the old database's WAL.
fn restore(backup: &std::path::Path, db: &std::path::Path) -> anyhow::Result<i64> {
    use anyhow::Context;
    let version = heliograph_store::sqlite::inspect(backup).with_context(|| format!("{} is not a usable backup", backup.display()))?;
    let dir = db.parent().context("the database path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if db.exists() && heliograph_store::sqlite::in_use(db)? {
        anyhow::bail!("{} is open in another process (a running server?): stop it before restoring", db.display());
    }
    let tmp = db.with_extension("db.restoring");
    std::fs::copy(backup, &tmp).with_context(|| format!("cannot copy the backup to {}", tmp.display()))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).context("cannot sync the copy")?;
    // The old database's WAL and shared memory belong to it, not to the backup.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", side.display())),
        }
    }
    std::fs::rename(&tmp, db).with_context(|| format!("cannot move the backup into {}", db.display()))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).context("cannot sync the data folder")?;
    Ok(version)
}

/// `heliograph bench-seed`: tokens are made and hashed as `auth.sign_in` makes them
/// (`codes`), the rows written by `sqlite::seed_channel` through the store's own operations.
fn bench_seed(
    db: &std::path::Path,
    keys: &heliograph_server::identity::PhoneKeys,
    subscribers: u64,
    online: u64,
    channel: &str,
    batch: u64,
) -> anyhow::Result<()> {
    use heliograph_core::{Title, Username};
    use heliograph_server::codes;
    if online > subscribers {
        anyhow::bail!("--online {online} is more than --subscribers {subscribers}");
    }
    let username = Username::parse(channel).map_err(|e| anyhow::anyhow!("--channel {channel:?}: {e}"))?;
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let started = std::time::Instant::now();
    let owner_token = codes::new_token();
    let tokens: Vec<String> = (0..online).map(|_| codes::new_token()).collect();
    let seed = heliograph_store::sqlite::ChannelSeed {
        title: Title::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?,
        username,
        subscribers,
        owner_session: codes::hash_token(&owner_token),
        sessions: tokens.iter().map(|t| codes::hash_token(t)).collect(),
        device: "bench-seed".into(),
        batch,
    };
    let seeded = heliograph_store::sqlite::seed_channel(
        db,
        &seed,
        |phone| keys.seal(phone),
        |done| eprintln!("bench-seed: {done} of {subscribers} subscribers ({:.1} s)", started.elapsed().as_secs_f64()),
    )?;
    let online: Vec<serde_json::Value> =
        seeded.with_session.iter().zip(&tokens).map(|(id, token)| serde_json::json!({"user_id": id.0, "token": token})).collect();
    let out = serde_json::json!({
        "chat_id": seeded.chat.0,
        "subscribers": subscribers,
        "owner": {"user_id": seeded.owner.0, "token": owner_token},
        "online": online,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{out}");
    Ok(())
}

/// `--address-file`: written beside and renamed into place, so a reader never sees half.
fn write_address(path: &std::path::Path, addr: SocketAddr) -> anyhow::Result<()> {
    use anyhow::Context;
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, addr.to_string()).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move the address into {}", path.display()))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
