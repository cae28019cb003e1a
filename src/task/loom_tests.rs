//! Models of the task protocols: the state word, the wakers, the join hand-off, abort.
//!
//! Each test builds tasks on a tiny scheduler (`TestSched`: a run queue and an owned
//! list, both behind a lock) and races the task code on two or three threads. Under
//! `--cfg heist_loom` the body runs inside `loom::model`, which explores every
//! interleaving (bounded by `LOOM_MAX_PREEMPTIONS`) and reports a data race on the
//! task's cells, a deadlock (a lost wake-up of `block_on`), or a leak. Without loom the
//! body runs a few hundred times on real threads, which is what miri and ThreadSanitizer
//! check (`docs/testing.md`).
//!
//! Leak checking: every task stores its scheduler, an `Arc<TestSched>` (loom's `Arc`
//! under loom). A task allocation that is never freed keeps that `Arc` alive, and loom
//! fails the model with "Arc leaked"; drop counters catch futures and outputs dropped
//! twice or never.

use super::{new_task, Id, JoinHandle, JoinSet, Notified, Schedule, Task};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::sync::{block_on, model, thread, Arc, Mutex};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Runs of each model on real threads (without loom).
const ITERATIONS: usize = if cfg!(miri) { 3 } else { 300 };

/// A scheduler for one model: a FIFO run queue and the owned-tasks registry's references.
struct TestSched {
    queue: Mutex<VecDeque<Notified<Sched>>>,
    owned: Mutex<Vec<Task<Sched>>>,
}

type Sched = Arc<TestSched>;

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().push_back(task);
    }

    fn register(&self, task: Task<Self>) -> Result<(), Task<Self>> {
        self.owned.lock().push(task);
        Ok(())
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        let mut owned = self.owned.lock();
        let pos = owned.iter().position(|t| t.raw() == task.raw())?;
        Some(owned.swap_remove(pos))
    }
}

fn new_sched() -> Sched {
    Arc::new(TestSched {
        queue: Mutex::new(VecDeque::new()),
        owned: Mutex::new(Vec::new()),
    })
}

/// Spawns `future` on `sched`; returns its first `Notified` (not queued) and its handle.
fn spawn<F>(sched: &Sched, future: F) -> (Notified<Sched>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The task joins `owned` when it first waits (`Schedule::register`).
    new_task(future, sched.clone(), Id::next(), super::Meta::here())
}

/// Runs queued tasks until the queue is empty.
fn run_queued(sched: &Sched) {
    loop {
        let next = sched.queue.lock().pop_front();
        match next {
            Some(task) => {
                task.run();
            }
            None => return,
        }
    }
}

/// Ends a model: runs what is queued, then cancels what is still registered (as runtime
/// shutdown does), which breaks the task -> scheduler -> task cycles so that a task that
/// was correctly released is freed before loom's leak check.
fn shutdown(sched: &Sched) {
    run_queued(sched);
    let tasks = std::mem::take(&mut *sched.owned.lock());
    for task in tasks {
        task.shutdown();
    }
    run_queued(sched);
}

/// Counts events (polls, drops) across threads: the same family, with the same names, as
/// `tests/common`'s `DropCounter` / `DropToken` (integration tests cannot share the
/// crate's test code).
#[derive(Clone)]
struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    fn new() -> DropCounter {
        DropCounter(Arc::new(AtomicUsize::new(0)))
    }
    fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
    /// Asserts the event (`what`, e.g. "future dropped") happened exactly once.
    fn assert_once(&self, what: &str) {
        let n = self.count();
        assert_eq!(n, 1, "{what} {n} times");
    }
    /// A value that counts its drop here.
    fn token(&self) -> DropToken {
        DropToken(self.clone())
    }
}

/// Counts its own drop on its `DropCounter`.
struct DropToken(DropCounter);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.inc();
    }
}

/// A one-shot event that a task waits for: `set` from one thread, a future on another.
struct Signal {
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn new() -> Arc<Signal> {
        Arc::new(Signal {
            ready: AtomicBool::new(false),
            waker: Mutex::new(None),
        })
    }

