//! The server under test: spawning it (the real `heliograph` binary or the relay), waiting
//! until it serves, and reading its CPU time and memory from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A spawned server process; killed (SIGKILL) when dropped unless stopped first.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// The metrics listener's port (`heliograph` only: `/metrics` is not on the public port).
    pub metrics_port: Option<u16>,
    /// Time from spawn to the first successful health check.
    pub ready_after: Duration,
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `heliograph` binary next to this one (both are built into the same target dir).
pub fn default_server_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("heliograph")
}

impl Server {
    /// Starts `heliograph serve --dev` on a free port over `data`, with rate limits lifted.
    pub async fn heliograph(bin: &Path, data: &Path) -> Result<Server> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env("RUST_LOG", "warn")
            .env("HELIOGRAPH_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .env("HELIOGRAPH_LIMITS__REQUESTS_PER_SECOND", "100000000")
            .env("HELIOGRAPH_LIMITS__REQUESTS_BURST", "100000000")
            .env("HELIOGRAPH_LIMITS__REQUESTS_PER_ADDRESS_PER_SECOND", "100000000")
            .env("HELIOGRAPH_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "1000000")
            .env("HELIOGRAPH_LIMITS__CODES_PER_ADDRESS_PER_HOUR", "100000000")
            .env("HELIOGRAPH_LIMITS__CODES_PER_PHONE_PER_HOUR", "100000000");
        let mut server = Self::spawn(cmd, port, true).await.with_context(|| format!("starting {}", bin.display()))?;
        server.metrics_port = Some(metrics_port);
        Ok(server)
    }

    /// Starts the bare relay (this binary's `relay` subcommand) on a free port.
    pub async fn relay() -> Result<Server> {
        let port = free_port()?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["relay", "--listen", &format!("127.0.0.1:{port}")]);
        Self::spawn(cmd, port, false).await
    }

    async fn spawn(mut cmd: Command, port: u16, http: bool) -> Result<Server> {
        let started = Instant::now();
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn()?;
        let mut server = Server { child, port, metrics_port: None, ready_after: Duration::ZERO };
        let http_client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let deadline = started + Duration::from_secs(120);
        while Instant::now() < deadline {
            let ok = if http {
                matches!(http_client.get(format!("http://127.0.0.1:{port}/healthz")).send().await, Ok(r) if r.status().is_success())
            } else {
                tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            };
            if ok {
                server.ready_after = started.elapsed();
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("server exited before serving: {status}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("server did not answer within 120 s")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> ProcStats {
        ProcStats::read(self.pid())
    }

    /// Prometheus `/metrics` from the metrics listener, as name -> value for unlabelled
    /// samples.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port?)).await.ok()?.text().await.ok()?;
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == name).then(|| v.parse().ok()).flatten()
        })
    }

    /// SIGTERM, then wait (up to 30 s; SIGKILL after).
    pub fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
