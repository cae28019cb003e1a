#!/usr/bin/env bash
# Runs heist's tests under miri (docs/testing.md). Installs what it needs itself.
# Budget on the 2-core CI machine: about 3 min (sysroot build included).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add --toolchain nightly miri rust-src
cargo +nightly miri setup

# The model bodies run on real threads under miri, a few iterations each (counts are
# shrunk under cfg!(miri)); several seeds give miri's scheduler several interleavings.

# 1. heist's own unsafe code: the task allocation, vtable, wakers, join hand-off, abort
#    (task::, which includes the LocalSet models in task::local::), plus the idle
#    accounting and the timer entry models (firing against cancel-and-free and against
#    a new waker) and the I/O readiness models (io::loom_tests). Stacked Borrows (the
#    default), leak check on, eight schedules. Permissive provenance: on some schedules
#    two threads queue on one parking_lot lock, and parking_lot_core's word lock keeps
#    its queue head as an integer (`word_lock.rs:320`, an integer-to-pointer cast that
#    strict provenance rejects as unsupported: seed 6 of the timer models at `9e90586`).
#    Run 2 checks the task module under strict provenance.
echo "== miri: task module, permissive provenance, Stacked Borrows"
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-many-seeds=0..8" \
    cargo +nightly miri test -p heist --lib -- task:: scheduler::idle time::driver::loom_tests io::loom_tests

# 2. The same under Tree Borrows.
echo "== miri: task module, strict provenance, Tree Borrows"
MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-tree-borrows" \
    cargo +nightly miri test -p heist --lib -- task::

# 3. Code that goes through crossbeam-deque (the queue model and the whole runtime).
#    crossbeam-epoch 0.9 trips miri in ways that are not heist's (docs/testing.md):
#    - it casts integers to pointers (tagged pointers), which strict provenance
#      rejects: -Zmiri-permissive-provenance;
#    - it turns a reference to a list entry into a reference to the struct containing
#      it (Local::element_of), which Stacked Borrows forbids and Tree Borrows allows:
#      -Zmiri-tree-borrows;
#    - its global collector keeps deferred garbage at exit: -Zmiri-ignore-leaks (heist's
#      own leaks are checked by run 1 and by loom).
echo "== miri: queues and whole runtime (crossbeam-deque inside)"
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-many-seeds=0..4" \
    cargo +nightly miri test -p heist --lib -- scheduler::loom_tests sync::injector
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-many-seeds=0..4" \
    cargo +nightly miri test -p heist --test loom_runtime

# 4. Handle::scope: futures that borrow the caller's stack run on real workers, through
#    a lifetime-erased box (src/runtime/scope.rs); miri checks that no borrow is used after the
#    scope returns or unwinds, the runtime-shutdown path included. Same flags as run 3
#    (the runtime goes through crossbeam-deque). Every test once, then, on four
#    schedules, the one that frees what its tasks borrowed right after the scope (it
#    catches a task that counts itself out before dropping its output on seed 2).
echo "== miri: Handle::scope (tests/scope.rs)"
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p heist --test scope
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-many-seeds=0..4" \
    cargo +nightly miri test -p heist --test scope borrowed_heap_data_is_freed_right_after_the_scope
