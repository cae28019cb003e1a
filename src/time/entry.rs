//! A timer entry: the part of a [`Sleep`](super::Sleep) that the wheel links to.
//!
//! Entries are *intrusive*: the wheel allocates nothing per timer, it threads raw
//! pointers through entries that live inside pinned `Sleep` futures. A `Sleep` therefore
//! costs its own size and nothing else (no side allocation, no slab).
//!
//! # Who touches what
//!
//! - `state` (atomic): read by anyone; written by the owner while the entry is not in the
//!   wheel, and under the wheel lock while it is (see the constants below).
//! - `links` (prev / next / list / waker): only under the wheel lock. While the entry is
//!   out of the wheel its waker slot is empty, so a `Sleep` that never registered, or
//!   that fired, owns nothing to clean up.
//!
//! A firing thread unlinks the entry, takes its waker and stores `FIRED` (`Release`) as
//! its *last* access; an owner that loads `FIRED` (`Acquire`) may therefore free the
//! entry without taking the lock.

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::UnsafeCell;
use std::marker::PhantomPinned;
use std::ptr::NonNull;
use std::task::Waker;

/// `state`: not in the wheel and never fired (new, or reset). Owner-written.
pub(crate) const UNREGISTERED: u64 = u64::MAX;
/// `state`: fired; the entry is out of the wheel for good (until a reset). Stored by the
/// firing thread under the wheel lock, or by the owner for a deadline already due.
pub(crate) const FIRED: u64 = u64::MAX - 1;
/// `state`: the runtime shut down while the entry was registered; it will never fire.
pub(crate) const SHUTDOWN: u64 = u64::MAX - 2;
/// Largest deadline tick a registered entry may hold (every other value of `state` is
/// the deadline tick of a registered entry).
pub(crate) const MAX_TICK: u64 = u64::MAX - 3;

/// `Links::list` of an entry that is in no list.
pub(crate) const NO_LIST: u32 = u32::MAX;

/// One timer, linked into at most one wheel list at a time.
pub(crate) struct Entry {
    /// `UNREGISTERED`, `FIRED`, `SHUTDOWN`, or the deadline tick while registered.
    pub(crate) state: AtomicU64,
    /// Guarded by the wheel lock.
    pub(crate) links: UnsafeCell<Links>,
    /// The wheel holds pointers to this entry: it must not move while registered.
    _pinned: PhantomPinned,
}

/// The lock-guarded part of an entry.
pub(crate) struct Links {
    pub(crate) prev: Option<NonNull<Entry>>,
    pub(crate) next: Option<NonNull<Entry>>,
    /// Which list the entry is in (`Wheel` numbering), or `NO_LIST`.
    pub(crate) list: u32,
    /// Woken (taken) when the entry fires. Some only while the entry is in the wheel.
    pub(crate) waker: Option<Waker>,
}

// SAFETY: `state` is atomic, and `links` (raw pointers and a `Send + Sync` waker) is only
// touched under the wheel lock, whichever thread holds it.
unsafe impl Send for Entry {}
// SAFETY: as above: `&Entry` gives no unsynchronised access.
unsafe impl Sync for Entry {}

impl Entry {
    pub(crate) fn new() -> Entry {
        Entry {
            state: AtomicU64::new(UNREGISTERED),
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                list: NO_LIST,
                waker: None,
            }),
            _pinned: PhantomPinned,
        }
    }

    /// The state, with `Acquire`: after `FIRED` the firing thread is done with the entry.
    pub(crate) fn load(&self) -> u64 {
        self.state.load(Ordering::Acquire)
    }

    /// True if `state` is the deadline of a registered entry.
    pub(crate) fn is_registered(state: u64) -> bool {
        state <= MAX_TICK
    }

    /// Runs `f` on the links.
    ///
    /// # Safety
    /// The caller holds the wheel lock, the entry is alive, and no other reference to its
    /// links exists (the lock makes that so: every access goes through here).
    pub(crate) unsafe fn with_links<R>(ptr: NonNull<Entry>, f: impl FnOnce(&mut Links) -> R) -> R {
        // SAFETY: the entry is alive (caller contract).
        let entry = unsafe { ptr.as_ref() };
        entry.links.with_mut(|links| {
            // SAFETY: the wheel lock, held by the caller, serialises every access.
            f(unsafe { &mut *links })
        })
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        match state {
            UNREGISTERED => f.write_str("Entry(unregistered)"),
            FIRED => f.write_str("Entry(fired)"),
            SHUTDOWN => f.write_str("Entry(shutdown)"),
            when => write!(f, "Entry(registered, tick {when})"),
        }
    }
}
