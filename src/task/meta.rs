//! What a task knows about itself for observability: where it was spawned and, if the
//! user gave one, its name.
//!
//! One word in the task header. A task without a name (the common case) stores its
//! `&'static Location` directly; a named task stores a pointer to a small box holding
//! the location and the name, allocated only when a name is given (or, with the
//! scheduling-delay histogram on, for every task, to hold its queueing timestamp). The
//! kinds are told apart by the pointer's low bits (both pointees are 8-byte aligned), so
//! naming costs nothing per task when unused: the header grows by 8 bytes, not 16.
//!
//! Fixed at spawn and never changed, so any holder of a reference to the task may read
//! it.

use crate::sync::stat::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::cell::Cell;
use std::panic::Location;
use std::ptr::NonNull;

/// The spawn location, and the name if any, of one task.
pub(crate) struct Meta {
    /// A `&'static Location<'static>` (tag bits clear) or a `Box<Named>` (`NAMED` set,
    /// and `HAS_NAME` if it holds a name).
    ptr: NonNull<()>,
}

/// The out-of-line part of a named (or timed) task's `Meta`.
///
/// 128 bytes, with the field read on every poll (`location`, which the worker
/// publishes) and the sampled `queued_at` at offset 64: the cache line holding offset 64
/// of a 16-byte-aligned 128-byte block lies inside the block, so no other allocation
/// shares it. Packed into 56 bytes, each box shared its lines with its neighbours in
/// the heap, other tasks' boxes and cells, often polled by another worker: with two
/// workers every poll's read of `location` then missed the cache as the other worker
/// wrote its own task (debug mode was +48% on `yield_many` with two workers against
/// +20% with one; `docs/observability.md`, Costs). The price: a named task's box is a
/// 144-byte heap chunk instead of 64. The block's 16-byte alignment is the type's own
/// (`align(16)`), not the allocator's habit: within malloc's guarantee, so it costs no
/// aligned allocation, and an allocator that aligns to 8 only (miri's) cannot split
/// `location` and `queued_at` across two lines.
#[repr(C, align(16))]
struct Named {
    name: Option<Box<str>>,
    /// When the task was spawned (same clock as `queued_at`; set with the first one).
    spawned_at: AtomicU64,
    /// Where the task last started waiting (`debug::waiting_at`), null if unknown, and
    /// on what (a `debug::WaitKind` as a number), recorded in its poll number
    /// `wait_poll` (the header's poll count during that poll). Valid only while the
    /// task's poll count still equals `wait_poll`: a later poll makes it stale without
    /// a store here, so a poll writes nothing into this box. A statistic: the three may
    /// tear.
    wait_site: AtomicPtr<Location<'static>>,
    wait_poll: AtomicU32,
    wait_kind: AtomicU8,
    _cold_end: [u8; NAMED_HOT - 37],
    location: &'static Location<'static>,
    /// When the task was last queued, in nanoseconds of the runtime's clock (only used
    /// when the scheduling-delay histogram is on: `debug/`).
    queued_at: AtomicU64,
    _hot_end: [u8; NAMED_SIZE - NAMED_HOT - 16],
}

/// Where `Named`'s per-poll fields start, and its size (see there).
const NAMED_HOT: usize = 64;
const NAMED_SIZE: usize = 128;
const _: () = assert!(std::mem::offset_of!(Named, _cold_end) == 37);
const _: () = assert!(std::mem::offset_of!(Named, location) == NAMED_HOT);
const _: () = assert!(std::mem::size_of::<Named>() == NAMED_SIZE);
const _: () = assert!(std::mem::align_of::<Named>() == 16);

/// Tag bit: the pointer is a `Box<Named>`.
const NAMED: usize = 1;
/// Tag bit, with `NAMED`: the box holds a name (so `name()` of a task boxed only for its
/// timestamp costs no load of the box).
const HAS_NAME: usize = 2;
const TAGS: usize = NAMED | HAS_NAME;

