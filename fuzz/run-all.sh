#!/usr/bin/env bash
# Fuzzes every target in turn, each for DURATION (seconds, or with a unit: 90s, 10m, 2h).
#
#   fuzz/run-all.sh 10m            # six targets, ten minutes each
#   JOBS=2 fuzz/run-all.sh 1h      # two libFuzzer processes per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`rustup toolchain
# install nightly`). Seeds are read from corpus/<target>/ and never modified; what libFuzzer
# learns goes to corpus-run/<target>/ (ignored by git), crashes to artifacts/<target>/.
# A crash found here becomes a file in corpus/<target>/ (so `cargo test` replays it forever)
# plus a fix.
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

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^heliograph-fuzz$')
start=$(date +%s)
for t in $targets; do
  mkdir -p "corpus-run/$t" "artifacts/$t"
  echo "== $t: ${secs}s x ${jobs} job(s)"
  cargo +nightly fuzz run "$t" "corpus-run/$t" "corpus/$t" -- \
    -max_total_time="$secs" ${parallel[@]+"${parallel[@]}"} \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1
done
echo "== done: $(( $(date +%s) - start ))s wall, about $(( secs * jobs ))s of CPU per target"
