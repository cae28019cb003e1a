#!/usr/bin/env bash
# Runs heist's threaded tests under ThreadSanitizer (docs/testing.md). Installs what it
# needs itself. Budget on the 2-core CI machine: about 4 min (std rebuilt with TSan).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add --toolchain nightly rust-src

# TSan needs every crate, std included, instrumented: -Zbuild-std with an explicit
# target. A separate target dir keeps the instrumented build apart from the normal one.
export RUSTFLAGS="-Zsanitizer=thread ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=thread ${RUSTDOCFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/tsan}"
# A report fails the run (exit code 66), with both stacks of a lock-order inversion.
# crossbeam-deque's speculative slot read is suppressed (scripts/tsan-suppressions.txt).
export TSAN_OPTIONS="${TSAN_OPTIONS:-exitcode=66 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan-suppressions.txt}"

# The model bodies on real threads (hundreds of iterations each: task protocols, the
# queue model, whole runtimes started and shut down), and the scheduling, shutdown and
# task-dump integration tests.
cargo +nightly test -p heist -Zbuild-std --target x86_64-unknown-linux-gnu \
    --lib --test loom_runtime --test scheduling --test shutdown --test dump --test net_scheduling
