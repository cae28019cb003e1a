//! `LocalSet` and `spawn_local`: the behaviour of tokio's `tests/task_local_set.rs`,
//! adapted to heist (every heist runtime is multi-threaded, so each test runs beside
//! real workers), plus heist's own cases: a `!Send` value held across `.await`, a local
//! task woken from a worker, `spawn_local` outside a set.

mod common;
use common::*;
use futures::channel::{mpsc, oneshot};
use futures::future::{self, pending, ready, FutureExt};
use futures::StreamExt;
use heist::task::{self, LocalSet};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

std::thread_local! {
    /// Set on the thread that drives the set under test.
    static ON_SET_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn mark_set_thread() {
    ON_SET_THREAD.with(|c| c.set(true));
}

fn on_set_thread() -> bool {
    ON_SET_THREAD.with(Cell::get)
}

#[test]
fn spawn_local_inside_run_until() {
    let rt = rt(1);
    rt.block_on(async {
        LocalSet::new()
            .run_until(async { task::spawn_local(async {}).await.unwrap() })
            .await;
    });
}

#[test]
fn local_tasks_run_on_the_driving_thread() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        assert!(on_set_thread());
        task::spawn_local(async { assert!(on_set_thread()) })
            .await
            .unwrap();
    });
}

#[test]
fn awaiting_the_set_runs_every_task_to_completion() {
    let rt = rt(2);
    mark_set_thread();
    let ran = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    for _ in 0..2 {
        let ran = ran.clone();
        local.spawn_local(async move {
            assert!(on_set_thread());
            let inner = ran.clone();
            // Spawned from inside a task of the set: also awaited by the set.
            task::spawn_local(async move {
                task::yield_now().await;
                inner.set(inner.get() + 10);
            });
            task::yield_now().await;
            ran.set(ran.get() + 1);
        });
    }
    rt.block_on(local);
    assert_eq!(ran.get(), 22);
}

#[test]
fn awaiting_the_set_waits_for_timers() {
    let rt = rt(2);
    let ran = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    for ms in [5, 10] {
        let ran = ran.clone();
        local.spawn_local(async move {
            heist::time::sleep(Duration::from_millis(ms)).await;
            ran.set(ran.get() + 1);
        });
    }
    rt.block_on(local);
    assert_eq!(ran.get(), 2);
}

#[test]
fn an_empty_set_is_ready_at_once() {
    let rt = rt(1);
    rt.block_on(LocalSet::default());
}

#[test]
fn local_task_sleeps_on_the_runtimes_timers() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        task::spawn_local(async {
            heist::time::sleep(Duration::from_millis(10)).await;
            assert!(on_set_thread());
        })
        .await
        .unwrap();
    });
}

#[test]
fn enter_makes_spawn_local_work_before_the_set_runs() {
    let rt = rt(1);
    let local = LocalSet::new();
    let join = {
        let _guard = local.enter();
        task::spawn_local(async { true })
    };
    assert!(local.block_on(&rt, join).unwrap());
}

#[test]
fn spawn_blocking_from_a_local_task_runs_elsewhere() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        task::spawn_local(async {
            task::spawn_blocking(|| assert!(!on_set_thread()))
                .await
                .unwrap();
            assert!(on_set_thread());
        })
        .await
        .unwrap();
    });
}

#[test]
fn many_local_tasks_all_run_locally() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        let handles: Vec<_> = (0..128)
            .map(|_| task::spawn_local(async { assert!(on_set_thread()) }))
            .collect();
        for joined in future::join_all(handles).await {
            joined.unwrap();
        }
    });
}

#[test]
fn nested_spawn_local_stays_local() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        task::spawn_local(async {
            assert!(on_set_thread());
            task::spawn_local(async {
                assert!(on_set_thread());
                task::spawn_local(async { assert!(on_set_thread()) })
                    .await
                    .unwrap();
            })
            .await
            .unwrap();
        })
        .await
        .unwrap();
    });
}

/// A local task's `JoinHandle` (of a `Send` output) is awaited on a worker, and the
/// task is woken from that worker: it still runs on the set's thread.
#[test]
fn local_task_joined_and_woken_from_a_worker() {
    let rt = rt(2);
    mark_set_thread();
    LocalSet::new().block_on(&rt, async {
        let (tx, rx) = oneshot::channel::<()>();
        let join = task::spawn_local(async move {
            assert!(on_set_thread(), "a local task runs on its set's thread");
            rx.await.unwrap();
            assert!(
                on_set_thread(),
                "woken from a worker, run on the set's thread"
            );
            "hello"
        });
        heist::spawn(async move {
            assert!(!on_set_thread(), "spawned tasks run on the workers");
            tx.send(()).unwrap();
            join.await.unwrap()
        })
        .await
        .unwrap()
    });
}

