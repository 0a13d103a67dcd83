//! `heliograph-bench`: the load generator. Every scenario spawns the real release
//! `heliograph` binary over a fresh temporary data folder (or, for the baseline, this
//! binary's own `relay`), drives it through the Rust SDK, reads the server's CPU time and
//! memory from `/proc`, and writes a JSON result (machine, git commit, every repetition and
//! the median) under `--out` (default `bench/results`).
//!
//! Scenarios: `pairs`, `idle`, `channel`, `group`, `catchup`, `coldstart`, `search`; `relay` runs the
//! bare baseline server; `plot` draws `pairs.json` as PNGs (latency CDF, throughput vs. offered load).
//! `--target` (every scenario but `channel`) also drives the peers side by side: Prosody and
//! ejabberd (`xmpp`) and Synapse (`matrix`), started and stopped by `bench/peers/*.sh` (`targets`).

mod catchup;
mod channel;
mod coldstart;
mod group;
mod idle;
mod matrix;
mod plot;
mod proc;
mod relay;
mod scenarios;
mod search;
mod targets;
mod xmpp;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "heliograph-bench", about = "Heliograph load generator and baseline relay")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
pub struct Common {
    /// The `heliograph` binary to measure (default: $HELIOGRAPH_BIN, or next to this binary).
    #[arg(long, global = true)]
    pub server_bin: Option<PathBuf>,
    /// Folder for the JSON results.
    #[arg(long, global = true, default_value = "bench/results")]
    pub out: PathBuf,
    /// Repetitions; figures are reported per repetition and as the median.
    #[arg(long, global = true, default_value_t = 3)]
    pub reps: usize,
}

#[derive(Subcommand)]
enum Cmd {
    /// The bare in-memory WebSocket relay (the limit baseline).
    Relay {
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
    },
    /// N pairs exchange 1:1 messages: delivered messages/s and send-to-receive latency.
    Pairs(scenarios::PairsArgs),
    /// C authenticated idle connections: server memory per connection.
    Idle(idle::IdleArgs),
    /// A channel with S subscribers, O online: time from a post to its last online delivery.
    Channel(channel::ChannelArgs),
    /// A large group, some members sending: deliveries/s and latency.
    Group(group::GroupArgs),
    /// A client offline while N messages arrive: time to resync.
    Catchup(catchup::CatchupArgs),
    /// Time from process start to serving (a login answered; Heliograph also on a filled database).
    Coldstart(coldstart::ColdstartArgs),
    /// Message search on a large corpus: the embedded engine and PostgreSQL side by side
    /// (indexing rate, sizes, lag from send to searchable, query p50/p99); plots the query
    /// latency CDF into bench/search-latency.png.
    Search(search::SearchArgs),
    /// Draws `pairs.json` as PNGs: the latency CDF and throughput vs. offered load.
    Plot {
        #[arg(long, default_value = "bench/results/pairs.json")]
        input: PathBuf,
        #[arg(long, default_value = "bench/latency-cdf.png")]
        output: PathBuf,
        #[arg(long, default_value = "bench/throughput.png")]
        throughput: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let common = cli.common;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Cmd::Relay { listen } => relay::serve(&listen).await,
            Cmd::Pairs(a) => scenarios::pairs(&common, a).await,
            Cmd::Idle(a) => idle::idle(&common, a).await,
            Cmd::Channel(a) => channel::channel(&common, a).await,
            Cmd::Group(a) => group::group(&common, a).await,
            Cmd::Catchup(a) => catchup::catchup(&common, a).await,
            Cmd::Coldstart(a) => coldstart::coldstart(&common, a).await,
            Cmd::Search(a) => search::search(&common, a).await,
            Cmd::Plot { input, output, throughput } => {
                plot::latency_cdf(&input, &output, "Send-to-receive latency, pairs scenario")?;
                plot::throughput(&input, &throughput)
            }
        }
    })
}

impl Common {
    /// How every scenario starts the binary measured: `--dev`, rate limits lifted.
    pub fn heliograph(&self) -> heliograph_testkit::Binary {
        let binary = heliograph_testkit::Binary::new().dev().lift_limits().ready_within(std::time::Duration::from_secs(120));
        match &self.server_bin {
            Some(path) => binary.path(path),
            None => binary,
        }
    }
}
