//! `search`: message search on a large corpus, the embedded engine (tantivy) and PostgreSQL's
//! full-text search side by side in one run, on the same messages.
//!
//! For each engine: `heliograph bench-corpus` writes the corpus (M messages across C chats;
//! the reader is in R of them) into a fresh database; the embedded engine then indexes it
//! with `heliograph reindex` (PostgreSQL indexes rows as they are written, so its figure is
//! the import itself). The server starts on it and, for `--send-seconds`, `--senders`
//! clients of the reader send as fast as the server acknowledges (a durable send each) while
//! a probe sends a unique word every 250 ms and searches for it until it is found: the lag
//! from acknowledged send to searchable, under that load. Then the reader runs every query of
//! the corpus (common, medium and rare words, two words, phrases, prefixes, other scripts,
//! and medium words inside one chat) `--passes` times, one at a time: p50/p99 per kind.
//! Sizes: the database file and the index folder (embedded), or the table and its indexes
//! (PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use hdrhistogram::Histogram;
use heliograph_client::{Client, Config, SearchFilter};
use heliograph_testkit::Binary;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::proc::Server;
use crate::scenarios::{cdf_json, drain, histogram, lat_json, write_result};
use crate::Common;

#[derive(Args, Clone)]
pub struct SearchArgs {
    #[arg(long, default_value_t = 10_000_000)]
    messages: u64,
    #[arg(long, default_value_t = 10_000)]
    chats: u64,
    /// Chats the searching user is a member of.
    #[arg(long, default_value_t = 500)]
    reader_chats: u64,
    /// Seconds of sends while the lag from send to searchable is measured.
    #[arg(long, default_value_t = 20)]
    send_seconds: u64,
    /// Clients sending at once during those seconds.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Times each query is run.
    #[arg(long, default_value_t = 3)]
    passes: usize,
    /// A PostgreSQL server (URL with rights to create databases; default
    /// $HELIOGRAPH_TEST_POSTGRES): the same corpus in a fresh database there, measured in the
    /// same run. Without one, only the embedded engine is measured.
    #[arg(long)]
    postgres: Option<String>,
    /// Where the engines' data folders go (one holds the whole corpus at a time).
    #[arg(long, default_value = "target/bench-search")]
    work: PathBuf,
    /// The query latency CDF of each engine, as a PNG.
    #[arg(long, default_value = "bench/search-latency.png")]
    plot: PathBuf,
}

/// What `heliograph bench-corpus` prints.
#[derive(Deserialize)]
struct Corpus {
    reader: Reader,
    reader_chats: Vec<i64>,
    messages: u64,
    seconds: f64,
    queries: Map<String, Value>,
}

#[derive(Deserialize)]
struct Reader {
    token: String,
}

/// One engine's place: the data folder, and the database on PostgreSQL.
struct Place {
    name: &'static str,
    data: PathBuf,
    database: Option<heliograph_testkit::postgres::Database>,
}

impl Place {
    fn binary(&self, common: &Common) -> Binary {
        let bin = common.heliograph().data(&self.data);
        match &self.database {
            Some(db) => bin.database_of(db),
            None => bin,
        }
    }

    fn args(&self, subcommand: &str) -> Vec<String> {
        let mut args = vec![subcommand.to_string(), "--data".into(), self.data.display().to_string()];
        if let Some(db) = &self.database {
            args.extend(["--database".to_string(), db.url().to_string()]);
        }
        args
    }
}

