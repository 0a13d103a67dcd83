//! The targets a scenario measures side by side in one run: Heliograph, the bare relay and
//! the peers (Prosody and ejabberd over XMPP, Synapse over Matrix). A peer is started by
//! `bench/peers/<peer>.sh start` before its runs and stopped after them; `<peer>.sh pid`
//! names the processes whose CPU time and memory are read from `/proc`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};

use crate::proc::ProcStats;

pub const PEERS: [&str; 3] = ["prosody", "ejabberd", "synapse"];
/// The servers that store messages: Heliograph and the peers (the relay stores nothing).
pub const SERVERS: [&str; 4] = ["heliograph", "prosody", "ejabberd", "synapse"];
/// Every target: the bare relay and the servers.
pub const ALL: [&str; 5] = ["relay", "heliograph", "prosody", "ejabberd", "synapse"];

/// Which targets a scenario measures, and how the peers among them are reached and managed.
#[derive(Args, Clone)]
pub struct TargetArgs {
    /// Targets, comma-separated, measured in this order: `relay`, `heliograph`, and the
    /// peers `prosody`, `ejabberd` (XMPP) and `synapse` (Matrix); `both` = relay,heliograph;
    /// `all` = every target the scenario measures. Default: `both` for pairs, `heliograph`
    /// for the other scenarios.
    #[arg(long)]
    pub target: Option<String>,
    /// The XMPP servers' c2s address (plain TCP).
    #[arg(long, default_value = "127.0.0.1:5222")]
    pub xmpp_addr: String,
    /// Synapse's client-server API.
    #[arg(long, default_value = "http://127.0.0.1:8008")]
    pub matrix_url: String,
    /// Where `<peer>.sh start|stop|pid` live; each peer is started before its runs and
    /// stopped after them.
    #[arg(long, default_value = "bench/peers")]
    pub peers_dir: PathBuf,
    /// The peers are already running: do not start or stop them.
    #[arg(long)]
    pub no_manage_peers: bool,
}

impl TargetArgs {
    /// The targets asked for, in order; `all` is every one in `supported`.
    pub fn list(&self, default: &str, supported: &[&str]) -> Result<Vec<String>> {
        let list: Vec<String> = match self.target.as_deref().unwrap_or(default) {
            "both" => vec!["relay".into(), "heliograph".into()],
            "all" => supported.iter().map(|t| t.to_string()).collect(),
            t => t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        };
        if let Some(t) = list.iter().find(|t| !supported.contains(&t.as_str())) {
            bail!("target {t} is not measured in this scenario (it measures {})", supported.join(", "));
        }
        Ok(list)
    }

    fn managed(&self, target: &str) -> bool {
        PEERS.contains(&target) && !self.no_manage_peers
    }

    /// Runs `measure` for each target in order, a managed peer started before and stopped
    /// after it. A peer that cannot be installed, started or driven is recorded in the
    /// returned map (target -> error), not fatal: the report shows it and
    /// `bench/run.sh --smoke` fails on it. Heliograph or the relay failing ends the scenario.
    pub async fn each(
        &self,
        scenario: &str,
        targets: &[String],
        mut measure: impl AsyncFnMut(&str) -> Result<()>,
    ) -> Result<Map<String, Value>> {
        let mut errors = Map::new();
        for t in targets {
            let t = t.as_str();
            let managed = self.managed(t);
            let started = if managed { self.script(t, "start").map(drop) } else { Ok(()) };
            let result = match started {
                Ok(()) => measure(t).await,
                Err(e) => Err(e),
            };
            if managed {
                if let Err(e) = self.script(t, "stop") {
                    eprintln!("{e:#}");
                }
            }
            if let Err(e) = result {
                if !PEERS.contains(&t) {
                    return Err(e.context(format!("{scenario} against {t}")));
                }
                eprintln!("{scenario} against {t} failed: {e:#}");
                errors.insert(t.to_string(), json!(format!("{e:#}")));
            }
        }
        Ok(errors)
    }

    /// `<peers_dir>/<peer>.sh <verb>`, not yet run.
    pub fn command(&self, peer: &str, verb: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(self.peers_dir.join(format!("{peer}.sh"))).arg(verb).stderr(Stdio::inherit());
        cmd
    }

    /// Runs `<peers_dir>/<peer>.sh <verb>`; its stdout.
    pub fn script(&self, peer: &str, verb: &str) -> Result<String> {
        let out = self.command(peer, verb).output().with_context(|| format!("running {peer}.sh {verb}"))?;
        if !out.status.success() {
            bail!("{peer}.sh {verb} failed ({})", out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The processes a peer's figures count (`<peer>.sh pid`): the server first (its
    /// memory is reported), then any helpers whose CPU counts too (Synapse's PostgreSQL
    /// backends).
    pub fn procs(&self, peer: &str) -> Result<Procs> {
        let pids: Vec<u32> = self.script(peer, "pid")?.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if pids.is_empty() {
            bail!("{peer}.sh pid named no process");
        }
        Ok(Procs(pids))
    }

    /// Stops a managed peer and starts it again on its data (accounts kept,
    /// `BENCH_KEEP_DATA=1`), so what its setup allocated is not counted. Returns whether it
    /// was restarted (an unmanaged peer is left running).
    pub fn restart(&self, peer: &str) -> Result<bool> {
        if !self.managed(peer) {
            return Ok(false);
        }
        self.script(peer, "stop")?;
        let out = self.command(peer, "start").env("BENCH_KEEP_DATA", "1").output()?;
        if !out.status.success() {
            bail!("{peer}.sh start (keeping its data) failed ({})", out.status);
        }
        Ok(true)
    }
}

/// The processes a target's figures count, read from `/proc`: memory of the first (the
/// server), CPU time summed over all.
pub struct Procs(pub Vec<u32>);

impl Procs {
    pub fn cpu(&self) -> f64 {
        self.0.iter().map(|&p| ProcStats::read(p).cpu_seconds).sum()
    }

    pub fn server(&self) -> ProcStats {
        self.0.first().map(|&p| ProcStats::read(p)).unwrap_or_default()
    }

    /// CPU seconds since `cpu_before`, peak and current RSS.
    pub fn json(&self, cpu_before: f64) -> Value {
        let s = self.server();
        json!({"cpu_seconds": self.cpu() - cpu_before, "peak_rss_mib": s.peak_rss_kib as f64 / 1024.0, "rss_mib": s.rss_kib as f64 / 1024.0})
    }
}

/// Each target's repetitions, as a results file holds them: `median` (target -> medians),
/// `targets` (target -> every run), `errors` (peer -> why it was not measured).
#[derive(Default)]
pub struct ByTarget {
    median: Map<String, Value>,
    targets: Map<String, Value>,
}

impl ByTarget {
    pub fn insert(&mut self, target: &str, runs: Vec<Value>) {
        let m = crate::scenarios::median(&runs);
        self.median.insert(target.to_string(), m.clone());
        self.targets.insert(target.to_string(), json!({"median": m, "runs": runs}));
    }

    pub fn into_json(self, errors: Map<String, Value>) -> Value {
        json!({"median": self.median, "targets": self.targets, "errors": errors})
    }
}
