//! The ready list: how a [`JoinSet`](super::JoinSet) finds its finished tasks without
//! scanning.
//!
//! Every entry of the set polls its `JoinHandle` with its own waker, an [`EntryWaker`].
//! A task's completion wakes its join waker, which pushes that entry onto the set's
//! ready list (a FIFO under one lock) and wakes whoever waits in `join_next`. So
//! `join_next` pops exactly the entries that may have finished: each finished task costs
//! one wake, one push and one pop, whatever the size of the set.
//!
//! # The protocol
//!
//! An entry is in one of two states, recorded by its `queued` flag:
//!
//! - *queued*: on the ready list (or popped, about to be polled). A new entry starts
//!   queued, so that its handle gets polled once and registers the entry's waker.
//! - *waiting*: its waker is registered with the task and the entry is not on the list.
//!
//! `wake` swaps `queued` to true and pushes the entry only if it was false, so an entry
//! is on the list at most once. The popper clears `queued` *before* polling the handle:
//! a completion racing with that poll then either is seen by the poll (`Ready`) or finds
//! `queued` clear and pushes the entry again. Clearing it after the poll would lose that
//! wake (the planted bug of the loom model `join_set_wake_racing_with_join_next`).
//!
//! `join_next` finding the list empty registers its waker *under the same lock* as the
//! check, and `wake` pushes and takes that waker under it too: a push cannot slip between
//! "empty" and "registered" (the planted bug of `join_set_waiter_registers_under_the_lock`).
//!
//! Closing (the set is dropped) empties the list and makes later wakes do nothing, which
//! also breaks the reference cycle list -> entry -> list.

use crate::sync::atomic::{AtomicBool, Ordering::AcqRel, Ordering::Release};
use crate::sync::{Mutex, WakeArc};
use std::collections::VecDeque;
use std::task::{Wake, Waker};

/// The list of entries whose task may have finished, shared with the entries' wakers.
pub(super) struct ReadyList {
    state: Mutex<ReadyState>,
}

struct ReadyState {
    ready: VecDeque<WakeArc<EntryWaker>>,
    /// The task waiting in `join_next`.
    waiter: Option<Waker>,
    closed: bool,
}

/// The waker of one entry of the set: pushes the entry onto the ready list.
pub(super) struct EntryWaker {
    list: WakeArc<ReadyList>,
    /// The entry's slot in the set (checked against the slot's own `EntryWaker`, since a
    /// slot is reused after its entry leaves).
    pub(super) key: usize,
    queued: AtomicBool,
}

impl ReadyList {
    pub(super) fn new() -> WakeArc<ReadyList> {
        WakeArc::new(ReadyList {
            state: Mutex::new(ReadyState {
                ready: VecDeque::new(),
                waiter: None,
                closed: false,
            }),
        })
    }

    /// A new entry's waker, already queued (so that the entry gets its first poll).
    pub(super) fn insert(list: &WakeArc<ReadyList>, key: usize) -> WakeArc<EntryWaker> {
        let entry = WakeArc::new(EntryWaker {
            list: list.clone(),
            key,
            queued: AtomicBool::new(true),
        });
        list.state.lock().ready.push_back(entry.clone());
        entry
    }

    /// Pops the next entry to poll, marking it waiting (see the module doc: before its
    /// handle is polled). With the list empty, registers `waiter` (if any) and returns
    /// `None`.
    pub(super) fn pop(&self, waiter: Option<&Waker>) -> Option<WakeArc<EntryWaker>> {
        let mut state = self.state.lock();
        match state.ready.pop_front() {
            Some(entry) => {
                drop(state);
                entry.queued.store(false, Release);
                Some(entry)
            }
            None => {
                if let Some(waiter) = waiter {
                    match &state.waiter {
                        Some(w) if w.will_wake(waiter) => {}
                        _ => state.waiter = Some(waiter.clone()),
                    }
                }
                None
            }
        }
    }

    /// Empties the list (the entries left the set).
    pub(super) fn clear(&self) {
        let ready = std::mem::take(&mut self.state.lock().ready);
        drop(ready);
    }

    /// The set is gone: empty the list and ignore later wakes.
    pub(super) fn close(&self) {
        let (ready, waiter) = {
            let mut state = self.state.lock();
            state.closed = true;
            (std::mem::take(&mut state.ready), state.waiter.take())
        };
        // Dropped outside the lock: a waker's destructor is user code.
        drop((ready, waiter));
    }
}

impl EntryWaker {
    /// A waker for this entry.
    pub(super) fn waker(self: &WakeArc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    fn push(self: WakeArc<Self>) {
        if self.queued.swap(true, AcqRel) {
            // Already on the list (or about to be polled, which will see the task done).
            return;
        }
        let list = self.list.clone();
        let waiter = {
            let mut state = list.state.lock();
            if state.closed {
                return;
            }
            state.ready.push_back(self);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl Wake for EntryWaker {
    fn wake(self: WakeArc<Self>) {
        self.push();
    }

    fn wake_by_ref(self: &WakeArc<Self>) {
        self.clone().push();
    }
}
