#!/usr/bin/env bash
# s3-server.sh: the S3-compatible server of the tests and benchmarks: OpenStack Swift 2.30 with
# its s3api middleware + tempauth + memcached (Debian bookworm's packages, unpacked into
# .tools/swift by scripts/setup.sh), one replica, one device (a directory), all on 127.0.0.1.
#
#   s3-server.sh start DIR PORT|auto [WATCH_PID [remove]]
#       S3 on 127.0.0.1:PORT; the backends use PORT+1 (object), PORT+2 (container), PORT+3
#       (account), PORT+4 (memcached). `auto` picks free ports (and tries others when a port is
#       taken meanwhile). With WATCH_PID, a watchdog (started before the servers) stops the
#       server as soon as that process is gone, so an interrupted or killed test run leaves
#       nothing running; with `remove` it then deletes DIR too (a test run's scratch).
#   s3-server.sh stop DIR
#   s3-server.sh restart DIR
#       starts again the servers of DIR that are gone (a killed proxy), on the same ports
#   s3-server.sh status DIR
#
# `start` waits until every backend's /healthcheck answers and a SigV4-signed ListBuckets
# succeeds, writes DIR/s3.env (shell exports) and prints one line on stdout:
#   S3 endpoint=http://127.0.0.1:PORT access_key=test:tester secret_key=testing region=us-east-1 pids=... dir=DIR
# Data survives stop/start of the same DIR; delete DIR for a clean slate.
#
# Environment: S3_ACCESS_KEY (ACCOUNT:USER, tempauth form, no '_'; default test:tester),
# S3_SECRET_KEY (default testing), S3_REGION (default us-east-1), S3_START_TIMEOUT (seconds,
# default 180), CB_SWIFT_ROOT (the unpacked packages; default .tools/swift/root).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
PY=/usr/bin/python3   # Debian's python: the packages are built for it, not for a python3 on PATH
ROOT=${CB_SWIFT_ROOT:-$HERE/../.tools/swift/root}
PYP=$ROOT/usr/lib/python3/dist-packages
LDP=$ROOT/usr/lib/x86_64-linux-gnu
AK=${S3_ACCESS_KEY:-test:tester}
SK=${S3_SECRET_KEY:-testing}
REGION=${S3_REGION:-us-east-1}
TIMEOUT=${S3_START_TIMEOUT:-180}
SERVERS="account container object proxy"
ALL="memcached $SERVERS"
WATCH=
REMOVE=
CMDLINE=

die() { echo "s3-server.sh: $*" >&2; exit 1; }
log() { echo "s3-server.sh: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

check_install() {
  [ -x $PY ] || die "$PY is missing (Debian's python3 runs Swift)"
  [ -f "$ROOT/usr/lib/python3/dist-packages/swift/__init__.py" ] && [ -x "$ROOT/usr/bin/memcached" ] \
    || die "Swift is not installed in $ROOT: run '. scripts/setup.sh' first"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports_free() { local p; for p in $1 $(($1+1)) $(($1+2)) $(($1+3)) $(($1+4)); do if port_busy $p; then return 1; fi; done; }
# http_ok PORT: GET /healthcheck answers 200 (bash only, no forks: polled often)
http_ok() {
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /healthcheck HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 5 line <&3 || line=
  exec 3<&-
  [[ $line == HTTP/1.?" 200"* ]]
}
# alive PIDFILE MARKER: the pid runs (zombies count as gone) and its command line contains
# MARKER, so a recycled pid is never taken for ours.
alive() {
  local pid
  [ -f "$1" ] && read -r pid <"$1" && alive_pid "$pid" "$2"
}
# live_cmdline PID: sets CMDLINE to the pid's command line (" arg1 arg2 ... "); fails when the pid
# does not run (a zombie counts as gone).
live_cmdline() {
  local line st IFS=' '
  local -a arg
  [[ $1 =~ ^[0-9]+$ ]] && [ -r "/proc/$1/stat" ] || return 1
  read -r line <"/proc/$1/stat" 2>/dev/null || return 1
  st=${line##*) }; st=${st%% *}
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  mapfile -d '' arg <"/proc/$1/cmdline" 2>/dev/null || return 1
  CMDLINE=" ${arg[*]} "
}
alive_pid() { live_cmdline "$1" && [[ $CMDLINE == *"$2"* ]]; }  # PID MARKER
marker() {  # DIR SERVER -> a string only our process has in its command line
  case $2 in
    memcached) echo "memcached -l 127.0.0.1 -p $(( $(cat "$1/etc/port" 2>/dev/null || echo 0) + 4 )) -U 0 " ;;
    watch) echo "s3-server.sh watch $1 " ;;
    *) echo "$1/etc/$2-server.conf" ;;
  esac
}
up() { alive "$1/run/$2.pid" "$(marker "$1" "$2")"; }

