//! The task state word: its flags, a decoded snapshot, and every transition.
//!
//! This is the only file that compare-exchanges the state word. Each transition is one
//! atomic read-modify-write that returns a `#[must_use]` value naming the caller's next
//! step; the table of transitions is in `task/mod.rs` and `docs/task-states.md`.
//!
//! Layout of the word (a `usize`):
//!
//! ```text
//!  | ref count (high bits) | FAILED | REGISTERED | JOIN_WAKER | JOIN_INTEREST | CANCELLED | NOTIFIED | COMPLETE | RUNNING |
//! ```
//!
//! Orderings: transitions that hand the task's cells from one thread to another use
//! `AcqRel` (success) / `Acquire` (failure) so that everything written before a release
//! (the future's progress, the output, the join waker) is visible after the acquire.
//! Reference increments are `Relaxed` (the incrementer already holds a reference);
//! decrements are `AcqRel` so that the thread that frees the task sees every write made
//! through every other reference.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;

/// The task is being polled (or cancelled, or completed) by the thread that set it.
/// Set by `transition_to_running` / `transition_to_shutdown`, cleared by
/// `transition_to_idle` / `transition_to_complete`. Acts as a lock on the future.
/// Never set together with `COMPLETE`.
pub(crate) const RUNNING: usize = 1 << 0;

/// The future has been dropped; the stage holds the output (or it was taken). Set once by
/// `transition_to_complete`, never cleared. A terminal state.
pub(crate) const COMPLETE: usize = 1 << 1;

/// A `Notified` reference for this task exists (in a run queue or about to be pushed), or
/// the task was woken while `RUNNING` and must be rescheduled when the poll ends. Set by
/// wakes and by abort; cleared by `transition_to_running`.
pub(crate) const NOTIFIED: usize = 1 << 2;

/// Someone asked to cancel the task (abort or shutdown). Set once, never cleared. The
/// thread that holds `RUNNING` sees it and drops the future instead of polling again.
pub(crate) const CANCELLED: usize = 1 << 3;

/// The `JoinHandle` is alive. Set at creation; cleared once, when the handle is dropped
/// before completion (`unset_join_interest`). While set at completion, the `JoinHandle`
/// (not the runtime) owns the result, and after completion only the handle reads the
/// flag: a handle that moved the output out remembers it in its own pointer
/// (`task/join.rs`, marked) rather than here, and at its drop only releases its
/// reference.
pub(crate) const JOIN_INTEREST: usize = 1 << 4;

/// The join waker slot holds a waker that the runtime may read. The `JoinHandle` writes
/// the slot only while this is clear and the task is not complete; the runtime reads it
/// only when this is set at completion. Never set without `JOIN_INTEREST`.
pub(crate) const JOIN_WAKER: usize = 1 << 5;

/// The task was handed to the owned-tasks registry (at its first `Pending`), which then
/// holds one of its references. Set once by the `RUNNING` holder (`set_registered`),
/// never cleared; read by the `RUNNING` holder (and at completion).
pub(crate) const REGISTERED: usize = 1 << 6;

/// The task's result is a failure (cancelled, or panicked): the stage holds a `Failure`
/// rather than the future's output. Set by `transition_to_complete` together with
/// `COMPLETE`, never cleared; meaningless before `COMPLETE`.
pub(crate) const FAILED: usize = 1 << 7;

const FLAG_BITS: u32 = 8;

/// One reference in the count held in the high bits.
pub(crate) const REF_ONE: usize = 1 << FLAG_BITS;

/// A new task: three references (the owned-tasks registry, the first `Notified`, the
/// `JoinHandle`), notified (it is about to be queued), join interest.
const INITIAL: usize = (3 * REF_ONE) | NOTIFIED | JOIN_INTEREST;

/// Counts above this abort the process, as `Arc` does: wrapping would free a live task.
const MAX_REFS: usize = usize::MAX >> (FLAG_BITS + 1);

/// The atomic state word of one task.
pub(crate) struct State {
    val: AtomicUsize,
}

