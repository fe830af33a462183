#!/usr/bin/env bash
# SET throughput with the AOF on, rtool next to real Redis 7.0 with the same fsync policy,
# in one run (benches/vs-redis.sh does the alternating and the ratios).
#
#   bash benches/aof-vs-redis.sh                  # everysec and always, -P 1 and -P 16
#   N=100000 ROUNDS=1 bash benches/aof-vs-redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for policy in everysec always; do
  echo "== appendfsync $policy"
  TESTS=set EXTRA="--appendonly yes --appendfsync $policy" bash benches/vs-redis.sh
done
