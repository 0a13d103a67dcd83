//! Every metric the server exports, named and documented in one place, with one-line
//! helpers for the call sites.
//!
//! Exported in the Prometheus text format from the handle [`install`] returns (the router
//! serves `handle.render()`). Histograms have fixed buckets so they render as Prometheus
//! histograms, which can be aggregated across nodes, rather than as summaries.
//!
//! Labels only ever take values from closed sets (`&'static str` method names and error
//! codes), never anything a client sends, so the number of series stays bounded.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Gauge: open WebSocket connections.
pub const CONNECTIONS: &str = "heliograph_connections";
/// Counter: messages durably committed (each one acknowledged to its sender).
pub const MESSAGES_COMMITTED: &str = "heliograph_messages_committed_total";
/// Histogram: jobs in one group commit.
pub const COMMIT_BATCH_SIZE: &str = "heliograph_commit_batch_size";
/// Histogram: seconds one group commit takes, fsync included.
pub const COMMIT_SECONDS: &str = "heliograph_commit_seconds";
/// Histogram, label `method`: seconds from a request's arrival to its answer.
pub const REQUEST_SECONDS: &str = "heliograph_request_seconds";
/// Counter, labels `method` and `outcome` (`ok` or the error code): requests answered.
pub const REQUESTS: &str = "heliograph_requests_total";
/// Histogram, label `method`: seconds a Bot API request takes (long polls included).
pub const BOT_REQUEST_SECONDS: &str = "heliograph_bot_request_seconds";
/// Counter, labels `method` and `outcome` (`ok` or the HTTP status): Bot API requests.
pub const BOT_REQUESTS: &str = "heliograph_bot_requests_total";
/// Counter, label `outcome` (`ok` or `error`): webhook deliveries attempted.
pub const WEBHOOK_DELIVERIES: &str = "heliograph_webhook_deliveries_total";
/// Counter: connections told to resync because their live queue overflowed.
pub const RESYNCS: &str = "heliograph_resyncs_total";

/// Outcome label of a successful request (failures carry their `ErrorCode::as_str`).
pub const OK: &str = "OK";

const SECONDS_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// How often histogram samples are folded into their buckets when nobody scrapes. Without
/// it, samples recorded between scrapes accumulate in memory.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder on first call and returns its handle; later calls
/// return the same handle, so several servers in one process (tests) share one recorder.
///
/// If some other recorder was installed first, metrics are not collected: the error is
/// logged and the handle renders an empty page, rather than refusing to start a server.
pub fn install() -> PrometheusHandle {
    static INSTALLED: OnceLock<PrometheusHandle> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            install_once().unwrap_or_else(|e| {
                tracing::error!(error = %e, "metrics are disabled");
                PrometheusBuilder::new().build_recorder().handle()
            })
        })
        .clone()
}

fn install_once() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), SECONDS_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), SECONDS_BUCKETS))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH_SIZE.into()), BATCH_BUCKETS))
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    // Series exist from the start, so a scrape of an idle server already shows them.
    gauge!(CONNECTIONS).set(0.0);
    counter!(MESSAGES_COMMITTED).absolute(0);
    counter!(RESYNCS).absolute(0);
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        })
        .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
    Ok(handle)
}

fn describe() {
    describe_gauge!(CONNECTIONS, Unit::Count, "Open WebSocket connections.");
    describe_counter!(MESSAGES_COMMITTED, Unit::Count, "Messages durably committed and acknowledged.");
    describe_histogram!(COMMIT_BATCH_SIZE, Unit::Count, "Jobs written by one group commit.");
    describe_histogram!(COMMIT_SECONDS, Unit::Seconds, "Time one group commit takes, fsync included.");
    describe_histogram!(REQUEST_SECONDS, Unit::Seconds, "Time from a request's arrival to its answer, by method.");
    describe_counter!(REQUESTS, Unit::Count, "Requests answered, by method and outcome (ok or error code).");
    describe_histogram!(BOT_REQUEST_SECONDS, Unit::Seconds, "Time a Bot API request takes (long polls included), by method.");
    describe_counter!(BOT_REQUESTS, Unit::Count, "Bot API requests answered, by method and outcome (ok or HTTP status).");
    describe_counter!(WEBHOOK_DELIVERIES, Unit::Count, "Webhook deliveries attempted, by outcome (ok or error).");
    describe_counter!(RESYNCS, Unit::Count, "Connections told to resync because their live queue overflowed.");
}

