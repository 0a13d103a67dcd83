#!/usr/bin/env bash
# Fuzzes every target in turn, each for DURATION (seconds, or with a unit: 90s, 10m, 2h).
#
#   fuzz/run-all.sh 10m            # every target, ten minutes each
#   JOBS=2 fuzz/run-all.sh 1h      # two libFuzzer processes per target
#   TARGETS="strict_json egress_url" fuzz/run-all.sh 30s
#
# Runs on the stable toolchain, without cargo-fuzz: the targets are built with the
# instrumentation cargo-fuzz's `--sanitizer none` gives (SanitizerCoverage counters and
# comparison tracing, `--cfg fuzzing`, debug assertions and overflow checks), linked with
# libFuzzer by libfuzzer-sys (which needs a C++ compiler). AddressSanitizer needs nightly; our
# crates forbid unsafe code, so what it would add lies in dependencies (`cargo +nightly fuzz
# run TARGET` still works where nightly is installed). Seeds are read from corpus/<target>/
# and never modified; what libFuzzer learns goes to corpus-run/<target>/ (ignored by git),
# crashes to artifacts/<target>/. A crash found here becomes a file in corpus/<target>/ (so
# `cargo test` replays it forever) plus a fix.
set -euo pipefail
cd "$(dirname "$0")"

duration="${1:?usage: run-all.sh DURATION (e.g. 60, 90s, 10m, 2h)}"
case "$duration" in
  *h) secs=$(( ${duration%h} * 3600 )) ;;
  *m) secs=$(( ${duration%m} * 60 )) ;;
  *s) secs=${duration%s} ;;
  *) secs=$duration ;;
esac
jobs="${JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi

targets="${TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^heliograph-fuzz$')}"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
start=$(date +%s)
bins=()
for t in $targets; do bins+=(--bin "$t"); done
cargo build --locked --release --target "$triple" "${bins[@]}"
echo "== built in $(( $(date +%s) - start ))s"
for t in $targets; do
  mkdir -p "corpus-run/$t" "artifacts/$t"
  echo "== $t: ${secs}s x ${jobs} job(s)"
  "target/$triple/release/$t" "corpus-run/$t" "corpus/$t" \
    -max_total_time="$secs" ${parallel[@]+"${parallel[@]}"} \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1
done
echo "== done: $(( $(date +%s) - start ))s wall, about $(( secs * jobs ))s of CPU per target"
