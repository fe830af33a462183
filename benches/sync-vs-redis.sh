#!/usr/bin/env bash
# Replication, rtool next to real Redis 7.0, in one run:
#   1. a full sync of KEYS keys (DEBUG POPULATE KEYS key VALUE_SIZE, ~166 MB of RDB for the
#      defaults) master -> replica, same kind on both ends (rtool -> rtool, Redis -> Redis),
#      disk-based and diskless, alternating; time from REPLICAOF to master_link_status:up
#      as the replica reports it;
#   2. redis-benchmark SET (-P 16) on a master with two replicas attached, vs Redis.
#
#   bash benches/sync-vs-redis.sh
#   KEYS=200000 ROUNDS=1 bash benches/sync-vs-redis.sh
#
# Prints seconds (or requests/s) per kind and the ratio rtool/redis: for sync time <= 0.8 is
# the target (lower is better), for throughput >= 1.0.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-128}
ROUNDS=${ROUNDS:-2}
N=${N:-300000}

cargo build --release -q
RTOOL=$PWD/target/release/rtool
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start KIND PORT DIR [options...] -> pid in $started
start() {
  local kind=$1 port=$2 dir=$3; shift 3
  mkdir -p "$dir"
  local common=(--port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir"
                --logfile "$dir/log" --enable-debug-command yes --repl-diskless-sync-delay 0)
  if [ "$kind" = rtool ]; then "$RTOOL" serve "${common[@]}" "$@" >/dev/null & else redis-server "${common[@]}" "$@" >/dev/null & fi
  started=$!
  pids+=("$started")
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server $kind did not start" >&2; exit 1
}

field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1==f {print $2}'; }

# sync_time KIND DISKLESS -> seconds for one full sync of the populated master
sync_time() {
  local kind=$1 diskless=$2
  local mp rp; mp=$(free_port); rp=$(free_port)
  start "$kind" "$mp" "$work/m-$mp" --repl-diskless-sync "$diskless"; local mpid=$started
  redis-cli -p "$mp" debug populate "$KEYS" key "$VALUE_SIZE" >/dev/null
  start "$kind" "$rp" "$work/r-$rp"; local rpid=$started
  local t0; t0=$(date +%s.%N)
  redis-cli -p "$rp" replicaof 127.0.0.1 "$mp" >/dev/null
  until [ "$(field "$rp" replication master_link_status)" = up ] && \
        [ "$(field "$rp" replication master_sync_in_progress)" = 0 ]; do sleep 0.02; done
  local t1; t1=$(date +%s.%N)
  [ "$(redis-cli -p "$rp" dbsize)" = "$KEYS" ] || { echo "replica has $(redis-cli -p "$rp" dbsize) keys" >&2; exit 1; }
  kill "$mpid" "$rpid"; wait "$mpid" "$rpid" 2>/dev/null || true
  python3 -c "print(f'{$t1-$t0:.3f}')"
}

echo "full sync of $KEYS keys ($VALUE_SIZE-byte values), $ROUNDS rounds"
printf '%-10s %10s %10s %8s\n' mode redis rtool ratio
for diskless in no yes; do
  r_sum=0; x_sum=0
  for _ in $(seq "$ROUNDS"); do
    r=$(sync_time redis "$diskless"); x=$(sync_time rtool "$diskless")
    r_sum=$(python3 -c "print($r_sum+$r)"); x_sum=$(python3 -c "print($x_sum+$x)")
  done
  mode=$([ "$diskless" = yes ] && echo diskless || echo disk)
  python3 -c "r=$r_sum/$ROUNDS; x=$x_sum/$ROUNDS; print(f'{\"$mode\":<10} {r:10.2f} {x:10.2f} {x/r:8.2f}')"
done

# set_rps KIND -> requests/s of SET -P 16 on a master with two replicas
set_rps() {
  local kind=$1 mp r1 r2
  mp=$(free_port); r1=$(free_port); r2=$(free_port)
  start "$kind" "$mp" "$work/m-$mp"; local a=$started
  start "$kind" "$r1" "$work/r-$r1" --replicaof 127.0.0.1 "$mp"; local b=$started
  start "$kind" "$r2" "$work/r-$r2" --replicaof 127.0.0.1 "$mp"; local c=$started
  until [ "$(field "$mp" replication connected_slaves)" = 2 ]; do sleep 0.05; done
  redis-benchmark -p "$mp" -c 50 -n "$N" -P 16 -t set --csv 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
  kill "$a" "$b" "$c"; wait "$a" "$b" "$c" 2>/dev/null || true
}

echo
echo "SET -P 16 -n $N on a master with 2 replicas"
r_sum=0; x_sum=0
for _ in $(seq "$ROUNDS"); do
  r=$(set_rps redis); x=$(set_rps rtool)
  r_sum=$(python3 -c "print($r_sum+$r)"); x_sum=$(python3 -c "print($x_sum+$x)")
done
python3 -c "r=$r_sum/$ROUNDS; x=$x_sum/$ROUNDS; print(f'redis {r:.0f}  rtool {x:.0f}  ratio {x/r:.2f}')"
