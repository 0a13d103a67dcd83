#!/usr/bin/env bash
# Runs every benchmark scenario against the release `heliograph` binary, the bare relay
# baseline (pairs, idle) and the peers (Prosody, ejabberd, Synapse; installed, configured and
# started by bench/peers/*.sh; every scenario but channel), writes JSON under bench/results/,
# the PNG plots bench/latency-cdf.png and bench/throughput.png, and docs/benchmarks.md.
#
#   bench/run.sh            full sizes (roughly 45 minutes on 2 cores: an estimate, not yet timed
#                           since the peers run in every scenario)
#   bench/run.sh --quick    small sizes (4 minutes measured, peers included, build done)
#   bench/run.sh --smoke    --quick sizes (smaller still for idle, group, catchup and
#                           coldstart), outputs under target/bench-smoke (the committed
#                           results stay), and fails if a peer could not be measured (.ci/run)
#
# HELIOGRAPH_BIN=/path/to/heliograph measures another build of the server.
# BENCH_TARGETS=relay,heliograph,prosody,ejabberd,synapse chooses the targets (all by default;
# the relay runs in pairs and idle only, channel is Heliograph's alone).
# BENCH_SCENARIOS="pairs idle channel group catchup coldstart search" chooses scenarios
# (report.py renders whatever results are in the output folder).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 smoke=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --smoke) quick=1 smoke=1 ;;
    *) echo "usage: $0 [--quick|--smoke]" >&2; exit 2 ;;
  esac
done

# BENCH_NO_BUILD=1 skips the build (measure binaries built earlier).
# BENCH_PROFILE=dev measures debug builds (the CI smoke run reuses its test build; its
# figures mean nothing, it only proves every target still runs).
profile="${BENCH_PROFILE:-release}"
[[ -n "${BENCH_NO_BUILD:-}" ]] || cargo build ${CI:+--locked} --profile "$profile" -p heliograph-bench -p heliograph-server --bin heliograph --bin heliograph-bench
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin_dir="$target_dir/$([[ $profile == dev ]] && echo debug || echo "$profile")"
bench="$bin_dir/heliograph-bench"
server="${HELIOGRAPH_BIN:-$bin_dir/heliograph}"
# BENCH_OUT, BENCH_PLOT_DIR and BENCH_DOC move the outputs.
if [[ $smoke == 1 ]]; then
  : "${BENCH_OUT:=$target_dir/bench-smoke/results}" "${BENCH_PLOT_DIR:=$target_dir/bench-smoke}" "${BENCH_DOC:=$target_dir/bench-smoke/benchmarks.md}"
fi
out="${BENCH_OUT:-bench/results}"
plots="${BENCH_PLOT_DIR:-bench}"
doc="${BENCH_DOC:-docs/benchmarks.md}"
targets="${BENCH_TARGETS:-relay,heliograph,prosody,ejabberd,synapse}"
# group, catchup and coldstart have no relay variant (it has no groups, storage or data).
stored="$(tr , '\n' <<< "$targets" | grep -vx relay | paste -sd, -)"
scenarios=" ${BENCH_SCENARIOS:-pairs idle channel group catchup coldstart search} "
mkdir -p "$out" "$plots"
# The plots' text needs a TrueType font.
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf >/dev/null 2>&1 \
  || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; } || true
run() { "$bench" --server-bin "$server" --out "$out" "$@"; }
want() { [[ "$scenarios" == *" $1 "* ]]; }
t0=$SECONDS

