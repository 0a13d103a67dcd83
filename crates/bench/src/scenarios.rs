//! The scenarios. Each builds its accounts through the SDK, measures, and writes
//! `<out>/<scenario>.json` with every repetition and the median of each figure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures_util::{stream, StreamExt};
use hdrhistogram::Histogram;
use heliograph_client::proto::UpdateKind;
use heliograph_client::{Client, Config, Event, SyncState, Updates};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::proc::{dir_bytes, machine, ProcStats, Server};
use crate::relay::{self, RelaySender};
use crate::Common;
use crate::{matrix, xmpp};

// ---------------------------------------------------------------- shared helpers

static BASE: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the generator started: the clock every timestamp in a message uses.
fn now_us() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

fn at_us(t: Instant) -> u64 {
    t.saturating_duration_since(*BASE.get_or_init(Instant::now)).as_micros() as u64
}

/// The message text: the send timestamp first, then padding to `size` bytes.
fn stamp(us: u64, size: usize) -> String {
    let mut s = format!("{us:016} ");
    while s.len() < size {
        s.push('x');
    }
    s
}

fn parse_stamp(text: &str) -> Option<u64> {
    text.get(..16)?.parse().ok()
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn lat_json(h: &Histogram<u64>) -> Value {
    let ms = |q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    json!({"p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99), "p999_ms": ms(0.999), "max_ms": h.max() as f64 / 1000.0, "samples": h.len()})
}

/// Latency CDF points (ms, quantile) for plotting.
fn cdf_json(h: &Histogram<u64>) -> Value {
    let qs = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0];
    Value::Array(qs.iter().map(|&q| json!([if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }, q])).collect())
}

/// Test phone number `n` (0..90,000) and its code: `+99966XYYYY` signs in with `XXXXX`.
fn phone(n: u32) -> (String, String) {
    let x = 1 + (n / 10_000) % 9;
    (format!("+99966{x}{:04}", n % 10_000), x.to_string().repeat(5))
}

struct Account {
    client: Client,
    updates: Updates,
    id: i64,
    token: String,
}

async fn sign_up(url: &str, n: u32) -> Result<Account> {
    let (client, updates) = Client::connect(Config::new(url)).await?;
    let (phone, code) = phone(n);
    client.send_code(&phone).await?;
    let auth = client.sign_in(&phone, &code, Some(&format!("bench {n}")), Some("bench")).await?;
    Ok(Account { client, updates, id: auth.user.id, token: auth.token })
}

/// Signs up accounts `first..first+count`, 32 at a time, in order.
async fn sign_up_many(url: &str, first: u32, count: u32) -> Result<Vec<Account>> {
    let url = url.to_string();
    let accounts: Vec<Result<Account>> = stream::iter(first..first + count)
        .map(|n| {
            let url = url.clone();
            async move { sign_up(&url, n).await }
        })
        .buffered(32)
        .collect()
        .await;
    accounts.into_iter().collect()
}

/// Reads and discards an update stream (an unread stream stops its client reading).
fn drain(mut updates: Updates) {
    tokio::spawn(async move { while updates.recv().await.is_some() {} });
}

/// Median of each numeric figure over the repetitions.
fn median(runs: &[Value]) -> Value {
    let mut out = Map::new();
    let Some(Value::Object(first)) = runs.first() else {
        return Value::Null;
    };
    for (key, v) in first {
        match v {
            Value::Number(_) => {
                let mut xs: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
                xs.sort_by(|a, b| a.total_cmp(b));
                if !xs.is_empty() {
                    out.insert(key.clone(), json!(xs[xs.len() / 2]));
                }
            }
            Value::Object(_) => {
                out.insert(key.clone(), median(&runs.iter().map(|r| r[key].clone()).collect::<Vec<_>>()));
            }
            _ => {}
        }
    }
    Value::Object(out)
}

fn write_result(common: &Common, scenario: &str, params: Value, body: Value) -> Result<()> {
    std::fs::create_dir_all(&common.out)?;
    let mut result = json!({
        "scenario": scenario,
        "params": params,
        "machine": machine(),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    });
    if let (Value::Object(r), Value::Object(b)) = (&mut result, body) {
        r.extend(b);
    }
    let path = common.out.join(format!("{scenario}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    println!("{}", serde_json::to_string_pretty(&result["median"]).unwrap_or_default());
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn server_json(server: &Server, cpu_before: f64) -> Value {
    let s = server.stats();
    json!({"cpu_seconds": s.cpu_seconds - cpu_before, "peak_rss_mib": s.peak_rss_kib as f64 / 1024.0, "rss_mib": s.rss_kib as f64 / 1024.0})
}

// ---------------------------------------------------------------- pairs

#[derive(Args, Clone)]
pub struct PairsArgs {
    /// User pairs (one sender, one receiver each).
    #[arg(long, default_value_t = 100)]
    pairs: u32,
    /// Sends in flight per pair.
    #[arg(long, default_value_t = 4)]
    inflight: u32,
    /// Total offered rate in messages/s; 0 = as fast as acknowledgements allow.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Message text size in bytes (at least the 17-byte timestamp).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Targets, comma-separated, measured in this order: `relay`, `heliograph`, and the
    /// peers `prosody`, `ejabberd` (XMPP) and `synapse` (Matrix); `both` = relay,heliograph;
    /// `all` = all five.
    #[arg(long, default_value = "both")]
    target: String,
    /// Also measure each target at fixed (open-loop) rates below its measured peak.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    half_load: bool,
    /// Those rates, as fractions of the target's own peak (throughput vs. offered load).
    /// 0.5 (the DESIGN.md latency target) is measured `--reps` times, the others once.
    #[arg(long, value_delimiter = ',', default_value = "0.5")]
    curve: Vec<f64>,
    /// The XMPP servers' c2s address (plain TCP).
    #[arg(long, default_value = "127.0.0.1:5222")]
    xmpp_addr: String,
    /// Synapse's client-server API.
    #[arg(long, default_value = "http://127.0.0.1:8008")]
    matrix_url: String,
    /// Where `<peer>.sh start|stop|pid` live; each peer is started before its runs and
    /// stopped after them.
    #[arg(long, default_value = "bench/peers")]
    peers_dir: PathBuf,
    /// The peers are already running: do not start or stop them.
    #[arg(long)]
    no_manage_peers: bool,
}

const PEERS: [&str; 3] = ["prosody", "ejabberd", "synapse"];

enum Sender {
    Helio(Client, i64),
    Relay(Arc<RelaySender>, u64),
    Xmpp(Arc<xmpp::Session>, String, AtomicU64, #[allow(dead_code, reason = "closes the connection when dropped")] xmpp::AbortOnDrop),
    Matrix(matrix::User, String),
}

impl Sender {
    async fn send(&self, text: &str) -> Result<()> {
        match self {
            Sender::Helio(c, chat) => c.send_message(*chat, text, None).await.map(|_| ()).map_err(Into::into),
            Sender::Relay(r, to) => r.send(*to, text).await,
            Sender::Xmpp(s, to, id, _) => s.send(to, id.fetch_add(1, Ordering::Relaxed), text).await,
            Sender::Matrix(u, room) => u.send(room, text).await,
        }
    }
}

enum Receiver {
    Helio(Updates, i64, #[allow(dead_code, reason = "keeps the connection open")] Client),
    Relay(futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>>),
    /// A peer adapter's received bodies; the box keeps its connection (or poll task) alive.
    Chan(mpsc::UnboundedReceiver<String>, #[allow(dead_code, reason = "keeps the connection open")] Box<dyn std::any::Any + Send>),
}

impl Receiver {
    /// The next message text from someone else; `None` when the stream ended.
    async fn next(&mut self) -> Option<String> {
        match self {
            Receiver::Helio(updates, me, _) => loop {
                if let Event::Update(u) = updates.recv().await? {
                    if let UpdateKind::NewMessage { message } = u.kind {
                        if message.from != *me {
                            return message.content.text().map(str::to_string);
                        }
                    }
                }
            },
            Receiver::Relay(stream) => loop {
                if let tokio_tungstenite::tungstenite::Message::Text(t) = stream.next().await?.ok()? {
                    return t.as_str().split_once(' ').map(|(_, rest)| rest.to_string());
                }
            },
            Receiver::Chan(rx, _) => rx.recv().await,
        }
    }
}

/// Connected pairs against Heliograph: accounts, a private chat each.
async fn helio_pairs(url: &str, pairs: u32) -> Result<Vec<(Sender, Receiver)>> {
    let accounts = sign_up_many(url, 0, pairs * 2).await?;
    let mut out = Vec::new();
    let mut it = accounts.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        let chat = a.client.open_private(b.id).await?.id;
        drain(a.updates);
        out.push((Sender::Helio(a.client, chat), Receiver::Helio(b.updates, b.id, b.client)));
    }
    Ok(out)
}

async fn relay_pairs(url: &str, pairs: u32) -> Result<Vec<(Sender, Receiver)>> {
    let mut out = Vec::new();
    for i in 0..pairs as u64 {
        let (_sink, stream) = relay::connect(url, 2 * i + 1).await?;
        // Keep the receiver's sink alive with its stream.
        std::mem::forget(_sink);
        let sender = RelaySender::connect(url, 2 * i).await?;
        out.push((Sender::Relay(sender, 2 * i + 1), Receiver::Relay(stream)));
    }
    Ok(out)
}

/// XMPP pairs (Prosody, ejabberd): accounts `bench<2i>` sends to `bench<2i+1>`.
async fn xmpp_pairs(addr: &str, pairs: u32) -> Result<Vec<(Sender, Receiver)>> {
    let conns: Vec<Result<(Sender, Receiver)>> = stream::iter(0..pairs)
        .map(|i| async move {
            let (rs, rrx, rtask) = xmpp::connect(addr, &format!("bench{}", 2 * i + 1), "bench").await?;
            let (ss, srx, stask) = xmpp::connect(addr, &format!("bench{}", 2 * i), "bench").await?;
            drop(srx);
            let to = rs.jid.clone();
            Ok((Sender::Xmpp(ss, to, AtomicU64::new(0), stask), Receiver::Chan(rrx, Box::new((rs, rtask)))))
        })
        .buffered(16)
        .collect()
        .await;
    conns.into_iter().collect()
}

/// Matrix pairs (Synapse): a new private room per pair, the partner joined and syncing.
async fn matrix_pairs(base: &str, pairs: u32) -> Result<Vec<(Sender, Receiver)>> {
    let http = matrix::http()?;
    let conns: Vec<Result<(Sender, Receiver)>> = stream::iter(0..pairs)
        .map(|i| {
            let http = http.clone();
            async move {
                let a = matrix::user(&http, base, &format!("bench{}", 2 * i), "benchbench").await?;
                let b = matrix::user(&http, base, &format!("bench{}", 2 * i + 1), "benchbench").await?;
                let room = a.create_dm(&b.user_id).await?;
                b.join(&room).await?;
                let (rx, task) = b.receive(&room).await?;
                Ok((Sender::Matrix(a, room), Receiver::Chan(rx, Box::new(xmpp::AbortOnDrop(task)))))
            }
        })
        .buffered(16)
        .collect()
        .await;
    conns.into_iter().collect()
}

/// `<peers_dir>/<peer>.sh <verb>`; its stdout.
fn peer_script(dir: &Path, peer: &str, verb: &str) -> Result<String> {
    let script = dir.join(format!("{peer}.sh"));
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(verb)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} {verb} failed ({})", script.display(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| ProcStats::read(p).cpu_seconds).sum()
}

/// Runs the workload over connected pairs: delivered messages/s in the window, latency.
async fn drive(pairs: Vec<(Sender, Receiver)>, a: &PairsArgs, rate: u64) -> Result<(f64, Histogram<u64>, u64, Option<String>)> {
    let start = now_us();
    let window_start = start + (a.warmup * 1e6) as u64;
    let window_end = window_start + (a.duration * 1e6) as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let workers = pairs.len() as u64 * a.inflight as u64;
    let period = if rate > 0 { Some(Duration::from_secs_f64(workers as f64 / rate as f64)) } else { None };
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let first_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let inflight = u64::from(a.inflight);
    for (index, (sender, mut receiver)) in pairs.into_iter().enumerate() {
        let sender = Arc::new(sender);
        for w in 0..a.inflight {
            let (sender, stop, errors, size) = (sender.clone(), stop.clone(), errors.clone(), a.size);
            let first_error = first_error.clone();
            senders.push(tokio::spawn(async move {
                let mut tick = period.map(|p| {
                    // Spread the workers' phases over one period.
                    let slot = index as u64 * inflight + u64::from(w);
                    let offset = p.mul_f64(slot as f64 / workers as f64);
                    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + offset, p);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    i
                });
                while now_us() < window_end && !stop.load(Ordering::Relaxed) {
                    // The intended send time, so a stalled server is not hidden (coordinated omission).
                    let ts = match &mut tick {
                        Some(t) => at_us(t.tick().await.into_std()),
                        None => now_us(),
                    };
                    if let Err(e) = sender.send(&stamp(ts, size)).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }));
        }
        let stop = stop.clone();
        receivers.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut delivered = 0u64;
            loop {
                match tokio::time::timeout(Duration::from_millis(200), receiver.next()).await {
                    Ok(Some(text)) => {
                        let now = now_us();
                        if let Some(sent) = parse_stamp(&text) {
                            if now >= window_start && now < window_end {
                                delivered += 1;
                            }
                            if sent >= window_start && sent < window_end {
                                let _ = h.record(now.saturating_sub(sent).max(1));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                }
                if now_us() > window_end + 10_000_000 {
                    break;
                }
            }
            (h, delivered)
        }));
    }
    for s in senders {
        s.await?;
    }
    stop.store(true, Ordering::Relaxed);
    let mut h = histogram();
    let mut delivered = 0;
    for r in receivers {
        let (rh, d) = r.await?;
        h.add(rh)?;
        delivered += d;
    }
    let first_error = first_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok((delivered as f64 / a.duration, h, errors.load(Ordering::Relaxed), first_error))
}

async fn pairs_once(common: &Common, a: &PairsArgs, target: &str, rate: u64) -> Result<(Value, Value)> {
    let data = tempfile::tempdir()?;
    let server = match target {
        "relay" => Some(Server::relay().await?),
        "heliograph" => Some(Server::heliograph(&common.server_bin(), data.path()).await?),
        _ => None,
    };
    let conns = match (target, &server) {
        ("relay", Some(s)) => relay_pairs(&format!("ws://127.0.0.1:{}/", s.port), a.pairs).await?,
        ("heliograph", Some(s)) => helio_pairs(&s.url(), a.pairs).await?,
        ("prosody" | "ejabberd", _) => xmpp_pairs(&a.xmpp_addr, a.pairs).await?,
        ("synapse", _) => matrix_pairs(&a.matrix_url, a.pairs).await?,
        (t, _) => bail!("unknown target {t}"),
    };
    // The processes whose CPU is counted: the server; for a peer, what its script's `pid`
    // prints (Synapse: its process and its PostgreSQL backends).
    let pids: Vec<u32> = match &server {
        Some(s) => vec![s.pid()],
        None => peer_script(&a.peers_dir, target, "pid")?.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
    };
    let helio = target == "heliograph";
    let metric = |name: &'static str| {
        let server = server.as_ref();
        async move {
            match server {
                Some(s) if helio => s.metric(name).await.unwrap_or(0.0),
                _ => 0.0,
            }
        }
    };
    let commits_before = metric("heliograph_commit_seconds_count").await;
    let committed_before = metric("heliograph_messages_committed_total").await;
    let limited_before = matrix::LIMITED.load(Ordering::Relaxed);
    let cpu_before = cpu_of(&pids);
    let gen_before = ProcStats::read(std::process::id()).cpu_seconds;
    let (rate_got, h, errors, first_error) = drive(conns, a, rate).await?;
    let gen_cpu = ProcStats::read(std::process::id()).cpu_seconds - gen_before;
    let main = pids.first().map(|&p| ProcStats::read(p)).unwrap_or_default();
    let mut run = json!({
        "target": target,
        "offered_rate": rate,
        "delivered_per_s": rate_got,
        "latency": lat_json(&h),
        "send_errors": errors,
        "server": {"cpu_seconds": cpu_of(&pids) - cpu_before, "peak_rss_mib": main.peak_rss_kib as f64 / 1024.0, "rss_mib": main.rss_kib as f64 / 1024.0},
        "load_generator_cpu_seconds": gen_cpu,
    });
    let cpu = run["server"]["cpu_seconds"].as_f64().unwrap_or(0.0);
    run["cpu_seconds_per_1000_msgs"] = json!(cpu / (rate_got * (a.duration + a.warmup)).max(1.0) * 1000.0);
    if let Some(e) = first_error {
        run["first_send_error"] = json!(e);
    }
    if target == "synapse" {
        run["sync_limited"] = json!(matrix::LIMITED.load(Ordering::Relaxed) - limited_before);
    }
    if helio {
        let commits = metric("heliograph_commit_seconds_count").await - commits_before;
        let committed = metric("heliograph_messages_committed_total").await - committed_before;
        run["messages_committed"] = json!(committed);
        run["group_commits_per_message"] = json!(if committed > 0.0 { commits / committed } else { 0.0 });
        let total_committed = metric("heliograph_messages_committed_total").await;
        if let Some(server) = server {
            server.stop()?;
        }
        run["disk_bytes_per_message"] = json!(dir_bytes(data.path()) as f64 / total_committed.max(1.0));
        run["text_bytes"] = json!(a.size);
    }
    Ok((run, cdf_json(&h)))
}

fn log_run(label: &str, run: &Value) {
    eprintln!(
        "pairs {label}: {:.0} msg/s, p99 {} ms, {} send errors{}",
        run["delivered_per_s"].as_f64().unwrap_or(0.0),
        run["latency"]["p99_ms"],
        run["send_errors"],
        run["first_send_error"].as_str().map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
}

/// One target's runs: its peak (closed loop, `reps` times), then the curve's fixed rates.
async fn pairs_target(common: &Common, a: &PairsArgs, t: &str, out: &mut PairsOut) -> Result<()> {
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let (run, cdf) = pairs_once(common, a, t, a.rate).await?;
        log_run(&format!("{t} rep {rep}"), &run);
        if rep == 0 {
            out.cdfs.insert(t.to_string(), cdf);
        }
        runs.push(run);
    }
    let peak = median(&runs);
    let peak_rate = peak["delivered_per_s"].as_f64().unwrap_or(0.0);
    let mut points = vec![
        json!({"offered": Value::Null, "delivered": peak_rate, "p50_ms": peak["latency"]["p50_ms"], "p99_ms": peak["latency"]["p99_ms"]}),
    ];
    out.summary.insert(t.to_string(), peak);
    out.by_target.insert(t.to_string(), json!({"median": median(&runs), "runs": runs}));
    if a.half_load && a.rate == 0 {
        for &frac in &a.curve {
            let rate = (peak_rate * frac) as u64;
            if rate == 0 {
                continue;
            }
            let half = (frac - 0.5).abs() < 1e-9;
            let reps = if half { common.reps } else { 1 };
            let mut runs = Vec::new();
            for rep in 0..reps {
                let (run, cdf) = pairs_once(common, a, t, rate).await?;
                log_run(&format!("{t} @ {rate}/s rep {rep}"), &run);
                if rep == 0 && t == "heliograph" && half {
                    out.cdfs.insert(format!("{t}_half_load"), cdf);
                }
                runs.push(run);
            }
            let m = median(&runs);
            points.push(json!({"offered": rate, "delivered": m["delivered_per_s"], "p50_ms": m["latency"]["p50_ms"], "p99_ms": m["latency"]["p99_ms"]}));
            if half {
                out.summary.insert(format!("{t}_half_load"), m.clone());
                out.by_target.insert(format!("{t}_half_load"), json!({"median": m, "runs": runs}));
            }
        }
    }
    out.curve.insert(t.to_string(), Value::Array(points));
    Ok(())
}

#[derive(Default)]
struct PairsOut {
    by_target: Map<String, Value>,
    summary: Map<String, Value>,
    cdfs: Map<String, Value>,
    curve: Map<String, Value>,
    errors: Map<String, Value>,
}

pub async fn pairs(common: &Common, a: PairsArgs) -> Result<()> {
    let targets: Vec<String> = match a.target.as_str() {
        "both" => vec!["relay".into(), "heliograph".into()],
        "all" => ["relay", "heliograph", "prosody", "ejabberd", "synapse"].map(String::from).to_vec(),
        t => t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
    };
    let mut out = PairsOut::default();
    for t in &targets {
        let t = t.as_str();
        let managed = PEERS.contains(&t) && !a.no_manage_peers;
        let started = if managed { peer_script(&a.peers_dir, t, "start").map(|_| ()) } else { Ok(()) };
        let result = match started {
            Ok(()) => pairs_target(common, &a, t, &mut out).await,
            Err(e) => Err(e),
        };
        if managed {
            if let Err(e) = peer_script(&a.peers_dir, t, "stop") {
                eprintln!("{e:#}");
            }
        }
        if let Err(e) = result {
            // A peer that cannot be installed or driven is recorded, not fatal: the report
            // shows it (bench/run.sh --smoke fails on it).
            if !PEERS.contains(&t) {
                return Err(e.context(format!("pairs against {t}")));
            }
            eprintln!("pairs against {t} failed: {e:#}");
            out.errors.insert(t.to_string(), json!(format!("{e:#}")));
        }
    }
    if let (Some(h), Some(r)) = (out.summary.get("heliograph"), out.summary.get("relay")) {
        let hr = h["delivered_per_s"].as_f64().unwrap_or(0.0);
        let rr = r["delivered_per_s"].as_f64().unwrap_or(1.0);
        out.summary.insert("heliograph_pct_of_relay".into(), json!(100.0 * hr / rr.max(1.0)));
    }
    // The relay at Heliograph's half-load rate: what the same open-loop rate costs with no storage.
    if let (Some(hh), true) = (out.summary.get("heliograph_half_load"), targets.iter().any(|t| t == "relay")) {
        let half = hh["offered_rate"].as_f64().unwrap_or(0.0) as u64;
        let relay_peak = out.summary["relay"]["delivered_per_s"].as_f64().unwrap_or(0.0);
        let mut rruns = Vec::new();
        for _ in 0..common.reps {
            rruns.push(pairs_once(common, &a, "relay", half).await?.0);
        }
        out.summary.insert("relay_at_same_rate".into(), median(&rruns));
        out.by_target.insert("relay_at_same_rate".into(), json!({"median": median(&rruns), "runs": rruns, "relay_peak": relay_peak}));
    }
    let synapse_db = std::fs::read_to_string(
        PathBuf::from(std::env::var("BENCH_PEERS_DIR").unwrap_or_else(|_| "/tmp/heliograph-bench-peers".into())).join("synapse/database"),
    )
    .map(|s| s.trim().to_string())
    .ok();
    let params = json!({"pairs": a.pairs, "inflight": a.inflight, "rate": a.rate, "duration_s": a.duration, "warmup_s": a.warmup, "size": a.size, "reps": common.reps, "targets": targets, "curve": a.curve, "synapse_database": synapse_db});
    write_result(
        common,
        "pairs",
        params,
        json!({"median": out.summary, "targets": out.by_target, "cdf": out.cdfs, "curve": out.curve, "errors": out.errors}),
    )
}

// ---------------------------------------------------------------- idle

#[derive(Args, Clone)]
pub struct IdleArgs {
    /// Idle authenticated connections.
    #[arg(long, default_value_t = 2000)]
    connections: u32,
    /// Seconds to let the server settle before each memory reading.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
}

pub async fn idle(common: &Common, a: IdleArgs) -> Result<()> {
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let data = tempfile::tempdir()?;
        // Accounts first, then a fresh server process, so sign-up garbage is not counted.
        let server = Server::heliograph(&common.server_bin(), data.path()).await?;
        let tokens: Vec<String> = sign_up_many(&server.url(), 0, a.connections).await?.into_iter().map(|acc| acc.token).collect();
        server.stop()?;
        let server = Server::heliograph(&common.server_bin(), data.path()).await?;
        let url = server.url();
        tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
        let before = server.stats();
        let clients: Vec<Result<(Client, Updates)>> = stream::iter(tokens)
            .map(|token| {
                let url = url.clone();
                async move {
                    let mut config = Config::new(url);
                    config.token = Some(token);
                    config.poll_interval = Duration::from_secs(3600);
                    let (client, mut updates) = Client::connect(config).await?;
                    // Connected and authorized: the first event.
                    let _ = tokio::time::timeout(Duration::from_secs(10), updates.recv()).await;
                    Ok((client, updates))
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let clients: Vec<(Client, Updates)> = clients.into_iter().collect::<Result<_>>()?;
        tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
        let after = server.stats();
        let per_conn = (after.rss_kib as f64 - before.rss_kib as f64) / clients.len() as f64;
        eprintln!("idle rep {rep}: {} connections, {per_conn:.1} KiB each", clients.len());
        runs.push(json!({
            "connections": clients.len(),
            "rss_before_mib": before.rss_kib as f64 / 1024.0,
            "rss_after_mib": after.rss_kib as f64 / 1024.0,
            "kib_per_connection": per_conn,
            "server": server_json(&server, 0.0),
        }));
        drop(clients);
    }
    write_result(common, "idle", json!({"connections": a.connections, "reps": common.reps}), json!({"median": median(&runs), "runs": runs}))
}

// ---------------------------------------------------------------- channel

#[derive(Args, Clone)]
pub struct ChannelArgs {
    /// Subscribers (accounts; at most 89,999).
    #[arg(long, default_value_t = 5000)]
    subscribers: u32,
    /// Of which online during the posts.
    #[arg(long, default_value_t = 1000)]
    online: u32,
    /// Posts measured (one at a time).
    #[arg(long, default_value_t = 10)]
    posts: u32,
}

fn count_rows(db: &std::path::Path) -> Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut total = 0;
    for t in tables {
        total += conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get::<_, i64>(0))?;
    }
    Ok(total)
}

/// An online subscriber: its client and the task reading its updates.
type Online = (Client, tokio::task::JoinHandle<()>);

pub async fn channel(common: &Common, a: ChannelArgs) -> Result<()> {
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let data = tempfile::tempdir()?;
        let server = Server::heliograph(&common.server_bin(), data.path()).await?;
        let url = server.url();
        let owner = sign_up(&url, 0).await?;
        drain(owner.updates);
        let name = format!("benchchan{rep}");
        let chat = owner.client.create_channel("bench", Some(&name)).await?.id;
        let setup = Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel::<(u32, u64)>();
        let subs: Vec<Result<Option<Online>>> = stream::iter(1..=a.subscribers)
            .map(|n| {
                let (url, name, tx) = (url.clone(), name.clone(), tx.clone());
                let online = n <= a.online;
                async move {
                    let acc = sign_up(&url, n).await?;
                    acc.client.join_by_username(&name).await?;
                    if !online {
                        return Ok(None);
                    }
                    let mut updates = acc.updates;
                    let task = tokio::spawn(async move {
                        while let Some(ev) = updates.recv().await {
                            if let Event::Update(u) = ev {
                                if let UpdateKind::NewMessage { message } = u.kind {
                                    if message.chat_id == chat {
                                        if let Some(post) =
                                            message.content.text().and_then(|t| t.strip_prefix("post ")).and_then(|t| t.parse().ok())
                                        {
                                            let _ = tx.send((post, now_us()));
                                        }
                                    }
                                }
                            }
                        }
                    });
                    Ok(Some((acc.client, task)))
                }
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let subs: Vec<Online> = subs.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
        let setup_s = setup.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let db = data.path().join("heliograph.db");
        let rows_before = count_rows(&db).unwrap_or(-1);
        let cpu_before = server.stats().cpu_seconds;
        let mut fanout = histogram();
        let mut incomplete = 0;
        for post in 0..a.posts {
            let t0 = now_us();
            owner.client.send_message(chat, &format!("post {post}"), None).await?;
            let mut got = 0;
            let mut last = t0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while got < subs.len() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((p, at))) if p == post => {
                        got += 1;
                        last = last.max(at);
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            if got < subs.len() {
                incomplete += 1;
            }
            let _ = fanout.record((last - t0).max(1));
        }
        let cpu = server.stats().cpu_seconds - cpu_before;
        let rows_after = count_rows(&db).unwrap_or(-1);
        eprintln!(
            "channel rep {rep}: last online delivery p50 {:.1} ms, rows/post {}",
            fanout.value_at_quantile(0.5) as f64 / 1000.0,
            (rows_after - rows_before) as f64 / a.posts as f64
        );
        runs.push(json!({
            "subscribers": a.subscribers,
            "online": subs.len(),
            "post_to_last_online_ms": lat_json(&fanout),
            "posts_incomplete": incomplete,
            "rows_written_per_post": (rows_after - rows_before) as f64 / a.posts as f64,
            "cpu_seconds_per_post": cpu / a.posts as f64,
            "setup_seconds": setup_s,
            "server": server_json(&server, 0.0),
        }));
        drop(subs);
    }
    let params = json!({"subscribers": a.subscribers, "online": a.online, "posts": a.posts, "reps": common.reps});
    write_result(common, "channel", params, json!({"median": median(&runs), "runs": runs}))
}

// ---------------------------------------------------------------- group

#[derive(Args, Clone)]
pub struct GroupArgs {
    #[arg(long, default_value_t = 500)]
    members: u32,
    #[arg(long, default_value_t = 50)]
    senders: u32,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

pub async fn group(common: &Common, a: GroupArgs) -> Result<()> {
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let data = tempfile::tempdir()?;
        let server = Server::heliograph(&common.server_bin(), data.path()).await?;
        let url = server.url();
        let accounts = sign_up_many(&url, 0, a.members).await?;
        let ids: Vec<i64> = accounts.iter().map(|acc| acc.id).collect();
        let chat = accounts[0].client.create_group("bench group", &ids[1..ids.len().min(100)]).await?.id;
        for chunk in ids[ids.len().min(100)..].chunks(100) {
            accounts[0].client.add_members(chat, chunk).await?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = now_us();
        let window_start = start + (a.warmup * 1e6) as u64;
        let window_end = window_start + (a.duration * 1e6) as u64;
        let stop = Arc::new(AtomicBool::new(false));
        let mut receivers = Vec::new();
        let mut senders = Vec::new();
        let cpu_before = server.stats().cpu_seconds;
        for (i, acc) in accounts.into_iter().enumerate() {
            let Account { client, mut updates, id, .. } = acc;
            let stop2 = stop.clone();
            receivers.push(tokio::spawn(async move {
                let mut h = histogram();
                let mut delivered = 0u64;
                loop {
                    match tokio::time::timeout(Duration::from_millis(200), updates.recv()).await {
                        Ok(Some(Event::Update(u))) => {
                            if let UpdateKind::NewMessage { message } = u.kind {
                                let now = now_us();
                                if message.from != id && message.chat_id == chat {
                                    if let Some(sent) = message.content.text().and_then(parse_stamp) {
                                        if now >= window_start && now < window_end {
                                            delivered += 1;
                                        }
                                        if sent >= window_start && sent < window_end {
                                            let _ = h.record(now.saturating_sub(sent).max(1));
                                        }
                                    }
                                }
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) if stop2.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                    if now_us() > window_end + 10_000_000 {
                        break;
                    }
                }
                (h, delivered)
            }));
            if (i as u32) < a.senders {
                senders.push(tokio::spawn(async move {
                    let mut sent = 0u64;
                    while now_us() < window_end {
                        let ts = now_us();
                        if client.send_message(chat, &stamp(ts, 64), None).await.is_ok() && ts >= window_start {
                            sent += 1;
                        }
                    }
                    sent
                }));
            } else {
                // Keep the client alive while its updates are read.
                let stop3 = stop.clone();
                senders.push(tokio::spawn(async move {
                    while !stop3.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    drop(client);
                    0
                }));
            }
        }
        let mut sent = 0;
        for s in senders.drain(..a.senders as usize) {
            sent += s.await?;
        }
        stop.store(true, Ordering::Relaxed);
        let mut h = histogram();
        let mut delivered = 0;
        for r in receivers {
            let (rh, d) = r.await?;
            h.add(rh)?;
            delivered += d;
        }
        for s in senders {
            s.await?;
        }
        eprintln!(
            "group rep {rep}: {:.0} sends/s, {:.0} deliveries/s, p99 {:.1} ms",
            sent as f64 / a.duration,
            delivered as f64 / a.duration,
            h.value_at_quantile(0.99) as f64 / 1000.0
        );
        runs.push(json!({
            "sends_per_s": sent as f64 / a.duration,
            "deliveries_per_s": delivered as f64 / a.duration,
            "latency": lat_json(&h),
            "server": server_json(&server, cpu_before),
        }));
    }
    let params = json!({"members": a.members, "senders": a.senders, "duration_s": a.duration, "reps": common.reps});
    write_result(common, "group", params, json!({"median": median(&runs), "runs": runs}))
}

// ---------------------------------------------------------------- catch-up

#[derive(Args, Clone)]
pub struct CatchupArgs {
    /// Messages that arrive while the client is offline.
    #[arg(long, default_value_t = 100_000)]
    messages: u32,
    /// Concurrent senders filling the backlog.
    #[arg(long, default_value_t = 32)]
    senders: u32,
}

pub async fn catchup(common: &Common, a: CatchupArgs) -> Result<()> {
    let mut runs = Vec::new();
    for rep in 0..common.reps {
        let data = tempfile::tempdir()?;
        let server = Server::heliograph(&common.server_bin(), data.path()).await?;
        let url = server.url();
        let accounts = sign_up_many(&url, 0, a.senders + 1).await?;
        let mut it = accounts.into_iter();
        let reader = it.next().ok_or_else(|| anyhow!("no reader"))?;
        let mut chats = Vec::new();
        for s in it {
            chats.push((s.client.open_private(reader.id).await?.id, s.client));
            drain(s.updates);
        }
        // Let the reader see the chats, then take it offline with its position.
        let Account { client, mut updates, token, id: reader_id } = reader;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), updates.recv()).await {}
        let state: SyncState = client.state();
        drop(client);
        drop(updates);
        let fill = Instant::now();
        let per = a.messages / chats.len() as u32;
        let extra = a.messages % chats.len() as u32;
        let mut tasks = Vec::new();
        for (i, (chat, client)) in chats.into_iter().enumerate() {
            let count = per + u32::from((i as u32) < extra);
            tasks.push(tokio::spawn(async move {
                for n in 0..count {
                    client.send_message(chat, &format!("backlog {n}"), None).await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let fill_s = fill.elapsed().as_secs_f64();
        let cpu_before = server.stats().cpu_seconds;
        let t0 = Instant::now();
        let mut config = Config::new(url.clone());
        config.token = Some(token);
        config.state = state;
        let (client, mut updates) = Client::connect(config).await?;
        let mut got = 0u32;
        let mut too_long = false;
        while got < a.messages {
            match tokio::time::timeout(Duration::from_secs(60), updates.recv()).await {
                Ok(Some(Event::Update(u))) => {
                    if let UpdateKind::NewMessage { message } = u.kind {
                        if message.from != reader_id {
                            got += 1;
                        }
                    }
                }
                Ok(Some(Event::TooLong { .. })) => {
                    too_long = true;
                    break;
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        drop(client);
        eprintln!("catchup rep {rep}: {got}/{} in {secs:.2} s{}", a.messages, if too_long { " (too_long)" } else { "" });
        runs.push(json!({
            "messages": a.messages,
            "received": got,
            "too_long": too_long,
            "resync_seconds": secs,
            "messages_per_s": got as f64 / secs,
            "fill_seconds": fill_s,
            "server": server_json(&server, cpu_before),
        }));
    }
    write_result(common, "catchup", json!({"messages": a.messages, "reps": common.reps}), json!({"median": median(&runs), "runs": runs}))
}

// ---------------------------------------------------------------- cold start

#[derive(Args, Clone)]
pub struct ColdstartArgs {
    /// Fill the database to at least this many MiB first (0 = empty).
    #[arg(long, default_value_t = 1024)]
    db_mib: u64,
    /// Starts measured on the filled database.
    #[arg(long, default_value_t = 5)]
    starts: u32,
}

pub async fn coldstart(common: &Common, a: ColdstartArgs) -> Result<()> {
    let data = tempfile::tempdir()?;
    let bin = common.server_bin();
    let server = Server::heliograph(&bin, data.path()).await?;
    let url = server.url();
    let fill = Instant::now();
    let mut messages = 0u64;
    if a.db_mib > 0 {
        let accounts = sign_up_many(&url, 0, 32).await?;
        let mut it = accounts.into_iter();
        let mut chats = Vec::new();
        while let (Some(s), Some(r)) = (it.next(), it.next()) {
            chats.push((s.client.open_private(r.id).await?.id, s.client));
            drain(s.updates);
            drain(r.updates);
            std::mem::forget(r.client);
        }
        let text = "y".repeat(4000);
        let target = a.db_mib * 1024 * 1024;
        while dir_bytes(data.path()) < target {
            let batch: Vec<_> = chats
                .iter()
                .flat_map(|(chat, c)| (0..8).map(move |_| (*chat, c.clone())))
                .map(|(chat, c)| {
                    let text = text.clone();
                    tokio::spawn(async move {
                        for _ in 0..50 {
                            c.send_message(chat, &text, None).await?;
                        }
                        anyhow::Ok(())
                    })
                })
                .collect();
            for t in batch {
                t.await??;
            }
            messages += chats.len() as u64 * 8 * 50;
        }
    }
    let fill_s = fill.elapsed().as_secs_f64();
    server.stop()?;
    let db_bytes = dir_bytes(data.path());
    eprintln!("coldstart: filled {} MiB ({messages} messages) in {fill_s:.0} s", db_bytes / (1 << 20));
    let mut runs = Vec::new();
    for i in 0..a.starts.max(1) {
        let server = Server::heliograph(&bin, data.path()).await?;
        let ms = server.ready_after.as_secs_f64() * 1000.0;
        eprintln!("coldstart {i}: {ms:.1} ms");
        runs.push(json!({"ready_ms": ms, "server": server_json(&server, 0.0)}));
        server.stop()?;
    }
    let params = json!({"db_mib_target": a.db_mib, "db_bytes": db_bytes, "messages": messages, "fill_seconds": fill_s, "starts": a.starts});
    write_result(common, "coldstart", params, json!({"median": median(&runs), "runs": runs}))
}