    fn set(&self) {
        self.ready.store(true, SeqCst);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Registers the waker, then checks the flag: with `set` storing the flag before
    /// taking the waker, one of the two sees the other.
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        *self.waker.lock() = Some(cx.waker().clone());
        if self.ready.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A future that waits for `signal`, counting its polls, asserting it is never polled
/// by two threads at once, and counting its own drop.
fn wait_for(
    signal: Arc<Signal>,
    polls: DropCounter,
    dropped: DropToken,
) -> impl Future<Output = u32> + Send {
    let in_poll = Arc::new(AtomicBool::new(false));
    poll_fn(move |cx| {
        let _keep = &dropped;
        assert!(
            !in_poll.swap(true, SeqCst),
            "task polled by two threads at once"
        );
        polls.inc();
        let res = signal.poll_ready(cx).map(|()| 7);
        in_poll.store(false, SeqCst);
        res
    })
}

/// A future that never completes (and never wakes itself), counting its drop.
fn pending_forever(dropped: DropToken) -> impl Future<Output = ()> + Send {
    poll_fn(move |_| {
        let _keep = &dropped;
        Poll::Pending
    })
}

/// Spawns a task that completes at its first poll with an output. Returns its handles
/// and two counters: how often its future and its output were dropped.
fn spawn_ready(
    sched: &Sched,
) -> (
    Notified<Sched>,
    JoinHandle<DropToken>,
    DropCounter,
    DropCounter,
) {
    let (future_drops, output_drops) = (DropCounter::new(), DropCounter::new());
    let (future_dropped, outputs) = (future_drops.token(), output_drops.clone());
    let (notified, join) = spawn(
        sched,
        poll_fn(move |_| {
            let _keep = &future_dropped;
            Poll::Ready(outputs.token())
        }),
    );
    (notified, join, future_drops, output_drops)
}

/// Model 1: a wake from another thread races with the poll. The task is polled again
/// (the wake is never lost), never by two threads at once, and at most twice.
#[test]
fn wake_racing_with_poll() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let signal = Signal::new();
        let (polls, drops) = (DropCounter::new(), DropCounter::new());
        let (notified, join) = spawn(
            &sched,
            wait_for(signal.clone(), polls.clone(), drops.token()),
        );

        let waker_thread = {
            let (signal, sched) = (signal.clone(), sched.clone());
            thread::spawn(move || {
                signal.set();
                // This thread runs tasks too: a broken RUNNING lock shows as a double poll.
                run_queued(&sched);
            })
        };
        notified.run();
        waker_thread.join().unwrap();
        run_queued(&sched);

        assert!(join.is_finished(), "wake-up lost: the task never completed");
        assert_eq!(block_on(join).unwrap(), 7);
        assert!(
            (1..=2).contains(&polls.count()),
            "polled {} times",
            polls.count()
        );
        drops.assert_once("future dropped");
        shutdown(&sched);
    });
}

/// Model 2: the `JoinHandle` is awaited while the task completes on another thread. The
/// output is delivered exactly once; a lost join wake-up deadlocks `block_on` (which loom
/// reports).
#[test]
fn join_awaits_while_task_completes_elsewhere() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (notified, join, future_drops, output_drops) = spawn_ready(&sched);

        let runner = thread::spawn(move || notified.run());
        let output = block_on(join).expect("task completed normally");
        assert_eq!(
            output_drops.count(),
            0,
            "output dropped before it was delivered"
        );
        drop(output);
        runner.join().unwrap();
        shutdown(&sched);

        output_drops.assert_once("output dropped");
        future_drops.assert_once("future dropped");
    });
}

/// Model 3: the `JoinHandle` is polled once (registering a join waker, or taking the
/// output) and dropped while the task completes on another thread. Output and future are
/// dropped exactly once, the join waker is dropped (no leak), the task is freed once.
#[test]
fn join_handle_dropped_while_task_completes() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (notified, join, future_drops, output_drops) = spawn_ready(&sched);

        let runner = thread::spawn(move || notified.run());
        {
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            let mut join = pin!(join);
            if let Poll::Ready(output) = join.as_mut().poll(&mut cx) {
                drop(output.expect("task completed normally"));
            }
            // The handle drops here, racing with completion.
        }
        runner.join().unwrap();
        shutdown(&sched);

        output_drops.assert_once("output dropped");
        future_drops.assert_once("future dropped");
    });
}