pub async fn search(common: &Common, a: SearchArgs) -> Result<()> {
    let postgres = a.postgres.clone().or_else(|| std::env::var("HELIOGRAPH_TEST_POSTGRES").ok().filter(|v| !v.is_empty()));
    let mut places = vec![Place { name: "embedded", data: a.work.join("embedded"), database: None }];
    if let Some(admin) = &postgres {
        let database = heliograph_testkit::postgres::Database::create(admin).await;
        places.push(Place { name: "postgres", data: a.work.join("postgres"), database: Some(database) });
    } else {
        eprintln!("search: no --postgres (or HELIOGRAPH_TEST_POSTGRES): measuring the embedded engine only");
    }
    let mut engines = Map::new();
    let mut cdf = Map::new();
    for place in &places {
        let _ = std::fs::remove_dir_all(&place.data);
        std::fs::create_dir_all(&place.data)?;
        let (figures, all) = engine(common, &a, place).await?;
        cdf.insert(place.name.into(), cdf_json(&all));
        engines.insert(place.name.into(), figures);
        // The corpus is large: one engine's copy at a time.
        let _ = std::fs::remove_dir_all(&place.data);
    }
    let params = json!({
        "messages": a.messages, "chats": a.chats, "reader_chats": a.reader_chats,
        "send_seconds": a.send_seconds, "senders": a.senders, "passes": a.passes,
    });
    let engines = Value::Object(engines);
    write_result(common, "search", params, json!({"median": engines, "cdf": cdf}))?;
    crate::plot::latency_cdf(&common.out.join("search.json"), &a.plot, "Search query latency, one query at a time")
}

