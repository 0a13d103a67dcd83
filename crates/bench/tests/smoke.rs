//! A seconds-long smoke run so the load generator never rots: the pairs workload against
//! the bare relay, with a JSON result that has deliveries and latencies.

use std::process::Command;

#[test]
fn pairs_against_the_relay() {
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_heliograph-bench"))
        .args(["--reps", "1", "--out"])
        .arg(out.path())
        .args(["pairs", "--target", "relay", "--pairs", "2", "--duration", "0.5", "--warmup", "0.2", "--half-load", "false"])
        .status()
        .expect("heliograph-bench runs");
    assert!(status.success());
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("pairs.json")).expect("result written")).expect("JSON");
    assert!(result["median"]["relay"]["delivered_per_s"].as_f64().expect("rate") > 0.0, "{result}");
    assert!(result["median"]["relay"]["latency"]["p99_ms"].as_f64().expect("p99") > 0.0, "{result}");
    assert!(result["machine"]["cores"].as_u64().expect("cores") >= 1);
}