/// A WebSocket was accepted. Pair with [`connection_closed`].
pub fn connection_opened() {
    gauge!(CONNECTIONS).increment(1.0);
}

/// A WebSocket closed.
pub fn connection_closed() {
    gauge!(CONNECTIONS).decrement(1.0);
}

/// A group commit of `jobs` jobs took `elapsed`. Shaped to be the store's commit observer.
pub fn record_commit(jobs: usize, elapsed: Duration) {
    histogram!(COMMIT_BATCH_SIZE).record(jobs as f64);
    histogram!(COMMIT_SECONDS).record(elapsed);
}

/// A message was durably committed.
pub fn message_committed() {
    counter!(MESSAGES_COMMITTED).increment(1);
}

/// A request was answered. `method` is the protocol's method name (`Request::method`);
/// `outcome` is [`OK`] or the error code (`ErrorCode::as_str`).
pub fn record_request(method: &'static str, outcome: &'static str, elapsed: Duration) {
    histogram!(REQUEST_SECONDS, "method" => method).record(elapsed);
    counter!(REQUESTS, "method" => method, "outcome" => outcome).increment(1);
}

/// A Bot API request was answered. `method` is a method name from the Bot API's table
/// (`"unknown"` for others); `status` is 200 or the error code.
pub fn bot_request(method: &'static str, status: u16, elapsed: Duration) {
    let outcome = match status {
        200 => "ok",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        413 => "413",
        429 => "429",
        _ => "500",
    };
    histogram!(BOT_REQUEST_SECONDS, "method" => method).record(elapsed);
    counter!(BOT_REQUESTS, "method" => method, "outcome" => outcome).increment(1);
}

/// A webhook delivery was attempted.
pub fn webhook_delivery(ok: bool) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => if ok { "ok" } else { "error" }).increment(1);
}

/// A connection was told to resync.
pub fn resync() {
    counter!(RESYNCS).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of one series in a rendered page (0 when absent).
    fn value(page: &str, series: &str) -> f64 {
        page.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
    }

    /// Other tests in this process may record too: only this test's own label values are
    /// compared exactly; shared series are compared as "grew by at least".
    #[test]
    fn installing_twice_shares_one_recorder_that_renders_histograms() {
        let handle = install();
        let before = handle.render();

        let again = install();
        connection_opened();
        record_commit(3, Duration::from_millis(2));
        message_committed();
        message_committed();
        record_request("metrics.test", OK, Duration::from_micros(300));
        record_request("metrics.test", "FLOOD_WAIT", Duration::from_micros(50));
        resync();
        connection_closed();

        let after = again.render();
        for line in [
            "# HELP heliograph_connections Open WebSocket connections.",
            "# TYPE heliograph_connections gauge",
            "# TYPE heliograph_commit_seconds histogram",
            "# TYPE heliograph_request_seconds histogram",
            "heliograph_request_seconds_bucket{method=\"metrics.test\",le=\"0.0005\"} 2",
            "heliograph_request_seconds_bucket{method=\"metrics.test\",le=\"0.0001\"} 1",
            "heliograph_requests_total{method=\"metrics.test\",outcome=\"OK\"} 1",
            "heliograph_requests_total{method=\"metrics.test\",outcome=\"FLOOD_WAIT\"} 1",
        ] {
            assert!(after.lines().any(|l| l == line), "missing {line:?} in\n{after}");
        }
        for (series, grew) in [
            ("heliograph_commit_batch_size_bucket{le=\"4\"}", 1.0),
            ("heliograph_commit_seconds_count", 1.0),
            ("heliograph_messages_committed_total", 2.0),
            ("heliograph_resyncs_total", 1.0),
        ] {
            assert!(value(&after, series) - value(&before, series) >= grew, "{series} in\n{after}");
        }
    }
}