// The tag bits must be free in both kinds of pointer.
const _: () = assert!(std::mem::align_of::<Location<'static>>() > TAGS);
const _: () = assert!(std::mem::align_of::<Named>() > TAGS);

// SAFETY: `Meta` owns its box (if any) and shares `&'static Location`s and a `str`, all
// of which are `Send` and `Sync`; it is immutable after construction.
unsafe impl Send for Meta {}
// SAFETY: as above.
unsafe impl Sync for Meta {}

impl Meta {
    /// The metadata of a task spawned at `location`, named `name`.
    pub(crate) fn new(location: &'static Location<'static>, name: Option<&str>) -> Meta {
        match name {
            None => Meta {
                ptr: NonNull::from(location).cast(),
            },
            Some(name) => Meta::boxed(location, Some(name.into())),
        }
    }

    fn boxed(location: &'static Location<'static>, name: Option<Box<str>>) -> Meta {
        let tags = if name.is_some() {
            NAMED | HAS_NAME
        } else {
            NAMED
        };
        let named = Box::new(Named {
            name,
            spawned_at: AtomicU64::new(0),
            wait_site: AtomicPtr::new(std::ptr::null_mut()),
            wait_poll: AtomicU32::new(0),
            wait_kind: AtomicU8::new(0),
            _cold_end: [0; NAMED_HOT - 37],
            location,
            queued_at: AtomicU64::new(0),
            _hot_end: [0; NAMED_SIZE - NAMED_HOT - 16],
        });
        let ptr = NonNull::from(Box::leak(named)).cast::<()>();
        Meta {
            ptr: ptr.map_addr(|a| a | tags),
        }
    }

    /// The same, with room for a queueing timestamp (`set_queued_at`): one allocation
    /// per task, made only when the scheduling-delay histogram is on.
    pub(crate) fn timed(self) -> Meta {
        if self.named().is_some() {
            return self;
        }
        Meta::boxed(self.location(), None)
    }

    /// Records when the task was queued, if it has room for it (see `timed`).
    #[inline]
    pub(crate) fn set_queued_at(&self, nanos: u64) {
        if let Some(named) = self.named() {
            named.queued_at.store(nanos, Relaxed);
        }
    }

    /// Records when the task was spawned, if it has room for it (see `timed`).
    pub(crate) fn set_spawned_at(&self, nanos: u64) {
        if let Some(named) = self.named() {
            named.spawned_at.store(nanos, Relaxed);
        }
    }

    /// When the task was spawned, if recorded.
    pub(crate) fn spawned_at(&self) -> Option<u64> {
        self.named()
            .map(|n| n.spawned_at.load(Relaxed))
            .filter(|&t| t > 0)
    }

    /// Records where the task starts waiting (`kind`: what on) in its poll number
    /// `poll` (the header's poll count during the poll), if it has room for it (see
    /// `timed`).
    pub(crate) fn set_wait_site(&self, poll: u32, kind: u8, location: &'static Location<'static>) {
        if let Some(named) = self.named() {
            named.wait_kind.store(kind, Relaxed);
            named.wait_poll.store(poll, Relaxed);
            named
                .wait_site
                .store(std::ptr::from_ref(location).cast_mut(), Relaxed);
        }
    }

    /// Where the task started waiting, if recorded in its poll number `polls` (the
    /// header's poll count now: a site recorded in an earlier poll is stale).
    pub(crate) fn wait_site(&self, polls: u32) -> Option<(u8, &'static Location<'static>)> {
        let named = self.named()?;
        if named.wait_poll.load(Relaxed) != polls {
            return None;
        }
        let location = named.wait_site.load(Relaxed);
        // SAFETY: only `set_wait_site` stores here: null or a `&'static Location`.
        let location = unsafe { location.as_ref() }?;
        Some((named.wait_kind.load(Relaxed), location))
    }

    /// When the task was last queued, if recorded.
    pub(crate) fn queued_at(&self) -> Option<u64> {
        self.named()
            .map(|n| n.queued_at.load(Relaxed))
            .filter(|&t| t > 0)
    }

    /// The caller's location (through `#[track_caller]` frames), no name.
    #[track_caller]
    pub(crate) fn here() -> Meta {
        Meta::new(Location::caller(), None)
    }

    /// The box of a named (or timed) task, with the provenance `new` gave it.
    fn named_ptr(&self) -> Option<NonNull<Named>> {
        if self.ptr.addr().get() & NAMED == 0 {
            return None;
        }
        let ptr = self.ptr.map_addr(|a| {
            // SAFETY: the tagged address is at least 1 and the pointee is aligned, so
            // clearing the tag bits leaves a non-zero address.
            unsafe { std::num::NonZeroUsize::new_unchecked(a.get() & !TAGS) }
        });
        Some(ptr.cast())
    }

    fn named(&self) -> Option<&Named> {
        // SAFETY: a tagged pointer came from `Box::leak` in `boxed` and is freed only in
        // `drop`, so it is live for as long as `self`.
        self.named_ptr().map(|p| unsafe { p.as_ref() })
    }

    /// Where the task was spawned. Read on every poll (the worker publishes it), so the
    /// common case, an untagged pointer, is one test of the word: going through
    /// `named()` first cost about 9 instructions per poll (callgrind,
    /// `examples/per_op.rs`), this 4. Not `#[inline]`: that tipped `JoinHandle::poll`
    /// out of line (+46 instructions per spawn + await); the compiler inlines it anyway
    /// into the run loop.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        if self.ptr.addr().get() & NAMED == 0 {
            // SAFETY: an untagged pointer is a `&'static Location` (see `new`).
            return unsafe { self.ptr.cast::<Location<'static>>().as_ref() };
        }
        self.named()
            .map_or_else(|| unreachable!("tagged meta"), |named| named.location)
    }

    /// The task's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        if self.ptr.addr().get() & HAS_NAME == 0 {
            return None;
        }
        self.named().and_then(|n| n.name.as_deref())
    }
}

