//! Upload and download throughput of one large file through loopback, and the server's memory
//! while it moves (issue 4: at least 500 MiB/s each way, peak memory growth under 64 MiB);
//! then CLIENTS clients (10 by default) uploading EACH_MIB (1024 by default) of their own
//! content each at once: total throughput and the server's peak memory growth (it should stay
//! flat: bounded by the parts in flight, not by the files' sizes). CLIENTS=0 skips it.
//!
//! The server is the real `heliograph` binary (release build, started here as a child over a
//! temporary data folder, rate limits lifted); the client is the SDK's
//! `heliograph_client::files::Files` (upload in parts, then complete; streamed download).
//!
//! ```sh
//! cargo build --release --bin heliograph
//! cargo run --release -p heliograph-server --example files_bench -- [SIZE_MIB [CLIENTS [EACH_MIB]]]
//! ```
//!
//! Disk: the test files (SIZE_MIB + CLIENTS x EACH_MIB) and as much again in the server's store,
//! in the temporary folder (`TMPDIR`). `HELIO_PARALLEL` sets the parts each client keeps in
//! flight (the SDK's default otherwise).
//!
//! The binary is `HELIOGRAPH_BIN`, or `heliograph` in the target folder of this example
//! (`target/release`), started through `heliograph-testkit`. Writing the test file and hashing it are not timed. The upload time
//! includes `complete` (the server checks the hash and makes the object durable in the store;
//! the time until the last part was acknowledged is shown apart); the
//! download time ends when the last byte is written to disk. The server's VmRSS is sampled
//! every 50 ms during both transfers; growth is measured against its VmRSS just before the
//! upload (also reported: VmHWM, the kernel's high-water mark, against the same baseline).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use heliograph_client::files::{hash_file, Files};
use heliograph_client::{Client, Config};
use heliograph_testkit::Binary;

const MIB: f64 = 1024.0 * 1024.0;
const TARGET_MIB_S: f64 = 500.0;
const TARGET_GROWTH_MIB: f64 = 64.0;

