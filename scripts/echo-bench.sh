#!/usr/bin/env bash
# The echo benchmark (docs/benchmarks/echo.md): heist, tokio and smol echo servers
# (examples/echo.rs) under the same single-threaded mio client, in separate processes.
#
#   scripts/echo-bench.sh            # the full matrix, both setups (about 40 min)
#   scripts/echo-bench.sh --quick    # a smoke run: two cells, 1 s each, errors only
#   scripts/echo-bench.sh --short    # the whole matrix in ~15 min on the 2-core VM:
#                                    # SECS=3 WARMUP=0.5 REPS=3 (env overrides these)
#   BATCH=1 scripts/echo-bench.sh --short   # pipelined cells with the client's --batch
#                                    # (one write per window, not one per message)
#   SETUPS=shared CELLS="1000:64:pipe 1:64:rr" scripts/echo-bench.sh   # some cells only
#   RTS="heist tokio smol asyncio uvloop" scripts/echo-bench.sh   # with the article's
#                                    # Python servers (scripts/echo_asyncio.py; uvloop
#                                    # from PyPI); PY=python3.11 by default
#
# Setups: "pinned" = client on CPU 0, a 1-worker server on CPU 1 (taskset);
#         "shared" = a 2-worker server and the client on both CPUs, unpinned.
# Matrix: connections 1/100/1000 x 64 B/1 KiB x rr/pipe, plus 64 KiB rr at 100.
# Servers are interleaved per cell (heist, tokio, smol) so noise hits all alike.
# asyncio and uvloop servers are one thread whatever the setup.
# BATCH=1: the client writes all the messages its window allows in one write
# (`--batch`), in pipelined cells only; rr cells are unchanged. Each JSON line says
# "batch":true|false.
# Output: one JSON line per run (the client's, plus setup, rt, rep, batch, server CPU
# seconds and requests per server CPU-second), to stdout and to
# target/echo-bench.jsonl (OUT=... to change), then a per-cell summary (medians over
# the repetitions, scripts/echo-summary.py) on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
    --quick) quick=1; SECS=1; WARMUP=0.2 ;;
    --short) SECS="${SECS:-3}"; WARMUP="${WARMUP:-0.5}"; REPS="${REPS:-3}" ;;
    "") ;;
    *) echo "usage: $0 [--quick|--short]" >&2; exit 2 ;;
esac
SECS="${SECS:-5}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-1}"
PORT="${PORT:-7300}"
RTS="${RTS:-heist tokio smol}"
PY="${PY:-python3.11}"
BATCH="${BATCH:-0}"
SETUPS="${SETUPS:-pinned shared}"
# conns:size:mode; the matrix of issue 11.
CELLS="${CELLS:-1:64:rr 1:64:pipe 1:1024:rr 1:1024:pipe 100:64:rr 100:64:pipe 100:1024:rr
100:1024:pipe 1000:64:rr 1000:64:pipe 1000:1024:rr 1000:1024:pipe 100:65536:rr}"

cargo build --release --example echo >&2
BIN=target/release/examples/echo
OUT="${OUT:-target/echo-bench.jsonl}"
: > "$OUT"
TICKS=$(getconf CLK_TCK)

cpu_secs() { # utime + stime of a process, in seconds
    awk -v t="$TICKS" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"
}

run_cell() { # setup rt conns size mode [rep]
    local setup=$1 rt=$2 conns=$3 size=$4 mode=$5 rep=${6:-1} workers server_pin client_pin
    local batch=false batch_arg=""
    if [ "$BATCH" = 1 ] && [ "$mode" = pipe ]; then batch=true; batch_arg=--batch; fi
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
        --mode "$mode" --secs "$SECS" --warmup "$WARMUP" $batch_arg)
    after=$(cpu_secs "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$log"
    # Server CPU over warm-up + measurement; requests per CPU-second uses the measured
    # share of it.
    line=$(echo "$line" | awk -v s="$setup" -v r="$rt" -v b="$before" -v a="$after" \
        -v secs="$SECS" -v warm="$WARMUP" -v rep="$rep" -v batch="$batch" '{
            cpu = a - b; share = cpu * secs / (secs + warm);
            sub(/}$/, "");
            match($0, /"requests":[0-9]+/); req = substr($0, RSTART + 11, RLENGTH - 11);
            printf "%s,\"setup\":\"%s\",\"rt\":\"%s\",\"rep\":%d,\"batch\":%s,\"server_cpu_s\":%.2f,\"req_per_cpu_s\":%.0f}\n",
                $0, s, r, rep, batch, cpu, (share > 0 ? req / share : 0) }')
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

echo "echo-bench: SECS=$SECS WARMUP=$WARMUP REPS=$REPS BATCH=$BATCH setups: $SETUPS;" \
    "$(git rev-parse --short HEAD 2>/dev/null);$(uptime)" >&2
started=$(date +%s)
for setup in $SETUPS; do
    for cell in $CELLS; do
        IFS=: read -r conns size mode <<<"$cell"
        for rep in $(seq "$REPS"); do
            for rt in $RTS; do
                run_cell "$setup" "$rt" "$conns" "$size" "$mode" "$rep"
            done
        done
    done
done
echo "echo-bench: $(($(date +%s) - started)) s;$(uptime)" >&2
python3 scripts/echo-summary.py "$OUT" >&2
