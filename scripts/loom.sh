#!/usr/bin/env bash
# Runs heist's loom models (docs/testing.md). Usage:
#   scripts/loom.sh [task|local|queue|time|io|runtime|user|all] [libtest args, e.g. --nocapture]
# Each slice is one cargo invocation, so CI may run them as separate steps.
# Budget on the 2-core CI machine: see docs/testing.md (about 2 min cold, all slices).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build against loom: the crate's sync facade hands out loom's types under this cfg.
export RUSTFLAGS="--cfg heist_loom ${RUSTFLAGS:-}"
# A separate target dir, so the loom build does not invalidate the normal one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
# Preemption bound: 2 finds every bug planted so far (docs/testing.md); 3 multiplies
# the cost by 10-100x. The runtime models with two or more workers set their own bound
# of 1 (tests/loom_runtime.rs, `model_bounded`), which still catches their planted bugs.
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# Longest single execution loom accepts; the largest model needs well under this, so
# hitting it means a model (or the code) spins without bound.
export LOOM_MAX_BRANCHES="${LOOM_MAX_BRANCHES:-10000}"

slice="${1:-all}"
shift || true
run() {
    echo "== loom: $*"
    # --release: loom models are CPU-bound; release makes them 10-30x faster.
    # -p heist: the workspace's other member (macros/) has no models.
    cargo test -p heist --release "$@"
}

case "$slice" in
    task) run --lib -- task::loom_tests task::depot::loom_tests "$@" ;;
    local) run --lib -- task::local::loom_tests "$@" ;;
    queue) run --lib -- scheduler::loom_tests "$@" ;;
    time) run --lib -- time::driver::loom_tests "$@" ;;
    io) run --lib -- io::loom_tests "$@" ;;
    runtime) run --test loom_runtime -- "$@" ;;
    user) run --test loom_user -- "$@" ;;
    all)
        # Every model inside the crate: task::, task::local::, scheduler:: (loom_tests),
        # the timer driver's (time::driver::loom_tests) and the I/O readiness (io::loom_tests).
        run --lib -- loom_tests "$@"
        run --test loom_runtime -- "$@"
        run --test loom_user -- "$@"
        ;;
    *)
        echo "usage: $0 [task|local|queue|time|io|runtime|user|all] [libtest args...]" >&2
        exit 2
        ;;
esac
