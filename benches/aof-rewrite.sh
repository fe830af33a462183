#!/usr/bin/env bash
# Offline `rtool aof rewrite` versus real Redis 7.0 doing the same job online: load the AOF,
# then BGREWRITEAOF. Same input, same output format (aof-use-rdb-preamble no), one run.
#
#   SIZE=1G benches/aof-rewrite.sh        # build a ~1 GB AOF first (default)
#   SIZE=200M benches/aof-rewrite.sh      # a quick run
#   KEEP=1 WORK=/tmp/aofbench ...         # keep (and reuse) the generated AOF
#
# The AOF is written by a real redis-server with appendonly yes, aof-use-rdb-preamble no and
# auto-aof-rewrite-percentage 0 (so it only grows), fed by redis-benchmark with SET, LPUSH and
# HSET on up to a million random keys/fields: mostly overwrites, the case a rewrite is for.
#
# Measured:
# - rtool: wall time and peak RSS (/usr/bin/time's maximum resident set size = VmHWM) of
#   `rtool aof rewrite DIR --out NEW --preamble no`: read, replay, write.
# - Redis: the time from start until `loading:0` (the AOF load) plus the time from
#   BGREWRITEAOF until the rewrite is over (INFO persistence), and the peak RSS of the
#   server (VmHWM) and of its rewrite child (sampled while it runs).
# Ports: 17000-17999 on 127.0.0.1 only.
set -euo pipefail

SIZE=${SIZE:-1G}
PORT=${PORT:-17631}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/aof-rewrite-bench.XXXXXX)}
RTOOL=${RTOOL:-$ROOT/target/release/rtool}
TARGET=$(numfmt --from=iec "$SIZE")

