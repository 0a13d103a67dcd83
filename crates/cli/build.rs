//! The python-telegram-bot tests (`tests/bot_python.rs`) are compiled in only when
//! `HELIOGRAPH_TEST_PYTHON` names a Python to run them with; without it that test binary holds
//! one test saying they did not run, instead of tests that silently pass.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(heliograph_test_python)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=HELIOGRAPH_TEST_PYTHON");
    if std::env::var_os("HELIOGRAPH_TEST_PYTHON").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=heliograph_test_python");
    }
}