write_conf() {  # DIR PORT ; rewritten at every start, except swift.conf (its hash salt never changes)
  local dir=$1 port=$2 e=$1/etc s p
  mkdir -p "$e" "$dir/srv/node/d1" "$dir/run" "$dir/log"
  if [ ! -f "$e/swift.conf" ]; then
    cat >"$e/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
swift_hash_path_prefix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
EOF
  fi
  local common="bind_ip = 127.0.0.1
user = $(id -un)
swift_dir = $e
devices = $dir/srv/node
mount_check = false
workers = 0
log_level = INFO"
  for s in account container object; do
    case $s in object) p=$((port+1));; container) p=$((port+2));; account) p=$((port+3));; esac
    cat >"$e/$s-server.conf" <<EOF
[DEFAULT]
bind_port = $p
$common

[pipeline:main]
pipeline = healthcheck $s-server

[app:$s-server]
use = egg:swift#$s

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  done
  cat >"$e/proxy-server.conf" <<EOF
[DEFAULT]
bind_port = $port
$common

[pipeline:main]
# upstream all-in-one order: s3api just before the auth filter (tempauth), slo after both
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# default 10 s; slack for a loaded 2-core machine
node_timeout = 30

[filter:s3api]
use = egg:swift#s3api
location = $REGION
# S3's limit is 10000 parts (Swift's default 1000); slo's max_manifest_segments too
max_upload_part_num = 10000

