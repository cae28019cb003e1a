//! One worker's statistics: counters its own thread bumps, read by anyone.
//!
//! Every counter has exactly one writer, the worker thread that owns the block. It
//! bumps it with a `Relaxed` load and a `Relaxed` store (`Counter::add`): on x86 and ARM
//! that compiles to a plain load, add and store, with no locked instruction and no
//! fence, and since only the owner writes, no increment is ever lost. Readers
//! (`RuntimeMetrics`, the dump, the watchdog) load with `Relaxed` and may see a value a
//! few events old. The block is cache-padded so that one worker's counting never
//! invalidates another's line, nor the line thieves read (`Remote`).
//!
//! Per poll the worker also publishes which task it runs (`begin_poll`): a sequence
//! number, the task id and its spawn location, as a small seqlock, so the dump can list
//! a task running its first poll (it is in no queue and not yet in the registry) and the
//! slow-poll watchdog can name a stuck task, both without touching the task itself.
//! The sequence turns odd already before the worker takes its next task out of a queue
//! (`begin_take`), so a task between its queue and its publication is visible to the
//! dump as "a take in progress" (`debug/dump.rs`).
//! `task::try_id` reads the same id on the worker's own thread (`polling_id`), so a
//! poll sets no thread-local for it.
//!
//! Costs per event (what the hot paths pay with nothing turned on):
//! - poll: `begin_take` (before the worker takes its next task) and `begin_poll`
//!   together 3 loads + 5 stores (the task's poll count, the sequence twice, id,
//!   location; the sequence is loaded in each) and a compiler-only fence on x86 (`Release`); after the
//!   future's poll (or its drop, if it finished) 1 store (the id withdrawn,
//!   `task/harness.rs`) and 1 load + 1 store (`completed`). No thread-local: these
//!   stores also give `task::id()` its answer.
//! - spawn or wake on a worker: 1 load + 1 store (`local_schedule_count`, and
//!   `spawned` for a spawn).
//! - park / unpark: 2 clock reads and a handful of stores per park (not per poll).
//! - steal: 2 loads + 2 stores per successful steal.

use crate::sync::stat::{
    fence, AtomicPtr, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use crate::task::{Header, Id};
use std::panic::Location;
use std::ptr;
use std::time::{Duration, Instant};

/// A statistic with one writer: bumped without a read-modify-write.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the counter's owner thread may call this (two writers would lose
    /// increments; they would never corrupt memory).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Adds one (owner only).
    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    /// Sets the value (owner only).
    #[inline]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    /// The value, possibly a few events old.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// The task a worker is polling, as published for the dump and the watchdog. Two are
/// the same poll when their number, task and location are (a yield requested during
/// the poll does not make it another).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CurrentPoll {
    /// Which poll of this worker (the number of polls it started before this one).
    pub(crate) seq: u64,
    pub(crate) id: Id,
    pub(crate) location: &'static Location<'static>,
    /// The task asked to yield in this poll (`request_yield`): carried through
    /// `block_in_place` by `resume_poll`, so the request is not lost.
    yield_requested: bool,
}

impl PartialEq for CurrentPoll {
    fn eq(&self, other: &CurrentPoll) -> bool {
        (self.seq, self.id, self.location) == (other.seq, other.id, other.location)
    }
}

impl Eq for CurrentPoll {}

/// One worker's published statistics.
#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) park_count: Counter,
    pub(crate) park_unpark_count: Counter,
    pub(crate) noop_count: Counter,
    pub(crate) steal_count: Counter,
    pub(crate) steal_operations: Counter,
    pub(crate) local_schedule_count: Counter,
    pub(crate) overflow_count: Counter,
    /// Tasks spawned from this worker's thread.
    pub(crate) spawned: Counter,
    /// Tasks that completed (or were cancelled) in a poll on this worker.
    pub(crate) completed: Counter,
    /// Nanoseconds spent between unparking and parking again, summed.
    pub(crate) busy_nanos: Counter,
    /// Exponentially weighted mean of the poll time, nanoseconds (see `before_park`).
    pub(crate) mean_poll_nanos: Counter,
    /// Twice the number of polls started, plus one from `begin_take` (the worker is
    /// about to take a task out of a queue) until `begin_poll` has published that task,
    /// or `took_nothing` (the seqlock's sequence; the poll count is `seq / 2`).
    seq: AtomicU64,
    /// The id of the task being polled, 0 between polls. Not a statistic: the dump
    /// relies on its withdrawal (`task/harness.rs`) ordering after the task's
    /// registration, so it is the `sync` facade's atomic, which loom sees.
    current_id: crate::sync::atomic::AtomicU64,
    /// Its spawn location (a `&'static Location`).
    current_location: AtomicPtr<Location<'static>>,
    /// Polls published again (`resume_poll`), which `seq` counts but were no new poll.
    resumed: Counter,
}

/// What only the worker thread needs to compute its statistics (kept in its `Core`).
#[derive(Debug)]
pub(crate) struct WorkerLocal {
    /// When this worker last unparked (or started).
    busy_since: Instant,
    /// Polls started when it last unparked.
    polls_at_unpark: u64,
}

