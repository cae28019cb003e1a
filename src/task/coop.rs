//! The cooperative budget of a task poll (tokio's coop budget): how many I/O operations
//! one poll may complete before every further operation in it returns `Pending`.
//!
//! A resource whose socket is always ready (a client flooding it) never makes its
//! operations wait, so a task looping over it would never return from its poll and its
//! worker would run nothing else. With a budget, after [`BUDGET`] operations in one poll
//! the next one wakes its own task and returns `Pending` (`io/registration.rs`): the
//! task is queued at the back of its worker's queue, behind the others.
//!
//! The budget is per *poll*, as tokio's: it starts full each time the task is polled
//! again, and every resource the task touches spends from it. A connection that waits
//! for its reads between writes (an echo server in request/response mode: one request
//! per poll) never reaches it, however many requests it serves.
//!
//! Who owns the budget, and what tells one poll from the next
//! (`runtime/context.rs`, `with_poll_budget`):
//!
//! - **A worker thread**: its `Worker` holds one [`Budget`], and the poll's number is the
//!   worker's tick (`Remote::tick`, one more for every task the run loop takes). The
//!   budget remembers the tick of the poll it counts for, and an operation that finds
//!   another tick finds the budget full: the reset costs the run loop nothing (no store
//!   per poll, no thread-local); the I/O operation reads the thread's worker and its
//!   tick, compares, and stores its count.
//! - **`block_on`**: its poll loop owns a [`Budget`] on its stack, made current on the
//!   thread once per `block_on`, and starts a new poll with [`Budget::new_poll`] (a
//!   store to its own frame).
//! - **Anywhere else** (a thread that only entered the runtime and polls with its own
//!   executor): no budget, as in tokio, where the budget is unconstrained outside the
//!   runtime's polls.
//!
//! Not covered, as in tokio: `try_*` operations (no poll to yield from) and readiness
//! waits (`readable`, `ready`), which do no I/O. Unlike tokio, the tasks of a `LocalSet`
//! share the budget of the poll that drives the set (tokio gives each its own); the set
//! runs at most 64 of them per poll before it yields anyway.

use std::cell::Cell;

/// Operations one poll may complete before the next returns `Pending`, as tokio's.
pub(crate) const BUDGET: u32 = 128;

/// A budget: what the polls of one thread (a worker, a `block_on`) have spent.
/// Touched only by the thread that polls.
pub(crate) struct Budget {
    /// The poll `spent` counts for.
    poll: Cell<u32>,
    /// Operations completed in `poll`; `BUDGET + 1` once it forced a yield.
    spent: Cell<u32>,
}

/// What an operation may do ([`PollBudget::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Check {
    /// Run.
    Proceed,
    /// The budget is spent: wake the task and return `Pending`. The first time in this
    /// poll (count it as a forced yield).
    Yield,
    /// As `Yield`, a further operation of a poll that was already told to yield.
    YieldAgain,
}

impl Budget {
    pub(crate) const fn new() -> Budget {
        Budget {
            poll: Cell::new(0),
            spent: Cell::new(0),
        }
    }

    /// A poll begins: for an owner that tells its polls apart by calling this before
    /// each (`block_on`) rather than by a number; see [`Budget::current`].
    #[inline]
    pub(crate) fn new_poll(&self) {
        self.spent.set(0);
    }

    /// The budget as spent in the poll it counts for now (with `new_poll`).
    #[inline]
    pub(crate) fn current(&self) -> PollBudget<'_> {
        PollBudget {
            budget: self,
            poll: self.poll.get(),
        }
    }

    /// The budget as spent in poll number `poll` (a worker's tick): full if it counted
    /// for another poll until now.
    #[inline]
    pub(crate) fn in_poll(&self, poll: u32) -> PollBudget<'_> {
        PollBudget { budget: self, poll }
    }
}

/// A budget and the poll it is spent in.
#[derive(Clone, Copy)]
pub(crate) struct PollBudget<'a> {
    budget: &'a Budget,
    poll: u32,
}

impl PollBudget<'_> {
    /// Operations completed so far in this poll.
    #[inline]
    fn spent(&self) -> u32 {
        if self.budget.poll.get() == self.poll {
            self.budget.spent.get()
        } else {
            0
        }
    }

    /// Before an operation: may it run? Marks the first refusal of the poll, so that
    /// it is counted once.
    #[inline]
    pub(crate) fn check(&self) -> Check {
        match self.spent() {
            n if n < BUDGET => Check::Proceed,
            BUDGET => {
                self.budget.spent.set(BUDGET + 1);
                Check::Yield
            }
            _ => Check::YieldAgain,
        }
    }

    /// An operation completed.
    #[inline]
    pub(crate) fn spend(&self) {
        let spent = self.spent();
        self.budget.poll.set(self.poll);
        self.budget.spent.set(spent + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::{Budget, Check, BUDGET};

    /// Spends until refused; returns the operations that proceeded.
    fn run(budget: super::PollBudget<'_>) -> u32 {
        let mut n = 0;
        while budget.check() == Check::Proceed {
            budget.spend();
            n += 1;
        }
        n
    }

    #[test]
    fn a_poll_proceeds_budget_times_then_yields_once_then_again() {
        let budget = Budget::new();
        assert_eq!(run(budget.in_poll(7)), BUDGET);
        assert_eq!(budget.in_poll(7).check(), Check::YieldAgain);
    }

    #[test]
    fn the_first_refusal_of_a_poll_is_the_yield() {
        let budget = Budget::new();
        for _ in 0..BUDGET {
            assert_eq!(budget.in_poll(3).check(), Check::Proceed);
            budget.in_poll(3).spend();
        }
        assert_eq!(budget.in_poll(3).check(), Check::Yield);
        assert_eq!(budget.in_poll(3).check(), Check::YieldAgain);
    }

    #[test]
    fn another_poll_number_finds_the_budget_full() {
        let budget = Budget::new();
        assert_eq!(run(budget.in_poll(1)), BUDGET);
        // One operation per poll never reaches the budget, however many polls.
        for poll in 2..1000 {
            assert_eq!(budget.in_poll(poll).check(), Check::Proceed);
            budget.in_poll(poll).spend();
        }
        assert_eq!(run(budget.in_poll(1000)), BUDGET);
    }

    #[test]
    fn new_poll_refills_a_budget_without_numbers() {
        let budget = Budget::new();
        assert_eq!(run(budget.current()), BUDGET);
        assert_eq!(budget.current().check(), Check::YieldAgain);
        budget.new_poll();
        assert_eq!(run(budget.current()), BUDGET);
    }
}
