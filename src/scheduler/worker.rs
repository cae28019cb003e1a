//! A worker thread: its run loop, its `Core`, its search for work, and the thread-local
//! that tells a spawn or wake on this thread which worker it runs on.
//!
//! Search order, each step tried only when the previous one found nothing:
//!
//! 1. Every `global_queue_interval` ticks, one task from the injector first, so remote
//!    work is never starved by a worker that keeps itself busy.
//! 2. The next-task slot, at most `lifo_slot_limit` times in a row (then its task moves to the
//!    back of the queue, so a ping-pong pair cannot starve the rest).
//! 3. The local queue (FIFO). Before it, if the injector is not empty, a share of it is
//!    moved to the back of the local queue, so remote work waits behind what is already
//!    queued rather than for the queue to run dry.
//! 4. A batch from the injector.
//! 5. Searching (at most about half the workers at once): the injector again, then about
//!    half of a peer's queue, peers visited from a random start.
//! 6. A peer's next-task slot, if that peer has not advanced since this worker last
//!    looked (it is stuck in one long poll and its slot would otherwise wait for it).
//! 7. Park (`park.rs`).
//!
//! Every step that moves tasks into this worker's deque, where peers may steal them (a
//! spill from the next-task slot, a share or a batch of the injector), is followed by a
//! `SeqCst` fence and a notify (rule 2 of `docs/sleep-protocol.md`).
//!
//! The driver (timers; `park.rs`, "The driver interface") is turned by the workers:
//! every `DRIVER_INTERVAL` tasks in the run loop, and around parking.

use super::park::{Driver, DRIVER_INTERVAL};
use super::queue::Steal;
use super::shared_ref::{SharedRef, Stock};
use super::{LocalQueue, Notified, Remote, Shared};
use crate::metrics::worker::{CurrentPoll, WorkerStats};
use crate::sync::atomic::{fence, Ordering::Relaxed, Ordering::SeqCst};
use crate::sync::Arc;
use crate::task::coop::{Budget, PollBudget};
use crate::task::JoinHandle;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::ptr::NonNull;

/// Most tasks moved by one steal from a peer.
const STEAL_LIMIT: usize = 128;
/// Most tasks moved by one pull from the injector.
pub(super) const INJECTOR_LIMIT: usize = 64;

/// What the worker thread owns: touched only by its own thread.
pub(crate) struct Core {
    queue: LocalQueue,
    /// Tasks run so far (wrapping), published to `Remote::tick`.
    tick: u32,
    /// Polls in a row taken from the next-task slot.
    next_slot_polls: u32,
    /// Ticks left until the next injector check (step 1): a countdown, because a
    /// division by the configured interval on every tick showed up in profiles.
    until_global: u32,
    is_searching: bool,
    /// Between `found_work` and the next `next_task`: the worker is running a task (or
    /// turning the driver right after), so it may be lent to a stand-in
    /// (`lend.rs`), its accounting in a state the stand-in's run loop continues from.
    in_poll: bool,
    rng: u32,
    /// For each peer, its tick when this worker last saw its next-task slot occupied.
    slot_seen: Vec<Option<u32>>,
    /// False only while this worker's next-task slot is empty: set when it fills the
    /// slot, cleared when it empties the slot itself. Peers and the dump may empty the
    /// slot behind its back (it then stays true, wrongly but harmlessly), and only this
    /// worker fills it, so false means empty: `schedule_local` then knows the `put`
    /// displaces nothing and need not announce a move (`Remote::moving`), without an
    /// atomic load (which would also add a switch point to every loom model).
    slot_filled: bool,
    /// Park rounds left in which this worker keeps watching (parks on the stalled-slot
    /// timeout) although no peer is awake (`park.rs`, the watch's hysteresis).
    pub(super) watch_left: u32,
    /// Bookkeeping for this worker's statistics (`metrics/worker.rs`).
    stats: crate::metrics::worker::WorkerLocal,
}

