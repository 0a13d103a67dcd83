//! The scenarios. Each builds its accounts through the SDK, measures, and writes
//! `<out>/<scenario>.json` with every repetition and the median of each figure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use futures_util::{stream, StreamExt};
use hdrhistogram::Histogram;
use heliograph_client::proto::UpdateKind;
use heliograph_client::{Client, Config, Event, Updates};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::proc::{dir_bytes, machine, ProcStats, Server};
use crate::relay::{self, RelaySender};
use crate::targets::{Procs, TargetArgs};
use crate::Common;
use crate::{matrix, xmpp};

// ---------------------------------------------------------------- shared helpers

static BASE: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the generator started: the clock every timestamp in a message uses.
pub(crate) fn now_us() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

pub(crate) fn at_us(t: Instant) -> u64 {
    t.saturating_duration_since(*BASE.get_or_init(Instant::now)).as_micros() as u64
}

/// The message text: the send timestamp first, then padding to `size` bytes.
pub(crate) fn stamp(us: u64, size: usize) -> String {
    let mut s = format!("{us:016} ");
    while s.len() < size {
        s.push('x');
    }
    s
}

pub(crate) fn parse_stamp(text: &str) -> Option<u64> {
    text.get(..16)?.parse().ok()
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub(crate) fn lat_json(h: &Histogram<u64>) -> Value {
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
pub(crate) fn cdf_json(h: &Histogram<u64>) -> Value {
    let qs = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0];
    Value::Array(qs.iter().map(|&q| json!([if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }, q])).collect())
}

/// Test phone number `n` (0..90,000) and its code: `+99966XYYYY` signs in with `XXXXX`.
fn phone(n: u32) -> (String, String) {
    let x = 1 + (n / 10_000) % 9;
    (format!("+99966{x}{:04}", n % 10_000), x.to_string().repeat(5))
}

pub(crate) struct Account {
    pub(crate) client: Client,
    pub(crate) updates: Updates,
    pub(crate) id: i64,
    pub(crate) token: String,
}

pub(crate) async fn sign_up(url: &str, n: u32) -> Result<Account> {
    let (client, updates) = Client::connect(Config::new(url)).await?;
    let (phone, code) = phone(n);
    client.send_code(&phone).await?;
    let auth = client.sign_in(&phone, &code, Some(&format!("bench {n}")), Some("bench")).await?;
    Ok(Account { client, updates, id: auth.user.id, token: auth.token })
}

/// Signs up accounts `first..first+count`, 32 at a time, in order.
pub(crate) async fn sign_up_many(url: &str, first: u32, count: u32) -> Result<Vec<Account>> {
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
pub(crate) fn drain(mut updates: Updates) {
    tokio::spawn(async move { while updates.recv().await.is_some() {} });
}

/// Median of each numeric figure over the repetitions.
pub(crate) fn median(runs: &[Value]) -> Value {
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

pub(crate) fn write_result(common: &Common, scenario: &str, params: Value, body: Value) -> Result<()> {
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

pub(crate) fn server_json(server: &Server, cpu_before: f64) -> Value {
    Procs(vec![server.pid()]).json(cpu_before)
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
    /// Also measure each target at fixed (open-loop) rates below its measured peak.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    half_load: bool,
    /// Those rates, as fractions of the target's own peak (throughput vs. offered load).
    /// 0.5 (the latency target: p99 send-to-receive under 10 ms at half of peak) is measured `--reps` times, the others once.
    #[arg(long, value_delimiter = ',', default_value = "0.5")]
    curve: Vec<f64>,
    #[command(flatten)]
    targets: TargetArgs,
}

impl PairsArgs {
    fn load(&self) -> Load {
        Load { inflight: self.inflight, duration: self.duration, warmup: self.warmup, size: self.size }
    }
}

/// The closed- or open-loop workload `drive` runs.
pub(crate) struct Load {
    /// Sends in flight per sender.
    pub(crate) inflight: u32,
    /// Seconds measured, after `warmup` seconds.
    pub(crate) duration: f64,
    pub(crate) warmup: f64,
    /// Message text bytes (at least the 17-byte timestamp).
    pub(crate) size: usize,
}

/// Sends to a chat: a Heliograph chat, a relay connection, an XMPP address (with the
/// message type: `chat` to a user, `groupchat` to a MUC room) or a Matrix room.
pub(crate) enum Sender {
    Helio(Client, i64),
    Relay(Arc<RelaySender>, u64),
    Xmpp {
        session: Arc<xmpp::Session>,
        to: String,
        kind: &'static str,
        next_id: AtomicU64,
        /// Closes the connection when dropped, if this sender owns it.
        #[allow(dead_code, reason = "closes the connection when dropped")]
        conn: Option<xmpp::AbortOnDrop>,
    },
    Matrix(matrix::User, String),
}

impl Sender {
    pub(crate) async fn send(&self, text: &str) -> Result<()> {
        match self {
            Sender::Helio(c, chat) => c.send_message(*chat, text, None).await.map(|_| ()).map_err(Into::into),
            Sender::Relay(r, to) => r.send(*to, text).await,
            Sender::Xmpp { session, to, kind, next_id, .. } => session.send(to, kind, next_id.fetch_add(1, Ordering::Relaxed), text).await,
            Sender::Matrix(u, room) => u.send(room, text).await,
        }
    }
}

/// Receives the texts others send.
pub(crate) enum Receiver {
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
            let sender = Sender::Xmpp { session: ss, to, kind: "chat", next_id: AtomicU64::new(0), conn: Some(stask) };
            Ok((sender, Receiver::Chan(rrx, Box::new((rs, rtask)))))
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
                Ok((Sender::Matrix(a, room), Receiver::Chan(rx, Box::new(task))))
            }
        })
        .buffered(16)
        .collect()
        .await;
    conns.into_iter().collect()
}