impl Default for WorkerLocal {
    fn default() -> Self {
        WorkerLocal {
            busy_since: Instant::now(),
            polls_at_unpark: 0,
        }
    }
}

impl WorkerStats {
    /// The number of polls this worker started.
    pub(crate) fn poll_count(&self) -> u64 {
        (self.seq.load(Relaxed) / 2).saturating_sub(self.resumed.get())
    }

    /// The number of the poll the worker published last (`CurrentPoll::seq` while it
    /// runs; owner only): the polls started, resumptions after `block_in_place` included.
    #[inline]
    pub(crate) fn published_seq(&self) -> u64 {
        self.seq.load(Relaxed) / 2
    }

    /// The worker is about to take a task out of a queue (owner only): the sequence
    /// turns odd *before* the take, and stays odd until the task is published
    /// (`begin_poll`) or the worker found none (`took_nothing`). A task in the worker's
    /// hands, taken from a queue but not yet published, is then never invisible to the
    /// dump: a dump that drained that queue after the take synchronised with it (the
    /// take is a release operation on the queue: the deque's `front` RMW, the injector's
    /// lock, the next-task slot's swap), so it reads this odd value or a later one, and
    /// waits for the publication (`debug/dump.rs`). Costs nothing per poll: this is the
    /// odd store `begin_poll` made before, made earlier.
    #[inline]
    pub(crate) fn begin_take(&self) {
        let seq = self.seq.load(Relaxed);
        debug_assert_eq!(seq % 2, 0, "a take window inside another");
        self.seq.store(seq + 1, Relaxed);
    }

    /// The worker found no task after `begin_take` (owner only): the sequence goes back
    /// to the even value before it (no poll was started; nothing is in its hands).
    #[inline]
    pub(crate) fn took_nothing(&self) {
        let seq = self.seq.load(Relaxed);
        debug_assert_eq!(seq % 2, 1, "took_nothing without begin_take");
        self.seq.store(seq - 1, Release);
    }

    /// The worker starts polling the task `header`, which it took after `begin_take`
    /// (owner only): publishes it and closes the take window.
    #[inline]
    pub(crate) fn begin_poll(&self, header: &Header) {
        let polls = &header.polls;
        polls.store(polls.load(Relaxed).wrapping_add(1), Relaxed);
        self.write_fields(header.id, header.meta.location());
        // Loaded after the fields' stores (only this thread writes it, so any place
        // reads the same value): next to its store, the load, add and store fold into
        // one instruction (2 instructions per poll less than loading it first).
        let seq = self.seq.load(Relaxed);
        debug_assert_eq!(seq % 2, 1, "begin_poll without begin_take");
        self.seq.store(seq + 1, Release);
    }

