//! A worker thread: its run loop, its `Core`, and its search for work.
//!
//! Search order, each step tried only when the previous one found nothing:
//!
//! 1. Every `global_queue_interval` ticks, one task from the injector first, so remote
//!    work is never starved by a worker that keeps itself busy.
//! 2. The next-task slot, at most `lifo_limit` times in a row (then its task moves to the
//!    back of the queue, so a ping-pong pair cannot starve the rest).
//! 3. The local queue (FIFO). Before it, if the injector is not empty, a share of it is
//!    moved to the back of the local queue, so remote work waits behind what is already
//!    queued rather than for the queue to run dry.
//! 4. A batch from the injector.
//! 5. Searching (at most about half the workers at once): the injector again, then about
//!    half of a peer's queue, peers visited from a random start.
//! 6. A peer's next-task slot, if that peer has not advanced since this worker last
//!    looked (it is stuck in one long poll and its slot would otherwise wait for it).
//! 7. Park.
//!
//! Timers (`src/time/driver.rs`) are fired by the workers: every `time::CHECK_INTERVAL`
//! tasks in the run loop, before parking, and by the *keepers*, the (at most two) parked
//! workers whose park times out at the next deadline.

use super::{Notified, Remote, Shared};
use crate::context;
use crate::metrics::worker::WorkerStats;
use crate::queue::{LocalQueue, Steal};
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::Arc;
use std::cell::RefCell;

/// Most tasks moved by one steal from a peer.
const STEAL_LIMIT: usize = 128;
/// Most tasks moved by one pull from the injector.
const INJECTOR_LIMIT: usize = 64;

/// What the worker thread owns: touched only by its own thread.
pub(crate) struct Core {
    queue: LocalQueue,
    /// Tasks run so far (wrapping), published to `Remote::tick`.
    tick: u32,
    /// Polls in a row taken from the next-task slot.
    lifo_polls: u32,
    /// Ticks left until the next injector check (step 1): a countdown, because a
    /// division by the configured interval on every tick showed up in profiles.
    until_global: u32,
    is_searching: bool,
    rng: u32,
    /// For each peer, its tick when this worker last saw its next-task slot occupied.
    slot_seen: Vec<Option<u32>>,
    /// Bookkeeping for this worker's statistics (`metrics/worker.rs`).
    stats: crate::metrics::worker::WorkerLocal,
}

/// A worker as seen from its own thread: reachable through the thread-local context
/// while the worker runs, so wakes on this thread can use the local queue.
pub(crate) struct WorkerCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    core: RefCell<Core>,
}

impl WorkerCtx {
    fn remote(&self) -> &Remote {
        &self.shared.remotes[self.index]
    }

    /// This worker's counters (`metrics/worker.rs`).
    #[inline]
    fn stats(&self) -> &WorkerStats {
        &self.shared.stats.workers[self.index]
    }

    /// Queues a task woken or spawned (`is_spawn`) on this worker. If the core is
    /// borrowed (the worker is between polls, dropping something), the task goes to the
    /// injector instead.
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool, is_spawn: bool) {
        if is_spawn {
            self.stats().spawned.incr();
        }
        let Ok(core) = self.core.try_borrow_mut() else {
            self.stats().overflow_count.incr();
            return self.shared.schedule_remote(task);
        };
        self.stats().local_schedule_count.incr();
        let spilled = if is_yield || self.shared.config.lifo_limit == 0 {
            Some(task)
        } else {
            self.remote().next.put(task)
        };
        if let Some(task) = spilled {
            core.queue.push(task);
            drop(core);
            // Pairs with `Idle::about_to_park`: a sleeper either sees this push or we see
            // it asleep.
            crate::sync::atomic::fence(crate::sync::atomic::Ordering::SeqCst);
            self.shared.notify_parked();
        }
    }
}

/// Runs worker `index` on the current thread until shutdown.
pub(crate) fn run(shared: Arc<Shared>, index: usize, queue: LocalQueue) {
    let n = shared.num_workers();
    let until_global = shared.config.global_queue_interval;
    let worker = WorkerCtx {
        shared,
        index,
        core: RefCell::new(Core {
            queue,
            tick: 0,
            lifo_polls: 0,
            until_global,
            is_searching: false,
            rng: 0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1,
            slot_seen: vec![None; n],
            stats: Default::default(),
        }),
    };
    // Counts the thread out however it ends, so shutdown never waits for a thread that
    // is gone.
    let mut count_out = CountOut {
        shared: &worker.shared,
        in_loop: true,
    };
    super::run_hook(worker.shared.config.on_thread_start.as_ref());
    {
        let _enter = context::enter(crate::Handle {
            shared: worker.shared.clone(),
        });
        let _worker = context::enter_worker(&worker);
        worker.run_loop();
        // Leave the worker context before draining, so that anything the drain wakes
        // goes to the injector, which shutdown empties.
    }
    worker.drain();
    count_out.in_loop = false;
    worker.shared.worker_exited();
    super::run_hook(worker.shared.config.on_thread_stop.as_ref());
}

/// Counts a worker thread out of `Shared`'s live counts as it ends (out of the run loop
/// too, if it never got there by the normal path).
struct CountOut<'a> {
    shared: &'a Shared,
    in_loop: bool,
}

impl Drop for CountOut<'_> {
    fn drop(&mut self) {
        if self.in_loop {
            self.shared.worker_exited();
        }
        self.shared.worker_stopped();
    }
}