/// What `drive` measured.
pub(crate) struct Driven {
    /// Messages received (by every receiver) in the measured window, per second.
    pub(crate) delivered_per_s: f64,
    /// Sends acknowledged whose send time was in the window, per second.
    pub(crate) sent_per_s: f64,
    /// Send-to-receive latency of the messages sent in the window, in µs.
    pub(crate) latency: Histogram<u64>,
    pub(crate) send_errors: u64,
    pub(crate) first_error: Option<String>,
}

/// Runs the workload: every sender keeps `load.inflight` sends in flight (closed loop), or
/// all together offer `rate` messages/s (open loop, phases spread over one period), while
/// every receiver reads. The pairs scenario gives each sender its own receiver; the group
/// scenario has a few senders and every member receiving.
pub(crate) async fn drive(senders: Vec<Sender>, receivers: Vec<Receiver>, load: &Load, rate: u64) -> Result<Driven> {
    let start = now_us();
    let window_start = start + (load.warmup * 1e6) as u64;
    let window_end = window_start + (load.duration * 1e6) as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let workers = senders.len() as u64 * u64::from(load.inflight);
    let period = if rate > 0 { Some(Duration::from_secs_f64(workers as f64 / rate as f64)) } else { None };
    let mut sending = Vec::new();
    let mut receiving = Vec::new();
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let first_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let inflight = u64::from(load.inflight);
    for (index, sender) in senders.into_iter().enumerate() {
        let sender = Arc::new(sender);
        for w in 0..load.inflight {
            let (sender, stop, errors, size) = (sender.clone(), stop.clone(), errors.clone(), load.size);
            let first_error = first_error.clone();
            sending.push(tokio::spawn(async move {
                let mut tick = period.map(|p| {
                    // Spread the workers' phases over one period.
                    let slot = index as u64 * inflight + u64::from(w);
                    let offset = p.mul_f64(slot as f64 / workers as f64);
                    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + offset, p);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    i
                });
                let mut sent = 0u64;
                while now_us() < window_end && !stop.load(Ordering::Relaxed) {
                    // The intended send time, so a stalled server is not hidden (coordinated omission).
                    let ts = match &mut tick {
                        Some(t) => at_us(t.tick().await.into_std()),
                        None => now_us(),
                    };
                    match sender.send(&stamp(ts, size)).await {
                        Ok(()) => sent += u64::from(ts >= window_start && ts < window_end),
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| format!("{e:#}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                sent
            }));
        }
    }
    for mut receiver in receivers {
        let stop = stop.clone();
        receiving.push(tokio::spawn(async move {
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
    let mut sent = 0;
    for s in sending {
        sent += s.await?;
    }
    stop.store(true, Ordering::Relaxed);
    let mut h = histogram();
    let mut delivered = 0;
    for r in receiving {
        let (rh, d) = r.await?;
        h.add(rh)?;
        delivered += d;
    }
    let first_error = first_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(Driven {
        delivered_per_s: delivered as f64 / load.duration,
        sent_per_s: sent as f64 / load.duration,
        latency: h,
        send_errors: errors.load(Ordering::Relaxed),
        first_error,
    })
}

async fn pairs_once(common: &Common, a: &PairsArgs, target: &str, rate: u64) -> Result<(Value, Value)> {
    let data = tempfile::tempdir()?;
    let server = match target {
        "relay" => Some(Server::relay().await?),
        "heliograph" => Some(Server::heliograph(&common.heliograph(), data.path()).await?),
        _ => None,
    };
    let conns = match (target, &server) {
        ("relay", Some(s)) => relay_pairs(&format!("ws://{}/", s.addr()), a.pairs).await?,
        ("heliograph", Some(s)) => helio_pairs(&s.url(), a.pairs).await?,
        ("prosody" | "ejabberd", _) => xmpp_pairs(&a.targets.xmpp_addr, a.pairs).await?,
        ("synapse", _) => matrix_pairs(&a.targets.matrix_url, a.pairs).await?,
        (t, _) => bail!("unknown target {t}"),
    };
    // The processes whose CPU is counted: the server; for a peer, what its script's `pid`
    // prints (Synapse: its process and its PostgreSQL backends).
    let procs = match &server {
        Some(s) => Procs(vec![s.pid()]),
        None => a.targets.procs(target)?,
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
    let cpu_before = procs.cpu();
    let gen_before = ProcStats::read(std::process::id()).cpu_seconds;
    let (senders, receivers) = conns.into_iter().unzip();
    let Driven { delivered_per_s: rate_got, latency: h, send_errors: errors, first_error, .. } =
        drive(senders, receivers, &a.load(), rate).await?;
    let gen_cpu = ProcStats::read(std::process::id()).cpu_seconds - gen_before;
    let mut run = json!({
        "target": target,
        "offered_rate": rate,
        "delivered_per_s": rate_got,
        "latency": lat_json(&h),
        "send_errors": errors,
        "server": procs.json(cpu_before),
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
            server.stop().await?;
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
    let targets = a.targets.list("both", &crate::targets::ALL)?;
    let mut out = PairsOut::default();
    out.errors = a.targets.each("pairs", &targets, async |t| pairs_target(common, &a, t, &mut out).await).await?;
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