cleanup() {
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  if [ "$KEEP" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
info() { redis-cli -p "$PORT" info persistence | tr -d '\r' | sed -n "s/^$1://p"; }
cpu_s() { # user+system CPU seconds of a live process
  awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_up() {
  for _ in $(seq 1 600); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis did not start" >&2
  exit 1
}

if [ ! -x "$RTOOL" ]; then
  (cd "$ROOT" && cargo build --release -q)
fi

# ---- 1. the AOF --------------------------------------------------------------------------
SRC=$WORK/src
if [ ! -f "$SRC/appendonlydir/appendonly.aof.manifest" ]; then
  mkdir -p "$SRC"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --dir "$SRC" --daemonize yes \
    --logfile "$SRC/redis.log" --appendonly yes --aof-use-rdb-preamble no \
    --auto-aof-rewrite-percentage 0 --appendfsync no >/dev/null
  wait_up
  size() { du -cb "$SRC"/appendonlydir/*.aof | tail -1 | cut -f1; }
  while [ "$(size)" -lt "$TARGET" ]; do
    redis-benchmark -p "$PORT" -t set,lpush,hset -r 1000000 -n 1000000 -P 16 -q >/dev/null
    echo "  AOF: $(numfmt --to=iec "$(size)") of $SIZE" >&2
  done
  redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true
  while redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
fi
AOF_BYTES=$(du -cb "$SRC"/appendonlydir/* | tail -1 | cut -f1)
echo "AOF: $AOF_BYTES bytes ($(numfmt --to=iec "$AOF_BYTES")) in $SRC/appendonlydir"

# ---- 2. rtool aof rewrite ------------------------------------------------------------------
rm -rf "$WORK/rtool-out"
/usr/bin/time -f '%e %M %U %S' -o "$WORK/rtool.time" \
  "$RTOOL" aof rewrite "$SRC/appendonlydir" --out "$WORK/rtool-out" --preamble no \
  >"$WORK/rtool.explain"
read -r RT_SEC RT_KB RT_U RT_S <"$WORK/rtool.time"
RT_CPU=$(echo "$RT_U + $RT_S" | bc)
RT_OUT=$(du -cb "$WORK"/rtool-out/*.aof | tail -1 | cut -f1)

# ---- 3. Redis: load, then BGREWRITEAOF -----------------------------------------------------
RD=$WORK/redis
rm -rf "$RD" && mkdir -p "$RD" && cp -r "$SRC/appendonlydir" "$RD/"
t0=$(now_ms)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --dir "$RD" --daemonize yes \
  --logfile "$RD/redis.log" --pidfile "$RD/redis.pid" --appendonly yes \
  --aof-use-rdb-preamble no --auto-aof-rewrite-percentage 0 --appendfsync no \
  --enable-debug-command yes >/dev/null
wait_up
until [ "$(info loading)" = 0 ]; do sleep 0.02; done
t1=$(now_ms)
PID=$(cat "$RD/redis.pid")
LOAD_CPU=$(cpu_s "$PID")
redis-cli -p "$PORT" bgrewriteaof >/dev/null
t2=$(now_ms)
CHILD_KB=0
CHILD_CPU=0
while :; do
  for c in $(cat /proc/"$PID"/task/*/children 2>/dev/null); do
    k=$(hwm_kb "$c")
    [ "${k:-0}" -gt "$CHILD_KB" ] && CHILD_KB=$k
    u=$(cpu_s "$c")
    [ "$(echo "$u > $CHILD_CPU" | bc)" = 1 ] && CHILD_CPU=$u
  done
  if [ "$(info aof_rewrite_in_progress)" = 0 ] && [ "$(info aof_rewrite_scheduled)" = 0 ]; then
    break
  fi
  sleep 0.02
done
t3=$(now_ms)
PARENT_KB=$(hwm_kb "$PID")
STATUS=$(info aof_last_bgrewrite_status)
RD_OUT=$(du -cb "$RD"/appendonlydir/*.base.aof | tail -1 | cut -f1)
WANT=$(redis-cli -p "$PORT" debug digest)
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
while redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done

# ---- 4. correctness: Redis loads rtool's directory and has the same data -----------------
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --dir "$WORK" --daemonize yes \
  --logfile "$WORK/check.log" --appendonly yes --appenddirname rtool-out \
  --enable-debug-command yes >/dev/null
wait_up
until [ "$(info loading)" = 0 ]; do sleep 0.05; done
GOT=$(redis-cli -p "$PORT" debug digest)
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
if [ "$GOT" = "$WANT" ]; then DIGEST="same DEBUG DIGEST ($GOT)"; else DIGEST="DIGEST DIFFERS: redis $WANT, rtool's output $GOT"; fi

LOAD_S=$(echo "scale=3; ($t1-$t0)/1000" | bc)
REWR_S=$(echo "scale=3; ($t3-$t2)/1000" | bc)
REDIS_S=$(echo "scale=3; $LOAD_S+$REWR_S" | bc)
REDIS_KB=$((PARENT_KB > CHILD_KB ? PARENT_KB : CHILD_KB))

REDIS_CPU=$(echo "$LOAD_CPU + $CHILD_CPU" | bc)

printf '\n%-40s %9s %8s %12s %14s\n' "" "wall (s)" "cpu (s)" "peak (MiB)" "base (bytes)"
printf '%-40s %9s %8s %12s %14s\n' "rtool aof rewrite (read+replay+write)" "$RT_SEC" "$RT_CPU" "$((RT_KB / 1024))" "$RT_OUT"
printf '%-40s %9s %8s %12s %14s\n' "redis load" "$LOAD_S" "$LOAD_CPU" "$((PARENT_KB / 1024))" ""
printf '%-40s %9s %8s %12s %14s\n' "redis BGREWRITEAOF ($STATUS)" "$REWR_S" "$CHILD_CPU" "$((CHILD_KB / 1024)) (child)" "$RD_OUT"
printf '%-40s %9s %8s %12s\n' "redis load + BGREWRITEAOF" "$REDIS_S" "$REDIS_CPU" "$((REDIS_KB / 1024))"
echo
echo "wall   rtool / redis(load+rewrite) = $(echo "scale=2; $RT_SEC/$REDIS_S" | bc)"
echo "cpu    rtool / redis(load+rewrite) = $(echo "scale=2; $RT_CPU/$REDIS_CPU" | bc)"
echo "memory rtool / redis(peak)         = $(echo "scale=2; $RT_KB/$REDIS_KB" | bc)"
echo "Redis loading rtool's directory: $DIGEST"
echo "(load average during the run: $(cut -d' ' -f1-3 /proc/loadavg); the machine may be shared)"
echo
echo "rtool's explanation:"
sed 's/^/  /' "$WORK/rtool.explain"
