//! The one way tests and benchmarks start the real `heliograph` binary.
//!
//! ```no_run
//! # async fn example() -> Result<(), heliograph_testkit::Error> {
//! use heliograph_testkit::Binary;
//! let mut server = Binary::new().dev().lift_limits().start().await?;
//! let url = server.ws_url(); // ws://127.0.0.1:PORT/ws
//! server.kill().await; // SIGKILL, as a crash
//! server.restart().await?; // the same data folder and port
//! let status = server.stop().await; // SIGTERM, SIGKILL after 30 s
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`Binary`]: what to start (the binary, `--dev`, `--database`, `--bus`, environment, extra
//!   arguments, an open-file limit), a builder. [`Binary::command`] runs the binary's other subcommands
//!   (`backup`, `restore`, `bench-seed`).
//! - [`Server`]: one running `heliograph serve`. The port comes from the server itself: it
//!   binds `127.0.0.1:0` and writes the address it got to `--address-file`, so two tests can
//!   never pick the same free port between a probe and the bind. Ready means that file is
//!   written and `/healthz` answers. Its stdout and stderr go to `heliograph.log` in its data
//!   folder (appended across restarts); the end of that log is printed when it exits before
//!   serving, and when a test panics while it is alive.
//! - [`InProcess`] (feature `in-process`): the server library inside the test, for the tests
//!   that need its `Config` or many cheap servers.
//! - [`postgres`] (feature `postgres`): a fresh PostgreSQL database per run, behind the
//!   `HELIOGRAPH_TEST_POSTGRES` switch.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[cfg(feature = "in-process")]
mod in_process;
#[cfg(feature = "in-process")]
pub use in_process::InProcess;
#[cfg(feature = "postgres")]
pub mod postgres;

/// The log file in the data folder.
pub const LOG_FILE: &str = "heliograph.log";
/// Where the server writes the address it listens on (`--address-file`).
const ADDRESS_FILE: &str = "heliograph.address";
/// Lines of the log shown with a failure.
const TAIL_LINES: usize = 60;
/// How often the address file is looked for while the server starts. The cold-start
/// benchmark reads `Server::ready_after`, so this bounds its resolution.
const POLL: Duration = Duration::from_millis(2);

/// Why a server could not be started.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("cannot run {path}: {source} (build it with `cargo build --bin heliograph`, or set HELIOGRAPH_BIN)")]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("heliograph exited before serving ({status}); the end of {log}:\n{tail}")]
    Exited { status: ExitStatus, log: PathBuf, tail: String },
    #[error("heliograph was not serving within {within:?}; the end of {log}:\n{tail}")]
    NotReady { within: Duration, log: PathBuf, tail: String },
}

/// `expect` and `?` in tests print the Debug form: make it the readable one.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// What to start: `Binary::new().dev().database(url).bus(url).env(k, v).args(..).start()`.
#[derive(Clone, Debug)]
pub struct Binary {
    path: PathBuf,
    dev: bool,
    database: Option<String>,
    bus: Option<String>,
    data: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    args: Vec<OsString>,
    ready_within: Duration,
    /// Run under `prlimit --nofile=N:N` (soft and hard open-file limit N).
    open_files: Option<u64>,
}

impl Default for Binary {
    fn default() -> Self {
        Self::new()
    }
}

