#!/usr/bin/env bash
# ejabberd (Debian's package) for the benchmark: c2s on 127.0.0.1:5222, plain TCP.
#
#   bench/peers/ejabberd.sh install|start|stop|pid|status
#
# Configuration written to $BENCH_PEERS_DIR/ejabberd/ (ejabberd.yml, ejabberdctl.cfg, inetrc;
# not /etc), started with `ejabberdctl --config-dir ... --spool ... --logs ...` under its own
# node name (ejabberd-bench@localhost) so it does not collide with a system ejabberd. The
# changes from Debian's /etc/ejabberd/ejabberd.yml and ejabberdctl, all printed by `start`:
#   - shaper: Debian's `c2s_shaper: normal` for every non-admin user, with
#     `normal: rate 3000` (3,000 bytes/s per connection), becomes `c2s_shaper: none`.
#   - Erlang VM limits: ejabberdctl's `ERL_PROCESSES=250000` (+P) becomes 2,000,000 and
#     ERL_MAX_PORTS 32,000 becomes 1,000,000; max_fsm_queue (c2s process message queue)
#     1,000,000 (ejabberd: 10,000); the catchup scenario's 100,000 offline messages reach the
#     session's process at once when it logs in.
#   - mod_stream_mgmt's max_ack_queue 1,000,000 (ejabberd: 5,000, above which it ends the
#     session): the offline backlog arrives in one burst, faster than the client's acks can
#     come back, and a session ended at 5,000 never receives the rest.
#   - starttls_required: true becomes false on 127.0.0.1:5222 (SASL PLAIN over plain TCP on
#     localhost; the load generator speaks no TLS, and Heliograph is measured over ws:// too).
#   - backlog 1024 on that listener (ejabberd: 5 pending connections; the idle scenario opens
#     64 at a time, and with 5 some were reset).
#   - mod_register loaded with `ip_access: all` and `registration_timeout: infinity`
#     (Debian: commented out; ejabberd's default allows one registration per IP per 600 s),
#     so the load generator makes its accounts over XMPP (XEP-0077).
#   - mod_fail2ban not loaded (it bans an address after repeated auth failures).
#   - loaded modules: disco, roster, offline, ping, register, stream_mgmt (XEP-0198), caps,
#     muc, carboncopy-free; no mod_mam (commented out in Debian's config too), so a message to
#     an online user is routed in memory and never written to disk. Mnesia spool in the
#     scratch folder, deleted at each start unless BENCH_KEEP_DATA=1 (see common.sh). Log
#     level warning.
#   - max_user_offline_messages 1,000,000 for every user (Debian: 100, admins 5,000): the
#     catchup scenario leaves 100,000 messages for one offline user.
#   - mod_muc on conference.localhost (ejabberd's default host; Debian loads it too) with
#     max_users 100,000 for the service and in default_room_options (ejabberd: 200), and
#     Debian's `mam: true` room option dropped (no mod_mam). Everything else as ejabberd's
#     defaults: history_size 20 (members ask for none on entering), max_users_presence 1,000,
#     no room or user message shaper, min_message_interval 0, anyone may create rooms.
#   - max_user_sessions 10 (as Debian); s2s off.
PEER=ejabberd
source "$(dirname "$0")/common.sh"
DIR="$BENCH_PEERS_DIR/ejabberd"
PORT=5222
NODE=ejabberd-bench@localhost

install() { apt_install ejabberd; }

ctl() { ejabberdctl --config-dir "$DIR" --spool "$DIR/spool" --logs "$DIR/logs" --node "$NODE" "$@"; }