/// A copy of the state word, decoded by its methods and its `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What the thread that popped a `Notified` must do next.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// The task was cancelled while queued: drop the future and complete.
    Cancelled,
    /// Someone else owns the task (it is running or complete); the caller's reference
    /// was released and it must not touch the task again.
    Failed,
    /// As `Failed`, and that was the last reference: free the task.
    Dealloc,
}

/// What the poller does after a poll that returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// The task now waits for a wake-up; the poller's reference was released.
    Ok,
    /// The task was woken during the poll: the poller's reference becomes a `Notified`
    /// that must be rescheduled (at the back of a queue: it yielded).
    OkNotified,
    /// As `Ok`, and that was the last reference: free the task.
    OkDealloc,
    /// The task was cancelled during the poll: it stays `RUNNING`; drop the future and
    /// complete.
    Cancelled,
}

/// What a waker does after marking the task notified.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    /// Nothing: it is already queued, running (it will be requeued), or complete.
    DoNothing,
    /// Push a `Notified` carrying one reference onto a run queue.
    Submit,
    /// The waker's reference was the last one: free the task.
    Dealloc,
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    /// Neither running nor complete: waiting for a wake-up, or queued.
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_registered(self) -> bool {
        self.0 & REGISTERED != 0
    }
    pub(crate) fn is_failed(self) -> bool {
        self.0 & FAILED != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> FLAG_BITS
    }

    fn set(&mut self, flag: usize) {
        self.0 |= flag;
    }
    fn unset(&mut self, flag: usize) {
        self.0 &= !flag;
    }
    fn ref_inc(&mut self) {
        assert!(self.ref_count() < MAX_REFS, "task reference count overflow");
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        assert!(self.ref_count() > 0, "task reference count underflow");
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut flags = Vec::new();
        for (bit, name) in [
            (RUNNING, "RUNNING"),
            (COMPLETE, "COMPLETE"),
            (NOTIFIED, "NOTIFIED"),
            (CANCELLED, "CANCELLED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
            (REGISTERED, "REGISTERED"),
            (FAILED, "FAILED"),
        ] {
            if self.0 & bit != 0 {
                flags.push(name);
            }
        }
        f.debug_struct("Snapshot")
            .field("flags", &flags.join("|"))
            .field("refs", &self.ref_count())
            .finish()
    }
}