impl Binary {
    /// `$HELIOGRAPH_BIN`, or the `heliograph` cargo built beside the running executable (an
    /// integration test in `target/debug/deps/`, an example in `target/release/examples/`, the
    /// benchmark in `target/release/`). Logs at `warn` unless `RUST_LOG` is set with [`env`].
    ///
    /// [`env`]: Binary::env
    pub fn new() -> Binary {
        let path = match std::env::var_os("HELIOGRAPH_BIN").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => beside_current_exe(),
        };
        Binary {
            path,
            dev: false,
            database: None,
            bus: None,
            data: None,
            env: vec![("RUST_LOG".into(), "warn".into()), ("NO_COLOR".into(), "1".into())],
            args: Vec::new(),
            ready_within: Duration::from_secs(60),
            open_files: None,
        }
    }

    /// Another binary than the default (the benchmark's `--server-bin`).
    pub fn path(mut self, path: impl Into<PathBuf>) -> Binary {
        self.path = path.into();
        self
    }

    /// The binary this starts.
    pub fn binary_path(&self) -> &Path {
        &self.path
    }

    /// `--dev`: test phone numbers sign in with their fixed codes.
    pub fn dev(mut self) -> Binary {
        self.dev = true;
        self
    }

    /// `--database URL` (PostgreSQL).
    pub fn database(mut self, url: impl Into<String>) -> Binary {
        self.database = Some(url.into());
        self
    }

    /// `--database` of a test database, with the phone key and disclosure key all its nodes
    /// share, as every node of one deployment must.
    #[cfg(feature = "postgres")]
    pub fn database_of(self, db: &postgres::Database) -> Binary {
        self.database(db.url())
            .env("HELIOGRAPH_ACCOUNTABILITY__PHONE_KEY_FILE", db.phone_key_file())
            .env("HELIOGRAPH_ACCOUNTABILITY__DISCLOSURE_PUBLIC_KEY", db.disclosure_public_key())
    }

    /// `--bus URL` (NATS).
    pub fn bus(mut self, url: impl Into<String>) -> Binary {
        self.bus = Some(url.into());
        self
    }

    /// `--data DIR`, created if missing [default: a temporary folder removed with the
    /// [`Server`]]. The log and the address file are written there too.
    pub fn data(mut self, dir: impl Into<PathBuf>) -> Binary {
        self.data = Some(dir.into());
        self
    }

    /// An environment variable of the process (a later one of the same name wins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Binary {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// More arguments to `serve`.
    pub fn args<I, S>(mut self, args: I) -> Binary
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Lifts the limits that load from one loopback address runs into: requests per session
    /// and per address, connections per address, login codes per phone and per address.
    pub fn lift_limits(self) -> Binary {
        const LIMITS: [&str; 6] = [
            "REQUESTS_PER_SECOND",
            "REQUESTS_BURST",
            "REQUESTS_PER_ADDRESS_PER_SECOND",
            "MAX_CONNECTIONS_PER_ADDRESS",
            "CODES_PER_ADDRESS_PER_HOUR",
            "CODES_PER_PHONE_PER_HOUR",
        ];
        LIMITS.iter().fold(self, |b, limit| b.env(format!("HELIOGRAPH_LIMITS__{limit}"), "100000000"))
    }

    /// Runs the server with an open-file limit of `limit` (soft and hard), through
    /// util-linux's `prlimit`: the connection caps are derived from it.
    pub fn open_files(mut self, limit: u64) -> Binary {
        self.open_files = Some(limit);
        self
    }

    /// How long a start may take before it fails [default: 60 s].
    pub fn ready_within(mut self, within: Duration) -> Binary {
        self.ready_within = within;
        self
    }

    /// The binary with this environment and `args` (another subcommand: `backup`,
    /// `restore`, `bench-seed`), for the caller to run.
    pub fn command<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = std::process::Command::new(&self.path);
        command.args(args).envs(self.env.iter().map(|(k, v)| (k, v))).env("RUST_BACKTRACE", "0");
        command
    }

    /// Starts `heliograph serve` on `127.0.0.1:0` and waits until it serves.
    pub async fn start(self) -> Result<Server, Error> {
        let (data, temp) = match &self.data {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new().prefix("heliograph-").tempdir().map_err(io("cannot make a data folder"))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        std::fs::create_dir_all(&data).map_err(io(format!("cannot create {}", data.display())))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Io { what: "cannot make an HTTP client".into(), source: std::io::Error::other(e) })?;
        let mut server = Server {
            binary: self,
            data,
            _temp: temp,
            child: None,
            pid: 0,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ready_after: Duration::ZERO,
            http,
        };
        server.spawn().await?;
        Ok(server)
    }
}

fn beside_current_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|name| name == "deps" || name == "examples") {
        dir.pop();
    }
    dir.join("heliograph")
}

/// One `heliograph serve` process (and its restarts). Dropping it kills the process.
pub struct Server {
    binary: Binary,
    data: PathBuf,
    /// The data folder when the kit made it: removed on drop.
    _temp: Option<tempfile::TempDir>,
    child: Option<tokio::process::Child>,
    pid: u32,
    /// `127.0.0.1:0` until the first start reports the port; restarts ask for the same one.
    addr: SocketAddr,
    ready_after: Duration,
    http: reqwest::Client,
}

