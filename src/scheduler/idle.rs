//! Which workers are searching for work and which are parked: the accounting behind the
//! wake-up protocol (`docs/sleep-protocol.md` has the proof sketch).
//!
//! One atomic word packs two counts: workers that are *searching* (looking for work to
//! steal) and workers that are *unparked* (not asleep). The list of sleeping workers sits
//! under a small lock taken only on the slow paths (falling asleep, being woken).
//!
//! - New work wakes a sleeper only when nobody is searching: a searcher will find it.
//! - At most about half the workers search at once, so a burst does not wake every core.
//! - A searcher that finds work, if it was the last searcher and work is still queued,
//!   wakes one more (the chain wake-up): bursts ramp up one worker at a time, and a
//!   lone task does not wake a worker that would find nothing.
//! - A worker that falls asleep re-checks every queue after announcing it (under a
//!   `SeqCst` fence, paired with the fence in `worker_to_notify`), so work queued while
//!   every worker was falling asleep is never lost.

use crate::sync::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::sync::Mutex;

const SEARCH_ONE: usize = 1;
const SEARCH_MASK: usize = (1 << 16) - 1;
const UNPARK_ONE: usize = 1 << 16;

/// The searching/sleeping accounting of one runtime.
pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
    /// Sleepers parked on the stalled-slot timeout (watchers): each looks at the
    /// peers' slots and the driver's seats within one period.
    watchers: AtomicUsize,
}

