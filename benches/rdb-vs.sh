#!/usr/bin/env bash
# RDB reading speed and memory of rtool against the usual tools, measured in one run on one
# file made by a real redis-server:
#
#   rtool rdb dump --format json FILE   vs  the `rdb` crate's CLI: rdb --format json FILE
#   rtool rdb check FILE                vs  redis-check-rdb FILE
#
#   bash benches/rdb-vs.sh                 # a ~500 MB file
#   SIZE_MB=50 bash benches/rdb-vs.sh      # a quick run
#   RDB=/path/dump.rdb bash benches/rdb-vs.sh   # reuse a file instead of generating one
#   KEEP=1 ...                             # keep the generated file (its path is printed)
#
# The file: about half strings (DEBUG POPULATE), the rest lists, hashes, sets and sorted sets
# (small ones in their packed encodings, big ones in hashtable/skiplist/quicklist), ~1% of the
# bytes in streams with a consumer group, pending entries and consumers; all loaded through
# `redis-cli --pipe`, saved with Redis's defaults (LZF compression on). The server listens on
# a free 127.0.0.1 port and is shut down at the end.
#
# Prints wall time, throughput (file MB / s, MB = 10^6 bytes) and peak RSS of every tool, and
# the ratios. The targets (issue 3): dump >= 3x the crate's JSON throughput, check no slower
# than redis-check-rdb, peak RSS <= 64 MiB. Not a test: numbers vary with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-500}
RUNS=${RUNS:-1}

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ] && [ -f "$work/dump.rdb" ]; then echo "kept $work/dump.rdb"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------
if [ -n "${RDB:-}" ]; then
  FILE=$RDB
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --dbfilename dump.rdb --enable-debug-command yes --logfile "$work/redis.log" &
  pid=$!
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  cli() { redis-cli -p "$port" "$@"; }
  target=$((SIZE_MB * 1000000))
  size() { cli save >/dev/null; stat -c %s "$work/dump.rdb"; }

  # Strings up to about half the target, in rounds of DEBUG POPULATE (its values are
  # "value:N" padded with zeros, which LZF shrinks: the file size decides, not a formula).
  n=0
  step=$((SIZE_MB * 2000 + 1000))
  while :; do
    cli debug populate $((n + step)) str 100 >/dev/null
    n=$((n + step))
    s=$(size)
    [ "$s" -ge $((target / 2)) ] && break
    # Aim the next round at the remaining half, from the bytes per key seen so far.
    step=$(( (target / 2 - s) / (s / n + 1) + 1 ))
  done
  echo "strings: $n keys, file now $s bytes" >&2

  # Collections in rounds until the target: each round is one pipe of RESP made by Python.
  round=0
  while [ "$(size)" -lt "$target" ]; do
    python3 - "$round" "$SIZE_MB" <<'PY' | cli --pipe >"$work/pipe.log"
import random, sys
rnd, size_mb = int(sys.argv[1]), int(sys.argv[2])
random.seed(rnd)
out = sys.stdout.buffer
def cmd(*a):
    b = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        b.append(b"$%d\r\n%s\r\n" % (len(x), x))
    out.write(b"".join(b))
def word():
    return "%x" % random.getrandbits(64)
# One round is ~1/10 of the collections' share; keys per type scale with SIZE_MB.
keys = max(20, size_mb * 4)
for i in range(keys):
    # 1 in 5 is past the packed-encoding limits (this Redis build's hash and intset limits
    # are 512 entries: CONFIG GET says so).
    big = i % 5 == 0
    n = 600 if big else 20
    k = "r%d:%d" % (rnd, i)
    cmd("RPUSH", "list:" + k, *[word() for _ in range(n)])
    cmd("HSET", "hash:" + k, *[x for j in range(n) for x in ("f%d" % j, word())])
    if i % 2:
        cmd("SADD", "set:" + k, *[random.getrandbits(40) for _ in range(n)])   # intset
    else:
        cmd("SADD", "set:" + k, *[word() for _ in range(n)])
    cmd("ZADD", "zset:" + k, *[x for _ in range(n) for x in (random.random() * 1000, word())])
    if i % 3 == 0:
        cmd("EXPIRE", "hash:" + k, random.choice([60, 7200, 200000, 10 ** 7]))