impl Server {
    /// Runs the process and waits until it reports its address and `/healthz` answers.
    async fn spawn(&mut self) -> Result<(), Error> {
        let address_file = self.data.join(ADDRESS_FILE);
        match std::fs::remove_file(&address_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(format!("cannot remove {}", address_file.display()))(e));
            }
            _ => {}
        }
        let log_path = self.log_path();
        let log = File::options().create(true).append(true).open(&log_path).map_err(io(format!("cannot open {}", log_path.display())))?;
        let log_too = log.try_clone().map_err(io("cannot share the log file"))?;
        let b = &self.binary;
        let mut command = match b.open_files {
            Some(limit) => {
                let mut prlimit = tokio::process::Command::new("prlimit");
                prlimit.arg(format!("--nofile={limit}:{limit}")).arg("--").arg(&b.path);
                prlimit
            }
            None => tokio::process::Command::new(&b.path),
        };
        command
            .arg("serve")
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(&self.data)
            .arg("--address-file")
            .arg(&address_file);
        if b.dev {
            command.arg("--dev");
        }
        if let Some(url) = &b.database {
            command.args(["--database", url]);
        }
        if let Some(url) = &b.bus {
            command.args(["--bus", url]);
        }
        command.args(&b.args).envs(b.env.iter().map(|(k, v)| (k, v)));
        command.stdin(Stdio::null()).stdout(log).stderr(log_too).kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| Error::Spawn { path: b.path.clone(), source })?;
        self.pid = child.id().unwrap_or_default();
        let deadline = started + b.ready_within;
        let addr = loop {
            if let Some(addr) = std::fs::read_to_string(&address_file).ok().and_then(|s| s.trim().parse::<SocketAddr>().ok()) {
                break addr;
            }
            if let Some(status) = child.try_wait().map_err(io("cannot wait for heliograph"))? {
                return Err(Error::Exited { status, log: log_path, tail: self.log_tail() });
            }
            if Instant::now() > deadline {
                let _ = child.kill().await;
                return Err(Error::NotReady { within: b.ready_within, log: log_path, tail: self.log_tail() });
            }
            tokio::time::sleep(POLL).await;
        };
        // The address is written once the server accepts connections: one request answers.
        loop {
            match self.http.get(format!("http://{addr}/healthz")).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if Instant::now() > deadline => {
                    let _ = child.kill().await;
                    return Err(Error::NotReady { within: b.ready_within, log: log_path, tail: self.log_tail() });
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
        self.ready_after = started.elapsed();
        self.addr = addr;
        self.child = Some(child);
        Ok(())
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`: the SDK and `helio` take this.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ws`: a raw protocol connection.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The process id of the latest start.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From running the process to `/healthz` answering, at the latest start.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// The data folder.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// What the server wrote to stdout and stderr, every start of it.
    pub fn log_path(&self) -> PathBuf {
        self.data.join(LOG_FILE)
    }

    /// The whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    /// Sends SIGTERM (how an operator stops it) and returns at once; [`Server::wait`] for the
    /// exit.
    pub fn terminate(&self) {
        if self.child.is_some() {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
        }
    }

    /// Waits until the process exits.
    ///
    /// # Panics
    /// If it was not started, or was already waited for.
    pub async fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        child.wait().await.expect("wait for heliograph")
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 30 s).
    pub async fn stop(&mut self) -> ExitStatus {
        self.terminate();
        let mut child = self.child.take().expect("the server is running");
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => status.expect("wait for heliograph"),
            Err(_) => {
                let _ = child.kill().await;
                child.wait().await.expect("wait for heliograph")
            }
        }
    }

    /// SIGKILL, as a crash, and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the binary again on the same data folder and port (killing it first if it is
    /// still running), and waits until it serves.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.kill().await;
        self.spawn().await
    }
}

/// A failing test shows what the server said.
impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        if std::thread::panicking() {
            eprintln!("--- the end of {} (pid {}) ---\n{}\n---", self.log_path().display(), self.pid, self.log_tail());
        }
    }
}
