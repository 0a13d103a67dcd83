//! Replays every seed of every fuzz target (`fuzz/corpus/<target>/*`) through the same
//! function the cargo-fuzz binary calls, on stable, as an ordinary test. A crash the fuzzer
//! finds is added to its corpus folder, so it stays fixed.

#[path = "../../../fuzz/targets.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_fuzz_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .expect("fuzz/corpus exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut names: Vec<String> = targets::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(folders, names, "one corpus folder per fuzz target, and no other");
    for (name, target) in targets::TARGETS {
        let mut seeds = 0;
        for entry in std::fs::read_dir(root.join(name)).expect("corpus folder") {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("seed");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "fuzz target {name} fails on {}", path.display());
            seeds += 1;
        }
        assert!(seeds > 0, "fuzz target {name} has no seeds");
    }
}

/// Every fuzz target has its cargo-fuzz binary, and the other way round.
#[test]
fn every_target_has_a_fuzz_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut bins: Vec<String> = std::fs::read_dir(dir)
        .expect("fuzz/fuzz_targets exists")
        .map(|e| e.expect("entry").path().file_stem().expect("name").to_string_lossy().into_owned())
        .collect();
    bins.sort();
    let mut names: Vec<String> = targets::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(bins, names);
}
