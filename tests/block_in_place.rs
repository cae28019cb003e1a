//! `heist::task::block_in_place`: tokio's `rt_threaded` tests for it, adapted, and what
//! heist adds: the worker's queued tasks and next-task slot run elsewhere while it
//! blocks, on one worker too, and the thread is the same worker afterwards.

mod common;
use common::rt;
use heist::task::{block_in_place, yield_now};
use heist::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

/// tokio's `blocking`: every worker blocks in place at once, and 1,000 tasks spawned
/// meanwhile still run (each blocked worker handed its work to a stand-in).
#[test]
fn every_worker_blocking_in_place_still_runs_new_tasks() {
    const NUM: usize = if cfg!(miri) { 10 } else { 1_000 };
    for _ in 0..if cfg!(miri) { 1 } else { 5 } {
        let rt = rt(4);
        let (tx, rx) = mpsc::channel();
        let cnt = Arc::new(AtomicUsize::new(0));
        let block = Arc::new(Barrier::new(5));
        for _ in 0..4 {
            let block = block.clone();
            drop(rt.spawn(async move {
                block_in_place(move || {
                    block.wait();
                    block.wait();
                })
            }));
        }
        block.wait();
        for _ in 0..NUM {
            let (cnt, tx) = (cnt.clone(), tx.clone());
            drop(rt.spawn(async move {
                if cnt.fetch_add(1, SeqCst) + 1 == NUM {
                    tx.send(()).unwrap();
                }
            }));
        }
        rx.recv().unwrap();
        block.wait();
    }
}

/// One worker: the task that blocks waits for a task spawned after it, which only a
/// stand-in for the blocked worker can run.
#[test]
fn one_worker_blocking_in_place_hands_its_work_over() {
    let rt = rt(1);
    rt.block_on(rt.spawn(async {
        let (tx, rx) = mpsc::channel();
        // Into this worker's next-task slot, then pushed back into its deque by...
        let queued = heist::spawn({
            let tx = tx.clone();
            async move { tx.send("deque").unwrap() }
        });
        // ...this one, which takes the slot.
        let slot = heist::spawn(async move { tx.send("slot").unwrap() });
        let got = block_in_place(|| [rx.recv().unwrap(), rx.recv().unwrap()]);
        // The stand-in runs this very worker: its slot first, then its deque.
        assert_eq!(got, ["slot", "deque"]);
        slot.await.unwrap();
        queued.await.unwrap();
    }))
    .unwrap();
}

/// The blocked thread is the same worker afterwards: inside `f` it is no worker
/// (`block_on` works there), afterwards it is one again (`block_on` panics, as on any
/// worker), and the runtime keeps all its workers.
#[test]
fn the_thread_is_a_worker_again_afterwards() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .thread_name("bip")
        .build()
        .unwrap();
    for _ in 0..if cfg!(miri) { 2 } else { 50 } {
        let h = rt.handle().clone();
        let (same_thread, worker_again) = rt
            .block_on(rt.spawn(async move {
                let before = std::thread::current().id();
                let inside = block_in_place(|| {
                    assert_eq!(h.block_on(async { 1 }), 1, "no worker inside");
                    std::thread::current().id()
                });
                let again =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.block_on(async {})))
                        .is_err();
                yield_now().await;
                (before == inside, again)
            }))
            .unwrap();
        assert!(same_thread);
        assert!(worker_again, "block_on must panic on a worker thread");
    }
    // Both workers still take work: two tasks that each wait for the other to start.
    let barrier = Arc::new(Barrier::new(2));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn(async move {
                b.wait();
                std::thread::current().name().unwrap().to_string()
            })
        })
        .collect();
    for h in hs {
        assert!(rt.block_on(h).unwrap().starts_with("bip-"));
    }
}

