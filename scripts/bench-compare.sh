#!/usr/bin/env bash
# Runs heist's benchmark suites against tokio, async-executor (and, in the scheduler
# suite, the futures ThreadPool) and prints one ratio table per suite (markdown, ready
# for docs/benchmarks.md).
#
#   scripts/bench-compare.sh            # full run (about 10 minutes on 2 cores)
#   scripts/bench-compare.sh --quick    # smoke run: HEIST_BENCH_QUICK=1 (short criterion
#                                       # times, fewer wake samples)
#   scripts/bench-compare.sh --report   # no run: print the tables from the last results
#   scripts/bench-compare.sh --workers all       # the scheduler suite at 1 worker, the
#                                       # core count and twice the core count (one table
#                                       # each), then the other suites once
#   scripts/bench-compare.sh --workers "1 4"     # the scheduler suite at these counts
#   scripts/bench-compare.sh --scheduler-only --workers all   # skip spawn/wake/memory
#
# Each worker count N of `--workers` runs the scheduler suite with HEIST_BENCH_WORKERS=N
# and saves criterion's results as the baseline `workers-N`
# (target/criterion/<group>/<fn>/workers-N/); `--report --workers ...` reads them back.
#
# Environment: HEIST_BENCH_WORKERS (worker count, default: cores), HEIST_WAKE_SAMPLES,
# HEIST_MEM_TASKS, CARGO_TARGET_DIR. Extra arguments after `--` go to every criterion
# bench (e.g. `-- --measurement-time 10`).
#
# Medians are criterion's median point estimates (target/criterion/<group>/<fn>/new/
# estimates.json); wake percentiles come from target/heist-bench/wake.json and memory
# from target/heist-bench/memory-*.json; the placement column (near or far vCPUs around
# each runtime's measurement, docs/benchmarks/worker-counts.md section 10) from
# target/heist-bench/placement.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

run=1
others=1
worker_counts=""
criterion_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) export HEIST_BENCH_QUICK=1 ;;
        --report) run=0 ;;
        --scheduler-only) others=0 ;;
        --workers)
            shift
            [ $# -gt 0 ] || { echo "--workers needs a list, or all" >&2; exit 2; }
            if [ "$1" = all ]; then
                worker_counts="1 $(nproc) $((2 * $(nproc)))"
            else
                worker_counts="$1"
            fi
            ;;
        --) shift; criterion_args=("$@"); break ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

target="${CARGO_TARGET_DIR:-target}"

if [ "$run" = 1 ]; then
    if [ -z "$worker_counts" ]; then
        cargo bench --bench scheduler -- "${criterion_args[@]}"
    else
        for n in $worker_counts; do
            HEIST_BENCH_WORKERS="$n" cargo bench --bench scheduler -- \
                --save-baseline "workers-$n" "${criterion_args[@]}"
        done
    fi
    if [ "$others" = 1 ]; then
        cargo bench --bench spawn -- "${criterion_args[@]}"
        cargo bench --bench wake
        cargo run --release --example memory -- all
    fi
fi

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (src modified)')"
echo "workers: ${worker_counts:-${HEIST_BENCH_WORKERS:-$(nproc)}}"
echo

python3 - "$target" "$worker_counts" <<'EOF'
import json, os, sys

target = sys.argv[1]
worker_counts = sys.argv[2].split()
crit = os.path.join(target, "criterion")
peers = ["heist", "tokio", "async-executor"]
sched_peers = peers + ["futures-pool"]

