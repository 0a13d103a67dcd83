//! Crash consistency under load, short version: 20 SIGKILLs of the real `heliograph` binary
//! at random moments while five connections send, each followed by a restart and the full
//! check of `common/crash.rs`. The long version is `examples/crashloop.rs --long DURATION`.

#[path = "common/crash.rs"]
mod crash;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_under_load_lose_and_duplicate_nothing() {
    let mut harness = crash::Harness::new(crash::heliograph()).await;
    for _ in 0..20 {
        // From "just started" to "well into a burst of group commits".
        harness.round(Duration::from_millis(rand::random_range(5..300))).await;
    }
    let r = &harness.report;
    eprintln!("{r:?}");
    assert_eq!(r.kills, 20);
    assert!(r.acknowledged > 200, "the senders got messages acknowledged: {r:?}");
}
