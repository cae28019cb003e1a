#!/usr/bin/env bash
# Syscalls and context switches per echo request, per server (docs/benchmarks/echo.md,
# "Syscalls per request"). Deterministic enough to compare on a loaded machine:
# the client stops after a fixed number of echoes (`--count`), and the server's
# syscalls are counted over exactly that run.
#
#   scripts/echo-syscalls.sh                      # default cells, heist tokio smol
#   RTS="heist tokio" CELLS="100:64:rr" N=100000 scripts/echo-syscalls.sh
#   TOOL=strace scripts/echo-syscalls.sh          # strace -c -f instead of perf
#   BIN=/tmp/echo-main scripts/echo-syscalls.sh   # another build's echo example
#   RTS="heist tokio smol asyncio uvloop" ...     # with the article's Python servers
#
# TOOL=perf (default): `perf stat` on syscall tracepoints, attached to the server
# (negligible overhead, so the server batches as it would untraced). TOOL=strace:
# `strace -c -f -p`, the issue's tool; it slows every syscall tenfold, which changes
# how much work each epoll_wait finds, so its per-request figures differ.
# SETUP=shared (default): 2-worker servers, client and server unpinned;
# SETUP=pinned: client on CPU 0, a 1-worker server on CPU 1.
# Output: one JSON line per run, to stdout and target/echo-syscalls.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${N:-100000}"
TOOL="${TOOL:-perf}"
SETUP="${SETUP:-shared}"
RTS="${RTS:-heist tokio smol}"
CELLS="${CELLS:-1:64:rr 100:64:rr 100:1024:rr 1000:64:pipe}"
PORT="${PORT:-7600}"

# BIN=path: run that build of the echo example (server and client) instead of this tree's,
# e.g. to compare two commits' servers under the same load.
if [ -z "${BIN:-}" ]; then
    cargo build --release --example echo >&2
    BIN=target/release/examples/echo
fi
OUT=target/echo-syscalls.jsonl
: > "$OUT"
EVENTS=raw_syscalls:sys_enter
for s in read write recvfrom sendto writev epoll_wait epoll_pwait epoll_ctl futex; do
    EVENTS="$EVENTS,syscalls:sys_enter_$s"
done
EVENTS="$EVENTS,context-switches"

if [ "$SETUP" = pinned ]; then
    workers=1; server_pin="taskset -c 1"; client_pin="taskset -c 0"
else
    workers=2; server_pin=""; client_pin=""
fi

start_server() { # rt -> pid (the server's, after it listens)
    PORT=$((PORT + 1))
    local log=target/echo-syscalls-server.log
    if [ "$1" = asyncio ] || [ "$1" = uvloop ]; then
        $server_pin "${PY:-python3.11}" scripts/echo_asyncio.py --loop "$1" --addr "127.0.0.1:$PORT" >"$log" 2>&1 &
    else
        $server_pin "$BIN" server --rt "$1" --workers "$workers" --addr "127.0.0.1:$PORT" >"$log" 2>&1 &
    fi
    SERVER=$!
    for _ in $(seq 200); do grep -q listening "$log" && return; sleep 0.05; done
    echo "server $1 did not start" >&2; cat "$log" >&2; exit 1
}

for cell in $CELLS; do
    IFS=: read -r conns size mode <<<"$cell"
    for rt in $RTS; do
        start_server "$rt"
        stats=$(mktemp)
        if [ "$TOOL" = strace ]; then
            strace -c -f -q -p "$SERVER" -o "$stats" &
        else
            perf stat -x, -e "$EVENTS" -p "$SERVER" -o "$stats" &
        fi
        tracer=$!
        sleep 0.5 # let the tracer attach
        line=$($client_pin "$BIN" client --addr "127.0.0.1:$PORT" --conns "$conns" \
            --size "$size" --mode "$mode" --count "$N")
        kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
        requests=$(echo "$line" | sed -E 's/.*"requests":([0-9]+).*/\1/')
        if [ "$TOOL" = strace ]; then
            # strace -c: "% time seconds usecs/call calls errors syscall", then "total".
            counts=$(awk -v n="$requests" '
                $1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 { c[$NF] = $4; total += $4 }
                END { printf "\"syscalls\":%.2f", total / n;
                    for (k in c) printf ",\"%s\":%.3f", k, c[k] / n }' "$stats")
        else
            counts=$(awk -F, -v n="$requests" '
                $3 ~ /raw_syscalls:sys_enter/ { printf "\"syscalls\":%.2f", $1 / n }
                $3 ~ /syscalls:sys_enter_/ { sub(/.*sys_enter_/, "", $3); printf ",\"%s\":%.3f", $3, $1 / n }
                $3 ~ /context-switches/ { printf ",\"cs\":%.3f", $1 / n }' "$stats")
        fi
        rm -f "$stats"
        echo "{\"rt\":\"$rt\",\"setup\":\"$SETUP\",\"tool\":\"$TOOL\",\"conns\":$conns,\"size\":$size,\"mode\":\"$mode\",\"requests\":$requests,$counts}" | tee -a "$OUT"
    done
done
