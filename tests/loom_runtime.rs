//! Whole-runtime models: real workers, the real run loop, sleep protocol and shutdown.
//!
//! Under `RUSTFLAGS="--cfg heist_loom"` heist's workers are loom threads and every lock,
//! atomic and parker they use is loom's, so `loom::model` explores how the workers, the
//! spawning thread and shutdown interleave. A lost wake-up shows as a loom deadlock
//! (every thread blocked), a double drop as a failed count, a leaked task as
//! "Arc leaked" (each task holds the runtime's loom `Arc`).
//!
//! Without loom the same bodies run a few hundred times on real threads: a small stress
//! test for miri and ThreadSanitizer.
//!
//! Each model uses at most three workers plus one extra thread. Time in a model is
//! virtual: it stands still except when a timed park ends, which moves it to that
//! park's deadline (`sync/model.rs`, `time`), so the timer models fire their timers
//! through the workers' real parking. The runtimes here set `stalled_slot_check(None)`:
//! a worker parks until woken instead of waking up later to look at a peer's next-task
//! slot (one model turns it on).

mod common;
use common::DropCounter;
use heist::task::{yield_now, JoinError};
use heist::Runtime;
use std::future::{poll_fn, Future};
use std::task::{Poll, Waker};

/// The test's own facade, as a user's crate would have: loom's types under
/// `heist_loom`, std's otherwise.
mod sync {
    #[cfg(heist_loom)]
    pub(crate) use loom::{
        future::block_on,
        sync::{atomic::AtomicUsize, Arc, Condvar, Mutex},
        thread,
    };
    #[cfg(not(heist_loom))]
    pub(crate) use std::{
        sync::{atomic::AtomicUsize, Arc, Condvar, Mutex},
        thread,
    };

    /// For a thread that is not in a runtime to await a `JoinHandle`.
    #[cfg(not(heist_loom))]
    pub(crate) use futures::executor::block_on;

    /// Runs `f` under `loom::model`, or `iterations` times on real threads.
    pub(crate) fn model(iterations: usize, f: impl Fn() + Sync + Send + 'static) {
        model_bounded(iterations, None, f)
    }

    /// As `model`, with this model's own preemption bound instead of
    /// `LOOM_MAX_PREEMPTIONS` (for a model too large to explore at the global bound).
    pub(crate) fn model_bounded(
        iterations: usize,
        preemptions: Option<usize>,
        f: impl Fn() + Sync + Send + 'static,
    ) {
        #[cfg(heist_loom)]
        {
            let _ = iterations;
            let mut builder = loom::model::Builder::new();
            if preemptions.is_some() {
                builder.preemption_bound = preemptions;
            }
            let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = runs.clone();
            let start = std::time::Instant::now();
            builder.check(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                f();
            });
            let name = std::thread::current().name().unwrap_or("model").to_string();
            println!(
                "{name}: {} interleavings in {:.2?}",
                runs.load(std::sync::atomic::Ordering::Relaxed),
                start.elapsed()
            );
        }
        #[cfg(not(heist_loom))]
        {
            let _ = preemptions;
            for _ in 0..iterations {
                f();
            }
        }
    }
}

use std::sync::atomic::Ordering::SeqCst;
use sync::{model, model_bounded, thread, Arc, AtomicUsize, Condvar, Mutex};

/// Runs of each model on real threads (without loom).
const ITERATIONS: usize = if cfg!(miri) { 2 } else { 200 };

fn runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .stalled_slot_check(None)
        .build()
        .unwrap()
}

/// Two workers with the stalled-slot check on, as in a default runtime: a worker that
/// parks while its peer's next-task slot is occupied parks with a timeout.
fn runtime_with_slot_check() -> Runtime {
    Runtime::builder()
        .worker_threads(2)
        .stalled_slot_check(Some(std::time::Duration::from_millis(1)))
        .build()
        .unwrap()
}

