//! The server under test: spawning it (the real `heliograph` binary or the relay), waiting
//! until it serves, and reading its CPU time and memory from `/proc`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use heliograph_testkit::Binary;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A spawned server process; killed (SIGKILL) when dropped unless stopped first.
#[allow(clippy::large_enum_variant, reason = "one or two exist at a time")]
pub enum Server {
    /// Started through the test kit: its port from the server itself, its log in its data
    /// folder.
    Heliograph(heliograph_testkit::Server),
    /// This binary's `relay`, which prints the address it bound on its first line.
    Relay { child: tokio::process::Child, addr: SocketAddr },
}

impl Server {
    /// Starts `binary` (`Common::heliograph`) over `data`.
    pub async fn heliograph(binary: &Binary, data: &Path) -> Result<Server> {
        Ok(Server::Heliograph(binary.clone().data(data).start().await?))
    }

    /// Starts the bare relay (this binary's `relay` subcommand) on 127.0.0.1:0.
    pub async fn relay() -> Result<Server> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["relay", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the relay")?;
        let stdout = child.stdout.take().context("the relay's stdout")?;
        let line = tokio::time::timeout(Duration::from_secs(60), BufReader::new(stdout).lines().next_line())
            .await
            .context("the relay printed no address within 60 s")??
            .ok_or_else(|| anyhow!("the relay exited before listening"))?;
        let addr = line.strip_prefix("listening ").and_then(|a| a.parse().ok()).ok_or_else(|| anyhow!("the relay printed {line:?}"))?;
        Ok(Server::Relay { child, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::Heliograph(s) => s.addr(),
            Server::Relay { addr, .. } => *addr,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn pid(&self) -> u32 {
        match self {
            Server::Heliograph(s) => s.pid(),
            Server::Relay { child, .. } => child.id().unwrap_or_default(),
        }
    }

    /// Time from spawn to serving (Heliograph: `/healthz` answered).
    pub fn ready_after(&self) -> Duration {
        match self {
            Server::Heliograph(s) => s.ready_after(),
            Server::Relay { .. } => Duration::ZERO,
        }
    }

    pub fn stats(&self) -> ProcStats {
        ProcStats::read(self.pid())
    }

    /// Prometheus `/metrics`, as name -> value for unlabelled samples.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url())).await.ok()?.text().await.ok()?;
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == name).then(|| v.parse().ok()).flatten()
        })
    }

    /// Heliograph: SIGTERM, then wait (SIGKILL after 30 s). The relay holds nothing: SIGKILL.
    pub async fn stop(self) -> Result<()> {
        match self {
            Server::Heliograph(mut s) => drop(s.stop().await),
            Server::Relay { mut child, .. } => child.kill().await?,
        }
        Ok(())
    }
}

/// CPU seconds (user + system) and memory of one process.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcStats {
    pub cpu_seconds: f64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

impl ProcStats {
    pub fn read(pid: u32) -> ProcStats {
        let mut s = ProcStats::default();
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some((_, rest)) = stat.rsplit_once(')') {
                let f: Vec<&str> = rest.split_whitespace().collect();
                // After the command name: state is field 3, utime 14, stime 15.
                let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
                s.cpu_seconds = ticks as f64 / clock_ticks();
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for line in status.lines() {
                let kib = || line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                if line.starts_with("VmRSS:") {
                    s.rss_kib = kib();
                } else if line.starts_with("VmHWM:") {
                    s.peak_rss_kib = kib();
                }
            }
        }
        s
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Total bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The machine and the code measured.
pub fn machine() -> serde_json::Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 =
        meminfo.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git").args(args).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    };
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    serde_json::json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_mib": mem_kib / 1024,
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "git_commit": git(&["rev-parse", "HEAD"]),
        "git_dirty": dirty,
        // Other work on the machine skews every figure: the 1/5/15-minute load averages.
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}
