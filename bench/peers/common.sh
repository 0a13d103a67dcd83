# Shared by bench/peers/*.sh (sourced). Each peer gets a scratch folder under
# $BENCH_PEERS_DIR (default /tmp/heliograph-bench-peers/<peer>) holding its configuration,
# data, logs and pid file; nothing under /etc is changed.
set -euo pipefail
BENCH_PEERS_DIR="${BENCH_PEERS_DIR:-/tmp/heliograph-bench-peers}"
# How many accounts (bench0 .. bench<N-1>) the scripts make; the load generator registers
# more itself (in-band registration / open registration) if it needs them.
BENCH_ACCOUNTS="${BENCH_ACCOUNTS:-0}"
# `start` begins on empty data (accounts, offline messages, rooms and the database of an
# earlier run are deleted), as Heliograph's scenarios start on a fresh data folder.
# BENCH_KEEP_DATA=1 starts on the data of the last run instead: the load generator restarts
# a peer that way (idle: after making the accounts; coldstart: each measured start).
BENCH_KEEP_DATA="${BENCH_KEEP_DATA:-0}"

say() { echo "[$PEER] $*" >&2; }

# Every peer holds thousands of connections in the idle scenario (2,000 at full size): its
# soft open-files limit is raised to the hard one (the shell's default soft limit is 1,024;
# at it Prosody stopped accepting at 1,021 streams and the run waited forever). Recorded in
# bench/peers/README.md; Heliograph's server raises its own limit the same way.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 300); do port_open "$1" && return 0; sleep 0.2; done
  say "nothing listens on 127.0.0.1:$1 after 60 s; see the logs in $DIR"
  return 1
}

wait_closed() {
  local secs=${2:-30}
  for _ in $(seq 1 $((secs * 5))); do port_open "$1" || return 0; sleep 0.2; done
  say "127.0.0.1:$1 still open after $secs s"
  return 1
}

apt_install() {
  if ! dpkg -s "$@" >/dev/null 2>&1; then
    say "apt-get install $*"
    local t=$SECONDS
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ] || apt-get update -qq
    # The packages' own services are not started here (no systemd in CI; policy-rc.d below).
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    say "installed $* in $((SECONDS - t)) s"
  fi
}

# A self-signed certificate for localhost (key + cert in one PEM and separately).
self_signed() {
  local dir=$1
  [ -f "$dir/localhost.crt" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -keyout "$dir/localhost.key" -out "$dir/localhost.crt" 2>/dev/null
  cat "$dir/localhost.key" "$dir/localhost.crt" > "$dir/localhost.pem"
  say "made a self-signed certificate for localhost in $dir"
}

# On stdout, for the coldstart scenario: the moment the server process is launched (ns).
started_at() { echo "started_at $(date +%s%N)"; }

pid_alive() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }

# Waits (10 s, then SIGKILL) until the server process is gone, not only its port: a restart
# must not find it still running (its pid file, its database connections).
wait_gone() {
  for _ in $(seq 1 100); do pid_alive || return 0; sleep 0.1; done
  kill -9 "$(cat "$DIR/pid")" 2>/dev/null || true
}