configure() {
  [ "$BENCH_KEEP_DATA" = 1 ] || rm -rf "$DIR/spool"
  mkdir -p "$DIR/spool" "$DIR/logs"
  self_signed "$DIR"
  cp /etc/ejabberd/inetrc "$DIR/inetrc"
  # ejabberdctl starts the VM through su, whose PAM session sets the soft open-files limit
  # back to 1,024 (too few for the idle scenario's 2,000 streams): the VM starts through this
  # wrapper, which raises it to the hard limit first, as common.sh does for the other peers.
  printf '#!/bin/sh\nulimit -n "$(ulimit -Hn)" 2>/dev/null || true\nexec /usr/bin/erl "$@"\n' > "$DIR/erl"
  chmod 755 "$DIR/erl"
  cat > "$DIR/ejabberdctl.cfg" <<CFG
# Written by bench/peers/ejabberd.sh. Debian: ERL_PROCESSES=250000, ERL_MAX_PORTS=32000.
ERL=$DIR/erl
ERL_PROCESSES=2000000
ERL_MAX_PORTS=1000000
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$DIR/ejabberd.pid
CFG
  cat > "$DIR/ejabberd.yml" <<CFG
# Written by bench/peers/ejabberd.sh; see that script for every change from Debian's config.
hosts:
  - localhost
loglevel: warning
log_rotate_count: 0
certfiles:
  - "$DIR/localhost.pem"
listen:
  -
    port: $PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
    starttls_required: false
    # ejabberd: a queue of 5 pending connections.
    backlog: 1024
max_fsm_queue: 1000000
registration_timeout: infinity
auth_method: internal
acl:
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
      - ::1/128
access_rules:
  local:
    allow: local
  c2s:
    deny: blocked
    allow: all
  register:
    allow: all
shaper:
  normal:
    rate: 3000
    burst_size: 20000
  fast: 200000
shaper_rules:
  max_user_sessions: 10
  # Debian: "5000: admin; 100: all".
  max_user_offline_messages: 1000000
  # Debian: "none: admin; normal: all" (3,000 bytes/s for every user).
  c2s_shaper: none
  s2s_shaper: fast
modules:
  mod_caps: {}
  mod_disco: {}
  mod_muc:
    host: conference.localhost
    # ejabberd: 200 occupants per room at most, and 200 in a new room's configuration.
    max_users: 100000
    default_room_options:
      max_users: 100000
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_register:
    ip_access: all
    access: register
  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
    # ejabberd: 5,000 unacknowledged stanzas at most, then the session is ended.
    max_ack_queue: 1000000
CFG
  chown -R ejabberd:ejabberd "$DIR"
  say "config $DIR/ejabberd.yml: c2s_shaper none (Debian: normal = 3,000 B/s), ERL_PROCESSES 2,000,000 (Debian: 250,000), ERL_MAX_PORTS 1,000,000, max_fsm_queue 1,000,000, max_ack_queue 1,000,000 (ejabberd: 5,000), no STARTTLS requirement and backlog 1,024 (ejabberd: 5) on 127.0.0.1:$PORT, open in-band registration without the 600 s per-IP timeout, stream management on, max_user_offline_messages 1,000,000 (Debian: 100), MUC on conference.localhost with max_users 100,000 (ejabberd: 200), Mnesia spool in $DIR/spool$([ "$BENCH_KEEP_DATA" = 1 ] && echo ' (kept)' || echo ' (emptied)')"
}

beam_pid() {
  # The VM running our node (its command line names the node).
  pgrep -f -- "-sname $NODE|-name $NODE" | head -n1 || pgrep -u ejabberd -f "beam.smp.*${NODE%@*}" | head -n1
}

start() {
  install
  if port_open $PORT && [ -n "$(beam_pid)" ]; then say "already running (pid $(beam_pid))"; return 0; fi
  if port_open $PORT; then say "127.0.0.1:$PORT is taken by something else (prosody? run its stop)"; return 1; fi
  configure
  started_at
  ctl start
  wait_port $PORT
  ctl started >/dev/null 2>&1 || true
  beam_pid > "$DIR/pid"
  say "started, pid $(cat "$DIR/pid")"
  if [ "$BENCH_ACCOUNTS" -gt 0 ]; then
    for i in $(seq 0 $((BENCH_ACCOUNTS - 1))); do ctl register "bench$i" localhost bench >/dev/null 2>&1 || true; done
    say "registered $BENCH_ACCOUNTS accounts (password bench)"
  fi
}

stop() {
  if [ -n "$(beam_pid)" ]; then
    ctl stop >/dev/null 2>&1 || true
    ctl stopped >/dev/null 2>&1 || true
    wait_closed $PORT || { p=$(beam_pid); [ -n "$p" ] && kill -9 "$p"; }
    say "stopped"
  fi
  rm -f "$DIR/pid"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  pid) p=$(beam_pid); [ -n "$p" ] && echo "$p" ;;
  status) port_open $PORT && [ -n "$(beam_pid)" ] && echo running || { echo stopped; exit 1; } ;;
  *) echo "usage: $0 install|start|stop|pid|status" >&2; exit 2 ;;
esac
