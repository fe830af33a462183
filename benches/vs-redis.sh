#!/usr/bin/env bash
# Side-by-side throughput of rtool and real Redis 7.0, measured in one run with the same
# client (redis-benchmark), alternating servers so both see the same machine conditions.
#
#   bash benches/vs-redis.sh            # -c 50 -n 1000000, -P 1 and -P 16, SET and GET
#   N=100000 ROUNDS=10 bash benches/vs-redis.sh   # shorter rounds, more of them
#   EXTRA="--appendonly yes --appendfsync always" bash benches/vs-redis.sh   # same options to both
#
# Prints requests/second per server and the ratio rtool/redis (>= 1.0 means rtool is at
# least as fast). Both servers listen on 127.0.0.1 on free ports and are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get}
# Options given to both servers after the defaults (e.g. an AOF policy).
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"

cargo build --release -q
RTOOL=target/release/rtool
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
mkdir -p "$work/redis" "$work/rtool"
rp=$(free_port); tp=$(free_port)
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" --logfile "$work/redis.log" "${EXTRA_ARGS[@]}" &
rpid=$!
"$RTOOL" serve --port "$tp" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/rtool" --logfile "$work/rtool.log" "${EXTRA_ARGS[@]}" &
tpid=$!
trap 'kill $rpid $tpid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for p in "$rp" "$tp"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

# rps SERVER_PORT PIPELINE TEST -> requests per second
rps() {
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$N" -P "$2" -t "$3" --csv 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}

# Each round runs Redis then rtool back to back; the machine's speed drifts (a shared VM can
# swing 30% within a minute), so the rounds' own ratios say more than the averages: the
# table gives the mean rps of each server, the ratio of the means, and the median and range
# of the per-round ratios.
printf '%-6s %-4s %12s %12s %7s %7s %13s\n' test P redis rtool ratio median range
for P in 1 16; do
  for t in ${TESTS//,/ }; do
    pairs=""
    for _ in $(seq "$ROUNDS"); do
      r=$(rps "$rp" "$P" "$t"); x=$(rps "$tp" "$P" "$t")
      pairs="$pairs $r:$x"
    done
    python3 - "$t" "$P" $pairs <<'PY'
import statistics, sys
t, p, pairs = sys.argv[1], sys.argv[2], [tuple(map(float, a.split(":"))) for a in sys.argv[3:]]
r = statistics.mean(a for a, _ in pairs); x = statistics.mean(b for _, b in pairs)
ratios = sorted(b / a for a, b in pairs)
print(f"{t:<6} {p:<4} {r:12.0f} {x:12.0f} {x / r:7.2f} {statistics.median(ratios):7.2f} {ratios[0]:6.2f}-{ratios[-1]:.2f}")
PY
  done
done