/// VmRSS and VmHWM of `pid`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field =
        |name: &str| status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0);
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples VmRSS of `pid` every 50 ms until stopped; answers the largest sample (KiB).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut max, mut samples) = (0u64, 0usize);
            loop {
                max = max.max(memory(pid).0);
                samples += 1;
                if flag.load(Ordering::Relaxed) {
                    return (max, samples);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// `size` bytes of cheap pseudo-random data (xorshift), so nothing along the way can compress
/// or deduplicate it.
fn write_file(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ rand::random::<u64>();
    let mut buf = vec![0u8; 8 << 20];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let size_mib: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse().with_context(|| format!("SIZE_MIB must be a whole number, not {a:?}"))?,
        None => 1024,
    };
    if size_mib == 0 {
        bail!("SIZE_MIB must be at least 1");
    }
    let arg = |n: usize, default: u64| -> anyhow::Result<u64> {
        match std::env::args().nth(n) {
            Some(a) => a.parse().with_context(|| format!("argument {n} must be a whole number, not {a:?}")),
            None => Ok(default),
        }
    };
    let (clients, each_mib) = (arg(2, 10)?, arg(3, 1024)?);
    let parallel: Option<usize> = std::env::var("HELIO_PARALLEL").ok().and_then(|v| v.parse().ok());
    let size = size_mib * 1024 * 1024;
    let dir = tempfile::tempdir()?;
    let server = Binary::new().dev().lift_limits().data(dir.path().join("data")).start().await?;
    let pid = server.pid();
    let url = server.url();

    let (client, _updates) = Client::connect(Config::new(url.clone())).await?;
    let phone = "+9996670001"; // +99966XYYYY signs in with code XXXXX
    client.send_code(phone).await?;
    let me = client.sign_in(phone, "77777", Some("files bench"), None).await?;
    let mut files = Files::new(&url, &me.token)?;
    if let Some(p) = parallel {
        files = files.with_parallel(p);
    }
    println!("parts in flight per client: {}", files.parallel());

    let source = dir.path().join("source.bin");
    let target = dir.path().join("downloaded.bin");
    write_file(&source, size)?;
    let (sha256, len) = hash_file(&source).await?;
    if len != size {
        bail!("wrote {len} bytes, wanted {size}");
    }

    let (baseline, hwm_before) = memory(pid);
    println!("file: {size_mib} MiB, server pid {pid}, VmRSS before: {:.1} MiB (VmHWM {:.1} MiB)", mib(baseline), mib(hwm_before));

    // Upload (parts, then complete).
    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let mut parts_done = None;
    let stored = files
        .upload(&source, "files-bench", &sha256, size, Some("application/octet-stream"), |done| {
            if done == size {
                parts_done = Some(started.elapsed().as_secs_f64());
            }
        })
        .await?;
    let up_secs = started.elapsed().as_secs_f64();
    let parts_secs = parts_done.unwrap_or(up_secs);
    let (up_peak, up_samples) = sampler.finish();
    let up_hwm = memory(pid).1;

    // Download (the uploader may read its own file; no chat needed).
    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let mut out = tokio::fs::File::create(&target).await?;
    let total = files.download(stored.id, 0, &mut out, |_, _| {}).await?;
    drop(out);
    let down_secs = started.elapsed().as_secs_f64();
    let (down_peak, down_samples) = sampler.finish();
    let (_, down_hwm) = memory(pid);

    // Diagnostic: the same download into memory that is dropped (no disk write on the client).
    let started = Instant::now();
    let sunk = files.download(stored.id, 0, &mut tokio::io::sink(), |_, _| {}).await?;
    let sink_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(sunk == size, "the sink got {sunk} bytes");

    let (got, got_len) = hash_file(&target).await?;
    let same = got == sha256 && got_len == size && total == size;

    let rate = |secs: f64| size as f64 / MIB / secs;
    let growth = |peak: u64| mib(peak.saturating_sub(baseline));
    let (up_rate, down_rate) = (rate(up_secs), rate(down_secs));
    println!(
        "upload:   {size_mib} MiB in {up_secs:.2} s = {up_rate:.0} MiB/s (parts {parts_secs:.2} s = {:.0} MiB/s, complete {:.2} s); server VmRSS peak growth {:.1} MiB ({up_samples} samples), VmHWM growth {:.1} MiB",
        rate(parts_secs),
        up_secs - parts_secs,
        growth(up_peak),
        growth(up_hwm)
    );
    println!(
        "download: {size_mib} MiB in {down_secs:.2} s = {down_rate:.0} MiB/s; server VmRSS peak growth {:.1} MiB ({down_samples} samples), VmHWM growth {:.1} MiB",
        growth(down_peak),
        growth(down_hwm)
    );
    println!("download into a sink (not written to disk; diagnostic): {sink_secs:.2} s = {:.0} MiB/s", rate(sink_secs));
    println!("sha256 {}: {sha256}", if same { "matches" } else { "DIFFERS" });
    let peak_growth = growth(up_peak.max(down_peak)).max(growth(down_hwm));
    let fast = up_rate >= TARGET_MIB_S && down_rate >= TARGET_MIB_S;
    let small = peak_growth < TARGET_GROWTH_MIB;
    println!(
        "verdict: throughput {} (target >= {TARGET_MIB_S:.0} MiB/s each way), memory {} (peak growth {peak_growth:.1} MiB, target < {TARGET_GROWTH_MIB:.0} MiB), content {}",
        if fast { "MET" } else { "NOT MET" },
        if small { "MET" } else { "NOT MET" },
        if same { "OK" } else { "CORRUPT" },
    );
    std::fs::remove_file(&source)?;
    std::fs::remove_file(&target)?;
    if !same {
        bail!("downloaded content differs from the upload");
    }
    if clients > 0 {
        concurrent(&url, pid, dir.path(), clients, each_mib, parallel).await?;
    }
    drop(server);
    Ok(())
}

/// `clients` clients, each signed in as their own user, upload `each_mib` MiB of their own
/// content at once; prints the total throughput and the server's memory growth.
async fn concurrent(url: &str, pid: u32, dir: &Path, clients: u64, each_mib: u64, parallel: Option<usize>) -> anyhow::Result<()> {
    let size = each_mib * 1024 * 1024;
    let mut jobs = Vec::new();
    for i in 0..clients {
        let (client, _updates) = Client::connect(Config::new(url.to_string())).await?;
        let phone = format!("+99966700{:02}", 10 + i);
        client.send_code(&phone).await?;
        let me = client.sign_in(&phone, "77777", Some("files bench"), None).await?;
        let mut files = Files::new(url, &me.token)?;
        if let Some(p) = parallel {
            files = files.with_parallel(p);
        }
        let source = dir.join(format!("client-{i}.bin"));
        write_file(&source, size)?;
        let (sha256, _) = hash_file(&source).await?;
        jobs.push((files, source, sha256));
    }
    let (baseline, _) = memory(pid);
    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let uploads = jobs.iter().enumerate().map(|(i, (files, source, sha256))| async move {
        let file = files.upload(source, &format!("many-{i}"), sha256, size, None, |_| {}).await?;
        anyhow::ensure!(&file.sha256 == sha256 && file.size == size, "client {i}: stored {} bytes hashing to {}", file.size, file.sha256);
        anyhow::Ok(started.elapsed().as_secs_f64())
    });
    let finished = futures_util::future::try_join_all(uploads).await?;
    let secs = started.elapsed().as_secs_f64();
    let (peak, samples) = sampler.finish();
    let total_mib = (clients * each_mib) as f64;
    let slowest = finished.iter().copied().fold(0.0, f64::max);
    let fastest = finished.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "{clients} clients x {each_mib} MiB at once: {total_mib:.0} MiB in {secs:.2} s = {:.0} MiB/s in total (first done {fastest:.2} s, last {slowest:.2} s); server VmRSS before {:.1} MiB, peak growth {:.1} MiB ({samples} samples)",
        total_mib / secs,
        mib(baseline),
        mib(peak.saturating_sub(baseline)),
    );
    for (_, source, _) in &jobs {
        let _ = std::fs::remove_file(source);
    }
    Ok(())
}