impl Drop for Meta {
    fn drop(&mut self) {
        if let Some(ptr) = self.named_ptr() {
            // SAFETY: the box leaked in `boxed`, with the pointer's provenance intact;
            // `self` is its only owner and is going away.
            drop(unsafe { Box::from_raw(ptr.as_ptr()) });
        }
    }
}

/// Wait kinds recorded by `waiting_at` (decoded by `debug::WaitKind`).
pub(crate) const WAIT_SLEEP: u8 = 1;
pub(crate) const WAIT_JOIN: u8 = 2;

/// Set once any runtime records wait sites (debug mode, or the scheduling-delay
/// histogram): until then a leaf future's `waiting_at` is one load of this flag.
static RECORD_WAIT_SITES: AtomicBool = AtomicBool::new(false);

// The `Meta` (in its header) of the task this thread's worker last started to poll with
// wait sites recorded, and that poll's number (the header's poll count), set by
// `polling`, never cleared per poll: `record_wait_site` trusts it only while the
// worker's published poll is still running, see there; else null.
#[cfg(not(heist_loom))]
std::thread_local! {
    static POLLING: Cell<(*const Meta, u32)> = const { Cell::new((std::ptr::null(), 0)) };
}
#[cfg(heist_loom)]
crate::sync::thread_local! {
    #[allow(clippy::missing_const_for_thread_local)]
    static POLLING: Cell<(*const Meta, u32)> = Cell::new((std::ptr::null(), 0));
}

/// Turns wait-site recording on for the whole process (it stays on).
pub(crate) fn record_wait_sites() {
    RECORD_WAIT_SITES.store(true, Relaxed);
}

/// Called by heist's leaf futures (`Sleep`, `JoinHandle`) when they return `Pending`:
/// records, for the dump, that the task being polled waits on `kind` created at
/// `location`. One load of a flag unless some runtime records wait sites.
#[inline]
pub(crate) fn waiting_at(kind: u8, location: &'static Location<'static>) {
    waiting_at_lazy(kind, || location);
}

/// `waiting_at`, with the location found only if wait sites are recorded (finding it
/// costs a branch and maybe a load, on every pending poll of a `JoinHandle`).
#[inline]
pub(crate) fn waiting_at_lazy(kind: u8, location: impl FnOnce() -> &'static Location<'static>) {
    if RECORD_WAIT_SITES.load(Relaxed) {
        record_wait_site(kind, location());
    }
}