if [[ $quick == 1 ]]; then
  want pairs && run --reps 1 pairs --target "$targets" --pairs 20 --duration 3 --warmup 1 --curve 0.5
  if [[ $smoke == 1 ]]; then
    # Only proves every target still runs (their figures mean nothing in a debug build): the
    # scenarios the peers join at the smallest sizes that exercise them, as their time goes to
    # starting and stopping the peers.
    idle=(--connections 50)
    group=(--members 20 --senders 4 --duration 1 --warmup 0.5 --synapse-members 10 --synapse-senders 2)
    catchup=(--messages 1000 --senders 8 --synapse-messages 100)
    coldstart=(--db-mib 5 --starts 1)
    search=(--messages 20000 --chats 100 --reader-chats 20 --send-seconds 2 --senders 2 --passes 1)
  else
    idle=(--connections 200)
    group=(--members 100 --senders 10 --duration 3 --warmup 1 --synapse-members 50 --synapse-senders 5)
    catchup=(--messages 5000 --synapse-messages 300)
    coldstart=(--db-mib 20 --starts 3)
    search=(--messages 300000 --chats 1000 --reader-chats 100 --send-seconds 5 --passes 1)
  fi
  want idle && run --reps 1 idle --target "$targets" "${idle[@]}"
  want channel && run --reps 1 channel --subscribers 500 --online 100 --posts 3
  want group && run --reps 1 group --target "$stored" "${group[@]}"
  want catchup && run --reps 1 catchup --target "$stored" "${catchup[@]}"
  want coldstart && run --reps 1 coldstart --target "$stored" "${coldstart[@]}"
  want search && run --reps 1 search "${search[@]}" --work "$target_dir/bench-search" --plot "$plots/search-latency.png"
else
  want pairs && run --reps 3 pairs --target "$targets" --pairs 100 --inflight 4 --duration 10 --warmup 2 --curve 0.25,0.5,0.75
  want idle && run --reps 3 idle --target "$targets" --connections 2000
  want channel && run --reps 3 channel --subscribers 1000000 --online 10000 --posts 10
  # Synapse at a smaller size where the full one would take many minutes (docs/benchmarks.md says why).
  want group && run --reps 3 group --target "$stored" --members 500 --senders 50 --duration 10 --warmup 2 --synapse-members 100 --synapse-senders 10
  want catchup && run --reps 1 catchup --target "$stored" --messages 100000 --ejabberd-messages 20000 --synapse-messages 2000
  want coldstart && run --reps 1 coldstart --target "$stored" --db-mib 1024 --starts 5
  # 10 million messages in 10,000 chats, embedded, then PostgreSQL ($HELIOGRAPH_TEST_POSTGRES).
  want search && run --reps 1 search --work "$target_dir/bench-search" --plot "$plots/search-latency.png"
fi
echo "scenarios took $((SECONDS - t0)) s" >&2
# The plots draw pairs (absent when BENCH_SCENARIOS leaves it out).
[[ ! -f "$out/pairs.json" ]] || "$bench" plot --input "$out/pairs.json" --output "$plots/latency-cdf.png" --throughput "$plots/throughput.png"
BENCH_PLOT_PREFIX="$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], os.path.dirname(os.path.abspath(sys.argv[2]))))' "$plots" "$doc")" \
  BENCH_KEEP_FROM="$doc" python3 bench/report.py "$out" > "$doc.new"
mv "$doc.new" "$doc"
echo "wrote $doc"
if [[ $smoke == 1 ]]; then
  # Every requested target of every scenario run must have been measured (pairs and group:
  # delivered messages; idle: held connections; catchup: received messages; coldstart: a login).
  python3 - "$out" "$targets" "$scenarios" <<'PY'
import json, os, sys
out, targets, scenarios = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split()
figure = {"pairs": "delivered_per_s", "idle": "connections", "group": "deliveries_per_s", "catchup": "received", "coldstart": "login_ms"}
bad, good = [], []
for sc, key in figure.items():
    if sc not in scenarios:
        continue
    d = json.load(open(os.path.join(out, sc + ".json")))
    for t in targets:
        if t == "relay" and sc not in ("pairs", "idle"):
            continue
        v = (d["median"].get(t) or {}).get(key)
        if v:
            good.append(f"{sc} {t} {key} {v:.0f}")
        else:
            bad.append(f"{sc} {t}: {d.get('errors', {}).get(t, 'no result')}")
if "search" in scenarios:
    d = json.load(open(os.path.join(out, "search.json")))
    engines = ["embedded"] + (["postgres"] if os.environ.get("HELIOGRAPH_TEST_POSTGRES") else [])
    for e in engines:
        n = ((d["median"].get(e) or {}).get("all_queries") or {}).get("samples")
        (good if n else bad).append(f"search {e} queries {n}")
if bad:
    sys.exit("bench smoke: not measured: " + "; ".join(bad))
print("bench smoke: measured " + ", ".join(good))
PY
fi
