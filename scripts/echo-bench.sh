#!/usr/bin/env bash
# The echo benchmark (docs/benchmarks/echo.md): heist, tokio and smol echo servers
# (examples/echo.rs) under the same single-threaded mio client, in separate processes.
#
#   scripts/echo-bench.sh            # the full matrix, both setups (about 40 min)
#   scripts/echo-bench.sh --quick    # a smoke run: two cells, 1 s each, errors only
#   RTS="heist tokio smol asyncio uvloop" scripts/echo-bench.sh   # with the article's
#                                    # Python servers (scripts/echo_asyncio.py; uvloop
#                                    # from PyPI); PY=python3.11 by default
#
# Setups: "pinned" = client on CPU 0, a 1-worker server on CPU 1 (taskset);
#         "shared" = a 2-worker server and the client on both CPUs, unpinned.
# Matrix: connections 1/100/1000 x 64 B/1 KiB x rr/pipe, plus 64 KiB rr at 100.
# Servers are interleaved per cell (heist, tokio, smol) so noise hits all alike.
# asyncio and uvloop servers are one thread whatever the setup.
# Output: one JSON line per run (the client's, plus server CPU seconds and requests
# per server CPU-second), to stdout and to target/echo-bench.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${SECS:-5}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-1}"
PORT="${PORT:-7300}"
RTS="${RTS:-heist tokio smol}"
PY="${PY:-python3.11}"
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; SECS=1; WARMUP=0.2; fi

cargo build --release --example echo >&2
BIN=target/release/examples/echo
OUT=target/echo-bench.jsonl
: > "$OUT"
TICKS=$(getconf CLK_TCK)

cpu_secs() { # utime + stime of a process, in seconds
    awk -v t="$TICKS" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"
}

run_cell() { # setup rt conns size mode
    local setup=$1 rt=$2 conns=$3 size=$4 mode=$5 workers server_pin client_pin
    if [ "$setup" = pinned ]; then
        workers=1; server_pin="taskset -c 1"; client_pin="taskset -c 0"
    else
        workers=2; server_pin=""; client_pin=""
    fi
    PORT=$((PORT + 1))
    local log; log=$(mktemp)
    case $rt in
        asyncio | uvloop)
            $server_pin "$PY" scripts/echo_asyncio.py --loop "$rt" --addr "127.0.0.1:$PORT" >"$log" 2>&1 & ;;
        *)
            $server_pin "$BIN" server --rt "$rt" --workers "$workers" --addr "127.0.0.1:$PORT" >"$log" 2>&1 & ;;
    esac
    local pid=$!
    for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
    local before after line
    before=$(cpu_secs "$pid")
    line=$($client_pin "$BIN" client --addr "127.0.0.1:$PORT" --conns "$conns" --size "$size" \
        --mode "$mode" --secs "$SECS" --warmup "$WARMUP")
    after=$(cpu_secs "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$log"
    # Server CPU over warm-up + measurement; requests per CPU-second uses the measured
    # share of it.
    line=$(echo "$line" | awk -v s="$setup" -v r="$rt" -v b="$before" -v a="$after" \
        -v secs="$SECS" -v warm="$WARMUP" '{
            cpu = a - b; share = cpu * secs / (secs + warm);
            sub(/}$/, "");
            match($0, /"requests":[0-9]+/); req = substr($0, RSTART + 11, RLENGTH - 11);
            printf "%s,\"setup\":\"%s\",\"rt\":\"%s\",\"server_cpu_s\":%.2f,\"req_per_cpu_s\":%.0f}\n",
                $0, s, r, cpu, (share > 0 ? req / share : 0) }')
    echo "$line" | tee -a "$OUT"
    if echo "$line" | grep -q '"errors":[1-9]'; then echo "errors in $line" >&2; return 1; fi
}

if [ $quick = 1 ]; then
    for rt in $RTS; do
        run_cell shared "$rt" 100 1024 rr
        run_cell shared "$rt" 1000 64 pipe
    done
    exit 0
fi

for setup in pinned shared; do
    for conns in 1 100 1000; do
        for size in 64 1024; do
            for mode in rr pipe; do
                for _ in $(seq "$REPS"); do
                    for rt in $RTS; do
                        run_cell "$setup" "$rt" "$conns" "$size" "$mode"
                    done
                done
            done
        done
    done
    for rt in $RTS; do run_cell "$setup" "$rt" 100 65536 rr; done
done
