//! Models of the run queues as the scheduler uses them: a worker's local queue and its
//! stealable next-task slot, a thief, and the injector fed from outside.
//!
//! The queues here are the `sync` facade's: under `--cfg heist_loom` a loom
//! `Mutex<VecDeque>` stand-in for crossbeam's deque (so loom checks how heist moves
//! `Notified` references between the slot, the queues and the threads, not crossbeam's
//! internals), and crossbeam's real deque otherwise (where the body runs a few hundred
//! times on real threads, for miri and ThreadSanitizer). The whole-runtime models,
//! including the sleep protocol, are in `tests/loom_runtime.rs`.

use super::park::{Seat, Unpark};
use super::queue::Steal;
use super::shared_ref::SharedRef;
use super::{Config, LocalQueue, Notified, Shared};
use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::sync::{model, thread, Arc};
use crate::task::{self, Id, JoinHandle};
use std::time::Duration;

// The watcher rule's models, over a model of the runtime's driver.
mod watch;
// A worker's stock of scheduler counts (`shared_ref.rs`).
mod stock;

/// Runs of each model on real threads (without loom).
const ITERATIONS: usize = if cfg!(miri) { 3 } else { 300 };

/// A scheduler's shared state with `n` workers but no worker threads: the model's
/// threads play the workers' parts. Returns the owners' ends of the local queues.
fn shared(n: usize) -> (Arc<Shared>, Vec<LocalQueue>) {
    shared_with(n, None)
}

/// As `shared`, with the stalled-slot check set to `stalled_slot_check`.
fn shared_with(n: usize, stalled_slot_check: Option<Duration>) -> (Arc<Shared>, Vec<LocalQueue>) {
    let queues: Vec<LocalQueue> = (0..n).map(|_| LocalQueue::new_fifo()).collect();
    let stealers = queues.iter().map(|q| q.stealer()).collect();
    let config = Config {
        global_queue_interval: 61,
        lifo_slot_limit: 3,
        stalled_slot_check,
        // Under loom the spin is one more look at the queues, whatever its length.
        spin_before_park: Duration::from_micros(1),
        observe: Default::default(),
    };
    (
        Arc::new(Shared::new(stealers, config, Box::new(NoDriver))),
        queues,
    )
}

/// No worker waits in a driver here.
struct NoDriver;

impl Unpark for NoDriver {
    fn unpark(&self, _seat: Seat) {
        unreachable!("no worker waits in a driver in these models")
    }
}

/// Counts how often each task ran.
#[derive(Clone)]
struct Runs(Arc<[AtomicUsize; 4]>);

impl Runs {
    fn new() -> Runs {
        Runs(Arc::new(std::array::from_fn(|_| AtomicUsize::new(0))))
    }

    /// A task that records its run in slot `i`; not yet queued. Its handle
    /// keeps the task allocated until the model drops it, so that a `Notified` run twice
    /// meets a live task (and fails an assertion) rather than freed memory.
    fn task(&self, shared: &Arc<Shared>, i: usize) -> (Notified, JoinHandle<()>) {
        let runs = self.clone();
        let future = async move {
            runs.0[i].fetch_add(1, SeqCst);
        };
        task::new_task(
            future,
            SharedRef::clone_of(shared),
            Id::next(),
            task::Meta::here(),
        )
    }

    fn assert_each_ran_once(&self, n: usize) {
        for (i, count) in self.0.iter().take(n).enumerate() {
            assert_eq!(
                count.load(SeqCst),
                1,
                "task {i} ran {} times",
                count.load(SeqCst)
            );
        }
    }
}

/// Runs every task `queue` holds.
fn run_all(queue: &LocalQueue) {
    while let Some(task) = queue.pop() {
        task.run();
    }
}

/// Runs every task `steal` yields until it reports the source empty.
fn run_stolen(steal: impl Fn() -> Steal<Notified>) {
    loop {
        match steal() {
            Steal::Success(task) => {
                task.run();
            }
            Steal::Retry => crate::sync::spin_loop(),
            Steal::Empty => break,
        }
    }
}