/// The case: an `Rc` and a `RefCell` borrow-holder kept across `.await`s that
/// are woken from the runtime's workers.
#[test]
fn not_send_state_held_across_await() {
    let rt = rt(2);
    let log = Rc::new(RefCell::new(Vec::new()));
    LocalSet::new().block_on(&rt, {
        let log = log.clone();
        async move {
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let log = log.clone();
                    task::spawn_local(async move {
                        let mine = Rc::new(i);
                        for _ in 0..3 {
                            // Woken by a task on a worker.
                            heist::spawn(async {}).await.unwrap();
                            task::yield_now().await;
                        }
                        log.borrow_mut().push(*mine);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    let mut log = log.take();
    log.sort();
    assert_eq!(log, [0, 1, 2, 3]);
}

#[test]
fn dropping_the_set_cancels_its_tasks_on_its_thread() {
    let rt = rt(1);
    mark_set_thread();
    let rc = Rc::new(());
    let (started_tx, started_rx) = oneshot::channel();
    struct AssertDroppedHere(#[allow(dead_code)] Rc<()>);
    impl Drop for AssertDroppedHere {
        fn drop(&mut self) {
            assert!(on_set_thread(), "a local future is dropped on its thread");
        }
    }
    let local = LocalSet::new();
    let guard = AssertDroppedHere(rc.clone());
    let join = local.spawn_local(async move {
        let _guard = guard;
        started_tx.send(()).unwrap();
        pending::<()>().await;
    });
    local.block_on(&rt, async { started_rx.await.unwrap() });
    assert_eq!(Rc::strong_count(&rc), 2);
    drop(local);
    assert_eq!(Rc::strong_count(&rc), 1);
    assert!(rt.block_on(join).unwrap_err().is_cancelled());
}

/// A task woken from another thread (queued remotely) when the set is dropped is
/// cancelled, and the drop does not hang.
#[test]
fn drop_cancels_remotely_woken_tasks() {
    let rt = rt(1);
    let (tx, mut rx) = mpsc::channel::<()>(16);
    let local = LocalSet::new();
    let join = local.spawn_local(async move { while rx.next().await.is_some() {} });
    local.block_on(&rt, async {
        heist::time::sleep(Duration::from_millis(1)).await
    });
    // Wake the task from another thread while the set is not driven.
    std::thread::spawn(move || drop(tx)).join().unwrap();
    drop(local);
    assert!(rt.block_on(join).unwrap_err().is_cancelled());
}

#[test]
fn local_tasks_wake_join_all() {
    let rt = rt(2);
    let set = LocalSet::new();
    let handles: Vec<_> = (0..128)
        .map(|_| set.spawn_local(async { task::spawn_local(async {}).await.unwrap() }))
        .collect();
    for joined in rt.block_on(set.run_until(future::join_all(handles))) {
        joined.unwrap();
    }
}

/// Local tasks spawned while the `run_until` future keeps receiving work are polled
/// between its polls, including those woken from a worker. (tokio's
/// `local_tasks_are_polled_after_tick`, without its sleeps.)
#[test]
fn local_tasks_are_polled_while_run_until_is_busy() {
    const EXPECTED: usize = 500;
    let rt = rt(2);
    let received = Rc::new(Cell::new(0));
    let finished = Rc::new(Cell::new(0));
    LocalSet::new().block_on(&rt, async {
        let (tx, mut rx) = mpsc::unbounded::<oneshot::Receiver<()>>();
        let (senders_tx, senders_rx) = oneshot::channel::<Vec<oneshot::Sender<()>>>();
        let producer = heist::spawn(async move {
            let mut senders = Vec::with_capacity(EXPECTED);
            for _ in 0..EXPECTED {
                let (one_tx, one_rx) = oneshot::channel();
                senders.push(one_tx);
                tx.unbounded_send(one_rx).unwrap();
            }
            senders_tx.send(senders).unwrap();
        });
        let mut handles = Vec::new();
        while let Some(one_rx) = rx.next().await {
            received.set(received.get() + 1);
            let finished = finished.clone();
            handles.push(task::spawn_local(async move {
                one_rx.await.unwrap();
                finished.set(finished.get() + 1);
            }));
        }
        producer.await.unwrap();
        // Fire every oneshot from a worker.
        let senders = senders_rx.await.unwrap();
        heist::spawn(async move {
            for s in senders {
                s.send(()).unwrap();
            }
        })
        .await
        .unwrap();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(received.get(), EXPECTED);
    assert_eq!(finished.get(), EXPECTED);
}

/// Dropping the set while tasks wait on each other, one of them forever: every future
/// is dropped, none is polled again.
#[test]
fn drop_with_tasks_waiting_on_each_other() {
    let rt = rt(1);
    let (tx1, rx1) = oneshot::channel::<()>();
    let (tx2, rx2) = oneshot::channel::<()>();
    let local = LocalSet::new();
    local.spawn_local(async move {
        let _ = rx2.await;
        unreachable!("polled after its set was dropped");
    });
    local.spawn_local(async move {
        let _ = rx1.await;
        let _ = tx2.send(());
        unreachable!("polled after its set was dropped");
    });
    local.spawn_local(async move {
        pending::<()>().await;
        let _ = tx1.send(());
    });
    local.block_on(&rt, task::yield_now());
    drop(local);
}

/// `LocalSet::spawn_local` from outside the set's poll wakes a `run_until` that is
/// waiting.
#[test]
fn spawn_wakes_the_set() {
    let rt = rt(1);
    rt.block_on(async {
        let local = LocalSet::new();
        futures::select! {
            _ = local.run_until(pending::<()>()).fuse() => unreachable!(),
            ret = async { local.spawn_local(ready(())).await.unwrap() }.fuse() => ret,
        }
    });
}

#[test]
#[should_panic(expected = "`spawn_local` called from outside of a `task::LocalSet`")]
fn spawn_local_outside_a_set_panics() {
    drop(task::spawn_local(async {}));
}

#[test]
fn spawn_local_on_a_runtime_task_panics() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn(async {
            drop(task::spawn_local(async {}));
        }))
        .unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn panic_in_a_local_task_is_its_join_error() {
    let rt = rt(1);
    LocalSet::new().block_on(&rt, async {
        let err = task::spawn_local(async { panic!("local boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(task::spawn_local(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn abort_a_local_task_from_a_worker() {
    let rt = rt(2);
    let dropped = DropCounter::new();
    LocalSet::new().block_on(&rt, async {
        let join = task::spawn_local(tracked(&dropped, pending::<()>()));
        task::yield_now().await; // let it start waiting
        let abort = join.abort_handle();
        heist::spawn(async move { abort.abort() }).await.unwrap();
        assert!(join.await.unwrap_err().is_cancelled());
    });
    assert_eq!(dropped.count(), 1);
}

/// A local task's waker, kept by another thread, is woken and dropped after the set is
/// gone: harmless.
#[test]
fn waker_used_after_the_set_is_gone() {
    let rt = rt(1);
    let stash: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
    let local = LocalSet::new();
    let polled = Arc::new(AtomicBool::new(false));
    local.spawn_local({
        let stash = stash.clone();
        let polled = polled.clone();
        std::future::poll_fn(move |cx| {
            *stash.lock().unwrap() = Some(cx.waker().clone());
            polled.store(true, SeqCst);
            std::task::Poll::<()>::Pending
        })
    });
    local.block_on(&rt, task::yield_now());
    assert!(polled.load(SeqCst));
    drop(local);
    let waker = stash.lock().unwrap().take().unwrap();
    std::thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
}

/// Two sets on two threads, each woken by the other's tasks through the runtime.
#[test]
fn two_sets_on_two_threads() {
    let rt = Arc::new(rt(2));
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let rt = rt.clone();
            let total = total.clone();
            std::thread::spawn(move || {
                mark_set_thread();
                LocalSet::new().block_on(&rt, async move {
                    let handles: Vec<_> = (0..50)
                        .map(|_| {
                            let total = total.clone();
                            task::spawn_local(async move {
                                heist::spawn(async {}).await.unwrap();
                                assert!(on_set_thread());
                                total.fetch_add(1, SeqCst);
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(total.load(SeqCst), 100);
}

/// `task::id()` and task-locals work inside local tasks as in any task.
#[test]
fn task_id_and_task_locals_in_local_tasks() {
    heist::task_local! {
        static NAME: &'static str;
    }
    let rt = rt(1);
    LocalSet::new().block_on(&rt, async {
        let join = task::spawn_local(NAME.scope("local", async {
            task::yield_now().await;
            (task::id(), NAME.get())
        }));
        let expected = join.id();
        assert_eq!(join.await.unwrap(), (expected, "local"));
    });
}

#[test]
fn join_set_collects_local_tasks() {
    let rt = rt(2);
    let local = LocalSet::new();
    let mut set = task::JoinSet::new();
    let later = Rc::new(Cell::new(0));
    let seen = later.clone();
    set.spawn_local_on(async move { seen.get() }, &local);
    let out = local.block_on(&rt, async move {
        mark_set_thread();
        later.set(5);
        set.spawn_local(async { on_set_thread() as i32 });
        let mut outputs = set.join_all().await;
        outputs.sort();
        outputs
    });
    assert_eq!(out, vec![1, 5]);
}