/// `block_on` a task (spawned from outside) that spawns a child into its worker's
/// next-task slot and blocks that worker until the child has run: only the other worker
/// can run the child, by taking it from the stalled slot. `sleep_first`: the task first
/// sleeps 1 ms, so a timer wakes its worker.
fn task_blocking_on_its_slotted_child(rt: &Runtime, sleep_first: bool) {
    let gate = Gate::new();
    let h = rt.spawn(async move {
        if sleep_first {
            heist::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let opener = gate.clone();
        let child = heist::spawn(async move { opener.open() });
        gate.wait();
        drop(child);
    });
    rt.block_on(h).unwrap();
}

/// A one-shot event: `set` on one thread wakes a future waiting on another.
#[derive(Clone)]
struct Signal(Arc<(AtomicUsize, Mutex<Option<Waker>>)>);

impl Signal {
    fn new() -> Signal {
        Signal(Arc::new((AtomicUsize::new(0), Mutex::new(None))))
    }

    fn set(&self) {
        self.0 .0.store(1, SeqCst);
        let waker = self.0 .1.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        poll_fn(move |cx| {
            *this.0 .1.lock().unwrap() = Some(cx.waker().clone());
            if this.0 .0.load(SeqCst) == 1 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// A gate that blocks a *thread* until it is opened: for a task that must hold its
/// worker until some other task has run.
#[derive(Clone)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn new() -> Gate {
        Gate(Arc::new((Mutex::new(false), Condvar::new())))
    }

    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            open = self.0 .1.wait(open).unwrap();
        }
    }
}

/// One worker: spawn, yield, complete, and `block_on` the handle (woken from the worker).
#[test]
fn spawn_yield_complete_one_worker() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        let out = rt.block_on(async {
            let h = heist::spawn(async {
                yield_now().await;
                5
            });
            h.await.unwrap()
        });
        assert_eq!(out, 5);
    });
}

/// Spawns a task from outside the workers that counts its run, awaits it from
/// `block_on`, and checks that it ran once.
fn spawn_from_outside_and_await(rt: &Runtime) {
    let ran = DropCounter::new();
    let h = {
        let ran = ran.clone();
        rt.spawn(async move { ran.inc() })
    };
    rt.block_on(h).unwrap();
    assert_eq!(ran.count(), 1);
}

/// Sleep protocol: a spawn from outside races with the only worker going to sleep (it
/// may be searching, announcing its sleep, re-checking the queues or parked). The task
/// still runs: otherwise `block_on` waits forever and loom reports a deadlock.
#[test]
fn spawn_from_outside_races_with_last_worker_parking() {
    model(ITERATIONS, || {
        spawn_from_outside_and_await(&runtime(1));
    });
}

/// Two workers: a task spawned on a worker (into its next-task slot) while the other
/// worker searches or sleeps; the parent yields and awaits it.
/// A task spawns a child into its worker's next-task slot, yields, and awaits it.
fn spawn_child_yield_and_await(rt: &Runtime) {
    let out = rt.block_on(async {
        heist::spawn(async {
            let child = heist::spawn(async { 3 });
            yield_now().await;
            child.await.unwrap() + 1
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 4);
}

#[test]
fn spawn_from_worker_with_two_workers() {
    model(ITERATIONS, || {
        let rt = runtime(2);
        spawn_child_yield_and_await(&rt);
    });
}

/// The same with the stalled-slot check on (as in a default runtime): a worker that
/// parks while its peer's next-task slot is occupied parks with a timeout. Under loom a
/// timed wait lets the other threads run, then times out (`sync/model.rs`), so this
/// explores a worker waking by itself (`Idle::wake_self`) racing with a notifier, and
/// taking the peer's slot (`steal_stalled_slot`) while the peer takes it too.
#[test]
fn stalled_slot_check_with_two_workers() {
    model(ITERATIONS, || {
        let rt = runtime_with_slot_check();
        spawn_child_yield_and_await(&rt);
    });
}

/// `block_on` woken from a worker: the blocked thread's future waits for a signal that a
/// task sets on the worker.
#[test]
fn block_on_woken_from_worker() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        let signal = Signal::new();
        let setter = signal.clone();
        let h = rt.spawn(async move { setter.set() });
        rt.block_on(signal.wait());
        drop(h);
    });
}

/// The outcome of a task that may have run or been cancelled by shutdown.
fn ran_or_cancelled(res: Result<(), JoinError>, ran: &DropCounter) {
    match res {
        Ok(()) => assert_eq!(ran.count(), 1, "Ok without running"),
        Err(e) => {
            assert!(e.is_cancelled(), "{e}");
            assert_eq!(ran.count(), 0, "cancelled after running to completion");
        }
    }
}

/// Shutdown races with a spawn from another thread: the task either runs or is
/// cancelled, its future is dropped exactly once, its handle resolves, nothing leaks.
#[test]
fn shutdown_racing_with_spawn() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        let handle = rt.handle().clone();
        let (ran, dropped) = (DropCounter::new(), DropCounter::new());
        let spawner = {
            let (ran, dropped) = (ran.clone(), dropped.clone());
            thread::spawn(move || {
                let guard = dropped.token();
                let h = handle.spawn(async move {
                    let _guard = guard;
                    ran.inc();
                });
                sync::block_on(h)
            })
        };
        drop(rt);
        let res = spawner.join().unwrap();
        ran_or_cancelled(res, &ran);
        assert_eq!(
            dropped.count(),
            1,
            "future dropped {} times",
            dropped.count()
        );
    });
}