/// The dump models' check: `dump` lists each task of `ids` exactly once and says it is
/// complete. Under loom every interleaving settles, so the dump must be complete; on
/// real threads (plain `cargo test`) a preempted worker may outlast the dump's bounded
/// wait, which the dump then reports as incomplete (CI saw it once). That honest report
/// is accepted, and the listing, which an incomplete dump does not promise, is then not
/// checked.
fn assert_complete_and_listed_once(dump: &crate::debug::Dump, ids: &[crate::task::Id]) {
    #[cfg(heist_loom)]
    assert!(dump.is_complete(), "{dump}");
    #[cfg(not(heist_loom))]
    assert!(
        dump.is_complete() || dump.to_string().contains("incomplete: worker"),
        "{dump}"
    );
    if !dump.is_complete() {
        return;
    }
    for &id in ids {
        let listed = dump.tasks.iter().filter(|t| t.id == id).count();
        assert_eq!(listed, 1, "task {id} listed {listed} times: {dump}");
    }
}

/// Model 6: worker 0 (this thread) fills its next-task slot twice (the displaced task
/// goes to its queue, as `schedule_local` does) and runs what it finds, while worker 1
/// steals from its queue and takes its slot (as `steal_stalled_slot` does), and a third
/// thread spawns from outside into the injector. Every task runs exactly once, and every
/// reference is released (loom's leak check: tasks hold the scheduler's `Arc`).
#[test]
fn local_queue_slot_thief_and_injector() {
    model(ITERATIONS, || {
        let (shared, mut queues) = shared(2);
        let runs = Runs::new();
        let (q1, q0) = (queues.pop().unwrap(), queues.pop().unwrap());

        let thief = {
            let shared = shared.clone();
            thread::spawn(move || {
                match shared.remotes[0]
                    .stealer
                    .steal_batch_with_limit_and_pop(&q1, 8)
                {
                    Steal::Success(task) => {
                        task.run();
                    }
                    Steal::Empty | Steal::Retry => {}
                }
                if let Some(task) = shared.remotes[0].next_slot.take() {
                    task.run();
                }
                run_all(&q1);
            })
        };
        let feeder = {
            let (shared, runs) = (shared.clone(), runs.clone());
            thread::spawn(move || {
                let (notified, join) = runs.task(&shared, 2);
                shared.schedule_remote(notified);
                join
            })
        };

        // Made after the thief started: only the slot's store (release) and the thief's
        // swap (acquire) order the new tasks' cells before the thief polls them.
        let ((a, join_a), (b, join_b)) = (runs.task(&shared, 0), runs.task(&shared, 1));
        shared.remotes[0].next_slot.put_into_empty(a);
        if let Some(displaced) = shared.remotes[0].next_slot.put(b) {
            q0.push(displaced);
        }
        if let Some(task) = shared.remotes[0].next_slot.take() {
            task.run();
        }
        run_all(&q0);

        thief.join().unwrap();
        let join_c = feeder.join().unwrap();
        // Whatever is left: the injector and this worker's queue.
        run_stolen(|| shared.injector.steal());
        run_all(&q0);

        runs.assert_each_ran_once(3);
        for join in [join_a, join_b, join_c] {
            assert!(join.is_finished());
        }
        assert!(
            shared.owned.is_empty(),
            "a completed task is still registered"
        );
        assert!(shared.remotes[0].next_slot.is_empty());
        // Nobody slept, so nobody was woken: the spawn left the accounting alone.
        assert_eq!(shared.idle.counts(), (0, 2));
    });
}