/// A worker as seen from its own thread: reachable through the thread-local [`CURRENT`]
/// while the worker runs, so spawns and wakes on this thread can use the local queue.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(super) index: usize,
    core: RefCell<Core>,
    /// `&shared.remotes[index]` and `&shared.stats.workers[index]`, resolved once: every
    /// spawn, wake and poll reaches them, and the indexing (three loads and a bounds
    /// check each time) showed up in instruction counts. Both point into boxed slices
    /// of `shared`, which are never resized and which `shared` keeps alive.
    remote: NonNull<Remote>,
    stats: NonNull<WorkerStats>,
    /// `shared.config.observe.instrumented()`, copied: the run loop tests it on every
    /// poll, one load less than through `shared` (a local copy made the loop spill).
    instrumented: bool,
    /// The cooperative budget of this worker's polls (`task/coop.rs`), told apart by
    /// the tick: nothing in the run loop resets it ([`poll_budget`]).
    budget: Budget,
    /// Strong counts of `shared` this worker owns, for the tasks spawned on its thread
    /// (`shared_ref.rs`); released when the worker is dropped.
    pub(super) stock: Stock,
}

/// This thread's worker, if it runs one.
struct Current {
    /// What spawns and wakes on this thread use: the worker, or null (no worker, or one
    /// standing aside while another runtime is entered, `CurrentGuard::suspend`).
    worker: Cell<*const Worker>,
    /// The worker this thread runs, even while it stands aside.
    thread: Cell<*const Worker>,
}

crate::sync::thread_local! {
    // Not `const`: loom's `thread_local!` (the facade's other side) has no const form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Current = Current {
        worker: Cell::new(std::ptr::null()),
        thread: Cell::new(std::ptr::null()),
    };
}

/// Runs `f` with this thread's worker, if it is one: the one thread-local lookup of a
/// spawn or wake on a worker.
///
/// `f` is called after the thread-local is read, not inside it, and never moved into a
/// temporary: this sits on every spawn and wake, and copying its captures through the
/// stack showed up in profiles.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let ptr = CURRENT
        .try_with(|current| current.worker.get())
        .unwrap_or(std::ptr::null());
    // SAFETY: the pointer is set by `CurrentGuard::set` to a `Worker` that outlives the
    // guard which clears it, and it is only read on this thread.
    f(unsafe { ptr.as_ref() })
}

/// The worker this thread runs (even while it stands aside), as a pointer to compare.
fn thread_worker() -> *const Worker {
    CURRENT
        .try_with(|current| current.thread.get())
        .unwrap_or(std::ptr::null())
}

/// The id of the task this thread's worker is polling (`task::try_id`, which reads it
/// through `task::register_worker_source`): the one its
/// run loop published for this poll. Read through the worker this thread runs even
/// while it stands aside for another runtime (`CurrentGuard::suspend`): the task still
/// runs here. A thread that lent its worker (`CurrentGuard::clear`) has none; its task
/// set the id in the thread-local before (`block_in_place`).
pub(crate) fn polling_task_id() -> Option<crate::task::Id> {
    // SAFETY: as in `with_current`: set by `CurrentGuard::set`, alive while set.
    let worker = unsafe { thread_worker().as_ref() }?;
    worker.stats().polling_id()
}