/// tokio's `test_block_in_place2` and `test_block_in_place4`, and outside a runtime:
/// `f` just runs.
#[test]
fn runs_in_a_task_in_block_on_and_outside_a_runtime() {
    assert_eq!(block_in_place(|| 1), 1);
    let rt = rt(2);
    assert_eq!(rt.block_on(async { block_in_place(|| 2) }), 2);
    assert_eq!(
        rt.block_on(rt.spawn(async { block_in_place(|| 3) }))
            .unwrap(),
        3
    );
}

/// tokio's `yield_after_block_in_place`: inside, another runtime's `block_on`; after, a
/// yield.
#[test]
fn yield_after_block_in_place() {
    let rt = rt(1);
    rt.block_on(rt.spawn(async {
        block_in_place(|| {
            let other = common::rt(1);
            assert_eq!(other.block_on(async { 5 }), 5);
        });
        yield_now().await;
    }))
    .unwrap();
}

/// tokio's `test_nested_block_in_place_with_block_on_between` (tokio #5239) and
/// `yield_now_in_block_in_place`: inside `block_in_place` this thread is no worker, so
/// it may `block_on` its own runtime, and block in place again in there.
#[test]
fn nested_block_in_place_with_block_on_between() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    for _ in 0..if cfg!(miri) { 2 } else { 100 } {
        let h = rt.handle().clone();
        rt.block_on(rt.spawn(async move {
            block_in_place(|| {
                h.block_on(async {
                    block_in_place(|| {});
                    yield_now().await;
                    heist::spawn(async {}).await.unwrap();
                });
            })
        }))
        .unwrap();
    }
}

/// A panic in `f` reaches the task (its `JoinError`), and the worker is restored.
#[test]
fn a_panic_inside_restores_the_worker() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn(async { block_in_place(|| panic!("inside")) }))
        .unwrap_err();
    assert!(err.is_panic());
    let ran = rt
        .block_on(rt.spawn(async {
            let id = std::thread::current().id();
            block_in_place(|| ());
            heist::spawn(async move { std::thread::current().id() == id })
                .await
                .unwrap()
        }))
        .unwrap();
    assert!(ran, "one worker: the child ran on the same thread");
}

/// tokio's `hang_on_shutdown`: dropping the runtime while a task blocks in place waits
/// for that call (it is the task's poll) and does not hang past it.
#[test]
fn shutdown_while_blocking_in_place() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    drop(rt.spawn(async move {
        block_in_place(|| {
            started_tx.send(()).unwrap();
            rx.recv().ok()
        });
    }));
    started_rx.recv().unwrap();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(tx);
    });
    drop(rt);
    dropper.join().unwrap();
}

/// With paused time, a blocking section holds the clock (as a blocking-pool call does):
/// no auto-advance while it runs.
#[test]
fn block_in_place_inhibits_auto_advance() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(rt.spawn(async {
        let start = heist::time::Instant::now();
        let timer = heist::spawn(heist::time::sleep(Duration::from_millis(10)));
        let inside = block_in_place(|| {
            std::thread::sleep(Duration::from_millis(20));
            start.elapsed()
        });
        assert_eq!(inside, Duration::ZERO);
        timer.await.unwrap();
    }))
    .unwrap();
}

/// A yield asked for and a `block_in_place` in the same poll: the worker marks the
/// yield in the poll it publishes, the stand-in's polls publish their own, and the
/// poll published again afterwards still carries the request, so the task is requeued
/// (it has no other wake; without the request it would wait forever).
#[test]
fn a_yield_asked_before_block_in_place_in_the_same_poll_still_requeues() {
    common::finishes_on_one_and_two_workers(
        || async {
            let mut yielding = std::pin::pin!(yield_now());
            std::future::poll_fn(|cx| {
                if std::future::Future::poll(yielding.as_mut(), cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
                // The stand-in runs a task of its own meanwhile, which publishes its id.
                block_in_place(|| heist::Handle::current().block_on(heist::spawn(async {})))
                    .unwrap();
                std::task::Poll::Pending
            })
            .await;
        },
        "the task that yielded was never polled again",
    );
}