impl WorkerCtx {
    fn run_loop(&self) {
        while !self.shared.is_shutdown() {
            // Timers: a busy worker fires due ones itself (one atomic load when none is).
            if self.core.borrow().tick % crate::time::CHECK_INTERVAL == 0 {
                self.shared.time.fire_due(false);
            }
            let task = self.next_task().or_else(|| self.search());
            let Some(task) = task else {
                self.park();
                continue;
            };
            self.found_work();
            let stats = self.stats();
            stats.begin_poll(task.header());
            let completed = if self.shared.config.observe.instrumented() {
                crate::debug::poll_instrumented(&self.shared, self.index, task)
            } else {
                stats.run(task)
            };
            stats.end_poll(completed);
        }
    }

    /// Steps 1-4 of the search order.
    fn next_task(&self) -> Option<Notified> {
        let mut core = self.core.borrow_mut();
        let shared = &*self.shared;
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
            if let Steal::Success(task) = shared
                .injector
                .steal_batch_with_limit_and_pop(&core.queue, limit)
            {
                core.queue.push(task);
            }
        }
        if shared.config.lifo_limit > 0 {
            if core.lifo_polls < shared.config.lifo_limit {
                if let Some(task) = self.remote().next.take() {
                    core.lifo_polls += 1;
                    return Some(task);
                }
            } else if let Some(task) = self.remote().next.take() {
                core.queue.push(task);
            }
        }
        core.lifo_polls = 0;
        if let Some(task) = core.queue.pop() {
            return Some(task);
        }
        let limit = injector_share(shared);
        steal_retrying(|| {
            shared
                .injector
                .steal_batch_with_limit_and_pop(&core.queue, limit)
        })
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
            match shared
                .injector
                .steal_batch_with_limit_and_pop(&core.queue, INJECTOR_LIMIT)
            {
                Steal::Success(task) => return Some(task),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let start = core.next_random() as usize % n;
            for i in (0..n).map(|i| (start + i) % n).filter(|&i| i != self.index) {
                let before = core.queue.len();
                match shared.remotes[i]
                    .stealer
                    .steal_batch_with_limit_and_pop(&core.queue, STEAL_LIMIT)
                {
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
            if remote.next.is_empty() {
                core.slot_seen[i] = None;
                continue;
            }
            let tick = remote.tick.load(Relaxed);
            if core.slot_seen[i] == Some(tick) {
                if let Some(task) = remote.next.take() {
                    core.slot_seen[i] = None;
                    self.stats().stole(1);
                    return Some(task);
                }
            }
            core.slot_seen[i] = Some(tick);
        }
        None
    }

    /// A task was found: stop searching, and if this was the last searcher, wake another
    /// worker (there may be more work where this came from).
    fn found_work(&self) {
        let mut core = self.core.borrow_mut();
        if std::mem::take(&mut core.is_searching) {
            drop(core);
            if self.shared.idle.work_found() {
                self.shared.notify_parked();
            }
        }
    }

    /// Step 7: sleep until notified (see `docs/sleep-protocol.md`), or until the next
    /// timer deadline if this worker keeps time (`src/time/driver.rs`).
    fn park(&self) {
        let shared = &*self.shared;
        // Timers: fire what is due first; if that queued tasks here, run them instead.
        if shared.time.fire_due(true) > 0 {
            return;
        }
        let was_searching = std::mem::take(&mut self.core.borrow_mut().is_searching);
        shared.idle.about_to_park(self.index, was_searching);
        // `about_to_park` ended with a SeqCst fence: a push that our re-check misses saw
        // us asleep and will wake a worker.
        if shared.has_queued_work() {
            shared.notify_parked();
        }
        // While any peer is awake it may fill its next-task slot and then stay in a long
        // poll, and filling the slot wakes nobody (that would cost a wake-up per message
        // in ping-pong). So a sleeper with an awake peer looks again after a while; when
        // the whole runtime is idle, sleepers wait for new work only.
        let timeout = shared
            .config
            .stalled_slot_check
            .filter(|_| shared.idle.counts().1 > 0);
        loop {
            if shared.is_shutdown() {
                return;
            }
            // Timers: a keeper (one of the first two workers to park) sleeps until the next
            // deadline.
            let park_for = shared.time.keeper_timeout(self.index, timeout);
            self.stats().before_park(&mut self.core.borrow_mut().stats);
            self.remote().parker.park(park_for);
            self.stats().after_unpark(&mut self.core.borrow_mut().stats);
            // Timers: give any keeper role up, fire what is due (into this worker's queue).
            shared.time.release_keeper(self.index);
            let fired = shared.time.fire_due(true) > 0;
            if shared.is_shutdown() {
                return;
            }
            if shared.idle.was_notified(self.index) {
                self.core.borrow_mut().is_searching = true;
                shared.hand_off_timer_keeper(self.index);
                return;
            }
            if timeout.is_some() || fired {
                let notified = shared.idle.wake_self(self.index);
                self.core.borrow_mut().is_searching = notified;
                shared.hand_off_timer_keeper(self.index);
                return;
            }
            // Spurious wake-up, or a keeper's timeout with nothing due (or a hand-off):
            // still on the sleepers list; park again, keeping time if a keeper role is free.
        }
    }

    /// At exit: cancel what this worker still queues (tasks never polled are reachable
    /// only from here; the others are also cancelled through the registry, and whichever
    /// comes second finds them complete).
    fn drain(&self) {
        if let Some(task) = self.remote().next.take() {
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