/// The cooperative budget of the poll this thread's worker runs (`task/coop.rs`), or
/// `None` off the workers. The poll's number is the worker's tick, which the run loop
/// advances for every task it takes anyway: a new poll finds the budget full without a
/// store per poll. Read through the worker this thread runs even while it stands aside
/// for another runtime (its task still runs in this poll); a thread that lent its
/// worker (`block_in_place`) has none.
#[inline]
pub(crate) fn poll_budget<R>(f: impl FnOnce(Option<PollBudget<'_>>) -> R) -> R {
    // SAFETY: as in `with_current`: set by `CurrentGuard::set`, alive while set, and
    // used only on this thread (`budget` is touched by no other: a stand-in uses the
    // worker only while the lender's thread runs none, `lend.rs`).
    let worker = unsafe { thread_worker().as_ref() };
    f(worker.map(|w| w.budget.in_poll(w.remote().tick.load(Relaxed))))
}

/// True on a worker thread of the runtime whose shared state is at `shared`.
pub(crate) fn is_worker_of(shared: *const Shared) -> bool {
    let worker = thread_worker();
    // SAFETY: as in `with_current`: set by `CurrentGuard::set`, alive while set.
    unsafe { worker.as_ref() }.is_some_and(|w| std::ptr::eq(&*w.shared, shared))
}

/// `yield_now` with the waker of task `id` (registered through
/// `task::register_worker_yield`): if this thread's worker is polling that task, marks
/// the poll so the task is requeued when it returns `Pending`
/// (`WorkerStats::request_yield`).
fn request_yield(id: crate::task::Id) -> bool {
    // SAFETY: as in `with_current`: set by `CurrentGuard::set`, alive while set.
    unsafe { thread_worker().as_ref() }.is_some_and(|worker| worker.stats().request_yield(id))
}

/// True on a worker thread of any runtime.
pub(crate) fn is_worker() -> bool {
    !thread_worker().is_null()
}

/// Marks this thread as running `worker` until dropped (or, from `suspend`, makes its
/// worker stand aside), then restores what it replaced.
pub(crate) struct CurrentGuard {
    prev: (*const Worker, *const Worker),
}

impl CurrentGuard {
    pub(super) fn set(worker: &Worker) -> CurrentGuard {
        crate::task::register_worker_source(polling_task_id);
        crate::task::register_worker_yield(request_yield);
        CurrentGuard::replace(worker, worker)
    }

    fn replace(worker: *const Worker, thread: *const Worker) -> CurrentGuard {
        let prev = CURRENT.with(|current| {
            (
                current.worker.replace(worker),
                current.thread.replace(thread),
            )
        });
        CurrentGuard { prev }
    }

    /// While the guard lives, this thread runs no worker at all: a thread whose worker
    /// is lent to a stand-in (`lend.rs`). Spawns and wakes here go to the injector, and
    /// `block_on` is allowed (as in tokio's `block_in_place`).
    pub(super) fn clear() -> CurrentGuard {
        CurrentGuard::replace(std::ptr::null(), std::ptr::null())
    }

    /// While the guard lives, this thread's worker stands aside: spawns and wakes here go
    /// to the injector of their runtime. For a worker thread that enters another runtime
    /// (`Handle::enter`), whose `heist::spawn` must reach that runtime.
    pub(crate) fn suspend() -> CurrentGuard {
        CurrentGuard::replace(std::ptr::null(), thread_worker())
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let (worker, thread) = self.prev;
        let _ = CURRENT.try_with(|current| {
            current.worker.set(worker);
            current.thread.set(thread);
        });
    }
}

/// Park rounds a sleeper keeps watching after it last saw a peer awake (the watch's
/// hysteresis, `docs/sleep-protocol.md`, "The next-task slot"). Two: a busy
/// connection keeps nearly all of the skip's gain, and a server answering a request
/// every 20 ms wakes about 2 extra times per request instead of 13 with 16 rounds
/// (`docs/benchmarks/echo.md`).
///
/// None under loom: there every timed park times out at once, so each round is a whole
/// wake, search and park again that loom interleaves with everything else. 16 rounds
/// after every stretch of work kept `remote_task_blocking_on_its_slotted_child` running
/// for over 30 minutes; even one doubled it at one preemption (16,624 -> 31,360
/// interleavings; `docs/testing.md`). No guarantee depends on the number: a round only
/// adds a look at the slots, and the rule that lets a worker skip the "alone" wake
/// holds at every park decision, hysteresis or not (the pair `Idle::unwatch` /
/// `Shared::searcher_found_work`, loom model
/// `a_worker_waking_alone_and_an_ending_watch_never_both_skip`). With none the runtime
/// models can still take the skip (a watcher that parked while its peer was awake).
#[cfg(not(heist_loom))]
const WATCH_ROUNDS: u32 = 2;
#[cfg(heist_loom)]
const WATCH_ROUNDS: u32 = 0;

impl Worker {
    /// The core, if this worker is inside a poll (`Core::in_poll`) and nobody borrows
    /// the core: when it may be lent (`lend.rs`).
    pub(super) fn core_in_poll(&self) -> Option<std::cell::RefMut<'_, Core>> {
        let core = self.core.try_borrow_mut().ok()?;
        core.in_poll.then_some(core)
    }

    #[inline]
    pub(super) fn remote(&self) -> &Remote {
        // SAFETY: see the field: it points into `self.shared`, alive as long as `self`.
        unsafe { self.remote.as_ref() }
    }

    /// Whether this round's park watches (uses the stalled-slot timeout): while a peer
    /// is awake, and for `WATCH_ROUNDS` rounds after, so that a runtime going busy and
    /// idle many times a period (a server answering one request at a time) keeps one
    /// watcher instead of waking one on every turn from idle.
    pub(super) fn keeps_watching(&self, peer_awake: bool) -> bool {
        let mut core = self.core.borrow_mut();
        if peer_awake {
            core.watch_left = WATCH_ROUNDS;
            return true;
        }
        if core.watch_left > 0 {
            core.watch_left -= 1;
            return true;
        }
        false
    }

    /// Leaves the searching state without the chain wake-up (the worker goes to sleep):
    /// returns whether it was searching.
    pub(super) fn stop_searching(&self) -> bool {
        std::mem::take(&mut self.core.borrow_mut().is_searching)
    }

    /// Whether this worker counts as searching.
    pub(super) fn is_searching(&self) -> bool {
        self.core.borrow().is_searching
    }

    /// The worker leaves its park loop as a searcher (`Idle` already counts it).
    pub(super) fn start_searching(&self) {
        self.core.borrow_mut().is_searching = true;
    }

    /// Tasks just moved into this worker's deque, where peers may steal them: wake a
    /// sleeper if nobody is searching (rule 2 of `docs/sleep-protocol.md`). Pairs with
    /// the fence in `Idle::about_to_park`: a sleeper either sees the push in its
    /// re-check or is seen asleep here.
    ///
    /// With one worker there is nobody to wake: the only worker is this one, awake, and
    /// it runs its own queue next. Skipping the fence there saves one on every yield.
    fn made_stealable(&self) {
        if self.shared.num_workers() > 1 {
            fence(SeqCst);
            self.shared.notify_parked();
        }
    }

    /// Runs `f`, a move of tasks into this worker's deque (`Remote::moving`).
    #[inline]
    fn moving<R>(&self, f: impl FnOnce() -> R) -> R {
        self.remote().moving(f)
    }

    /// Spawns a task from this worker's own thread (`heist::spawn` on a worker: one
    /// thread-local lookup): into its next-task slot. After shutdown the task is
    /// cancelled at once.
    pub(crate) fn spawn<F>(&self, future: F, meta: crate::task::Meta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scheduler = SharedRef::from_stock(&self.stock, &self.shared);
        Shared::spawn_with(&self.shared, future, meta, scheduler, |shared, task| {
            crate::debug::queued(shared, &task);
            self.schedule_local(task, false, true)
        })
    }

    /// This worker's counters (`metrics/worker.rs`).
    #[inline]
    fn stats(&self) -> &WorkerStats {
        // SAFETY: see the field: it points into `self.shared`, alive as long as `self`.
        unsafe { self.stats.as_ref() }
    }

    /// The poll this worker published (`metrics/worker.rs`), if it is in one: for
    /// `block_in_place` to publish again with `resume_poll` once it has the worker back.
    pub(crate) fn published_poll(&self) -> Option<CurrentPoll> {
        self.stats().current()
    }

    /// See `published_poll`.
    pub(crate) fn resume_poll(&self, poll: CurrentPoll) {
        self.stats().resume_poll(poll);
    }

    /// Statistics: the worker is about to block in its parker (`park.rs`).
    pub(super) fn before_park(&self) {
        self.stats().before_park(&mut self.core.borrow_mut().stats);
    }

    /// Statistics: the worker is back from its parker (`park.rs`).
    pub(super) fn after_unpark(&self) {
        self.stats().after_unpark(&mut self.core.borrow_mut().stats);
    }

    /// Queues a task woken or spawned (`is_spawn`) on this worker. If the core is
    /// borrowed (the worker is between polls, dropping something), the task goes to the
    /// injector instead.
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool, is_spawn: bool) {
        if is_spawn {
            self.stats().spawned.incr();
        }
        let Ok(mut core) = self.core.try_borrow_mut() else {
            self.stats().overflow_count.incr();
            return self.shared.schedule_remote(task);
        };
        self.stats().local_schedule_count.incr();
        if is_yield || self.shared.config.lifo_slot_limit == 0 {
            core.queue.push(task);
        } else {
            if core.slot_filled {
                return self.displace_into_slot(core, task);
            }
            // Empty (see `Core::slot_filled`): nothing is displaced, and a store fills it.
            core.slot_filled = true;
            self.remote().next_slot.put_into_empty(task);
            return;
        }
        drop(core);
        self.made_stealable();
    }

    /// `schedule_local` found the next-task slot maybe occupied: puts `task` there and
    /// moves the task it displaces, if any, to the back of the deque. That task is in no
    /// queue between the swap and the push: a move, announced to the task dump
    /// (`Remote::moving`). Out of line: the common case, an empty slot, stays a swap.
    #[cold]
    #[inline(never)]
    fn displace_into_slot(&self, core: std::cell::RefMut<'_, Core>, task: Notified) {
        let pushed = self.moving(|| match self.remote().next_slot.put(task) {
            Some(displaced) => {
                core.queue.push(displaced);
                true
            }
            None => false,
        });
        drop(core);
        if pushed {
            self.made_stealable();
        }
    }
}

