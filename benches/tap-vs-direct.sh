#!/usr/bin/env bash
# What putting `rtool tap` on a replication link costs, measured in one run against the same
# link without it (issue 5's benchmark; not a test, the numbers depend on the machine):
#
#   (a) replication throughput: redis-benchmark SET -n 200000 on a real master with one real
#       replica attached directly, then through the tap (tap output to /dev/null), alternating
#       ROUNDS times. Two numbers per run: redis-benchmark's own ops/s on the master, and the
#       *replicated* ops/s = requests / time until the replica's offset reached the master's
#       (what a tap in the way could slow down).
#   (b) a full sync of ~1M keys (DEBUG POPULATE 1000000 with VALUE_SIZE-byte values,
#       rdbcompression off so the transfer is ~170 MB): a fresh replica, timed from REPLICAOF
#       to master_link_status:up with master_sync_in_progress:0, direct vs through a fresh tap,
#       alternating ROUNDS times; with the tap's peak RSS (VmHWM from /proc) and its RSS sampled
#       during the transfer (min/max: "flat" means max stays near min).
#
#   bash benches/tap-vs-direct.sh                    # defaults: ROUNDS=3, KEYS=1000000
#   ROUNDS=1 KEYS=200000 bash benches/tap-vs-direct.sh   # a quick run
#
# Target (issue 5): tap >= 0.9x direct, the tap's RSS flat during the transfer. Servers listen
# on free 127.0.0.1 ports and are all stopped at the end. Uses the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-150}
REQUESTS=${REQUESTS:-200000}

cargo build --release --quiet
RTOOL=$PWD/target/release/rtool

