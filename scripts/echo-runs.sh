#!/usr/bin/env bash
# Which worker serves each request: run lengths of consecutive `recvfrom` exits per
# server thread, and the heist server's own counters (`echo server --stats`: parks,
# steals, polls, forced yields), for one connection set in request/response mode
# (docs/benchmarks/echo.md, "The budget per task poll"). Counts, not timings.
#
#   scripts/echo-runs.sh BIN N [CONNS]       # e.g. target/release/examples/echo 20000 1
#
# The server (heist, 2 workers, unpinned) runs under `perf record -e
# syscalls:sys_exit_recvfrom` (root or perf_event_paranoid <= 1); the client stops
# after N echoes (`--count`). Build first: `cargo build --release --example echo`.
set -euo pipefail
BIN=$1 N=$2 CONNS=${3:-1} PORT=${PORT:-7310}
log=$(mktemp); data=$(mktemp); runs=$(mktemp)
$BIN server --rt heist --workers 2 --stats --addr 127.0.0.1:$PORT >"$log" 2>&1 &
S=$!
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
perf record -q -e syscalls:sys_exit_recvfrom -p $S -o "$data" 2>/dev/null &
P=$!
sleep 0.5 # let perf attach
$BIN client --addr 127.0.0.1:$PORT --conns "$CONNS" --size 64 --mode rr --warmup 0 --count "$N" >/dev/null 2>&1
# The server prints its counters when the last connection closes.
for _ in $(seq 100); do grep -q forced_yields "$log" && break; sleep 0.05; done
grep forced_yields "$log" || true
kill -INT $P; wait $P || true
kill $S; wait $S 2>/dev/null || true
perf script -i "$data" -F tid 2>/dev/null | awk '{print $1}' | uniq -c | awk '{print $1}' >"$runs"
python3 - "$runs" <<'PY'
import collections, sys
runs = [int(x) for x in open(sys.argv[1])]
total = sum(runs)
print(f"recvfrom exits {total}, runs {len(runs)}, mean {total / len(runs):.1f}, longest {max(runs)}")
print("most common run lengths:", collections.Counter(runs).most_common(6))
PY
rm -f "$log" "$data" "$runs"
