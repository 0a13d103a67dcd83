//! `helio --server URL1,URL2,...` and `HELIO_SERVER=URL1,URL2,...`: every URL reaches the SDK,
//! which moves on from a node that does not answer.

mod common;

use std::time::Duration;

use common::{dead_url, InProcess, Person};

#[tokio::test]
async fn several_servers_in_flag_and_environment() {
    let mut server = InProcess::start().await;
    let dead = dead_url();

    // --server with a dead node first: helio moves on to the live one.
    let mut alice = Person::new(&server, 9301, "Alice");
    alice.server = format!("{dead},{}", server.url());
    alice.login("alicelist").await;

    // HELIO_SERVER with the same kind of list (and spaces), no --server.
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_helio"))
            .arg("--profile")
            .arg(alice.profile.path())
            .args(["me", "--json"])
            .env("HELIO_SERVER", format!("{dead}, {}", server.url()))
            .env_remove("HELIO_PROFILE")
            .output(),
    )
    .await
    .expect("helio finishes in time")
    .expect("helio runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("alicelist"));

    // Only dead nodes: a clear failure naming what was tried.
    let other = dead_url();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_helio"))
            .arg("--profile")
            .arg(alice.profile.path())
            .args(["--server", &format!("{dead},{other}"), "me"])
            .env_remove("HELIO_SERVER")
            .env_remove("HELIO_PROFILE")
            .output(),
    )
    .await
    .expect("helio finishes in time")
    .expect("helio runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&dead) && stderr.contains(&other), "{stderr}");
    server.stop().await;
}
