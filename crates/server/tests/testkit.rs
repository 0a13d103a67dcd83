//! What the test kit (`crates/testkit`) promises about the real binary, which every other test
//! that starts it relies on: the port comes from the server (`serve --address-file`), the log
//! is captured in the data folder across restarts, a restart keeps the port, and a server that
//! exits before serving is reported with the end of its log.

use heliograph_testkit::{Binary, Error};

#[tokio::test]
async fn the_server_reports_its_port_keeps_one_log_and_restarts_on_the_same_port() {
    let help = Binary::new().command(["serve", "--help"]).output().expect("heliograph runs");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--address-file <FILE>"), "serve --help documents --address-file");

    let mut server = Binary::new().dev().start().await.expect("heliograph starts");
    let port = server.port();
    assert_ne!(port, 0, "the address the server bound, not the one asked for");
    let health = reqwest::get(format!("{}/healthz", server.url())).await.expect("healthz");
    assert!(health.status().is_success());
    assert!(server.log().contains("development mode"), "stderr is captured: {}", server.log());

    server.kill().await;
    assert!(reqwest::get(format!("{}/healthz", server.url())).await.is_err(), "nothing serves after SIGKILL");
    server.restart().await.expect("heliograph restarts");
    assert_eq!(server.port(), port, "a restart listens where the clients were");
    assert_eq!(server.log().matches("development mode").count(), 2, "one log, appended by each start");
    let status = server.stop().await;
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
}

#[tokio::test]
async fn a_server_that_exits_before_serving_is_reported_with_its_log() {
    let err = Binary::new().args(["--no-such-flag"]).start().await.err().expect("heliograph refuses an unknown flag");
    let text = err.to_string();
    assert!(matches!(err, Error::Exited { .. }), "{text}");
    assert!(text.contains("exited before serving") && text.contains("--no-such-flag"), "the error shows the end of the log: {text}");
}

/// A port already in use is one clear line on stderr and exit status 1, no debug dump.
#[tokio::test]
async fn a_port_in_use_is_one_clear_line() {
    let server = Binary::new().dev().start().await.expect("heliograph starts");
    let data = tempfile::tempdir().expect("data folder");
    let listen = format!("127.0.0.1:{}", server.port());
    let out = Binary::new()
        .command(["serve", "--dev", "--listen", &listen, "--data", data.path().to_str().expect("a UTF-8 path")])
        .output()
        .expect("heliograph runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "heliograph: cannot listen on {listen}: the address is already in use (another server running?); stop it or choose another with --listen"
        )],
        "{stderr}"
    );
    // The metrics listener's address, taken too: the line names its setting.
    let data = tempfile::tempdir().expect("data folder");
    let out = Binary::new()
        .env("HELIOGRAPH_METRICS_LISTEN", &listen)
        .command(["serve", "--dev", "--listen", "127.0.0.1:0", "--data", data.path().to_str().expect("a UTF-8 path")])
        .output()
        .expect("heliograph runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [format!(
            "heliograph: cannot listen on {listen}: the address is already in use (another server running?); stop it or choose another with metrics_listen"
        )],
        "{stderr}"
    );
}