impl State {
    /// The state of a task that was just allocated (see [`INITIAL`]).
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// The current state, with `Acquire` so that a snapshot showing `COMPLETE` makes the
    /// output visible.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// The compare-exchange loop behind every conditional transition: `f` inspects the
    /// current snapshot and returns the caller's next step and, if the word must change,
    /// its new value.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = Snapshot(self.val.load(Acquire));
        loop {
            let (action, next) = f(curr);
            let Some(next) = next else { return action };
            match self
                .val
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return action,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// A `Notified` was popped from a run queue: take the `RUNNING` lock.
    /// Requires `NOTIFIED`; the caller gives up its reference on failure.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|mut s| {
            assert!(s.is_notified(), "popped a task that is not notified: {s:?}");
            if !s.is_idle() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(s));
            }
            s.set(RUNNING);
            s.unset(NOTIFIED);
            let action = if s.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(s))
        })
    }

    /// The poll returned `Pending`: release the `RUNNING` lock (unless cancelled).
    /// `yielded`: the task asked its worker to requeue it (`yield_now`), which counts as
    /// a wake during the poll (it sets `NOTIFIED` here, in the same read-modify-write).
    pub(crate) fn transition_to_idle(&self, yielded: bool) -> TransitionToIdle {
        self.fetch_update_action(|mut s| {
            assert!(
                s.is_running() && !s.is_complete(),
                "idle from a non-running task: {s:?}"
            );
            if s.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            s.unset(RUNNING);
            if yielded {
                s.set(NOTIFIED);
            }
            if s.is_notified() {
                // The poller's reference moves into the new `Notified`.
                return (TransitionToIdle::OkNotified, Some(s));
            }
            s.ref_dec();
            let action = if s.ref_count() == 0 {
                TransitionToIdle::OkDealloc
            } else {
                TransitionToIdle::Ok
            };
            (action, Some(s))
        })
    }

    /// The future is gone and the stage holds the result: `RUNNING` -> `COMPLETE`, with
    /// `FAILED` if the result is a `Failure`. Returns the new state, which tells who owns
    /// the output and whether to wake the join waker.
    pub(crate) fn transition_to_complete(&self, failed: bool) -> Snapshot {
        let flip = RUNNING | COMPLETE | if failed { FAILED } else { 0 };
        let prev = Snapshot(self.val.fetch_xor(flip, AcqRel));
        assert!(
            prev.is_running() && !prev.is_complete() && !prev.is_failed(),
            "complete from {prev:?}"
        );
        Snapshot(prev.0 ^ flip)
    }

    /// Releases `count` references at once (the completer's own and, when it removed the
    /// task from the owned-tasks registry, the list's). Returns true when the task must be freed.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, AcqRel));
        assert!(
            prev.ref_count() >= count,
            "task reference count underflow: {prev:?} - {count}"
        );
        prev.ref_count() == count
    }

    /// `transition_to_complete` and `transition_to_terminal(count)` in one
    /// read-modify-write, for a completer with no `JoinHandle` to hand the result to
    /// (`JOIN_INTEREST` clear, which it never becomes again): it dropped the result
    /// first, so the task is of no more use to it once the state says `COMPLETE`.
    /// `RUNNING` is set and `COMPLETE`, `FAILED` are clear (asserted), so adding the
    /// flags' difference flips exactly them, and `count` references are there to take.
    /// Returns true when the task must be freed.
    pub(crate) fn transition_to_complete_and_terminal(&self, failed: bool, count: usize) -> bool {
        let set = COMPLETE | if failed { FAILED } else { 0 };
        let delta = set.wrapping_sub(RUNNING).wrapping_sub(count * REF_ONE);
        let prev = Snapshot(self.val.fetch_add(delta, AcqRel));
        assert!(
            prev.is_running()
                && !prev.is_complete()
                && !prev.is_failed()
                && !prev.is_join_interested()
                && prev.ref_count() >= count,
            "complete and release {count} from {prev:?}"
        );
        prev.ref_count() == count
    }

    /// `Waker::wake`: the waker's reference is consumed (it becomes the `Notified`'s, or is
    /// released).
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_running() {
                // The poller will requeue it; our reference is not the last (the poller
                // holds one).
                s.set(NOTIFIED);
                s.ref_dec();
                assert!(s.ref_count() > 0, "running task without a reference: {s:?}");
                (TransitionToNotified::DoNothing, Some(s))
            } else if s.is_complete() || s.is_notified() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                };
                (action, Some(s))
            } else {
                s.set(NOTIFIED);
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// `Waker::wake_by_ref`: a new reference is taken for the `Notified` if one is needed.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_notified() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() {
                s.set(NOTIFIED);
                (TransitionToNotified::DoNothing, Some(s))
            } else {
                s.set(NOTIFIED);
                s.ref_inc();
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// `abort()`: mark cancelled; if the task is waiting, notify it so a worker drops it.
    /// Returns `Submit` with a new reference when the caller must queue a `Notified`.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() || s.is_notified() {
                // The poller, or the worker that pops it, sees CANCELLED.
                s.set(CANCELLED);
                (TransitionToNotified::DoNothing, Some(s))
            } else {
                s.set(CANCELLED | NOTIFIED);
                s.ref_inc();
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// Shutdown: mark cancelled, and take the `RUNNING` lock if nobody holds it. Returns
    /// true when the caller took the lock and must drop the future and complete.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|mut s| {
            let grabbed = s.is_idle();
            if grabbed {
                s.set(RUNNING);
            }
            s.set(CANCELLED);
            (grabbed, Some(s))
        })
    }

    /// The `JoinHandle` wrote the join waker slot: publish it. Fails (with the state)
    /// if the task completed first; the handle then still owns the slot.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            assert!(
                s.is_join_interested() && !s.is_join_waker_set(),
                "set_join_waker from {s:?}"
            );
            if s.is_complete() {
                return (Err(s), None);
            }
            s.set(JOIN_WAKER);
            (Ok(s), Some(s))
        })
    }

    /// The `JoinHandle` wants to replace the join waker: take the slot back. Fails if
    /// the task completed (the runtime may be reading the slot).
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            assert!(
                s.is_join_interested() && s.is_join_waker_set(),
                "unset_join_waker from {s:?}"
            );
            if s.is_complete() {
                return (Err(s), None);
            }
            s.unset(JOIN_WAKER);
            (Ok(s), Some(s))
        })
    }

    /// The `JoinHandle` is dropped. Before completion, clears `JOIN_INTEREST` and
    /// `JOIN_WAKER` (the handle then owns the waker slot and the runtime will drop the
    /// output); after completion, fails with the state, which still shows
    /// `JOIN_INTEREST` if the handle must drop the output (it did not take it).
    pub(crate) fn unset_join_interest(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            if s.is_complete() {
                return (Err(s), None);
            }
            assert!(s.is_join_interested(), "join interest dropped twice: {s:?}");
            s.unset(JOIN_INTEREST | JOIN_WAKER);
            (Ok(s), Some(s))
        })
    }

    /// The `JoinHandle` is dropped before the task was ever polled (the common case for a
    /// detached spawn): one compare-exchange from the initial state drops both the
    /// interest and the handle's reference. Fails if anything else happened; the caller
    /// then takes the slow path. A plain load first keeps a handle that was awaited (the
    /// state has long moved on) from paying for a compare-exchange that must fail.
    pub(crate) fn drop_join_handle_fast(&self) -> Result<(), ()> {
        if self.val.load(Relaxed) != INITIAL {
            return Err(());
        }
        self.val
            .compare_exchange(
                INITIAL,
                (INITIAL - REF_ONE) & !JOIN_INTEREST,
                Release,
                Relaxed,
            )
            .map(drop)
            .map_err(drop)
    }

    /// The `RUNNING` holder handed the task to the registry. `Relaxed`: only later
    /// `RUNNING` holders read the flag, and the `AcqRel` transitions that pass `RUNNING`
    /// on order it before their reads.
    pub(crate) fn set_registered(&self) {
        let prev = Snapshot(self.val.fetch_or(REGISTERED, Relaxed));
        assert!(
            prev.is_running() && !prev.is_registered(),
            "set_registered from {prev:?}"
        );
    }

    /// Takes one more reference (the caller already holds one).
    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        if prev >> FLAG_BITS >= MAX_REFS {
            std::process::abort();
        }
    }

    /// Releases one reference; true when it was the last and the task must be freed.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        assert!(
            prev.ref_count() >= 1,
            "task reference count underflow: {prev:?}"
        );
        prev.ref_count() == 1
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    fn state(bits: usize, refs: usize) -> State {
        State {
            val: AtomicUsize::new(bits | (refs * REF_ONE)),
        }
    }

    #[test]
    fn new_task_is_notified_with_three_refs() {
        let s = State::new().load();
        assert!(s.is_notified() && s.is_join_interested() && s.is_idle());
        assert_eq!(s.ref_count(), 3);
    }

    #[test]
    fn running_then_idle_releases_the_pollers_ref() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        assert!(s.load().is_running() && !s.load().is_notified());
        assert_eq!(s.transition_to_idle(false), TransitionToIdle::Ok);
        assert_eq!(s.load().ref_count(), 2);
        assert!(s.load().is_idle());
    }

    #[test]
    fn a_yield_requested_in_the_poll_requeues_with_the_pollers_reference() {
        let s = State::new();
        let _ = s.transition_to_running();
        assert_eq!(s.transition_to_idle(true), TransitionToIdle::OkNotified);
        let after = s.load();
        assert!(after.is_idle() && after.is_notified(), "{after:?}");
        assert_eq!(
            after.ref_count(),
            3,
            "the poller's reference became the Notified's"
        );
    }

    #[test]
    fn wake_during_poll_requeues_once_after_the_poll() {
        let s = State::new();
        let _ = s.transition_to_running();
        s.ref_inc(); // a waker clone
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(
            s.transition_to_notified_by_val(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.transition_to_idle(false), TransitionToIdle::OkNotified);
        assert_eq!(s.load().ref_count(), 3);
        assert!(s.load().is_notified() && s.load().is_idle());
    }

    #[test]
    fn wake_of_an_idle_task_submits_exactly_once() {
        let s = state(JOIN_INTEREST, 2);
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::Submit
        );
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn wake_of_a_complete_task_only_drops_the_waker_ref() {
        let s = state(COMPLETE, 1);
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(
            s.transition_to_notified_by_val(),
            TransitionToNotified::Dealloc
        );
    }

    #[test]
    fn abort_of_a_waiting_task_submits_it_cancelled() {
        let s = state(JOIN_INTEREST, 2);
        assert_eq!(
            s.transition_to_notified_and_cancel(),
            TransitionToNotified::Submit
        );
        assert_eq!(
            s.transition_to_notified_and_cancel(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.transition_to_running(), TransitionToRunning::Cancelled);
    }

    #[test]
    fn abort_during_poll_cancels_at_idle() {
        let s = State::new();
        let _ = s.transition_to_running();
        assert_eq!(
            s.transition_to_notified_and_cancel(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.transition_to_idle(false), TransitionToIdle::Cancelled);
        assert!(s.load().is_running());
    }

    #[test]
    fn shutdown_grabs_only_idle_tasks() {
        let s = state(NOTIFIED, 2);
        assert!(s.transition_to_shutdown());
        // The queued `Notified` now finds the task taken and drops its reference.
        assert_eq!(s.transition_to_running(), TransitionToRunning::Failed);
        let running = state(RUNNING, 1);
        assert!(!running.transition_to_shutdown());
        assert!(running.load().is_cancelled());
    }

    #[test]
    fn complete_flips_running_to_complete() {
        let s = state(RUNNING | JOIN_INTEREST | JOIN_WAKER, 2);
        let after = s.transition_to_complete(false);
        assert!(after.is_complete() && !after.is_running() && after.is_join_waker_set());
        assert!(!after.is_failed());
        assert!(!s.transition_to_terminal(1));
        assert!(s.transition_to_terminal(1));
    }

    #[test]
    fn join_waker_cannot_be_set_or_unset_after_completion() {
        let s = state(COMPLETE | JOIN_INTEREST, 1);
        assert!(s.set_join_waker().is_err());
        let s = state(COMPLETE | JOIN_INTEREST | JOIN_WAKER, 1);
        assert!(s.unset_join_waker().is_err());
        assert!(s.unset_join_interest().is_err());
    }

    #[test]
    fn a_failed_completion_is_marked_and_keeps_the_interest_for_the_handle() {
        let s = state(RUNNING | JOIN_INTEREST | JOIN_WAKER, 2);
        assert!(s.transition_to_complete(true).is_failed());
        // The handle (not the state) records whether it took the result; a handle that
        // did not finds it still to drop.
        assert!(s.unset_join_interest().unwrap_err().is_join_interested());
    }

    #[test]
    fn dropping_join_interest_before_completion_takes_the_waker_slot() {
        let s = state(JOIN_INTEREST | JOIN_WAKER, 2);
        let after = s.unset_join_interest().unwrap();
        assert!(!after.is_join_interested() && !after.is_join_waker_set());
    }

    #[test]
    #[should_panic(expected = "not notified")]
    fn running_an_unnotified_task_is_a_bug() {
        let _ = state(0, 1).transition_to_running();
    }

    #[test]
    fn fast_join_handle_drop_only_from_the_initial_state() {
        let s = State::new();
        assert!(s.drop_join_handle_fast().is_ok());
        let after = s.load();
        assert!(!after.is_join_interested() && after.is_notified());
        assert_eq!(after.ref_count(), 2);
        let s = State::new();
        let _ = s.transition_to_running();
        assert!(s.drop_join_handle_fast().is_err());
    }

    #[test]
    fn snapshot_debug_names_the_flags() {
        let text = format!("{:?}", State::new().load());
        assert!(
            text.contains("NOTIFIED|JOIN_INTEREST") && text.contains("refs: 3"),
            "{text}"
        );
    }
}