/// Shutdown races with a wake: a task waits for a signal that another thread sets while
/// the runtime shuts down. The wake finds the task waiting, queued, cancelled or freed;
/// the future is dropped exactly once either way.
#[test]
fn shutdown_racing_with_wake() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        let signal = Signal::new();
        let (ran, dropped) = (DropCounter::new(), DropCounter::new());
        let h = {
            let (wait, ran, guard) = (signal.wait(), ran.clone(), dropped.token());
            rt.spawn(async move {
                let _guard = guard;
                wait.await;
                ran.inc();
            })
        };
        let waker_thread = thread::spawn(move || signal.set());
        drop(rt);
        waker_thread.join().unwrap();
        ran_or_cancelled(sync::block_on(h), &ran);
        assert_eq!(
            dropped.count(),
            1,
            "future dropped {} times",
            dropped.count()
        );
    });
}

/// Sleep protocol with three workers: when work arrives, up to two may be searching
/// (half of three, rounded up) and the third asleep. A spawn from outside races with
/// both searchers giving up and parking: the task still runs.
///
/// Explored with one preemption, not `LOOM_MAX_PREEMPTIONS` (2): with three workers,
/// two preemptions took over 9 minutes (more than 2 million interleavings before the
/// lazy task registration and timers, more since). The one- and two-worker models
/// above explore the same protocol at two preemptions.
#[test]
fn two_searchers_one_sleeper() {
    model_bounded(ITERATIONS, Some(1), || {
        spawn_from_outside_and_await(&runtime(3));
    });
}

/// Sleep protocol for a worker's own deque: a task spawns two children (the second
/// pushes the first out of the next-task slot into the worker's deque), then blocks its
/// worker until the first child has run. Only the other worker can run it, so the spill
/// must wake that worker (`Worker::schedule_local`: push, `SeqCst` fence, notify) or
/// the worker must find it while searching or re-checking before it parks. A lost
/// wake-up leaves every thread blocked, which loom reports as a deadlock.
#[test]
fn spilled_task_reaches_the_other_worker() {
    model(ITERATIONS, || {
        let rt = runtime(2);
        let gate = Gate::new();
        let h = rt.spawn(async move {
            let opener = gate.clone();
            let first = heist::spawn(async move { opener.open() });
            let second = heist::spawn(async {});
            gate.wait();
            drop((first, second));
        });
        rt.block_on(h).unwrap();
    });
}

/// The chain wake-up (rule 3 of `docs/sleep-protocol.md`): two tasks spawned from
/// outside into the idle two-worker runtime, the first blocking its worker until the
/// second has run, so only the other worker can run the second. The second spawn may
/// find the worker woken for the first still searching and wake nobody; that worker,
/// the last searcher, must then see the second task still queued (in the injector, or
/// in its own deque after a batch pull) once it finds work, and wake the other worker.
/// A searcher that skipped that re-check (or woke nobody because it found work) would
/// leave the second task queued behind the blocked worker for ever: loom reports a
/// deadlock.
#[test]
fn second_remote_task_reaches_the_other_worker() {
    model(ITERATIONS, || {
        let rt = runtime(2);
        let gate = Gate::new();
        let opener = gate.clone();
        let first = rt.spawn(async move { gate.wait() });
        let second = rt.spawn(async move { opener.open() });
        rt.block_on(async move {
            second.await.unwrap();
            first.await.unwrap();
        });
    });
}

/// Rule 3's "only worker awake" case, with the stalled-slot check on: a task spawned
/// from outside into the idle runtime spawns a child into its worker's next-task slot
/// and then blocks its worker until the child has run. The other worker, asleep
/// without a timeout (nobody was awake when it parked), can rescue the child only if
/// the last searcher, alone awake, woke it, so that it parks again with the timeout and
/// takes the stalled slot. Without that wake-up loom reports a deadlock.
#[test]
fn remote_task_blocking_on_its_slotted_child() {
    model(ITERATIONS, || {
        let rt = runtime_with_slot_check();
        task_blocking_on_its_slotted_child(&rt, false);
    });
}

/// Timers: `block_on` sleeps, so the timer is registered from outside the workers while
/// the only worker may be going to sleep. The registrar lowers the next deadline, then
/// looks for a keeper to wake; the worker takes a keeper role, then reads the deadline to
/// park until (`time/driver.rs`, "Earlier deadlines, and the hand-off"). If both missed
/// each other the worker would park with no timeout and `block_on` would wait for ever:
/// loom reports a deadlock. Time in the model is virtual (`sync/model.rs`, `time`): it
/// moves when a worker's timed park ends.
#[test]
fn timer_registered_from_outside_while_the_worker_parks() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        rt.block_on(async { heist::time::sleep(std::time::Duration::from_millis(1)).await });
    });
}