work=$(mktemp -d)
pids=()
cleanup() {
  # Only the processes this script started and has not stopped yet.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
forget() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
# Seconds between two `now`s, and a ratio, with 3 decimals.
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
mean() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print(f'{sum(v)/len(v):.3f}')" "$@"; }
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# start_redis NAME EXTRA... : a redis-server of our own on a free port; sets $port and $pid.
start_redis() {
  local name=$1; shift
  mkdir -p "$work/$name"
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$work/$name" --logfile "$work/$name/log" "$@" &
    pid=$!
    # Up means *this* process is alive and its own log says ready (not someone else's port).
    for _ in $(seq 200); do
      kill -0 "$pid" 2>/dev/null || break
      grep -q "Ready to accept connections" "$work/$name/log" 2>/dev/null && break
      sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null && grep -q "Ready to accept" "$work/$name/log"; then
      pids+=("$pid"); return
    fi
    wait "$pid" 2>/dev/null || true
  done
  echo "cannot start redis-server $name" >&2; exit 1
}

stop_redis() {
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || kill "$2" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
  forget "$2"
}
stop_tap() { kill "$tap_pid" 2>/dev/null || true; wait "$tap_pid" 2>/dev/null || true; forget "$tap_pid"; }

# start_tap UPSTREAM_PORT: sets $tap_port and $tap_pid.
start_tap() {
  "$RTOOL" tap --upstream "127.0.0.1:$1" --listen 127.0.0.1:0 --color never \
    >/dev/null 2>"$work/tap.err" &
  tap_pid=$!
  pids+=("$tap_pid")
  for _ in $(seq 200); do grep -q "listening on" "$work/tap.err" && break; sleep 0.02; done
  tap_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/tap.err")
  [ -n "$tap_port" ] || { echo "tap did not start: $(cat "$work/tap.err")" >&2; exit 1; }
}

# wait_until SECS CMD...: poll CMD until it succeeds; give up (and stop everything) after SECS.
wait_until() {
  local end=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || { echo "timed out waiting for: $*" >&2; exit 1; }
    sleep 0.01
  done
}
# The tap's CPU time so far (user + system), in seconds.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }

link_up() {
  [ "$(field "$1" replication master_link_status)" = up ] &&
    [ "$(field "$1" replication master_sync_in_progress)" = 0 ]
}
attached_to() { [ "$(field "$1" replication master_port)" = "$2" ] && link_up "$1"; }
caught_up() { [ "$(field "$1" replication slave_repl_offset)" -ge "$2" ]; }

start_redis master --enable-debug-command yes --repl-diskless-sync-delay 0 \
  --rdbcompression no --repl-backlog-size 64mb
mport=$port; mpid=$pid

echo "== (a) redis-benchmark SET -n $REQUESTS, replica direct vs through the tap =="
start_redis replica
rport=$port; rpid=$pid
start_tap "$mport"
bench_direct=(); bench_tap=(); repl_direct=(); repl_tap=()
for round in $(seq "$ROUNDS"); do
  for how in direct tap; do
    if [ $how = direct ]; then up=$mport; else up=$tap_port; fi
    redis-cli -p "$rport" replicaof 127.0.0.1 "$up" >/dev/null
    # Wait until the replica is attached at its new address.
    wait_until 120 attached_to "$rport" "$up"
    t0=$(now)
    ops=$(redis-benchmark -p "$mport" -t set -n "$REQUESTS" -r 100000 -q | tr '\r' '\n' |
      sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
    target=$(field "$mport" replication master_repl_offset)
    wait_until 300 caught_up "$rport" "$target"
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
    replicated=$(python3 -c "print(f'{$REQUESTS / $secs:.0f}')")
    printf '  round %s %-6s redis-benchmark %9s ops/s   replicated %8s ops/s (%ss)\n' \
      "$round" "$how" "$ops" "$replicated" "$secs"
    if [ $how = direct ]; then bench_direct+=("$ops"); repl_direct+=("$replicated")
    else bench_tap+=("$ops"); repl_tap+=("$replicated"); fi
  done
done
a_hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$tap_pid/status")
stop_tap
stop_redis "$rport" "$rpid"
a_bench=$(ratio "$(mean "${bench_tap[@]}")" "$(mean "${bench_direct[@]}")")
a_repl=$(ratio "$(mean "${repl_tap[@]}")" "$(mean "${repl_direct[@]}")")
echo "  tap/direct: redis-benchmark ops/s ${a_bench}x, replicated ops/s ${a_repl}x; tap peak RSS $a_hwm"

echo "== (b) full sync of $KEYS keys ($VALUE_SIZE-byte values), direct vs through the tap =="
redis-cli -p "$mport" flushall >/dev/null
redis-cli -p "$mport" debug populate "$KEYS" key "$VALUE_SIZE" >/dev/null
redis-cli -p "$mport" save >/dev/null
rdb_mb=$(python3 -c "print(f'{$(stat -c %s "$work/master/dump.rdb") / 1e6:.0f}')")
echo "  the master's RDB: $rdb_mb MB, DBSIZE $(redis-cli -p "$mport" dbsize)"
sync_direct=(); sync_tap=(); hwms=(); flat=()
for round in $(seq "$ROUNDS"); do
  for how in direct tap; do
    # A fresh replica each time: nothing to continue, a full resync.
    start_redis "replica-$round-$how"
    rport=$port; rpid=$pid
    if [ $how = direct ]; then up=$mport; else start_tap "$mport"; up=$tap_port; fi
    t0=$(now)
    redis-cli -p "$rport" replicaof 127.0.0.1 "$up" >/dev/null
    lo=; hi=0
    end=$(( $(date +%s) + 600 ))
    until link_up "$rport"; do
      [ "$(date +%s)" -lt "$end" ] || { echo "the sync did not finish in 600 s" >&2; exit 1; }
      if [ $how = tap ]; then
        rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$tap_pid/status")
        [ -z "$lo" ] || [ "$rss" -lt "$lo" ] && lo=$rss
        [ "$rss" -gt "$hi" ] && hi=$rss
      fi
      sleep 0.05
    done
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
    keys=$(redis-cli -p "$rport" dbsize)
    if [ $how = direct ]; then
      sync_direct+=("$secs")
      printf '  round %s direct %7ss  (%s keys)\n' "$round" "$secs" "$keys"
    else
      hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$tap_pid/status")
      hwms+=("$hwm"); flat+=("${lo}-${hi}")
      sync_tap+=("$secs")
      printf '  round %s tap    %7ss  (%s keys)  tap RSS during transfer %s-%s kB, peak (VmHWM) %s kB, tap CPU %ss\n' \
        "$round" "$secs" "$keys" "$lo" "$hi" "$hwm" "$(cpu "$tap_pid")"
      stop_tap
    fi
    stop_redis "$rport" "$rpid"
  done
done
# Speed ratio: time direct / time through the tap (1.0 = no cost).
b=$(ratio "$(mean "${sync_direct[@]}")" "$(mean "${sync_tap[@]}")")
echo "  tap/direct: full sync speed ${b}x (mean $(mean "${sync_direct[@]}")s direct, $(mean "${sync_tap[@]}")s tap)"
echo "== summary =="
echo "replicated SET throughput through the tap: ${a_repl}x direct (redis-benchmark's own ops/s ${a_bench}x)"
echo "full sync of $KEYS keys ($rdb_mb MB RDB) through the tap: ${b}x direct speed; tap peak RSS ${hwms[*]} kB"
stop_redis "$mport" "$mpid"
