#!/usr/bin/env bash
# Synapse (Matrix homeserver, from PyPI) for the benchmark: client-server API on
# http://127.0.0.1:8008, no TLS, no federation.
#
#   bench/peers/synapse.sh install|start|stop|pid|status
#
# Installed into a virtual environment ($BENCH_PEERS_DIR/synapse/venv) with
# `pip install matrix-synapse==$SYNAPSE_VERSION psycopg2-binary`. Configuration: the file
# `--generate-config` writes (keys, macaroon secret), overridden by bench.yaml, both in the
# scratch folder. The changes from that generated default, all printed by `start`:
#   - database: PostgreSQL (database synapse_bench, C collation, as Synapse's docs require)
#     when 127.0.0.1:5432 answers (bench/run.sh and .ci/run start it); SQLite otherwise,
#     which Synapse documents as for testing only. The run records which one was used.
#   - every rate limit (rc_message, rc_login, rc_registration, rc_joins, rc_invites, ...)
#     raised to 1,000,000/s with a burst of 1,000,000; the defaults (e.g. rc_message 0.2/s,
#     burst 10) would throttle the workload to a crawl.
#   - enable_registration + enable_registration_without_verification: the load generator
#     registers its accounts with m.login.dummy.
#   - bcrypt_rounds 4 (default 12): account creation and login only, not the message path.
#   - presence disabled (each sync would also carry presence), url previews off, no
#     federation listener, no trusted key servers, report_stats false, log level WARNING.
#   - the database is dropped and made again at each start unless BENCH_KEEP_DATA=1 (see
#     common.sh).
PEER=synapse
source "$(dirname "$0")/common.sh"
DIR="$BENCH_PEERS_DIR/synapse"
PORT=8008
SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
VENV="$DIR/venv"
PY="$VENV/bin/python"

install() {
  mkdir -p "$DIR"
  if [ "$("$PY" -c 'import synapse; print(synapse.__version__)' 2>/dev/null)" != "$SYNAPSE_VERSION" ]; then
    local t=$SECONDS
    python3 -m venv --help >/dev/null 2>&1 || apt_install python3 python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" "psycopg2-binary==2.9.10"
    say "pip installed matrix-synapse $SYNAPSE_VERSION in $((SECONDS - t)) s"
  fi
}

configure() {
  if [ ! -f "$DIR/homeserver.yaml" ]; then
    (cd "$DIR" && "$PY" -m synapse.app.homeserver --server-name localhost --config-path "$DIR/homeserver.yaml" \
      --data-directory "$DIR/data" --generate-config --report-stats=no >/dev/null)
  fi
  local db
  if port_open 5432 && su postgres -c "psql -q -c 'select 1'" >/dev/null 2>&1; then
    if [ "$BENCH_KEEP_DATA" != 1 ] || ! su postgres -c "psql -lqt" | cut -d'|' -f1 | grep -qw synapse_bench; then
      su postgres -c "dropdb --if-exists synapse_bench" >/dev/null 2>&1
      su postgres -c "createdb --encoding=UTF8 --locale=C --template=template0 synapse_bench"
    fi
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    db="database:
  name: psycopg2
  args: {user: postgres, password: postgres, dbname: synapse_bench, host: 127.0.0.1, port: 5432, cp_min: 5, cp_max: 10}"
    echo postgresql > "$DIR/database"
  else
    [ "$BENCH_KEEP_DATA" = 1 ] || rm -rf "$DIR/data/homeserver.db"*
    db="database:
  name: sqlite3
  args: {database: $DIR/data/homeserver.db}"
    echo sqlite > "$DIR/database"
  fi
  local rc="{per_second: 1000000, burst_count: 1000000}"
  cat > "$DIR/log.yaml" <<CFG
version: 1
formatters: {precise: {format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'}}
handlers: {file: {class: logging.FileHandler, formatter: precise, filename: $DIR/homeserver.log}}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
CFG
  cat > "$DIR/bench.yaml" <<CFG
# Written by bench/peers/synapse.sh; see that script for every change from the default.
server_name: localhost
pid_file: $DIR/homeserver.pid
log_config: $DIR/log.yaml
media_store_path: $DIR/data/media_store
listeners:
  - {port: $PORT, bind_addresses: ['127.0.0.1'], type: http, tls: false, x_forwarded: false, resources: [{names: [client], compress: false}]}
$db
enable_registration: true
enable_registration_without_verification: true
bcrypt_rounds: 4
presence: {enabled: false}
url_preview_enabled: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
rc_message: $rc
rc_registration: $rc
rc_registration_token_validity: $rc
rc_login: {address: $rc, account: $rc, failed_attempts: $rc}
rc_admin_redaction: $rc
rc_joins: {local: $rc, remote: $rc}
rc_joins_per_room: $rc
rc_3pid_validation: $rc
rc_invites: {per_room: $rc, per_user: $rc, per_issuer: $rc}
rc_third_party_invite: $rc
rc_federation: {window_size: 1000, sleep_limit: 1000000, sleep_delay: 0, reject_limit: 1000000, concurrent: 1000000}
rc_presence: {per_user: $rc}
rc_delayed_event_mgmt: $rc
rc_room_creation: $rc
CFG
  say "config $DIR/bench.yaml over the generated homeserver.yaml: database $(cat "$DIR/database"), every rc_* limit 1,000,000/s, open registration without verification, bcrypt_rounds 4, presence off, client API on 127.0.0.1:$PORT"
}

start() {
  install
  if pid_alive && port_open $PORT; then say "already running (pid $(cat "$DIR/pid"))"; return 0; fi
  if port_open $PORT; then say "127.0.0.1:$PORT is taken by something else"; return 1; fi
  configure
  rm -f "$DIR/homeserver.pid"
  started_at
  nohup env -C "$DIR" "$PY" -m synapse.app.homeserver -c "$DIR/homeserver.yaml" -c "$DIR/bench.yaml" \
    > "$DIR/stdout.log" 2>&1 < /dev/null &
  echo $! > "$DIR/pid"
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$PORT/_matrix/client/versions" >/dev/null 2>&1 && break
    pid_alive || { say "exited; see $DIR/stdout.log and $DIR/homeserver.log"; tail -n 20 "$DIR/stdout.log" >&2; return 1; }
    sleep 0.2
  done
  wait_port $PORT
  # The pid Synapse itself records (the launcher's may be a wrapper's).
  [ -s "$DIR/homeserver.pid" ] && cp "$DIR/homeserver.pid" "$DIR/pid"
  say "started, pid $(cat "$DIR/pid")"
}

stop() {
  if pid_alive; then
    kill "$(cat "$DIR/pid")"
    # Twisted can take long to stop with keep-alive connections open; the data is throwaway.
    wait_closed $PORT 10 || kill -9 "$(cat "$DIR/pid")" 2>/dev/null || true
    wait_closed $PORT
    wait_gone
    say "stopped"
  fi
  rm -f "$DIR/pid"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  # Synapse's process, then the PostgreSQL backends serving it (their CPU counts too).
  pid) pid_alive && { cat "$DIR/pid"; pgrep -f "^postgres: .* synapse_bench " || true; } ;;
  status) pid_alive && port_open $PORT && echo running || { echo stopped; exit 1; } ;;
  *) echo "usage: $0 install|start|stop|pid|status" >&2; exit 2 ;;
esac