/// Rule 3 (the chain wake-up), without threads: the last searcher to find work wakes a
/// sleeper only when a queue still holds work. The race it must not lose (a push that
/// saw the searcher and woke nobody) is `tests/loom_runtime.rs`,
/// `second_remote_task_reaches_the_other_worker`.
#[cfg(not(heist_loom))]
#[test]
fn the_last_searcher_wakes_another_worker_only_for_queued_work() {
    let (shared, queues) = shared(2);
    shared.idle.about_to_park(1, false);
    assert!(shared.idle.try_start_searching());
    shared.searcher_found_work();
    assert!(
        !shared.idle.was_notified(1),
        "a searcher that took the only task woke a worker for nothing"
    );
    assert_eq!(shared.idle.counts(), (0, 1));

    let runs = Runs::new();
    let (task, join) = runs.task(&shared, 0);
    queues[0].push(task);
    assert!(shared.idle.try_start_searching());
    shared.searcher_found_work();
    assert!(
        shared.idle.was_notified(1),
        "work is queued: the last searcher wakes a sleeper"
    );
    assert_eq!(
        shared.idle.counts(),
        (1, 2),
        "the woken worker counts as searching"
    );
    run_all(&queues[0]);
    runs.assert_each_ran_once(1);
    assert!(join.is_finished());
}

/// Rule 3 with the stalled-slot check on: the last searcher, alone awake, wakes a
/// sleeper even with nothing queued, so that the sleeper parks again with the check's
/// timeout and watches this worker's next-task slot; with another worker awake it
/// wakes nobody.
#[cfg(not(heist_loom))]
#[test]
fn the_last_searcher_alone_awake_wakes_a_slot_watcher() {
    let (shared, _queues) = shared_with(3, Some(Duration::from_millis(1)));
    shared.idle.about_to_park(2, false);
    assert!(shared.idle.try_start_searching());
    shared.searcher_found_work();
    assert!(
        !shared.idle.was_notified(2),
        "worker 1 is awake and will watch: nobody needs waking"
    );
    shared.idle.about_to_park(1, false);
    assert!(shared.idle.try_start_searching());
    shared.searcher_found_work();
    assert!(
        shared.idle.was_notified(1) != shared.idle.was_notified(2),
        "alone awake: one sleeper is woken to watch the slot"
    );
}

/// The watcher rule, without threads: the last searcher alone awake skips rule 3's
/// "alone" wake while a sleeper watches (parks on the stalled-slot timeout), and wakes
/// one again once no sleeper watches. The 2-worker echo at 1 connection paid one wake
/// of the idle peer per request without the skip (`docs/benchmarks/echo.md`).
#[cfg(not(heist_loom))]
#[test]
fn the_last_searcher_alone_awake_skips_the_wake_while_a_sleeper_watches() {
    let (shared, _queues) = shared_with(2, Some(Duration::from_millis(1)));
    shared.idle.about_to_park(0, false);
    shared.idle.about_to_park(1, false);
    shared.idle.watch();
    shared.idle.wake_self(0);
    shared.searcher_found_work();
    assert!(
        !shared.idle.was_notified(1),
        "worker 1 watches (it wakes within a period): nobody needs waking"
    );
    shared.idle.unwatch();
    shared.idle.about_to_park(0, false);
    shared.idle.wake_self(0);
    shared.searcher_found_work();
    assert!(
        shared.idle.was_notified(1),
        "nobody watches: the last searcher, alone awake, wakes a sleeper"
    );
}

/// The watch: a worker that wakes alone (an I/O event) skips waking a sleeper while one
/// watches (parks on the stalled-slot timeout), and a watcher whose timed park ends
/// decides whether to watch again from `unparked`. Worker 1 watches; worker 0 wakes by
/// itself and finds work (rule 3 with the watcher rule) while worker 1's watch ends.
/// Either worker 0 wakes worker 1, or worker 1 sees worker 0 awake and keeps watching:
/// never a busy worker with nobody bound to look at it.
#[test]
fn a_worker_waking_alone_and_an_ending_watch_never_both_skip() {
    model(ITERATIONS, || {
        let (shared, _queues) = shared_with(2, Some(Duration::from_millis(1)));
        shared.idle.about_to_park(0, false);
        shared.idle.about_to_park(1, false);
        shared.idle.watch();
        let woke_alone = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.idle.wake_self(0);
                shared.searcher_found_work();
            })
        };
        shared.idle.unwatch();
        let watches_again = shared.idle.unparked() > 0;
        woke_alone.join().unwrap();
        assert!(
            watches_again || shared.idle.was_notified(1),
            "worker 0 is awake with nobody watching it"
        );
    });
}

