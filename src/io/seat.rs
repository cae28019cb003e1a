//! The reactor's seat: which parked worker waits in `epoll_wait`, and the hand-off that
//! keeps a waiter there while sources are registered. No syscalls, so loom checks it
//! (`io::loom_tests`).
//!
//! A worker holds the seat for one park (`try_enter` .. `leave`). Two events may leave
//! the seat empty while I/O is pending, and each side must see the other:
//!
//! ```text
//! worker leaving the seat                registering a source
//!   held = false            (SeqCst)       sources += 1            (SeqCst)
//!   fence(SeqCst)                          fence(SeqCst)
//!   sources > 0 && !held ?  (SeqCst)       !held ?                 (SeqCst)
//!     -> needs a waiter (summon)             -> summon
//! ```
//!
//! Both are store-fence-load on two variables in opposite orders (a Dekker pair): at
//! least one side's load sees the other's store, so a source registered while the last
//! holder leaves is never left without a worker summoned to the seat (or one seated).

use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};

/// The seat and the count of registered sources.
#[derive(Debug)]
pub(crate) struct Seat {
    held: AtomicBool,
    sources: AtomicUsize,
}

impl Seat {
    pub(crate) fn new() -> Seat {
        Seat {
            held: AtomicBool::new(false),
            sources: AtomicUsize::new(0),
        }
    }

    /// Takes the seat, if free.
    pub(crate) fn try_enter(&self) -> bool {
        self.held
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
    }

    /// Gives the seat up.
    pub(crate) fn leave(&self) {
        self.held.store(false, SeqCst);
    }

    /// After leaving: true if sources are registered and nobody holds the seat (the
    /// caller then summons a sleeper to it).
    pub(crate) fn needs_waiter(&self) -> bool {
        fence(SeqCst);
        self.sources.load(SeqCst) > 0 && !self.held.load(SeqCst)
    }

    /// A source registered: true if nobody holds the seat (the caller then summons).
    pub(crate) fn registered(&self) -> bool {
        self.sources.fetch_add(1, SeqCst);
        fence(SeqCst);
        !self.held.load(SeqCst)
    }

    /// A source left.
    pub(crate) fn deregistered(&self) {
        self.sources.fetch_sub(1, SeqCst);
    }
}