impl Worker {
    /// Worker `index` of `shared`, owning the local queue `queue`.
    pub(crate) fn new(shared: Arc<Shared>, index: usize, queue: LocalQueue) -> Worker {
        let n = shared.num_workers();
        let until_global = shared.config.global_queue_interval;
        let remote = NonNull::from(&*shared.remotes[index]);
        let stats = NonNull::from(&*shared.stats.workers[index]);
        Worker {
            instrumented: shared.config.observe.instrumented(),
            budget: Budget::new(),
            stock: Stock::new(),
            shared,
            index,
            remote,
            stats,
            core: RefCell::new(Core {
                queue,
                tick: 0,
                next_slot_polls: 0,
                until_global,
                is_searching: false,
                in_poll: false,
                rng: 0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1,
                slot_seen: vec![None; n],
                slot_filled: false,
                watch_left: 0,
                stats: Default::default(),
            }),
        }
    }

    /// Runs the worker on the current thread until shutdown, parking in `driver`. The
    /// caller (the runtime) has made the runtime current on this thread.
    pub(crate) fn run<D: Driver>(&self, driver: &D) {
        let _current = CurrentGuard::set(self);
        self.run_loop(driver, || false);
    }

    /// After `run`, outside the worker context (so that anything the drain wakes goes to
    /// the injector, which shutdown empties): cancels what this worker still queues and
    /// counts it out of the run loop.
    pub(crate) fn exit(self, count_out: &mut CountOut<'_>) {
        self.drain();
        count_out.left_loop();
    }
}