/// Timers with two workers: a task sleeps while `block_on` spawns another task, so a
/// keeper may be woken for that work and leave its role while the timer is pending.
/// The sleeping task still finishes (else loom reports a deadlock).
///
/// One preemption, as for `two_searchers_one_sleeper`: at two this ran for over 12
/// minutes without finishing.
#[test]
fn timer_kept_while_a_keeper_leaves_for_work() {
    model_bounded(ITERATIONS, Some(1), || {
        let rt = runtime(2);
        let sleeper =
            rt.spawn(async { heist::time::sleep(std::time::Duration::from_millis(1)).await });
        rt.block_on(async move {
            heist::spawn(async {}).await.unwrap();
            sleeper.await.unwrap();
        });
    });
}

/// Timers and the next-task slot: a task sleeps, and the worker woken by the timer runs
/// it; it spawns a child (into that worker's next-task slot) and blocks its worker until
/// the child ran, so only the other worker can run the child, by taking it from the slot
/// once the slot's owner stays in one poll (the stalled-slot check, on here as by
/// default). That needs the other worker to park with a timeout, so the worker woken by
/// its timer must wake it (the chain wake-up, whatever woke the worker): otherwise the
/// other worker sleeps for good without a timeout, and loom reports a deadlock.
///
/// One preemption, as for the other two-worker timer model.
#[test]
fn timer_wake_with_an_occupied_next_task_slot() {
    model_bounded(ITERATIONS, Some(1), || {
        let rt = runtime_with_slot_check();
        task_blocking_on_its_slotted_child(&rt, true);
    });
}

fn paused_runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .stalled_slot_check(None)
        .start_paused(true)
        .build()
        .unwrap()
}

/// Paused time: a task sleeps while `block_on` waits for it, and nothing else runs, so
/// the runtime must auto-advance (`docs/sleep-protocol.md`, "Auto-advance"). Who goes
/// idle last varies: the worker, which then claims the idle runtime in its park loop,
/// or `block_on`, whose letting go of the clock summons the sleeping worker to look. If
/// neither noticed the other, every thread would park with no deadline (a paused clock
/// gives none): loom reports a deadlock.
#[test]
fn paused_clock_advances_when_the_runtime_goes_idle() {
    model(ITERATIONS, || {
        let rt = paused_runtime(1);
        let h = rt.spawn(async { heist::time::sleep(std::time::Duration::from_secs(10)).await });
        rt.block_on(h).unwrap();
    });
}

/// Paused time with two workers: two tasks sleep to different deadlines and log when
/// they wake. The clock may jump to the second deadline only once the first task has
/// run (every worker idle), so the log is in deadline order in every interleaving.
///
/// One preemption, as for the other two-worker timer models.
#[test]
fn paused_timers_fire_one_deadline_at_a_time() {
    model_bounded(ITERATIONS, Some(1), || {
        let rt = paused_runtime(2);
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = |ms: u64| {
            let log = log.clone();
            rt.spawn(async move {
                heist::time::sleep(std::time::Duration::from_millis(ms)).await;
                log.lock().unwrap().push(ms);
            })
        };
        let (a, b) = (task(1), task(2));
        rt.block_on(async move {
            a.await.unwrap();
            b.await.unwrap();
        });
        assert_eq!(*log.lock().unwrap(), [1, 2]);
    });
}

/// `block_in_place` on the only worker: the task spawns a child (into the worker's
/// next-task slot), then blocks in place until the child has run, which only the
/// stand-in (a blocking-pool thread running this very worker, `scheduler/lend.rs`) can
/// do. Then the lender takes the worker back, whether the stand-in is running a task,
/// searching, or parked (in the timer driver's seat or on its condvar), and finishes
/// the task as the worker. A stand-in that never gets the worker, or a reclaim that
/// does not reach a parked stand-in, leaves every thread blocked: loom reports a
/// deadlock.
#[test]
fn block_in_place_lends_the_worker_to_a_stand_in() {
    model(ITERATIONS, || {
        let rt = runtime(1);
        let gate = Gate::new();
        let h = rt.spawn(async move {
            let opener = gate.clone();
            let child = heist::spawn(async move { opener.open() });
            heist::task::block_in_place(|| gate.wait());
            child.await.unwrap();
        });
        rt.block_on(h).unwrap();
    });
}
