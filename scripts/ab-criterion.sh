#!/usr/bin/env bash
# heist's criterion scheduler workloads at two or more commits, the bench binaries
# interleaved, heist only: "did this change cost the scheduler anything?" (the bar of
# issue 12, docs/observability.md "What it costs").
#
#   scripts/ab-criterion.sh OLD [NEW ...]       # NEW defaults to HEAD
#   ROUNDS=3 WORKERS="1 2" ARGS="--warm-up-time 2 --measurement-time 4" \
#       scripts/ab-criterion.sh 0873002 HEAD
#   WORKLOADS="yield_many ping_pong" WORKERS=2 scripts/ab-criterion.sh A B C D   # a bisect
#   scripts/ab-criterion.sh 0873002 HEAD HEAD:HEIST_BENCH_SPIN_US=0   # a knob A/B
#
# A build is COMMIT or COMMIT:VAR=VALUE (one environment variable set for that build's
# runs only, e.g. the bench knobs of benches/common/mod.rs).
#
# Each commit is checked out (git worktree) beside the repository, in
# ../heist-ab-<sha>, outside this workspace, and its `benches/scheduler.rs` built into
# target/ab/target-<sha>. Only the workloads every commit has are run (the default list
# is 0873002's, `WORKLOADS` to choose). Each round runs every worker count on every
# build, in commit order in odd rounds and reversed in even ones; the figure per round
# is criterion's median point estimate. Prints, per worker count and workload, the
# median over rounds of each build, last / first, and the per-round values. The load
# average is printed before and after. Results: target/ab/criterion-<first>-<last>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

[ $# -ge 1 ] || { echo "usage: $0 OLD [NEW ...]" >&2; exit 2; }
[ $# -ge 2 ] || set -- "$1" HEAD
shas=()   # labels: sha or sha:VAR=VALUE
for c in "$@"; do
    sha=$(git rev-parse --short "${c%%:*}")
    case "$c" in *:*) shas+=("$sha:${c#*:}") ;; *) shas+=("$sha") ;; esac
done
rounds=${ROUNDS:-3}
workers=${WORKERS:-$(nproc)}
read -r -a args <<< "${ARGS:---warm-up-time 2 --measurement-time 4}"
workloads=${WORKLOADS:-spawn_many_local spawn_many_remote_idle spawn_many_remote_busy1 spawn_many_remote_busy2 yield_many ping_pong chained_spawn}

build() { # sha -> path of the bench binary (stdout)
    local sha=$1 src="$root/../heist-ab-$1" tgt="$root/target/ab/target-$1"
    [ -d "$src" ] || git worktree add -q --detach "$src" "$sha" >&2
    (cd "$src" && CARGO_TARGET_DIR="$tgt" cargo bench --bench scheduler --no-run \
        --message-format=json 2>/dev/null) |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scheduler" and m.get("executable"):
        print(m["executable"])' | tail -1
}

declare -A bins
for label in "${shas[@]}"; do
    sha=${label%%:*}
    [ -n "${bins[$sha]:-}" ] || bins[$sha]=$(build "$sha")
done
filter="^($(echo "$workloads" | tr ' ' '|'))/heist\$"
out="$root/target/ab/criterion-${shas[0]%%:*}-${shas[-1]%%:*}.jsonl"
: > "$out"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # label binary workers round
    local dir="$root/target/ab/run" knob=()
    case "$1" in *:*) knob=("${1#*:}") ;; esac
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && env "${knob[@]}" HEIST_BENCH_WORKERS="$3" CARGO_TARGET_DIR="$dir" "$2" \
        --bench "$filter" "${args[@]}" > log 2>&1)
    for w in $workloads; do
        local est="$dir/criterion/$w/heist/new/estimates.json"
        [ -f "$est" ] || continue
        python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))
print(json.dumps({"build": sys.argv[2], "workers": int(sys.argv[3]), "round": int(sys.argv[4]),
                  "workload": sys.argv[5], "median_ns": e["median"]["point_estimate"]}))' \
            "$est" "$1" "$3" "$4" "$w" >> "$out"
    done
}

for r in $(seq 1 "$rounds"); do
    order=("${shas[@]}")
    if [ $((r % 2)) = 0 ]; then
        order=()
        for ((i = ${#shas[@]} - 1; i >= 0; i--)); do order+=("${shas[i]}"); done
    fi
    for n in $workers; do
        for label in "${order[@]}"; do run "$label" "${bins[${label%%:*}]}" "$n" "$r"; done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "${shas[@]}" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
shas = sys.argv[2:]
def fmt(ns):
    return f"{ns / 1e6:.2f} ms" if ns >= 1e6 else f"{ns / 1e3:.0f} us"
print(f"| workers | workload | {' | '.join(shas)} | {shas[-1]} / {shas[0]} | rounds |")
print("|---|---|" + "---|" * (len(shas) + 2))
for n in sorted({r["workers"] for r in rows}):
    for w in dict.fromkeys(r["workload"] for r in rows):
        per = [[r["median_ns"] for r in rows if r["workers"] == n and r["workload"] == w and r["build"] == s] for s in shas]
        if not all(per):
            continue
        med = [statistics.median(v) for v in per]
        rounds = "; ".join(" / ".join(fmt(x) for x in v) for v in per)
        print(f"| {n} | {w} | {' | '.join(fmt(m) for m in med)} | {med[-1] / med[0]:.3f} | {rounds} |")
EOF
