//! The crash-consistency harness, for as long as asked: SIGKILLs the real `heliograph` binary
//! at random moments under concurrent senders, restarts it, checks everything after each
//! restart (see `tests/common/crash.rs`), and prints the figures.
//!
//! ```sh
//! cargo build --release --bin heliograph
//! cargo run --release -p heliograph-server --example crashloop -- --long 10m
//! cargo run --release -p heliograph-server --example crashloop -- --kills 100 --max-delay-ms 2000
//! ```
//! `--bin PATH` names the server binary (default: `$HELIOGRAPH_BIN`, or `heliograph` beside this
//! example's folder).

#[path = "../tests/common/crash.rs"]
mod crash;

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse()?;
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "ms" => Duration::from_millis(n),
        other => anyhow::bail!("unknown unit {other:?}: use s, m, h or ms"),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut long = None;
    let mut kills = None;
    let mut max_delay = Duration::from_millis(500);
    let mut bin = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--long" => long = Some(parse_duration(&value()?)?),
            "--kills" => kills = Some(value()?.parse::<u32>()?),
            "--max-delay-ms" => max_delay = Duration::from_millis(value()?.parse()?),
            "--bin" => bin = Some(PathBuf::from(value()?)),
            other => anyhow::bail!("unknown argument {other}; see the top of examples/crashloop.rs"),
        }
    }
    let binary = match bin {
        Some(path) => crash::heliograph().path(path),
        None => crash::heliograph(),
    };
    let (deadline, kills) = match (long, kills) {
        (Some(d), k) => (Some(Instant::now() + d), k.unwrap_or(u32::MAX)),
        (None, k) => (None, k.unwrap_or(20)),
    };
    let started = Instant::now();
    let mut harness = crash::Harness::new(binary).await;
    while harness.report.kills < kills && deadline.is_none_or(|d| Instant::now() < d) {
        let delay = Duration::from_millis(rand::random_range(5..max_delay.as_millis().max(6) as u64));
        harness.round(delay).await;
        let r = &harness.report;
        if r.kills % 10 == 0 {
            println!(
                "{} kills, {} acknowledged, {} retried ({} had committed), {:.0?} elapsed",
                r.kills,
                r.acknowledged,
                r.retried,
                r.retried_committed,
                started.elapsed()
            );
        }
    }
    let r = &harness.report;
    println!(
        "done: {} SIGKILLs in {:.1?}; {} messages acknowledged and verified after every restart; {} in-flight sends retried ({} had committed); \
         time sending {:.1?}, restarting {:.1?} ({:.0?} per restart), verifying {:.1?}; no loss, no duplicate, no gap",
        r.kills,
        started.elapsed(),
        r.acknowledged,
        r.retried,
        r.retried_committed,
        r.sending,
        r.restarting,
        r.restarting / r.kills.max(1),
        r.verifying
    );
    Ok(())
}