impl Drop for Worker {
    /// Releases the counts left in the stock (`shared_ref.rs`). Nothing can add to it
    /// any more: only a thread running this worker does, and the worker is gone.
    fn drop(&mut self) {
        // SAFETY: the stock holds counts of `shared` only (`schedule.rs`, `Stocked`).
        unsafe { self.stock.release_all(&self.shared) };
    }
}

/// Counts a worker thread out of `Shared`'s live counts as it ends: out of the run loop
/// (`left_loop`, or on drop if it never got there by the normal path), and out of the
/// live threads when dropped, after its stop hook. Created first thing on the thread,
/// so even a thread that unwinds never leaves shutdown waiting for it.
pub(crate) struct CountOut<'a> {
    shared: &'a Shared,
    in_loop: bool,
}

impl<'a> CountOut<'a> {
    pub(crate) fn new(shared: &'a Shared) -> CountOut<'a> {
        CountOut {
            shared,
            in_loop: true,
        }
    }

    fn left_loop(&mut self) {
        if std::mem::take(&mut self.in_loop) {
            self.shared.worker_exited();
        }
    }
}

impl Drop for CountOut<'_> {
    fn drop(&mut self) {
        self.left_loop();
        self.shared.worker_stopped();
    }
}

impl Worker {
    /// The run loop, until shutdown or `stop()` (a stand-in asked to give the worker
    /// back, `lend.rs`; never for the worker's own thread).
    pub(super) fn run_loop<D: Driver>(&self, driver: &D, stop: impl Fn() -> bool) {
        // The polls' ids are published in `stats` (`task::try_id`), which a stand-in's
        // own id (it runs inside a blocking task) must not shadow.
        let _no_id = crate::task::IdGuard::clear();
        while !self.shared.is_shutdown() && !stop() {
            // A busy worker turns the driver itself (one atomic load when nothing is due).
            debug_assert!(
                self.core.try_borrow_mut().is_ok(),
                "core borrowed at the loop head"
            );
            // SAFETY: nothing borrows `core` between two iterations of this loop (its
            // borrows end inside `find_task`, the poll and `park`; a stand-in runs this
            // loop only while the lender's thread is blocked in a poll, holding none),
            // and only one thread uses the worker at a time (`lend.rs`), so this read
            // races with no write. Unchecked: the borrow check was 3 instructions per
            // poll (callgrind, `per_op`).
            let tick = unsafe { (*self.core.as_ptr()).tick };
            if tick % DRIVER_INTERVAL == 0 {
                driver.turn(false);
            }
            let Some(task) = self.find_task() else {
                self.park(driver, &stop);
                continue;
            };
            let stats = self.stats();
            let completed = if self.instrumented {
                crate::debug::poll_instrumented(&*self.shared, self.index, stats, task)
            } else {
                stats.run(task)
            };
            stats.end_poll(completed);
        }
    }