/// Model 4a: `abort()` races with the first poll of a task that never completes by
/// itself. Whichever wins, the task ends cancelled, its future dropped exactly once.
#[test]
fn abort_racing_with_poll() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let drops = DropCounter::new();
        let (notified, join) = spawn(&sched, pending_forever(drops.token()));
        let abort = join.abort_handle();

        let aborter = thread::spawn(move || abort.abort());
        notified.run();
        aborter.join().unwrap();
        run_queued(&sched);

        assert!(join.is_finished(), "aborted task never completed");
        assert!(block_on(join).unwrap_err().is_cancelled());
        drops.assert_once("future dropped");
        shutdown(&sched);
    });
}

/// Model 4b: `abort()` races with a poll that completes the task. The handle gets the
/// output or a cancellation, never both; the output (if made) and the future are dropped
/// exactly once.
#[test]
fn abort_racing_with_completion() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (notified, join, future_drops, output_drops) = spawn_ready(&sched);
        let abort = join.abort_handle();

        let aborter = thread::spawn(move || abort.abort());
        notified.run();
        aborter.join().unwrap();
        run_queued(&sched);

        let completed = match block_on(join) {
            Ok(output) => {
                drop(output);
                true
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e}");
                false
            }
        };
        shutdown(&sched);
        assert_eq!(output_drops.count(), usize::from(completed), "output drops");
        future_drops.assert_once("future dropped");
    });
}

/// Model 4c: `abort()` races with a wake and with the poll that wake causes: the two
/// both want to queue the task; it is queued and cancelled at most once each.
#[test]
fn abort_racing_with_wake() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let signal = Signal::new();
        let (polls, drops) = (DropCounter::new(), DropCounter::new());
        let (notified, join) = spawn(
            &sched,
            wait_for(signal.clone(), polls.clone(), drops.token()),
        );
        notified.run();
        let abort = join.abort_handle();

        let aborter = thread::spawn(move || abort.abort());
        let waker_thread = {
            let sched = sched.clone();
            thread::spawn(move || {
                signal.set();
                run_queued(&sched);
            })
        };
        aborter.join().unwrap();
        waker_thread.join().unwrap();
        run_queued(&sched);

        assert!(join.is_finished(), "task neither completed nor cancelled");
        match block_on(join) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(e.is_cancelled(), "{e}"),
        }
        assert!(polls.count() <= 2, "polled {} times", polls.count());
        drops.assert_once("future dropped");
        shutdown(&sched);
    });
}

/// Model 5: wakers cloned, woken (by value and by reference) and dropped on several
/// threads while the `JoinHandle` is dropped: the task is re-polled exactly once and
/// freed exactly once, whatever the order.
#[test]
fn wakers_cloned_woken_dropped_on_several_threads() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (polls, future_drops) = (DropCounter::new(), DropCounter::new());
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
        let future = {
            let (polls, wakers, dropped) = (polls.clone(), wakers.clone(), future_drops.token());
            poll_fn(move |cx| {
                let _keep = &dropped;
                polls.inc();
                if polls.count() > 1 {
                    return Poll::Ready(());
                }
                let mut wakers = wakers.lock();
                wakers.push(cx.waker().clone());
                wakers.push(cx.waker().clone());
                Poll::Pending
            })
        };
        let (notified, join) = spawn(&sched, future);
        notified.run();
        let (w1, w2) = {
            let mut wakers = wakers.lock();
            (wakers.pop().unwrap(), wakers.pop().unwrap())
        };

        let t1 = {
            let sched = sched.clone();
            thread::spawn(move || {
                w1.wake();
                run_queued(&sched);
            })
        };
        let t2 = thread::spawn(move || {
            w2.wake_by_ref();
            let w3 = w2.clone();
            drop(w2);
            w3.wake_by_ref();
        });
        drop(join);
        t1.join().unwrap();
        t2.join().unwrap();
        run_queued(&sched);

        assert_eq!(polls.count(), 2, "polled {} times", polls.count());
        future_drops.assert_once("future dropped");
        shutdown(&sched);
    });
}

