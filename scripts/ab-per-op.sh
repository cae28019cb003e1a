#!/usr/bin/env bash
# Wall time per operation of two heist commits, old and new binaries interleaved, for
# "is the hot path still as fast as at <commit>?" (docs/benchmarks.md, "Where the
# 72 -> 91 ns went"; docs/observability.md, "What it costs").
#
#   scripts/ab-per-op.sh OLD [NEW] [ROUNDS]     # NEW defaults to HEAD, ROUNDS to 15
#   OPS="spawn_await yield ping_pong" N=1000000 WORKERS=1 scripts/ab-per-op.sh 0873002
#   DEBUG_AB=1 scripts/ab-per-op.sh HEAD        # one build, HEIST_DEBUG=0 against =1
#
# Each commit's heist is checked out into target/ab/src-<sha> (git worktree) and linked
# into the same probe (examples/per_op.rs of the working tree, default features off, so
# it also builds against commits that predate the example). Each round runs every op on
# every build once, alternating which build goes first, with n = N and n = 0; the time
# per op is (t(N) - t(0)) / N. Prints the median over rounds and new/old.
# For a quiet machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

old=$(git rev-parse --short "${1:?usage: $0 OLD [NEW] [ROUNDS]}")
new=$(git rev-parse --short "${2:-HEAD}")
rounds=${3:-15}
ops=${OPS:-spawn_await yield ping_pong}
n=${N:-1000000}
export HEIST_BENCH_WORKERS=${WORKERS:-1}

build() { # sha -> path of the probe binary
    local sha=$1 src="$root/target/ab/src-$1" probe="$root/target/ab/probe-$1"
    if [ ! -d "$src" ]; then
        git worktree add -q --detach "$src" "$sha" >&2
    fi
    mkdir -p "$probe/src"
    cp "$root/examples/per_op.rs" "$probe/src/main.rs"
    cat > "$probe/Cargo.toml" <<EOF
[package]
name = "per-op-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
heist = { path = "$src", default-features = false }
futures = "0.3"

[profile.release]
debug = 1

[workspace]
EOF
    (cd "$probe" && CARGO_TARGET_DIR="$probe/target" cargo build -q --release --offline >&2)
    echo "$probe/target/release/per-op-probe"
}

ns() { # binary op n [env...] -> nanoseconds of one run
    local bin=$1 op=$2 count=$3 t0 t1
    shift 3
    t0=$(date +%s%N)
    env "$@" "$bin" "$op" "$count" >/dev/null
    t1=$(date +%s%N)
    echo $((t1 - t0))
}

if [ "${DEBUG_AB:-0}" = 1 ]; then
    bin=$(build "$new")
    labels=("HEIST_DEBUG=0" "HEIST_DEBUG=1")
    bins=("$bin" "$bin")
    envs=("HEIST_DEBUG=0" "HEIST_DEBUG=1")
else
    labels=("$old" "$new")
    bins=("$(build "$old")" "$(build "$new")")
    envs=("HEIST_DEBUG=0" "HEIST_DEBUG=0")
fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); workers $HEIST_BENCH_WORKERS; n $n; rounds $rounds"
results=$(mktemp)
for ((r = 0; r < rounds; r++)); do
    for op in $ops; do
        for k in 0 1; do
            i=$(((k + r) % 2)) # alternate which build goes first
            full=$(ns "${bins[$i]}" "$op" "$n" "${envs[$i]}")
            empty=$(ns "${bins[$i]}" "$op" 0 "${envs[$i]}")
            echo "$i $op $full $empty" >> "$results"
        done
    done
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" "$n" "${labels[0]}" "${labels[1]}" <<'EOF'
import statistics, sys
path, n, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
per = {}
for line in open(path):
    i, op, full, empty = line.split()
    per.setdefault((op, int(i)), []).append((int(full) - int(empty)) / n)
print(f"| op | {a} ns/op (median) | {b} ns/op (median) | {b} / {a} | spread {a} | spread {b} |")
print("|---|---|---|---|---|---|")
for op in dict.fromkeys(op for op, _ in per):
    x, y = per[(op, 0)], per[(op, 1)]
    mx, my = statistics.median(x), statistics.median(y)
    sx = f"{min(x):.1f}-{max(x):.1f}"
    sy = f"{min(y):.1f}-{max(y):.1f}"
    print(f"| {op} | {mx:.1f} | {my:.1f} | {my / mx:.3f} | {sx} | {sy} |")
EOF
rm -f "$results"