async fn engine(common: &Common, a: &SearchArgs, place: &Place) -> Result<(Value, Histogram<u64>)> {
    let bin = place.binary(common);
    eprintln!("search/{}: writing {} messages across {} chats", place.name, a.messages, a.chats);
    let corpus: Corpus = {
        let mut args = place.args("bench-corpus");
        args.extend([
            "--messages".into(),
            a.messages.to_string(),
            "--chats".into(),
            a.chats.to_string(),
            "--reader-chats".into(),
            a.reader_chats.to_string(),
        ]);
        let out = bin.command(&args).stderr(Stdio::inherit()).output().context("running heliograph bench-corpus")?;
        if !out.status.success() {
            bail!("heliograph bench-corpus failed: {}", out.status);
        }
        serde_json::from_slice(&out.stdout).context("reading what bench-corpus printed")?
    };
    let mut figures = Map::new();
    figures.insert("import_seconds".into(), json!(corpus.seconds));
    figures.insert("import_messages_per_second".into(), json!(corpus.messages as f64 / corpus.seconds));
    if place.database.is_none() {
        eprintln!("search/{}: heliograph reindex", place.name);
        let started = Instant::now();
        let out = bin.command(place.args("reindex")).stderr(Stdio::inherit()).output().context("running heliograph reindex")?;
        if !out.status.success() {
            bail!("heliograph reindex failed: {}", out.status);
        }
        let seconds = started.elapsed().as_secs_f64();
        eprint!("search/{}: {}", place.name, String::from_utf8_lossy(&out.stdout));
        figures.insert("index_seconds".into(), json!(seconds));
        figures.insert("index_messages_per_second".into(), json!(corpus.messages as f64 / seconds));
        let db = folder_bytes(&place.data, |p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("heliograph.db")));
        let index = folder_bytes(&place.data.join("search"), |_| true);
        figures.insert("database_bytes".into(), json!(db));
        figures.insert("index_bytes".into(), json!(index));
        figures.insert("index_bytes_per_message".into(), json!(index as f64 / corpus.messages as f64));
    } else if let Some(db) = &place.database {
        // PostgreSQL indexed every row in the import's own transactions.
        figures.insert("index_seconds".into(), json!(corpus.seconds));
        figures.insert("index_messages_per_second".into(), json!(corpus.messages as f64 / corpus.seconds));
        let client = heliograph_testkit::postgres::connect(db.url()).await;
        let size = |sql: &'static str| {
            let client = &client;
            async move { client.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0)).context(sql) }
        };
        let table = size("SELECT pg_table_size('messages')").await?;
        let words = size("SELECT pg_relation_size('messages_words')").await?;
        let indexes = size("SELECT pg_indexes_size('messages')").await?;
        figures.insert("database_bytes".into(), json!(table + indexes));
        figures.insert("index_bytes".into(), json!(words));
        figures.insert("index_bytes_per_message".into(), json!(words as f64 / corpus.messages as f64));
        figures.insert("note".into(), json!("index_bytes: the GIN index on messages.words; the tsvector column itself is in the table"));
    }

    let server = Server::heliograph(&bin, &place.data).await?;
    let url = server.url();
    let connect = || {
        let mut config = Config::new(url.clone());
        config.token = Some(corpus.reader.token.clone());
        config.poll_interval = Duration::from_secs(3600);
        async move {
            let (client, updates) = Client::connect(config).await?;
            drain(updates);
            anyhow::Ok(client)
        }
    };
    let reader = connect().await?;

    // Sends at full speed, and the lag from an acknowledged send to its word being found.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(a.senders);
    for s in 0..a.senders {
        let client = connect().await?;
        let (stop, sent, chats) = (stop.clone(), sent.clone(), corpus.reader_chats.clone());
        senders.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let chat = chats[(s * 31 + n) % chats.len()];
                client.send_message(chat, &format!("live traffic {s} {n}"), None).await?;
                sent.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    let mut lag = histogram();
    let mut probes = 0u64;
    while started.elapsed() < Duration::from_secs(a.send_seconds) {
        let word = format!("probe{probes}x{}", rand_word());
        let chat = corpus.reader_chats[probes as usize % corpus.reader_chats.len()];
        reader.send_message(chat, &format!("{word} arrives"), None).await?;
        let acked = Instant::now();
        loop {
            let found = reader.search_messages(&word, &SearchFilter::default(), 0, Some(1)).await?;
            if !found.results.is_empty() {
                break;
            }
            if acked.elapsed() > Duration::from_secs(30) {
                bail!("search/{}: {word:?} not searchable 30 s after its send was acknowledged", place.name);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lag.record(acked.elapsed().as_micros().max(1) as u64)?;
        probes += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for s in senders {
        s.await??;
    }
    let sends = sent.load(Ordering::Relaxed) + probes;
    figures.insert("sends_per_second".into(), json!(sends as f64 / elapsed));
    figures.insert("searchable_after_send".into(), lat_json(&lag));
    eprintln!("search/{}: {:.0} sends/s; searchable after p50 {:?}", place.name, sends as f64 / elapsed, lag_ms(&lag, 0.5));

    // The queries, one at a time.
    let mut all = histogram();
    let mut kinds = Map::new();
    let mut kind_list: Vec<(String, Vec<(String, Option<i64>)>)> = corpus
        .queries
        .iter()
        .map(|(kind, qs)| {
            (kind.clone(), qs.as_array().into_iter().flatten().filter_map(|q| Some((q.as_str()?.to_string(), None))).collect())
        })
        .collect();
    let in_chat: Vec<(String, Option<i64>)> = kind_list
        .iter()
        .find(|(k, _)| k == "medium")
        .map(|(_, qs)| {
            qs.iter().enumerate().map(|(i, (q, _))| (q.clone(), Some(corpus.reader_chats[i % corpus.reader_chats.len()]))).collect()
        })
        .unwrap_or_default();
    kind_list.push(("in_one_chat".into(), in_chat));
    for (kind, queries) in &kind_list {
        let mut h = histogram();
        let mut hits = 0u64;
        for _ in 0..a.passes {
            for (q, chat) in queries {
                let filter = SearchFilter { chat_id: *chat, ..SearchFilter::default() };
                let t = Instant::now();
                let found = reader.search_messages(q, &filter, 0, Some(20)).await?;
                let us = t.elapsed().as_micros().max(1) as u64;
                h.record(us)?;
                all.record(us)?;
                hits += found.results.len() as u64;
            }
        }
        let mut v = lat_json(&h);
        v["results_per_query"] = json!(hits as f64 / h.len().max(1) as f64);
        eprintln!(
            "search/{}: {kind}: p50 {:?} ms, p99 {:?} ms, {:.1} results",
            place.name,
            lag_ms(&h, 0.5),
            lag_ms(&h, 0.99),
            v["results_per_query"]
        );
        kinds.insert(kind.clone(), v);
    }
    figures.insert("queries".into(), Value::Object(kinds));
    figures.insert("all_queries".into(), lat_json(&all));
    figures.insert("messages".into(), json!(corpus.messages + sends));
    drop(server);
    Ok((Value::Object(figures), all))
}

fn lag_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A few random letters, so probe words of two runs never meet.
fn rand_word() -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{n:x}")
}

/// Bytes of the files under `dir` that `keep` accepts.
fn folder_bytes(dir: &Path, keep: impl Fn(&Path) -> bool + Copy) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => folder_bytes(&path, keep),
                Ok(m) if keep(&path) => m.len(),
                _ => 0,
            }
        })
        .sum()
}