    /// Steps 1-6 of the search order; a task found is published as this worker's poll
    /// (`WorkerStats::begin_poll`). From before the first take until then (or until it
    /// finds nothing), what the worker took out of a queue is in its hands, which the
    /// task dump sees (`WorkerStats::begin_take`).
    #[inline]
    pub(super) fn find_task(&self) -> Option<Notified> {
        let stats = self.stats();
        stats.begin_take();
        let mut core = self.core.borrow_mut();
        let task = match self.next_task(&mut core) {
            // Found in steps 1-4: `found_work` under the same borrow (a second borrow
            // was 4-5 instructions per poll).
            Some(task) => {
                let was_searching = found_work(&mut core);
                drop(core);
                self.stopped_searching(was_searching);
                task
            }
            None => {
                drop(core);
                let Some(task) = self.search() else {
                    stats.took_nothing();
                    return None;
                };
                let was_searching = found_work(&mut self.core.borrow_mut());
                self.stopped_searching(was_searching);
                task
            }
        };
        stats.begin_poll(task.header());
        Some(task)
    }

    /// Steps 1-4 of the search order. Inlined into `find_task` (its one caller): out of
    /// line, its prologue and epilogue (callee-saved registers) were 16 instructions per
    /// poll, 11 per `yield_now` and 22 per spawn + await (callgrind, `examples/per_op.rs`).
    #[inline(always)]
    fn next_task(&self, core: &mut Core) -> Option<Notified> {
        let shared = &*self.shared;
        core.in_poll = false;
        core.tick = core.tick.wrapping_add(1);
        self.remote().tick.store(core.tick, Relaxed);

        core.until_global -= 1;
        if core.until_global == 0 {
            core.until_global = shared.config.global_queue_interval;
            if let Some(task) = steal_retrying(|| shared.injector.steal()) {
                return Some(task);
            }
        }
        // Remote work is waiting: move a share of it to the back of the deque now, so it
        // runs after what this worker already queued instead of only when the deque runs
        // dry (a worker kept busy by long local tasks would otherwise reach it once per
        // `global_queue_interval` tasks). `is_empty` is two loads of a line that is only
        // written when remote work arrives.
        if !shared.injector.is_empty() {
            let limit = injector_share(shared);
            let moved = self.moving(|| {
                match shared
                    .injector
                    .steal_batch_with_limit_and_pop(&core.queue, limit)
                {
                    Steal::Success(task) => {
                        core.queue.push(task);
                        true
                    }
                    _ => false,
                }
            });
            if moved {
                self.made_stealable();
            }
        }
        if shared.config.lifo_slot_limit > 0 {
            if core.next_slot_polls < shared.config.lifo_slot_limit {
                if let Some(task) = take_own_slot(core, self.remote()) {
                    core.next_slot_polls += 1;
                    return Some(task);
                }
            } else if core.queue.is_empty() {
                // The limit sends the slot's task behind the deque, and the deque is empty:
                // it runs next anyway. Pushed and popped, it would be stealable for an
                // instant and `made_stealable` would wake a sleeper that finds nothing
                // (every fourth hop of a token ring: `docs/benchmarks/worker-counts.md`,
                // section 9). Nothing becomes stealable, so rule 2 notifies nobody.
                if let Some(task) = take_own_slot(core, self.remote()) {
                    core.next_slot_polls = 0;
                    return Some(task);
                }
            } else if self.moving(|| match take_own_slot(core, self.remote()) {
                Some(task) => {
                    core.queue.push(task);
                    true
                }
                None => false,
            }) {
                self.made_stealable();
            }
        }
        core.next_slot_polls = 0;
        if let Some(task) = core.queue.pop() {
            return Some(task);
        }
        let limit = injector_share(shared);
        let task = self.moving(|| {
            steal_retrying(|| {
                shared
                    .injector
                    .steal_batch_with_limit_and_pop(&core.queue, limit)
            })
        });
        // The rest of the batch, if any, went to the (empty until now) deque. A batch of
        // one left nothing to steal: waking a peer for it would find nothing.
        if task.is_some() && !core.queue.is_empty() {
            self.made_stealable();
        }
        task
    }