#[cold]
fn record_wait_site(kind: u8, location: &'static Location<'static>) {
    // Only inside a poll this thread's worker published and that is still running (the
    // task withdraws its id as its future's poll returns, `task/harness.rs`): then
    // POLLING, set by the same worker just before running the task, is that task. A
    // leaf polled anywhere else (in `block_on`, in a destructor after the poll, on a
    // thread that lent its worker to `block_in_place`) records nothing.
    if super::id::worker_polling_id().is_none() {
        return;
    }
    let (meta, poll) = POLLING.try_with(Cell::get).unwrap_or((std::ptr::null(), 0));
    // SAFETY: the worker's poll of this task is running (checked above), and the worker
    // set POLLING to the `Meta` in its header before running it (`polling`); the task is
    // freed, if at all, only after that poll withdrew its id.
    if let Some(meta) = unsafe { meta.as_ref() } {
        meta.set_wait_site(poll, kind, location);
    }
}

/// The worker is about to run poll number `poll` (the header's poll count, this poll
/// counted) of the task of `header` (its header: `raw.rs` gives it `AsRef<Meta>`, so
/// this file need not name it) with wait sites recorded: lets this poll's leaf futures
/// record theirs into it. Nothing is written into the task: the last wait site turns
/// stale as the poll count moves past it (`Meta::wait_site`). No guard and no clearing
/// afterwards: `record_wait_site` trusts the pointer only while the worker's published
/// poll runs. A thread-local store, kept out of the plain (uninstrumented) poll path.
#[inline]
pub(crate) fn polling(header: &impl AsRef<Meta>, poll: u32) {
    let meta = header.as_ref();
    let _ = POLLING.try_with(|p| p.set((std::ptr::from_ref(meta), poll)));
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_box_owns_the_cache_line_read_on_every_poll() {
        // Whatever address the allocator returns, the 64-byte line holding `location`
        // (and `queued_at`) lies inside the box: no other allocation shares it.
        let metas: Vec<Meta> = (0..64).map(|_| Meta::here().timed()).collect();
        for meta in &metas {
            let named = meta.named_ptr().expect("boxed").as_ptr() as usize;
            let location = std::ptr::from_ref(&meta.named().expect("boxed").location) as usize;
            let line = location & !63;
            assert!(line >= named && line + 64 <= named + std::mem::size_of::<Named>());
            let queued = std::ptr::from_ref(&meta.named().expect("boxed").queued_at) as usize;
            assert_eq!(queued & !63, line);
        }
    }

    #[test]
    fn unnamed_and_named_keep_their_location() {
        let here = Location::caller();
        let plain = Meta::new(here, None);
        assert_eq!(plain.location(), here);
        assert_eq!(plain.name(), None);
        let named = Meta::new(here, Some("conn-handler"));
        assert_eq!(named.location(), here);
        assert_eq!(named.name(), Some("conn-handler"));
        assert_eq!(std::mem::size_of::<Meta>(), 8);
        // Boxed for a timestamp only: no name, and the stamp round-trips.
        let timed = Meta::new(here, None).timed();
        assert_eq!(
            (timed.location(), timed.name(), timed.queued_at()),
            (here, None, None)
        );
        timed.set_queued_at(42);
        assert_eq!(timed.queued_at(), Some(42));
        assert_eq!(timed.spawned_at(), None);
        timed.set_spawned_at(41);
        assert_eq!(timed.spawned_at(), Some(41));
        let named = named.timed();
        assert_eq!(named.name(), Some("conn-handler"));
        plain.set_queued_at(7);
        assert_eq!(plain.queued_at(), None);
        assert_eq!(timed.wait_site(0), None);
        timed.set_wait_site(3, 1, here);
        assert_eq!(timed.wait_site(3), Some((1, here)));
        // Polled again since: stale, with no store into the box.
        assert_eq!(timed.wait_site(4), None);
    }
}
