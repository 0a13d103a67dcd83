#!/usr/bin/env bash
# Prosody (Debian's package) for the benchmark: c2s on 127.0.0.1:5222, plain TCP.
#
#   bench/peers/prosody.sh install|start|stop|pid|status
#
# Configuration written to $BENCH_PEERS_DIR/prosody/prosody.cfg.lua (not /etc); the changes
# from Debian's /etc/prosody/prosody.cfg.lua, all printed by `start`:
#   - mod_limits is not loaded: Debian's `limits.c2s.rate = "10kb/s"` throttles every client
#     connection to 10 kB/s.
#   - c2s_require_encryption = false and allow_unencrypted_plain_auth = true: SASL PLAIN over
#     plain TCP on localhost (the load generator speaks no TLS; Heliograph is measured over
#     plain ws:// too).
#   - in-band registration (mod_register) open, with 127.0.0.1 on the registration whitelist
#     (no throttle), so the load generator makes its accounts over XMPP.
#   - data_path, pidfile and logs in the scratch folder; log level warn (info logs every
#     connection); a self-signed localhost certificate there too (Debian ships a
#     snakeoil link only when the postinst could make one).
#   - loaded modules: the stream essentials (saslauth, tls, disco, roster, ping, register,
#     smacks = XEP-0198 stream management, posix; offline is always loaded by Prosody itself);
#     Debian's extras (pep, vcard, carbons, bookmarks, invites, csi, blocklist, ...) are not
#     loaded, as none takes part in delivering a message. No message archive (mod_mam is off
#     in Debian's config too), so a message to an online user is routed in memory and never
#     written to disk; one to an offline user goes to mod_offline's store.
#   - storage_archive_item_limit = 1,000,000 (Prosody's default for its internal storage:
#     10,000 items per archive, and mod_offline keeps a user's offline messages in one; the
#     catchup scenario leaves 100,000 messages for one user).
#   - a MUC service, `Component "conference.localhost" "muc"` (Debian's config has it
#     commented out), with its defaults: no occupant limit, rooms locked until their owner
#     configures them (the load generator accepts the default configuration: an instant
#     room), 20 messages of history kept per room (members ask for none on entering), no
#     rate limit (mod_muc_limits is not loaded).
#   - data deleted at each start unless BENCH_KEEP_DATA=1 (see common.sh).
PEER=prosody
source "$(dirname "$0")/common.sh"
DIR="$BENCH_PEERS_DIR/prosody"
PORT=5222

install() { apt_install prosody lua-unbound 2>/dev/null || apt_install prosody; }

configure() {
  [ "$BENCH_KEEP_DATA" = 1 ] || rm -rf "$DIR/data"
  mkdir -p "$DIR/data" /run/prosody
  rm -f "$DIR/prosody.log"
  self_signed "$DIR"
  cat > "$DIR/prosody.cfg.lua" <<CFG
-- Written by bench/peers/prosody.sh; see that script for every change from Debian's config.
admins = { }
modules_enabled = {
  "saslauth"; "tls"; "disco"; "roster"; "ping"; "register"; "smacks"; "posix";
}
modules_disabled = { "s2s"; }
-- Debian: limits = { c2s = { rate = "10kb/s" } } through mod_limits, which is not loaded.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
registration_whitelist = { "127.0.0.1", "::1" }
min_seconds_between_registrations = 0
authentication = "internal_hashed"
storage = "internal"
-- Prosody: 10,000 items per archive of the internal storage (mod_offline's store too).
storage_archive_item_limit = 1000000
data_path = "$DIR/data"
pidfile = "$DIR/prosody.pid"
c2s_ports = { $PORT }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { }
https_ports = { }
log = { warn = "$DIR/prosody.log" }
certificates = "$DIR"
VirtualHost "localhost"
  ssl = { key = "$DIR/localhost.key"; certificate = "$DIR/localhost.crt" }
-- Group chats (XEP-0045), commented out in Debian's config.
Component "conference.localhost" "muc"
CFG
  chown -R prosody:prosody "$DIR" /run/prosody 2>/dev/null || true
  say "config $DIR/prosody.cfg.lua: mod_limits off (Debian: c2s 10 kb/s), plain c2s + PLAIN on 127.0.0.1:$PORT, open in-band registration, stream management on, MUC on conference.localhost, storage_archive_item_limit 1,000,000 (Prosody: 10,000), data in $DIR/data$([ "$BENCH_KEEP_DATA" = 1 ] && echo ' (kept)' || echo ' (emptied)')"
}

start() {
  install
  if pid_alive && port_open $PORT; then say "already running (pid $(cat "$DIR/pid"))"; return 0; fi
  if port_open $PORT; then say "127.0.0.1:$PORT is taken by something else (ejabberd? run its stop)"; return 1; fi
  configure
  # -F: stay in the foreground (we background it), as user prosody (it refuses root).
  # No instance of ours runs (checked above): a pid file left behind names a process that is
  # gone, or by now another one with the same number, and Prosody would refuse to start.
  rm -f "$DIR/pid" "$DIR/prosody.pid"
  started_at
  nohup runuser -u prosody -- sh -c 'ulimit -n "$(ulimit -Hn)"; echo $$ > "$0"; exec prosody --config "$1" -F' "$DIR/pid" "$DIR/prosody.cfg.lua" > "$DIR/stdout.log" 2>&1 &
  wait_port $PORT
  say "started, pid $(cat "$DIR/pid")"
  if [ "$BENCH_ACCOUNTS" -gt 0 ]; then
    for i in $(seq 0 $((BENCH_ACCOUNTS - 1))); do
      printf 'bench\nbench\n' | prosodyctl --config "$DIR/prosody.cfg.lua" adduser "bench$i@localhost" >/dev/null 2>&1 || true
    done
    say "registered $BENCH_ACCOUNTS accounts (password bench)"
  fi
}

stop() {
  if pid_alive; then
    kill "$(cat "$DIR/pid")"
    wait_closed $PORT || kill -9 "$(cat "$DIR/pid")" 2>/dev/null || true
    wait_gone
    say "stopped"
  fi
  rm -f "$DIR/pid"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  pid) pid_alive && cat "$DIR/pid" ;;
  status) pid_alive && port_open $PORT && echo running || { echo stopped; exit 1; } ;;
  *) echo "usage: $0 install|start|stop|pid|status" >&2; exit 2 ;;
esac