def median_ns(group, fn, baseline="new"):
    path = os.path.join(crit, group, fn, baseline, "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None

def fmt_time(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.1f} us"
    return f"{ns:,.1f} ns"

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"

def verdict(h, t, a):
    if None in (h, t, a):
        return "n/a"
    ok = h <= 0.8 * t and h <= a
    return "ok" if ok else "MISS"

def loses_to(h, others):
    if h is None:
        return "n/a"
    lost = [p for p, m in others.items() if m is not None and m < h]
    return ", ".join(lost) if lost else "none"

# Placement of each runtime's measurement (benches/scheduler.rs, `placed`): the last
# record per worker count, workload and runtime. n = near before and after, f = far,
# x = it changed during the measurement (so its median mixes both), ? = no record.
placement = {}
try:
    with open(os.path.join(target, "heist-bench", "placement.jsonl")) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            def near(ns):
                return None if ns is None else ns < 150
            b, a = near(r["before_ns"]), near(r["after_ns"])
            mark = "?" if b is None or a is None else ("x" if b != a else ("n" if b else "f"))
            placement[(str(r["workers"]), r["group"], r["runtime"])] = mark
except OSError:
    pass

def placements(n, w):
    return "/".join(placement.get((n, w, p), "?") for p in sched_peers)

workloads = ["spawn_many_local", "spawn_many_remote_idle", "spawn_many_remote_busy1",
             "spawn_many_remote_busy2", "yield_many", "ping_pong", "chained_spawn",
             "foreign_wake_storm", "token_ring"]
for baseline, title in ([(f"workers-{n}", f"{n} workers") for n in worker_counts]
                        or [("new", f"{os.environ.get('HEIST_BENCH_WORKERS', os.cpu_count())} workers")]):
    print(f"## scheduler, {title} (criterion medians; bar: heist <= 0.8 x tokio and "
          "<= async-executor; and heist <= every peer)")
    print()
    print("| workload | heist | tokio | async-executor | futures-pool | heist/tokio | "
          "heist/async-executor | bar | heist loses to | placement h/t/a/f |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    n = baseline[len("workers-"):] if baseline.startswith("workers-") else \
        os.environ.get("HEIST_BENCH_WORKERS", str(os.cpu_count()))
    for w in workloads:
        h, t, a, f = (median_ns(w, p, baseline) for p in sched_peers)
        print(f"| {w} | {fmt_time(h)} | {fmt_time(t)} | {fmt_time(a)} | {fmt_time(f)} | "
              f"{ratio(h, t)} | {ratio(h, a)} | {verdict(h, t, a)} | "
              f"{loses_to(h, {'tokio': t, 'async-executor': a, 'futures-pool': f})} | "
              f"{placements(n, w)} |")
    print()
    print("placement: the CPUs' distance before and after each runtime's measurement "
          "(benches/common/placement.rs): n near, f far, x changed during it, ? no record")
    print()

print("## spawn + await of a trivial task, one worker (bar: heist <= 10 x floor)")
print()
print("| runtime | median | x floor |")
print("|---|---|---|")
floor = median_ns("spawn_await", "floor")
print(f"| floor (no scheduler) | {fmt_time(floor)} | 1.00 |")
for p in peers:
    m = median_ns("spawn_await", p)
    print(f"| {p} | {fmt_time(m)} | {ratio(m, floor)} |")
print()

print("## wake latency (bar: heist p99 idle_to_running <= tokio's)")
print()
try:
    with open(os.path.join(target, "heist-bench", "wake.json")) as f:
        wake = json.load(f)
except (OSError, ValueError):
    wake = []
print("| scenario | runtime | p50 | p90 | p99 | max |")
print("|---|---|---|---|---|---|")
for s in sorted(wake, key=lambda s: (s["scenario"], peers.index(s["runtime"]))):
    print(f"| {s['scenario']} | {s['runtime']} | {s['p50_us']:.1f} us | {s['p90_us']:.1f} us | "
          f"{s['p99_us']:.1f} us | {s['max_us']:.1f} us |")
print()

print("## memory per waiting task (bar: heist <= the leanest peer)")
print()
print("| runtime | tasks | RSS bytes/task | heap bytes/task | handle bytes |")
print("|---|---|---|---|---|")
for p in peers:
    try:
        with open(os.path.join(target, "heist-bench", f"memory-{p}.json")) as f:
            m = json.load(f)
        print(f"| {p} | {m['tasks']:,} | {m['rss_bytes_per_task']:.1f} | "
              f"{m['heap_bytes_per_task']:.1f} | {m['handle_bytes']} |")
    except (OSError, ValueError):
        print(f"| {p} | n/a | n/a | n/a | n/a |")
EOF