[filter:tempauth]
use = egg:swift#tempauth
user_${AK%%:*}_${AK#*:} = $SK .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$((port+4))

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_object_versioning = true

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000
EOF
  # The filters used with their defaults: the egg's name is the filter's, '-' written '_'.
  for s in catch_errors gatekeeper healthcheck proxy-logging listing_formats copy dlo symlink; do
    printf '[filter:%s]\nuse = egg:swift#%s\n' "$s" "${s//-/_}"
  done >>"$e/proxy-server.conf"
  # Swift 2.30 reads the hard-coded /etc/swift/swift.conf: point it at DIR/etc/swift.conf before
  # anything reads it, then run the same run_wsgi() as /usr/bin/swift-*-server (verbose: stderr).
  cat >"$e/launch.py" <<'EOF'
import sys
swift_conf, server, conf_file = sys.argv[1:4]
from swift.common import utils
utils.SWIFT_CONF_FILE = swift_conf
from swift.common.wsgi import run_wsgi
kw = {'verbose': True}
if server == 'object-server':
    from swift.obj import server as obj_server
    kw['global_conf_callback'] = obj_server.global_conf_callback
sys.exit(run_wsgi(conf_file, server, **kw))
EOF
  # readiness probe (stdlib only): backend healthchecks, then a SigV4-signed ListBuckets
  cat >"$e/s3ping.py" <<'EOF'
import sys, hashlib, hmac, datetime, urllib.request, urllib.error
ep, ak, sk, region = sys.argv[1:5]
for port in sys.argv[5:]:
    try:
        b = urllib.request.urlopen('http://127.0.0.1:%s/healthcheck' % port, timeout=5).read()
    except Exception as e:
        sys.exit('port %s: %s' % (port, e))
    if b != b'OK':
        sys.exit('port %s: %r' % (port, b[:100]))
t = datetime.datetime.now(datetime.timezone.utc)
amz, day = t.strftime('%Y%m%dT%H%M%SZ'), t.strftime('%Y%m%d')
host = ep.split('//', 1)[1].rstrip('/')
ph = hashlib.sha256(b'').hexdigest()
sh = 'host;x-amz-content-sha256;x-amz-date'
creq = 'GET\n/\n\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n%s\n%s' % (host, ph, amz, sh, ph)
scope = '%s/%s/s3/aws4_request' % (day, region)
sts = 'AWS4-HMAC-SHA256\n%s\n%s\n%s' % (amz, scope, hashlib.sha256(creq.encode()).hexdigest())
k = ('AWS4' + sk).encode()
for m in (day, region, 's3', 'aws4_request'):
    k = hmac.new(k, m.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(ep + '/', headers={
    'x-amz-date': amz, 'x-amz-content-sha256': ph,
    'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (ak, scope, sh, sig)})
try:
    body = urllib.request.urlopen(req, timeout=10).read()
except urllib.error.HTTPError as e:
    sys.exit('S3 ListBuckets: HTTP %s %r' % (e.code, e.read()[:300]))
except Exception as e:
    sys.exit('S3 ListBuckets: %s' % e)
sys.exit(0 if b'ListAllMyBucketsResult' in body else 'S3 ListBuckets: unexpected %r' % body[:300])
EOF
}

build_rings() {  # DIR PORT ; `swift-ring-builder F create 8 1 1; F add ...; F rebalance` for the
  local dir=$1 port=$2 e=$1/etc  # 3 rings in one python process (9 processes are slow on 2 cores)
  rm -rf "$e"/*.ring.gz "$e"/*.builder "$e/backups"
  env PYTHONPATH="$PYP" LD_LIBRARY_PATH="$LDP" $PY - "$e" "$port" >"$dir/log/ring-builder.log" 2>&1 <<'EOF' || die "ring build failed, see $dir/log/ring-builder.log"
import sys
from swift.cli.ringbuilder import main
e, port = sys.argv[1], int(sys.argv[2])
for name, p in (('object', port + 1), ('container', port + 2), ('account', port + 3)):
    b = '%s/%s.builder' % (e, name)
    for args in (['create', '8', '1', '1'], ['add', 'r1z1-127.0.0.1:%d/d1' % p, '100'], ['rebalance']):
        try:
            main(['swift-ring-builder', b] + args)
        except SystemExit as x:
            if x.code not in (0, None, 1):   # 1 = "completed with warnings"
                raise
EOF
  echo "$port" >"$e/port"
}

print_line() {
  local dir=$1 port=$2 s pids=
  for s in $ALL; do pids="$pids${pids:+,}$s:$(cat "$dir/run/$s.pid")"; done
  echo "S3 endpoint=http://127.0.0.1:$port access_key=$AK secret_key=$SK region=$REGION pids=$pids dir=$dir"
}

# launch DIR PORT SERVER: starts one server in the background, its pid in DIR/run/SERVER.pid
launch() {
  local dir=$1 port=$2 s=$3
  if [ "$s" = memcached ]; then
    nohup "$ROOT/usr/bin/memcached" -l 127.0.0.1 -p $((port+4)) -U 0 -m 64 -u root \
        </dev/null >>"$dir/log/memcached.log" 2>&1 &
  else
    env PYTHONPATH="$PYP" LD_LIBRARY_PATH="$LDP" nohup $PY "$dir/etc/launch.py" \
        "$dir/etc/swift.conf" $s-server "$dir/etc/$s-server.conf" \
        </dev/null >>"$dir/log/$s.log" 2>&1 &
  fi
  echo $! >"$dir/run/$s.pid"
}

# try_start DIR PORT: 0 ready; 2 a server exited during start-up (a port taken meanwhile?);
# exits on any other failure.
try_start() {
  local dir=$1 port=$2 s t0
  t0=$(now)
  write_conf "$dir" "$port"
  if [ ! -f "$dir/etc/object.ring.gz" ] || [ "$(cat "$dir/etc/port" 2>/dev/null)" != "$port" ]; then
    build_rings "$dir" "$port"
  fi
  for s in $ALL; do rm -f "$dir/run/$s.pid"; done   # not watch.pid: `stop` ends the watchdog by it
  for s in $ALL; do launch "$dir" "$port" $s; done
  wait_ready "$dir" "$port" "$t0"
}

# abandon_if_watched_gone DIR: dies when the watched process (WATCH) is gone, after stopping (and,
# with `remove`, removing) what was started. The watchdog does the same: a server this start
# launched after the watchdog looked is stopped here, so either order leaves nothing behind.
abandon_if_watched_gone() {
  local dir=$1
  if [ -n "$WATCH" ] && ! kill -0 "$WATCH" 2>/dev/null; then
    trap - EXIT   # not cmd_stop: that would end the watchdog before it removes the directory
    stop_servers "$dir" >/dev/null 2>&1 || true
    if [ "$REMOVE" = remove ]; then rm -rf "$dir" "$dir.lock"; fi
    die "process $WATCH is gone: start abandoned"
  fi
}

# wait_ready DIR PORT [T0]: 0 once every server answers; 2 (everything stopped) when one exited;
# exits when not ready within TIMEOUT.
wait_ready() {
  local dir=$1 port=$2 t0=${3:-$(now)} s
  local deadline=$(( $(date +%s) + TIMEOUT )) err=
  while :; do
    abandon_if_watched_gone "$dir"
    for s in $ALL; do
      if ! up "$dir" $s; then
        # The watchdog may have stopped it: then this start is abandoned, not retried on another port.
        abandon_if_watched_gone "$dir"
        tail -n 15 "$dir/log/$s.log" >&2 || true
        stop_servers "$dir" >/dev/null 2>&1 || true
        log "$s exited during start-up on port $port (log: $dir/log/$s.log)"
        return 2
      fi
    done
    if http_ok $((port+3)) && http_ok $((port+2)) && http_ok $((port+1)) && http_ok "$port"; then
      if err=$($PY "$dir/etc/s3ping.py" "http://127.0.0.1:$port" "$AK" "$SK" "$REGION" 2>&1); then
        break
      fi
    else
      err="healthchecks not answering yet"
    fi
    if [ "$(date +%s)" -ge $deadline ]; then
      cmd_stop "$dir" >/dev/null 2>&1 || true
      die "not ready after ${TIMEOUT}s ($err); logs in $dir/log"
    fi
    sleep 0.25
  done
  log "ready in $(since "$t0")s"
}

cmd_start() {
  local dir=$1 port=$2 watch=${3:-} remove=${4:-} s n=0 tries=1 rc
  WATCH=$watch REMOVE=$remove
  [ "$port" = auto ] || { [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65531 ]; } || die "bad PORT: $port (a number from 1024 to 65531, or auto)"
  [ -z "$watch" ] || [[ $watch =~ ^[0-9]+$ ]] || die "bad WATCH_PID: $watch"
  [ -z "$remove" ] || [ "$remove" = remove ] || die "bad option: $remove (only: remove)"
  [[ $AK == *:* && $AK != *_* ]] || die "S3_ACCESS_KEY must look like ACCOUNT:USER without '_' (tempauth)"
  check_install
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  for s in $ALL; do if up "$dir" $s; then n=$((n+1)); fi; done
  if [ $n -gt 0 ]; then
    if [ $n -eq 5 ] && { [ "$port" = auto ] || [ "$(cat "$dir/etc/port" 2>/dev/null)" = "$port" ]; }; then
      log "already running"; print_line "$dir" "$(cat "$dir/etc/port")"; return 0
    fi
    die "$dir is partly running or on another port; run: $0 stop $dir"
  fi
  if [ -n "$watch" ]; then
    mkdir -p "$dir/run" "$dir/log"
    trap 'cmd_stop "$dir" >/dev/null 2>&1' EXIT   # a failed start leaves no watchdog either
    # setsid: a Ctrl-C to the test run's process group must not kill the watchdog first.
    setsid nohup bash "$SELF" watch "$dir" "$watch" $remove </dev/null >>"$dir/log/watch.log" 2>&1 &
    echo $! >"$dir/run/watch.pid"
  fi
  if [ "$port" = auto ]; then tries=5; fi
  while :; do
    abandon_if_watched_gone "$dir"   # before a retry too: a server the watchdog stopped is no reason to start again
    local p=$port
    if [ "$port" = auto ]; then
      p=$(( 20000 + RANDOM % 40000 ))
      while ! ports_free $p; do p=$(( 20000 + RANDOM % 40000 )); done
    elif ! ports_free "$p"; then
      die "a port of 127.0.0.1:$p..$((p+4)) is in use; s3-server.sh needs all five"
    fi
    rc=0; try_start "$dir" $p || rc=$?
    if [ $rc = 0 ]; then port=$p; break; fi
    tries=$((tries-1))
    [ $tries -gt 0 ] || die "a server exited during start-up (logs in $dir/log)"
  done
  trap - EXIT
  cat >"$dir/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID='$AK'
export AWS_SECRET_ACCESS_KEY='$SK'
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
EOF
  print_line "$dir" "$port"
}

# The watchdog: stops the server once WATCH_PID is gone; `stop` ends the watchdog.
cmd_watch() {
  local dir=$1 pid=$2 remove=${3:-}
  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
  log "process $pid is gone: stopping the server in $dir"
  stop_servers "$dir"
  rm -f "$dir/run/watch.pid"
  if [ "$remove" = remove ]; then rm -rf "$dir" "$dir.lock"; fi
}

# marked_pids MARKER...: the live pids (not this shell's) whose command line holds one of the MARKERs.
marked_pids() {
  local p m
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && live_cmdline "$p" || continue
    for m in "$@"; do
      if [[ $CMDLINE == *"$m"* ]]; then echo "$p"; break; fi
    done
  done
}

# watchdogs DIR: the pids of DIR's watchdogs, found by their command lines: a start stopped
# between launching its watchdog and writing watch.pid leaves one that no pid file names.
watchdogs() { marked_pids "$(marker "$1" watch)"; }

# servers DIR: the pids of DIR's servers, found by their command lines, not by their pid files: a
# start launching a server while the watchdog stops the others can lose the race for its pid file
# (the watchdog removes the pid files of what it stopped).
servers() {
  local s
  local -a markers=()
  for s in $ALL; do markers+=("$(marker "$1" $s)"); done
  marked_pids "${markers[@]}"
}

# stop_watchdogs DIR: returns once no watchdog of DIR runs (TERM, then KILL after 5 s), so that
# a caller that checks right after `stop` finds nothing left.
stop_watchdogs() {
  local dir=$1 p i
  for p in $(watchdogs "$dir"); do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 25); do
    [ -z "$(watchdogs "$dir")" ] && break
    sleep 0.2
  done
  for p in $(watchdogs "$dir"); do log "watchdog $p did not stop on TERM; sending KILL"; kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$dir/run/watch.pid"
}

cmd_stop() {
  local dir=$1
  stop_watchdogs "$dir"
  [ -d "$dir/run" ] || { log "nothing to stop in $dir"; return 0; }
  stop_servers "$dir"
}

stop_servers() {
  local dir=$1 p i s
  for p in $(servers "$dir"); do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 50); do
    [ -z "$(servers "$dir")" ] && break
    sleep 0.2
  done
  for p in $(servers "$dir"); do log "server $p did not stop on TERM; sending KILL"; kill -KILL "$p" 2>/dev/null || true; done
  for s in $ALL; do rm -f "$dir/run/$s.pid"; done
  log "stopped ($dir)"
}

# Starts again, on their ports, the servers of a started DIR that are gone (a killed proxy), and
# waits until all answer; the watchdog (if any) keeps watching.
cmd_restart() {
  local dir=$1 port s
  check_install
  port=$(cat "$dir/etc/port" 2>/dev/null) || die "$dir was never started"
  for s in $ALL; do
    if ! up "$dir" $s; then log "starting $s again"; launch "$dir" "$port" $s; fi
  done
  wait_ready "$dir" "$port" || die "a server exited while restarting (logs in $dir/log)"
  print_line "$dir" "$port"
}

cmd_status() {
  local dir=$1 s rc=0
  for s in $ALL; do
    if up "$dir" $s; then echo "$s running pid $(cat "$dir/run/$s.pid")"; else echo "$s not running"; rc=1; fi
  done
  return $rc
}

abs() { cd "$1" 2>/dev/null && pwd || echo "$1"; }
case "${1:-}" in
  start)  [ $# -ge 3 ] && [ $# -le 5 ] || die "usage: $0 start DIR PORT|auto [WATCH_PID [remove]]"; cmd_start "$2" "$3" "${4:-}" "${5:-}" ;;
  stop)   [ $# -eq 2 ] || die "usage: $0 stop DIR"; cmd_stop "$(abs "$2")" ;;
  status) [ $# -eq 2 ] || die "usage: $0 status DIR"; cmd_status "$(abs "$2")" ;;
  restart) [ $# -eq 2 ] || die "usage: $0 restart DIR"; cmd_restart "$(abs "$2")" ;;
  watch)  [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: $0 watch DIR PID [remove]"; cmd_watch "$2" "$3" "${4:-}" ;;
  *) die "usage: $0 start DIR PORT|auto [WATCH_PID [remove]] | stop DIR | restart DIR | status DIR" ;;
esac