/// A future that waits once: its first poll leaves its waker in `slot` and returns
/// `Pending`, its second completes.
struct WaitOnce {
    slot: Arc<crate::sync::Mutex<Option<std::task::Waker>>>,
    polled: bool,
}

impl WaitOnce {
    /// The future, and the slot where its first poll leaves its waker.
    fn new() -> (WaitOnce, Arc<crate::sync::Mutex<Option<std::task::Waker>>>) {
        let slot = Arc::new(crate::sync::Mutex::new(None));
        let future = WaitOnce {
            slot: slot.clone(),
            polled: false,
        };
        (future, slot)
    }
}

impl std::future::Future for WaitOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.polled {
            return std::task::Poll::Ready(());
        }
        self.polled = true;
        *self.slot.lock() = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

/// Model 7: the task dump (`debug/dump.rs`) against a task that is woken, completes and
/// is freed on another thread. The task waits (so it is in the owned-tasks registry) when
/// the model starts; the other thread wakes it, runs it from the injector (where the
/// dump may be holding it for a moment) and drops its handle, the last reference. The
/// dump lists the task at most once, and reads it only while it is alive: under the
/// registry's shard lock, or while holding its queue reference. loom checks every access
/// to the registry's links against the completion's unlinking; miri, on the real-thread
/// runs, checks that the name the dump reads was not freed.
#[test]
fn dump_racing_with_completion() {
    model(ITERATIONS, || {
        let (shared, _queues) = shared(1);
        let (future, slot) = WaitOnce::new();
        let meta = task::Meta::new(std::panic::Location::caller(), Some("waits-once"));
        let (notified, join) =
            task::new_task(future, SharedRef::clone_of(&shared), Id::next(), meta);
        assert!(!notified.run(), "the first poll waits");

        let completer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let waker = slot.lock().take().expect("the task left its waker");
                waker.wake();
                while !join.is_finished() {
                    match shared.injector.steal() {
                        Steal::Success(task) => {
                            task.run();
                        }
                        Steal::Retry | Steal::Empty => crate::sync::spin_loop(),
                    }
                }
                // The last reference: the task is freed here.
                drop(join);
            })
        };
        let dump = crate::debug::dump::take(&shared);
        assert!(dump.tasks.len() <= 1, "{dump}");
        for task in &dump.tasks {
            assert_eq!(task.name.as_deref(), Some("waits-once"));
        }
        completer.join().unwrap();
        assert!(
            shared.owned.is_empty(),
            "a completed task is still registered"
        );
        assert!(shared.injector.is_empty());
    });
}

/// Model 8: the task dump against a task whose first poll ends in `Pending`. Such a task
/// is in no queue: a worker popped it and published its id, polls it, then registers it
/// and withdraws the id. The dump reads the published ids before the registry, and the
/// task registers before it withdraws, so every interleaving finds it exactly once.
/// (With the old order, withdraw then register, or the dump reading the registry first,
/// loom finds the interleaving that misses it: docs/testing.md, planted bugs.) The
/// ordering the real hardware needs (the withdrawal `Release`, the dump's `Acquire`
/// fence) is on statistics atomics loom does not see; `debug/dump.rs` argues it.
#[test]
fn dump_racing_with_a_first_poll_that_waits() {
    model(ITERATIONS, || {
        let (shared, _queues) = shared(1);
        let (future, slot) = WaitOnce::new();
        let (notified, join) = task::new_task(
            future,
            SharedRef::clone_of(&shared),
            Id::next(),
            task::Meta::here(),
        );
        let id = join.id();
        // The worker popped the task (it is in no queue) and published it.
        shared.stats.workers[0].begin_take();
        shared.stats.workers[0].begin_poll(notified.header());
        let worker = {
            let shared = shared.clone();
            thread::spawn(move || {
                assert!(
                    !shared.stats.workers[0].run(notified),
                    "the first poll waits"
                );
            })
        };
        let dump = crate::debug::dump::take(&shared);
        let listed = dump.tasks.iter().filter(|t| t.id == id).count();
        assert_eq!(listed, 1, "{dump}");
        worker.join().unwrap();
        // Shutdown cancels the waiting task; its waker and handle go last.
        shared.owned.close_and_shutdown_all();
        drop(slot.lock().take());
        assert!(join.is_finished());
    });
}

