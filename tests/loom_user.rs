//! Model-checking *your own* tasks on heist.
//!
//! Built with `RUSTFLAGS="--cfg heist_loom"`, heist's workers, queues, parkers and
//! wakers are made of loom's threads, atomics and locks, so a whole heist runtime runs
//! inside `loom::model`: loom then explores how your tasks interleave on the workers and
//! on the thread that calls `block_on`, including the orders that real hardware makes
//! rare. Your own shared state must be loom's too (here `loom::sync::atomic`), usually
//! through a small facade in your crate that picks loom's types under `cfg(heist_loom)`
//! (see `docs/testing.md`).
//!
//! The protocol checked here: a counter of permits, where two tasks race for the last
//! one. The first version reads the count and writes it back (check-then-act); loom finds
//! the interleaving in which both tasks see one permit and both take it. The fixed
//! version decrements with one read-modify-write and passes every interleaving.
//!
//! Run: `RUSTFLAGS="--cfg heist_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_user`
#![cfg(heist_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;

/// The user's code under test: a pool of permits.
struct Permits {
    available: AtomicUsize,
}

impl Permits {
    /// Racy: between the load and the store another task may take the same permit.
    fn try_acquire_racy(&self) -> bool {
        let n = self.available.load(SeqCst);
        if n == 0 {
            return false;
        }
        self.available.store(n - 1, SeqCst);
        true
    }

    /// Fixed: the check and the decrement are one atomic step.
    fn try_acquire(&self) -> bool {
        self.available
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// One heist worker runs a task that takes a permit while the `block_on` thread takes one
/// too; there is only one permit to take.
fn two_tasks_race_for_the_last_permit(acquire: fn(&Permits) -> bool) {
    loom::model(move || {
        let rt = heist::Runtime::builder()
            .worker_threads(1)
            // loom has no clock: no timed sleeps (see `Builder::stalled_slot_check`).
            .stalled_slot_check(None)
            .build()
            .unwrap();
        let permits = Arc::new(Permits {
            available: AtomicUsize::new(1),
        });
        let theirs = {
            let permits = permits.clone();
            rt.spawn(async move { acquire(&permits) })
        };
        let mine = rt.block_on(async { acquire(&permits) });
        let theirs = rt.block_on(theirs).unwrap();
        assert!(!(mine && theirs), "the last permit was handed out twice");
        assert!(mine || theirs, "nobody got the permit");
    });
}

#[test]
#[should_panic(expected = "the last permit was handed out twice")]
fn loom_finds_the_race_in_check_then_act() {
    two_tasks_race_for_the_last_permit(Permits::try_acquire_racy);
}

#[test]
fn the_fixed_version_passes_every_interleaving() {
    two_tasks_race_for_the_last_permit(Permits::try_acquire);
}
