#!/usr/bin/env bash
# The HTTP row of the echo benchmark (docs/benchmarks/echo.md, "HTTP"): hyper's
# HTTP/1 hello-world on heist and on tokio (examples/hyper_server.rs) under `wrk`
# (apt-get install wrk), interleaved per cell, with the server's syscalls and context
# switches per request counted by `perf stat` over the same run.
#
#   scripts/http-bench.sh                   # shared setup, 1/100/1000 connections, 5 s
#   SETUP=pinned SECS=10 scripts/http-bench.sh
#
# SETUP=shared: 2-worker servers, wrk unpinned; SETUP=pinned: wrk on CPU 0, a 1-worker
# server on CPU 1. Output: one JSON line per run, to stdout and target/http-bench.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${SECS:-5}"
SETUP="${SETUP:-shared}"
CONNS="${CONNS:-1 100 1000}"
RTS="${RTS:-heist tokio}"
PORT="${PORT:-7500}"

cargo build --release --features hyper --example hyper_server >&2
BIN=target/release/examples/hyper_server
OUT=target/http-bench.jsonl
: > "$OUT"
if [ "$SETUP" = pinned ]; then
    workers=1; server_pin="taskset -c 1"; client_pin="taskset -c 0"
else
    workers=2; server_pin=""; client_pin=""
fi
ulimit -n 4096 2>/dev/null || true

for conns in $CONNS; do
    for rt in $RTS; do
        PORT=$((PORT + 1))
        $server_pin "$BIN" --rt "$rt" --workers "$workers" --addr "127.0.0.1:$PORT" \
            >/dev/null 2>&1 &
        server=$!
        for _ in $(seq 100); do
            curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break
            sleep 0.05
        done
        stats=$(mktemp)
        perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_futex,context-switches \
            -p "$server" -o "$stats" &
        tracer=$!
        sleep 0.3
        report=$($client_pin wrk -t1 -c"$conns" -d"${SECS}s" --latency \
            "http://127.0.0.1:$PORT/")
        kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
        kill "$server"; wait "$server" 2>/dev/null || true
        requests=$(echo "$report" | awk '/requests in/ { print $1 }')
        rps=$(echo "$report" | awk '/Requests\/sec/ { print $2 }')
        p50=$(echo "$report" | awk '$1 == "50%" { print $2 }')
        p99=$(echo "$report" | awk '$1 == "99%" { print $2 }')
        counts=$(awk -F, -v n="$requests" '
            $3 ~ /raw_syscalls/ { printf "\"syscalls\":%.2f", $1 / n }
            $3 ~ /futex/ { printf ",\"futex\":%.3f", $1 / n }
            $3 ~ /context-switches/ { printf ",\"cs\":%.3f", $1 / n }' "$stats")
        rm -f "$stats"
        echo "{\"rt\":\"$rt\",\"setup\":\"$SETUP\",\"conns\":$conns,\"requests\":$requests,\"rps\":$rps,\"p50\":\"$p50\",\"p99\":\"$p99\",$counts}" | tee -a "$OUT"
    done
done
