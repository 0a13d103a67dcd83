//! `heliograph`: the server binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use heliograph_server::config::{Config, DatabaseUrl, Overrides};
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
    /// Runs the server: the WebSocket API at /ws, /healthz and /metrics, on one port.
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
        /// Development mode: test phone numbers are accepted (+99966XYYYY signs in with
        /// XXXXX, no code is sent).
        #[arg(long)]
        dev: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))).init();
    match Cli::parse().command {
        Command::Serve { data, database, bus, listen, config, dev } => {
            let overrides = Overrides { data_dir: data, database: database.map(DatabaseUrl), bus, listen, dev };
            let config = Config::load(config.as_deref(), overrides)?;
            if config.dev {
                tracing::warn!("development mode: test phone numbers (+99966XYYYY, code XXXXX) are accepted");
            }
            let server = heliograph_server::start(config).await?;
            let stop = server.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing in-flight requests");
                stop.cancel();
            });
            server.wait().await;
            Ok(())
        }
    }
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
