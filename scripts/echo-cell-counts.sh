#!/usr/bin/env bash
# Per-request counts of one echo cell, client AND server side, plus TCP segments
# (docs/benchmarks/echo.md, "Where heist does not win"). Runs in a fresh network
# namespace (needs root: `unshare -n`), so `nstat`'s TCP counters see only this
# client and server, however busy the machine's own loopback is.
#
#   scripts/echo-cell-counts.sh RT SETUP CONNS SIZE MODE N
#   scripts/echo-cell-counts.sh heist pinned 100 64 pipe 400000
#   CLIENT_ARGS=--batch scripts/echo-cell-counts.sh heist pinned 100 64 pipe 2000000
#
# SETUP as in echo-bench.sh (pinned: client CPU 0, 1-worker server CPU 1; shared:
# 2 workers, unpinned). The client stops after N echoes (`--count`). Prints one line:
# the rate (noise on a shared machine), server CPU per request (/proc, tick-sampled:
# only meaningful when the server rarely sleeps), the client's syscalls, context
# switches and CPU (task-clock) per request, the server's syscalls by kind and context
# switches per request (perf, attached), and TCP segments per request (nstat).
# Pipelined cells: N counts echoes received; the ~conns x depth messages in flight at
# the end are sent but not counted, so use N >> conns x 64.
set -euo pipefail
if [ -z "${ECHO_NETNS:-}" ]; then
    cd "$(dirname "$0")/.."
    cargo build --release --example echo >&2
    ECHO_NETNS=1 exec unshare -n "$0" "$@"
fi
RT=$1 SETUP=$2 CONNS=$3 SIZE=$4 MODE=$5 N=$6
BIN=target/release/examples/echo
ip link set lo up
if [ "$SETUP" = pinned ]; then w=1; sp="taskset -c 1"; cp="taskset -c 0"; else w=2; sp=""; cp=""; fi
log=$(mktemp); cstats=$(mktemp); sstats=$(mktemp)
$sp $BIN server --rt "$RT" --workers $w --addr 127.0.0.1:7000 >"$log" 2>&1 &
S=$!
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
SEV=raw_syscalls:sys_enter
for s in recvfrom sendto epoll_wait epoll_pwait epoll_ctl futex; do SEV="$SEV,syscalls:sys_enter_$s"; done
perf stat -x, -e "$SEV,context-switches" -p $S -o "$sstats" &
ST=$!
sleep 0.3 # let perf attach
nstat -n >/dev/null # resets nstat's history: the next call reports from here
T=$(getconf CLK_TCK)
b=$(awk '{print $14+$15}' /proc/$S/stat)
line=$(perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,context-switches,task-clock \
    -o "$cstats" $cp $BIN client --addr 127.0.0.1:7000 --conns "$CONNS" --size "$SIZE" --mode "$MODE" --count "$N" ${CLIENT_ARGS:-})
a=$(awk '{print $14+$15}' /proc/$S/stat)
net=$(nstat -z TcpOutSegs TcpExtTCPPureAcks TcpExtDelayedACKs TcpExtTCPBacklogCoalesce TcpExtTCPRcvCoalesce | awk 'NR>1 && $1 !~ /^#/ {printf " %s=%s", $1, $2}')
kill -INT $ST; wait $ST 2>/dev/null || true
kill $S; wait $S 2>/dev/null || true
req=$(echo "$line" | sed -E 's/.*"requests":([0-9]+).*/\1/')
rps=$(echo "$line" | sed -E 's/.*"rps":([0-9]+).*/\1/')
per() { awk -F, -v n="$req" '$3 ~ /raw_syscalls/ {printf " sys=%.2f", $1/n}
    $3 ~ /sys_enter_/ {sub(/.*sys_enter_/,"",$3); printf " %s=%.3f", $3, $1/n}
    $3 ~ /context/ {printf " cs=%.3f", $1/n} $3 ~ /task-clock/ {printf " cpu_us=%.2f", $1*1000/n}' "$1"; }
echo "$RT $SETUP ${CONNS}x${SIZE} $MODE requests=$req rps=$rps server_cpu_us=$(awk -v a="$a" -v b="$b" -v t="$T" -v n="$req" 'BEGIN{printf "%.2f", (a-b)*1e6/t/n}')" \
    "| client:$(per "$cstats") | server:$(per "$sstats") | tcp:$(echo "$net" | awk -v n="$req" '{for(i=1;i<=NF;i++){split($i,kv,"="); printf " %s=%.3f", kv[1], kv[2]/n}}')"
rm -f "$log" "$cstats" "$sstats"