    /// Steps 5-6: steal, as one of the searching workers.
    fn search(&self) -> Option<Notified> {
        let mut core = self.core.borrow_mut();
        let shared = &*self.shared;
        if !core.is_searching {
            if !shared.idle.try_start_searching() {
                return None;
            }
            core.is_searching = true;
        }
        let n = shared.num_workers();
        loop {
            let mut retry = false;
            let limit = injector_share(shared);
            match self.moving(|| {
                shared
                    .injector
                    .steal_batch_with_limit_and_pop(&core.queue, limit)
            }) {
                Steal::Success(task) => return Some(task),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let start = core.next_random() as usize % n;
            for i in (0..n).map(|i| (start + i) % n).filter(|&i| i != self.index) {
                let before = core.queue.len();
                match self.moving(|| {
                    shared.remotes[i]
                        .stealer
                        .steal_batch_with_limit_and_pop(&core.queue, STEAL_LIMIT)
                }) {
                    Steal::Success(task) => {
                        self.stats()
                            .stole(core.queue.len().saturating_sub(before) + 1);
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                break;
            }
            crate::sync::spin_loop();
        }
        self.steal_stalled_slot(&mut core)
    }

    /// Step 6: take a peer's next-task slot if the peer has not run another task since
    /// this worker last saw the slot occupied.
    fn steal_stalled_slot(&self, core: &mut Core) -> Option<Notified> {
        for (i, remote) in self.shared.remotes.iter().enumerate() {
            if i == self.index {
                continue;
            }
            if remote.next_slot.is_empty() {
                core.slot_seen[i] = None;
                continue;
            }
            let tick = remote.tick.load(Relaxed);
            if core.slot_seen[i] == Some(tick) {
                if let Some(task) = remote.next_slot.take() {
                    core.slot_seen[i] = None;
                    self.stats().stole(1);
                    return Some(task);
                }
            }
            core.slot_seen[i] = Some(tick);
        }
        None
    }

    /// After [`found_work`]: if this worker was the last searcher and work is still
    /// queued, wake another worker (`Shared::searcher_found_work`).
    #[inline(always)]
    fn stopped_searching(&self, was_searching: bool) {
        if was_searching {
            self.shared.searcher_found_work();
        }
    }

    /// At exit: cancel what this worker still queues (tasks never polled are reachable
    /// only from here; the others are also cancelled through the registry, and whichever
    /// comes second finds them complete).
    fn drain(&self) {
        if let Some(task) = self.remote().next_slot.take() {
            task.shutdown();
        }
        let core = self.core.borrow_mut();
        while let Some(task) = core.queue.pop() {
            task.shutdown();
        }
    }
}

impl Core {
    /// xorshift32: victim selection only needs to be spread, not strong.
    fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

/// How much of the injector one worker takes at a time: its share, at most
/// `INJECTOR_LIMIT`.
fn injector_share(shared: &Shared) -> usize {
    (shared.injector.len() / shared.num_workers() + 1).min(INJECTOR_LIMIT)
}

/// The owner empties its next-task slot (`Core::slot_filled`).
fn take_own_slot(core: &mut Core, remote: &super::Remote) -> Option<Notified> {
    core.slot_filled = false;
    remote.next_slot.take()
}

/// Retries a steal until it succeeds or finds the source empty.
fn steal_retrying(mut steal: impl FnMut() -> Steal<Notified>) -> Option<Notified> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => crate::sync::spin_loop(),
        }
    }
}

/// A task was found: the worker is polling and no longer searching. Returns whether it
/// was searching (the caller, with `core` released, then calls `stopped_searching`).
#[inline(always)]
fn found_work(core: &mut Core) -> bool {
    core.in_poll = true;
    std::mem::take(&mut core.is_searching)
}