# ~1% of the bytes in streams: a few streams with groups, consumers and pending entries.
for i in range(max(1, keys // 60)):
    k = "stream:r%d:%d" % (rnd, i)
    for j in range(100):
        cmd("XADD", k, "*", "field", word(), "n", j)
    cmd("XGROUP", "CREATE", k, "g1", "0")
    cmd("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 30, "STREAMS", k, ">")
    cmd("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 10, "STREAMS", k, ">")
PY
    round=$((round + 1))
  done
  FILE=$work/dump.rdb
  echo "collections: $round rounds; $(cli dbsize) keys" >&2
  cli shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  pid=
fi
cargo build --release -q
RTOOL=$PWD/target/release/rtool

# ---------------------------------------------------------------------------------------------
# The `rdb` crate's CLI (installed into a scratch root if not on PATH)
# ---------------------------------------------------------------------------------------------
RDBCLI=${RDBCLI:-$(command -v rdb || true)}
if [ -z "$RDBCLI" ] && [ -x /tmp/rdbcli/bin/rdb ]; then RDBCLI=/tmp/rdbcli/bin/rdb; fi
if [ -z "$RDBCLI" ]; then
  echo "installing the rdb crate's CLI into /tmp/rdbcli (cargo install rdb --locked)..." >&2
  if CARGO_TARGET_DIR=/tmp/rdbcli/target cargo install rdb --locked --root /tmp/rdbcli -q >"$work/install.log" 2>&1; then
    RDBCLI=/tmp/rdbcli/bin/rdb
  else
    echo "cargo install rdb failed (see below); skipping the rdb-crate comparison" >&2
    tail -5 "$work/install.log" >&2
  fi
fi

bytes=$(stat -c %s "$FILE")
echo "file: $FILE, $bytes bytes ($(awk "BEGIN{printf \"%.1f\", $bytes/1e6}") MB)"
"$RTOOL" rdb stats "$FILE" --top 0 --color never | head -1

# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
# measure NAME CMD... -> "seconds peak_kib" (best wall time of RUNS; its peak RSS), stdout to
# /dev/null. /usr/bin/time -v when present, else polling VmHWM from /proc.
measure() {
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    local t0 t1 m
    if [ -x /usr/bin/time ]; then
      t0=$(date +%s.%N)
      /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/err" || true
      t1=$(date +%s.%N)
      m=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time")
    else
      t0=$(date +%s.%N)
      "$@" >/dev/null 2>"$work/err" &
      local p=$! hwm=0 v
      while kill -0 "$p" 2>/dev/null; do
        v=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        [ -n "$v" ] && hwm=$v
        sleep 0.01
      done
      wait "$p" || true
      t1=$(date +%s.%N)
      m=$hwm
    fi
    local s
    s=$(awk "BEGIN{print $t1 - $t0}")
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; rss=$m; fi
  done
  echo "$best $rss"
}

row() { # NAME SECONDS KIB
  printf '%-34s %8.2f s %9.1f MB/s %9.1f MiB\n' "$1" "$2" "$(awk "BEGIN{print $bytes/1e6/$2}")" "$(awk "BEGIN{print $3/1024}")"
}

printf '%-34s %10s %14s %13s\n' tool time throughput "peak RSS"
read -r t_dump m_dump < <(measure "$RTOOL" rdb dump --format json "$FILE")
row "rtool rdb dump --format json" "$t_dump" "$m_dump"
if [ -n "$RDBCLI" ]; then
  read -r t_crate m_crate < <(measure "$RDBCLI" --format json "$FILE")
  if [ -s "$work/err" ]; then echo "  (rdb crate CLI stderr: $(head -c 300 "$work/err"))"; fi
  row "rdb (crate) --format json" "$t_crate" "$m_crate"
fi
read -r t_check m_check < <(measure "$RTOOL" rdb check "$FILE")
row "rtool rdb check" "$t_check" "$m_check"
read -r t_rcheck m_rcheck < <(measure redis-check-rdb "$FILE")
row "redis-check-rdb" "$t_rcheck" "$m_rcheck"
read -r t_stats m_stats < <(measure "$RTOOL" rdb stats "$FILE")
row "rtool rdb stats" "$t_stats" "$m_stats"

echo
if [ -n "$RDBCLI" ]; then
  echo "dump json speed-up vs rdb crate: $(awk "BEGIN{printf \"%.2f\", $t_crate/$t_dump}")x (target >= 3)"
fi
echo "check speed vs redis-check-rdb:  $(awk "BEGIN{printf \"%.2f\", $t_rcheck/$t_check}")x (target >= 1)"
echo "peak RSS of rtool (dump, check, stats): $((m_dump / 1024)), $((m_check / 1024)), $((m_stats / 1024)) MiB (target <= 64)"
