#!/usr/bin/env bash
# Side-by-side throughput of rtool and real Redis 7.0, measured in one run with the same
# client (redis-benchmark), alternating servers so both see the same machine conditions.
#
#   bash benches/vs-redis.sh            # -c 50 -n 1000000, -P 1 and -P 16, SET and GET
#   N=100000 ROUNDS=10 bash benches/vs-redis.sh   # shorter rounds, more of them
#   PIPES=16 TESTS=get bash benches/vs-redis.sh   # one pipeline depth, one test
#   EXTRA="--appendonly yes --appendfsync always" bash benches/vs-redis.sh   # same options to both
#   SPIN=0 bash benches/vs-redis.sh     # rtool with spin-before-sleep-us 0 (no polling before sleep)
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
# rtool's own directive (src/net/spin.rs), for rtool only: unset keeps its default.
RTOOL_ARGS=()
if [ -n "${SPIN:-}" ]; then RTOOL_ARGS=(--spin-before-sleep-us "$SPIN"); fi

cargo build --release -q
# PIN=1: the client on CPU 0, both servers on CPU 1 (less scheduler noise; each server gets
# the same core to itself while it is measured).
if [ "${PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  CLIENT_CPU="taskset -c 0"; SERVER_CPU="taskset -c 1"
else
  CLIENT_CPU=""; SERVER_CPU=""
fi
RTOOL=target/release/rtool
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
mkdir -p "$work/redis" "$work/rtool"
rp=$(free_port); tp=$(free_port)
$SERVER_CPU redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" --logfile "$work/redis.log" "${EXTRA_ARGS[@]}" &
rpid=$!
$SERVER_CPU "$RTOOL" serve --port "$tp" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/rtool" --logfile "$work/rtool.log" "${EXTRA_ARGS[@]}" "${RTOOL_ARGS[@]}" &
tpid=$!
trap 'kill $rpid $tpid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for p in "$rp" "$tp"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

# rps SERVER_PORT PIPELINE TEST -> "requests-per-second client-CPU-seconds": the client's
# own CPU time (user + system, from its rusage) says how hard it had to work for the server.
rps() {
  python3 - "$1" "$2" "$3" "$CLIENTS" "$N" $CLIENT_CPU <<'PY'
import resource, subprocess, sys
port, p, t, c, n = sys.argv[1:6]
cmd = sys.argv[6:] + ["redis-benchmark", "-p", port, "-c", c, "-n", n, "-P", p, "-t", t, "--csv"]
out = subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(out[1].split('","')[1].strip('"'), ru.ru_utime + ru.ru_stime)
PY
}

# CPU time (user + system, all threads) a server process has used, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# Times a server went to sleep (voluntary context switches, all threads): each one is a
# wake-up some client's send paid for.
sleeps() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}'; }

# Each round runs Redis then rtool back to back; the machine's speed drifts (a shared VM can
# swing 30% within a minute), so the rounds' own ratios say more than the averages: the
# table gives the mean rps of each server, the ratio of the means, and the median and range
# of the per-round ratios. Then CPU time per request (µs): each server's own, and the
# client's while it talked to each server (cli→r, cli→t). When one redis-benchmark thread is
# the bottleneck (-P 1 always; -P 16 on a fast machine), throughput measures the client:
# the server columns say what each server costs, the client columns whether a server makes
# the client work harder (more wake-ups, replies in more pieces). The last two columns count
# how often each server went to sleep per 1000 requests.
printf '%-6s %-4s %10s %10s %6s %6s %11s %9s %9s %9s %9s %7s %7s\n' test P redis rtool ratio median range "redis µs" "rtool µs" "cli→r µs" "cli→t µs" "r zz/k" "t zz/k"
for P in ${PIPES:-1 16}; do
  for t in ${TESTS//,/ }; do
    pairs=""
    for _ in $(seq "$ROUNDS"); do
      c0=$(ticks "$rpid"); s0=$(sleeps "$rpid"); read -r r rc < <(rps "$rp" "$P" "$t")
      c1=$(ticks "$rpid"); s1=$(sleeps "$rpid")
      d0=$(ticks "$tpid"); z0=$(sleeps "$tpid"); read -r x xc < <(rps "$tp" "$P" "$t")
      d1=$(ticks "$tpid"); z1=$(sleeps "$tpid")
      pairs="$pairs $r:$x:$((c1 - c0)):$((d1 - d0)):$rc:$xc:$((s1 - s0)):$((z1 - z0))"
    done
    python3 - "$t" "$P" "$N" "$HZ" $pairs <<'PY'
import statistics, sys
t, p, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = [tuple(map(float, a.split(":"))) for a in sys.argv[5:]]
r = statistics.mean(a[0] for a in rows); x = statistics.mean(a[1] for a in rows)
ratios = sorted(a[1] / a[0] for a in rows)
per_req = lambda secs: sum(secs) * 1e6 / (n * len(rows))
print(f"{t:<6} {p:<4} {r:10.0f} {x:10.0f} {x / r:6.2f} {statistics.median(ratios):6.2f} "
      f"{ratios[0]:5.2f}-{ratios[-1]:.2f} "
      f"{per_req([a[2] / hz for a in rows]):9.2f} {per_req([a[3] / hz for a in rows]):9.2f} "
      f"{per_req([a[4] for a in rows]):9.2f} {per_req([a[5] for a in rows]):9.2f} "
      f"{per_req([a[6] for a in rows]) * 1e-3:7.1f} {per_req([a[7] for a in rows]) * 1e-3:7.1f}")
PY
  done
done