/// JoinSet model 1: a task completes on another thread while the set's `join_next`
/// pops its entry, polls the handle and waits (`join_set/ready.rs`). The completion's
/// wake must reach the waiting `join_next` (a lost one deadlocks `block_on`, which loom
/// reports), and the output is delivered exactly once.
#[test]
fn join_set_wake_racing_with_join_next() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (notified, join, future_drops, output_drops) = spawn_ready(&sched);
        let mut set = JoinSet::new();
        let abort = set.insert(join);

        let runner = thread::spawn(move || notified.run());
        let output = block_on(set.join_next())
            .expect("the set had a task")
            .expect("task completed normally");
        assert_eq!(
            output_drops.count(),
            0,
            "output dropped before it was joined"
        );
        drop(output);
        assert!(set.is_empty());
        assert!(set.try_join_next().is_none());
        runner.join().unwrap();
        drop((set, abort));
        shutdown(&sched);

        output_drops.assert_once("output dropped");
        future_drops.assert_once("future dropped");
    });
}

/// JoinSet model 2: two tasks complete on two threads while `join_next` waits for each
/// in turn: both wakes land on the ready list once, and both outputs come out.
#[test]
fn join_set_two_completions_while_join_next_waits() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (first, join_a, _, drops_a) = spawn_ready(&sched);
        let (second, join_b, _, drops_b) = spawn_ready(&sched);
        let mut set = JoinSet::new();
        set.insert(join_a);
        set.insert(join_b);

        let runners = [first, second].map(|n| thread::spawn(move || n.run()));
        for _ in 0..2 {
            let output = block_on(set.join_next()).expect("two tasks").expect("ok");
            drop(output);
        }
        assert!(block_on(set.join_next()).is_none());
        for runner in runners {
            runner.join().unwrap();
        }
        drop(set);
        shutdown(&sched);
        drops_a.assert_once("first output dropped");
        drops_b.assert_once("second output dropped");
    });
}

/// JoinSet model 3: the set is dropped (closing its ready list and dropping the handle)
/// (which also aborts the task) while the task completes and wakes the entry: the wake
/// into the closed list does nothing, nothing is dropped twice, the task is freed.
#[test]
fn join_set_dropped_while_task_completes() {
    model(ITERATIONS, || {
        let sched = new_sched();
        let (notified, join, future_drops, output_drops) = spawn_ready(&sched);
        let mut set = JoinSet::new();
        set.insert(join);
        // Register the entry's waker with the task (the task has not run yet).
        assert!(set.try_join_next().is_none());

        let runner = thread::spawn(move || notified.run());
        drop(set);
        runner.join().unwrap();
        shutdown(&sched);

        // Dropping the set aborts the task: it has an output only if it ran first.
        assert!(output_drops.count() <= 1, "output dropped twice");
        future_drops.assert_once("future dropped");
    });
}

/// A task freed before it completed drops its future behind a panic guard. No runtime
/// path frees an unfinished task (`task/mod.rs`, "Freeing"): here the test drops the
/// registry's reference instead of cancelling through it. Not a race, so real threads
/// only (a panic inside a loom model would fail the model).
#[cfg(not(heist_loom))]
#[test]
fn freeing_an_unfinished_task_contains_its_destructors_panic() {
    struct Bomb(DropCounter);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.inc();
            panic!("future destructor");
        }
    }
    let sched = new_sched();
    let dropped = DropCounter::new();
    let bomb = Bomb(dropped.clone());
    let (notified, join) = spawn(&sched, async move {
        let _bomb = bomb;
        std::future::pending::<()>().await
    });
    // The first poll returns Pending: the registry takes its reference.
    notified.run();
    drop(join);
    let registry = std::mem::take(&mut *sched.owned.lock());
    assert_eq!(registry.len(), 1);
    let freed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(registry)));
    assert!(
        freed.is_ok(),
        "the destructor's panic escaped the freeing thread"
    );
    dropped.assert_once("future dropped");
}