    /// Seqlock writer: odd while the fields change; the fence keeps the field stores
    /// after the odd store, and the `Release` store below publishes them.
    #[inline]
    fn publish(&self, id: Id, location: &'static Location<'static>) {
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq + 1, Relaxed);
        self.write_fields(id, location);
        self.seq.store(seq + 2, Release);
    }

    /// The seqlock's fields, written while the sequence is odd.
    #[inline]
    fn write_fields(&self, id: Id, location: &'static Location<'static>) {
        fence(Release);
        self.current_id.store(id.as_u64(), Relaxed);
        self.current_location
            .store(ptr::from_ref(location).cast_mut(), Relaxed);
    }

    /// The worker's thread takes back the worker it lent (`block_in_place`) and goes on
    /// with the poll it was in, which `current` returned before lending: publishes it
    /// again (the stand-in's polls replaced it), for the dump, the watchdog (to which it
    /// is a new poll: the blocking section was allowed to take long) and
    /// `task::try_id`. Not counted as a poll.
    pub(crate) fn resume_poll(&self, poll: CurrentPoll) {
        self.resumed.incr();
        self.publish(poll.id, poll.location);
        if poll.yield_requested {
            let published = self.request_yield(poll.id);
            debug_assert!(published, "the resumed poll is published");
        }
    }

    /// `yield_now` on this worker's thread, with the waker of the task `id`: if that is
    /// the task this worker is polling, marks the poll (`task::YIELD_REQUESTED` in the
    /// published id) and returns true; the task then goes to the back of the queue when
    /// its poll returns `Pending` (`task/harness.rs`, `withdraw_pending`), as a wake
    /// during the poll would do, without the wake's read-modify-write of the task's
    /// state. Only this thread writes the id between polls (the dump's `fetch_or(0)`
    /// writes back what it read), so a load and a store suffice.
    #[inline]
    pub(crate) fn request_yield(&self, id: Id) -> bool {
        if self.current_id.load(Relaxed) & !crate::task::YIELD_REQUESTED != id.as_u64() {
            return false;
        }
        self.current_id
            .store(id.as_u64() | crate::task::YIELD_REQUESTED, Relaxed);
        true
    }

    /// Runs `task`, the one `begin_poll` published; returns whether it completed. The
    /// task withdraws its id itself as soon as its future's poll returns, before it can
    /// be seen complete or run elsewhere (`task/harness.rs`, `withdraw`), so the dump
    /// never lists a finished task, or one that moved on, as running here.
    #[inline]
    pub(crate) fn run<S: 'static>(&self, task: crate::task::Notified<S>) -> bool {
        task.run_published(&self.current_id)
    }

    /// The poll ended; `completed`: the task completed or was cancelled in it. (The id
    /// was already withdrawn by the task, see `run`.)
    #[inline]
    pub(crate) fn end_poll(&self, completed: bool) {
        self.completed.add(u64::from(completed));
    }

    /// The id of the task this worker is polling, on the worker's own thread (for
    /// `task::try_id`): the id `begin_poll` published, until the task withdraws it.
    #[inline]
    pub(crate) fn polling_id(&self) -> Option<Id> {
        Id::from_u64(self.current_id.load(Relaxed) & !crate::task::YIELD_REQUESTED)
    }

    /// For the dump: the task this worker is polling, as `current`, once any task in
    /// its hands is published. If the worker is inside a take window (`begin_take`),
    /// waits, at most `spins` rounds, for the sequence to move: to the publication of
    /// what it took, or back (it took nothing), or on to a later window (then what it
    /// took was published and withdrawn since: it is registered or complete).
    /// `Err(())`: the window did not close in time, and a task taken in it may be in
    /// no queue, no registry and not published.
    pub(crate) fn current_after_take(&self, spins: u32) -> Result<Option<CurrentPoll>, ()> {
        let window = self.seq.load(Acquire);
        if window % 2 == 1 {
            let mut spun = 0;
            while self.seq.load(Acquire) == window {
                if spun == spins {
                    return Err(());
                }
                spun += 1;
                crate::sync::spin_loop();
            }
        }
        // The id is read with a read-modify-write that changes nothing. On hardware the
        // seqlock's `Release` / `Acquire` pair already makes this read see the id the
        // worker published before the sequence moved; loom does not see the sequence (a
        // statistic: std's atomic on both sides of the facade, which keeps loom's state
        // spaces small), and an RMW reads the latest value, as the hardware would here.
        // A hack for the model, admitted: the only write to `current_id` by another
        // thread than its worker, and it writes back what it read (the dump only).
        Ok(self.read_published(|id| id.fetch_or(0, Acquire)))
    }

    /// The task this worker is polling right now, if any (any thread; `None` also if the
    /// worker was switching tasks at that instant).
    pub(crate) fn current(&self) -> Option<CurrentPoll> {
        self.read_published(|id| id.load(Acquire))
    }

    /// The seqlock reader, reading the id with `read_id`.
    fn read_published(
        &self,
        read_id: impl FnOnce(&crate::sync::atomic::AtomicU64) -> u64,
    ) -> Option<CurrentPoll> {
        let before = self.seq.load(Acquire);
        if before % 2 == 1 {
            return None;
        }
        let raw = read_id(&self.current_id);
        let id = raw & !crate::task::YIELD_REQUESTED;
        let location = self.current_location.load(Relaxed);
        fence(Acquire);
        if self.seq.load(Relaxed) != before || id == 0 || location.is_null() {
            return None;
        }
        Some(CurrentPoll {
            seq: before / 2,
            id: Id::from_u64(id)?,
            yield_requested: raw & crate::task::YIELD_REQUESTED != 0,
            // SAFETY: only `begin_poll` stores here, always a `&'static Location`.
            location: unsafe { &*location },
        })
    }

    /// The worker is about to park (owner only): account the run that ends now.
    pub(crate) fn before_park(&self, local: &mut WorkerLocal) {
        let now = Instant::now();
        let busy = now.saturating_duration_since(local.busy_since);
        self.busy_nanos.add(nanos(busy));
        let polls = self.poll_count() - local.polls_at_unpark;
        match nanos(busy).checked_div(polls) {
            // Unparked and found nothing to run before parking again.
            None => {
                if self.park_count.get() > 0 {
                    self.noop_count.incr();
                }
            }
            // tokio's estimate: the run's time over its polls, folded into a moving
            // average (weight 1/8 per run), so no clock is read per poll.
            Some(sample) => {
                let old = self.mean_poll_nanos.get();
                let mean = if old == 0 {
                    sample
                } else {
                    (old.saturating_mul(7).saturating_add(sample)) / 8
                };
                self.mean_poll_nanos.set(mean);
            }
        }
        self.park_count.incr();
        self.park_unpark_count.incr();
    }

    /// The worker woke up (owner only).
    pub(crate) fn after_unpark(&self, local: &mut WorkerLocal) {
        self.park_unpark_count.incr();
        local.busy_since = Instant::now();
        local.polls_at_unpark = self.poll_count();
    }

    /// A successful steal moved `tasks` tasks (the one returned included) from a peer.
    pub(crate) fn stole(&self, tasks: usize) {
        self.steal_operations.incr();
        self.steal_count.add(tasks as u64);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn counter_has_one_writer_and_loses_nothing() {
        let c = Counter::default();
        for _ in 0..1000 {
            c.incr();
        }
        c.add(5);
        assert_eq!(c.get(), 1005);
    }
}
