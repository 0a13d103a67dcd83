#!/usr/bin/env bash
# Runs every benchmark scenario against the release `heliograph` binary (and the bare relay
# baseline), writes JSON under bench/results/, the latency plot bench/latency-cdf.svg and
# docs/benchmarks.md.
#
#   bench/run.sh            full sizes (about 6 minutes on 2 cores)
#   bench/run.sh --quick    small sizes (under a minute), for CI smoke runs
#
# HELIOGRAPH_BIN=/path/to/heliograph measures another build of the server.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

# BENCH_NO_BUILD=1 skips the build (measure binaries built earlier).
[[ -n "${BENCH_NO_BUILD:-}" ]] || cargo build --release -p heliograph-bench -p heliograph-server --bin heliograph --bin heliograph-bench
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bench="$target_dir/release/heliograph-bench"
server="${HELIOGRAPH_BIN:-$target_dir/release/heliograph}"
# BENCH_OUT, BENCH_PLOT and BENCH_DOC move the outputs (e.g. for a smoke run that must not
# overwrite the committed results).
out="${BENCH_OUT:-bench/results}"
plot="${BENCH_PLOT:-bench/latency-cdf.svg}"
doc="${BENCH_DOC:-docs/benchmarks.md}"
mkdir -p "$out"
run() { "$bench" --server-bin "$server" --out "$out" "$@"; }

if [[ $quick == 1 ]]; then
  run --reps 1 pairs --pairs 20 --duration 3 --warmup 1
  run --reps 1 idle --connections 200
  run --reps 1 channel --subscribers 500 --online 100 --posts 3
  run --reps 1 group --members 100 --senders 10 --duration 3 --warmup 1
  run --reps 1 catchup --messages 5000
  run --reps 1 coldstart --db-mib 20 --starts 3
else
  run --reps 3 pairs --pairs 100 --inflight 4 --duration 10 --warmup 2
  run --reps 3 idle --connections 2000
  run --reps 3 channel --subscribers 5000 --online 1000 --posts 10
  run --reps 3 group --members 500 --senders 50 --duration 10 --warmup 2
  run --reps 1 catchup --messages 100000
  run --reps 1 coldstart --db-mib 1024 --starts 5
fi
"$bench" plot --input "$out/pairs.json" --output "$plot"
python3 bench/report.py "$out" > "$doc"
echo "wrote $doc"