fn searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn unparked(state: usize) -> usize {
    state / UNPARK_ONE
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers * UNPARK_ONE),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
            watchers: AtomicUsize::new(0),
        }
    }

    /// A worker out of local work wants to steal. Refused when half the workers already
    /// search (the count may briefly overshoot by a racing worker; that is harmless).
    pub(crate) fn try_start_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * searching(state) >= self.num_workers.max(2) {
            return false;
        }
        self.state.fetch_add(SEARCH_ONE, SeqCst);
        true
    }

    /// A searching worker found work. Returns true if it was the last searcher, in which
    /// case it has issued a `SeqCst` fence after leaving the count, and the caller must
    /// re-check every queue and wake another worker if any holds work (there may be more
    /// work behind this one, or a push that saw this searcher and woke nobody).
    pub(crate) fn work_found(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCH_ONE, SeqCst);
        assert!(searching(prev) > 0, "searching count underflow");
        let last = searching(prev) == 1;
        if last {
            // Pairs with the pushers' fences, as in `about_to_park`.
            fence(SeqCst);
        }
        last
    }

    /// New work was queued (the caller already issued a `SeqCst` fence after the push):
    /// picks a sleeper to wake, or `None` when a searcher exists or nobody sleeps. The
    /// chosen worker is counted as unparked and searching before it runs.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_notify(self.state.load(SeqCst)) {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Unparked counts change only under this lock, so this re-check is exact for
        // them; a searcher that started meanwhile makes the wake unnecessary.
        if !self.should_notify(self.state.load(SeqCst)) {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | SEARCH_ONE, SeqCst);
        Some(index)
    }

    fn should_notify(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.num_workers
    }

    /// The worker is going to sleep: it joins the sleepers and stops counting as
    /// unparked (and as searching). After this the caller must issue a `SeqCst` fence and
    /// re-check every queue before it parks.
    pub(crate) fn about_to_park(&self, index: usize, was_searching: bool) {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + if was_searching { SEARCH_ONE } else { 0 };
        let prev = self.state.fetch_sub(dec, SeqCst);
        assert!(unparked(prev) > 0, "unparked count underflow");
        sleepers.push(index);
        drop(sleepers);
        fence(SeqCst);
    }

    /// After a wake-up: true if a notifier took this worker off the sleepers list (it now
    /// counts as unparked and searching).
    pub(crate) fn was_notified(&self, index: usize) -> bool {
        !self.sleepers.lock().contains(&index)
    }

    /// The worker woke by itself (its timeout elapsed, or the driver woke tasks for it)
    /// and leaves the sleepers list, counted as unparked and searching, as a notifier
    /// counts the worker it wakes: so when it finds work, it wakes the next worker
    /// (rule 3 of `docs/sleep-protocol.md`), whatever woke it. If a notifier took it off
    /// the list first, the notifier counted it already.
    pub(crate) fn wake_self(&self, index: usize) {
        let mut sleepers = self.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_add(UNPARK_ONE | SEARCH_ONE, SeqCst);
        }
    }

    /// Paused time: worker `index`, asleep, claims the idle runtime to advance its clock
    /// (`park.rs`, "Auto-advance"). Succeeds only if no worker is unparked, and then
    /// counts `index` as unparked and searching (as `wake_self`): decided and counted
    /// under the sleepers' lock, under which every change of the unparked count is made,
    /// so two workers can never both claim it.
    pub(crate) fn claim_idle(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        if unparked(self.state.load(SeqCst)) > 0 {
            return false;
        }
        let Some(pos) = sleepers.iter().position(|&i| i == index) else {
            return false;
        };
        sleepers.swap_remove(pos);
        self.state.fetch_add(UNPARK_ONE | SEARCH_ONE, SeqCst);
        true
    }

    /// A sleeping worker other than `except`, the longest asleep (least likely to be
    /// woken for work next), to take a free seat in the driver (`park.rs`, the
    /// hand-off). It stays on the list: the caller only unparks it, it finds no work and
    /// parks again.
    pub(crate) fn some_sleeper(&self, except: Option<usize>) -> Option<usize> {
        self.sleepers
            .lock()
            .iter()
            .copied()
            .find(|&i| Some(i) != except)
    }

    /// A sleeper parks on the stalled-slot timeout: it counts as a watcher until
    /// `unwatch`.
    pub(crate) fn watch(&self) {
        self.watchers.fetch_add(1, SeqCst);
    }

    /// The watcher's timed park ended; its next decision to watch or not reads
    /// `unparked` after this. Pairs with the fence in `work_found`, after which a
    /// worker that woke alone reads `watchers` (`Shared::searcher_found_work`): either
    /// that worker sees this watcher (and this one, reading `unparked` next, sees the
    /// worker awake and watches again), or it sees none and wakes a sleeper. Never both
    /// blind (`scheduler::loom_tests`, "the watch").
    pub(crate) fn unwatch(&self) {
        self.watchers.fetch_sub(1, SeqCst);
        fence(SeqCst);
    }

    /// Sleepers parked on the stalled-slot timeout.
    pub(crate) fn watchers(&self) -> usize {
        self.watchers.load(SeqCst)
    }

    /// Workers not asleep.
    pub(crate) fn unparked(&self) -> usize {
        unparked(self.state.load(SeqCst))
    }

    /// `(searching, unparked)`.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.state.load(SeqCst);
        (searching(state), unparked(state))
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn at_most_half_search() {
        let idle = Idle::new(4);
        assert!(idle.try_start_searching());
        assert!(idle.try_start_searching());
        assert!(!idle.try_start_searching());
        assert!(!idle.work_found());
        assert!(idle.work_found());
    }

    #[test]
    fn one_worker_may_search() {
        let idle = Idle::new(1);
        assert!(idle.try_start_searching());
        assert!(!idle.try_start_searching());
    }

    #[test]
    fn new_work_wakes_a_sleeper_only_when_nobody_searches() {
        let idle = Idle::new(2);
        assert_eq!(idle.worker_to_notify(), None, "nobody sleeps");
        idle.about_to_park(1, false);
        assert!(idle.try_start_searching());
        assert_eq!(idle.worker_to_notify(), None, "a searcher will find it");
        assert!(idle.work_found());
        assert_eq!(idle.worker_to_notify(), Some(1));
        assert_eq!(idle.counts(), (1, 2));
        assert!(idle.was_notified(1));
    }

    #[test]
    fn only_one_worker_claims_the_idle_runtime() {
        let idle = Idle::new(2);
        idle.about_to_park(0, false);
        assert!(!idle.claim_idle(0), "worker 1 is awake");
        idle.about_to_park(1, false);
        assert!(idle.claim_idle(1));
        assert_eq!(idle.counts(), (1, 1));
        assert!(!idle.claim_idle(0), "worker 1 claimed it");
        assert!(!idle.was_notified(0));
    }

    #[test]
    fn a_timed_wake_leaves_the_list() {
        let idle = Idle::new(2);
        idle.about_to_park(0, false);
        assert!(!idle.was_notified(0));
        idle.wake_self(0);
        assert_eq!(
            idle.counts(),
            (1, 2),
            "a worker that woke by itself searches"
        );
        assert!(idle.work_found());
    }
}