/// Model 9: the task dump against a worker moving tasks that were never polled. Three
/// tasks wait in the injector; worker 0 (a real `Worker`, on the model's second thread)
/// looks for its next task: its first step moves a share of the injector into its
/// deque (the stand-in injector hands out half: two tasks), then it pops one and
/// publishes it, the other two still queued. The dump, on this thread, drains the
/// queues meanwhile: whichever instant it reads them, it lists each of the three tasks
/// exactly once and says it is complete. It sees a task in the worker's hands through
/// the poll seqlock's take window (`WorkerStats::begin_take`), and a batch moved into a
/// deque it had already drained through `Remote::moving` (it drains again). Without
/// either, loom finds the interleaving that misses a task (docs/testing.md, planted
/// bugs).
#[test]
fn dump_racing_with_moves_of_never_polled_tasks() {
    model(ITERATIONS, || {
        let (shared, mut queues) = shared(1);
        let runs = Runs::new();
        let mut joins = Vec::new();
        for i in 0..3 {
            let (task, join) = runs.task(&shared, i);
            shared.injector.push(task);
            joins.push(join);
        }
        let worker = {
            let shared = shared.clone();
            let queue = queues.pop().unwrap();
            thread::spawn(move || {
                let worker = super::worker::Worker::new(shared, 0, queue);
                // The published task, the other two left queued (or none: the dump may
                // be holding all three).
                worker.find_task()
            })
        };
        let dump = crate::debug::dump::take(&shared);
        let ids: Vec<_> = joins.iter().map(JoinHandle::id).collect();
        assert_complete_and_listed_once(&dump, &ids);
        if let Some(task) = worker.join().unwrap() {
            task.run();
        }
        // The rest: from worker 0's deque (the worker is gone) and the injector.
        run_stolen(|| shared.remotes[0].stealer.steal());
        run_stolen(|| shared.injector.steal());
        runs.assert_each_ran_once(3);
        assert!(joins.iter().all(JoinHandle::is_finished));
    });
}

/// Model 10: the task dump against a steal of a task never polled. The task waits in
/// worker 1's deque; worker 0 (a real `Worker`, on the model's second thread) finds its
/// own queues empty, searches, steals it and publishes it, and between the steal and the
/// publication it reports to the idle accounting that it found work (atomics loom
/// switches at). The dump lists the task exactly once whichever instant it reads: in
/// worker 1's deque, or (the worker's poll seqlock odd from before the steal, its take
/// window) once published. With the window opened only at the publication, as before,
/// loom finds the dump that reads the deque after the steal and the published poll
/// before the publication (docs/testing.md, planted bugs).
#[test]
fn dump_racing_with_a_steal_of_a_never_polled_task() {
    model(ITERATIONS, || {
        let (shared, mut queues) = shared(2);
        let runs = Runs::new();
        let (task, join) = runs.task(&shared, 0);
        let q1 = queues.pop().unwrap();
        q1.push(task);
        let worker = {
            let shared = shared.clone();
            let queue = queues.pop().unwrap();
            thread::spawn(move || super::worker::Worker::new(shared, 0, queue).find_task())
        };
        let dump = crate::debug::dump::take(&shared);
        assert_complete_and_listed_once(&dump, &[join.id()]);
        if let Some(task) = worker.join().unwrap() {
            task.run();
        }
        // Or the dump put it back in the injector, where the worker did not look again.
        run_stolen(|| shared.injector.steal());
        drop(q1);
        runs.assert_each_ran_once(1);
        assert!(join.is_finished());
    });
}
