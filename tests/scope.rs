//! `Handle::scope`: tasks that borrow from the caller's stack. These also run under miri
//! (`scripts/miri.sh`), which checks that no borrow is used after the scope.

mod common;
use common::*;
use futures::channel::oneshot;
use heist::task;
use heist::Handle;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// Tasks per test: miri is ~1000x slower.
const N: usize = if cfg!(miri) { 4 } else { 64 };

#[test]
fn tasks_borrow_the_callers_stack() {
    let rt = rt(2);
    let input: Vec<usize> = (0..N).collect();
    let sum = AtomicUsize::new(0);
    let mut last = 0;
    let out = rt.handle().scope(|s| {
        for chunk in input.chunks(3) {
            let sum = &sum;
            s.spawn(async move {
                task::yield_now().await;
                sum.fetch_add(chunk.iter().sum::<usize>(), SeqCst);
            });
        }
        s.spawn(async {
            task::yield_now().await;
            last = *input.last().unwrap(); // a mutable borrow of `last`
        });
        "closure result"
    });
    assert_eq!(out, "closure result");
    assert_eq!(sum.load(SeqCst), N * (N - 1) / 2);
    assert_eq!(last, N - 1);
}

/// What the tasks borrow is freed as soon as `scope` returns: under miri, any access
/// by a task (or a drop of its future or output) after that is a use-after-free.
#[test]
fn borrowed_heap_data_is_freed_right_after_the_scope() {
    struct Borrows<'a>(&'a AtomicUsize);
    impl Drop for Borrows<'_> {
        fn drop(&mut self) {
            // Lets the caller run first (under miri, a switch to another thread), so a
            // task that counts itself out of the scope before dropping its output lets
            // `scope` return and free `counter` before this touches it.
            std::thread::yield_now();
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = rt(2);
    for round in 0..if cfg!(miri) { 2 } else { 50 } {
        // Alone in its scope, so its task is the last to count itself out.
        let alone = Box::new(AtomicUsize::new(0));
        rt.handle()
            .scope(|s| drop(s.spawn(async { Borrows(&alone) })));
        assert_eq!(alone.load(SeqCst), 1);
        drop(alone);

        let counter = Box::new(AtomicUsize::new(0));
        let mut text = String::from("on the heap");
        let dropped = rt.handle().scope(|s| {
            for _ in 0..3 {
                let counter = &*counter;
                s.spawn(async move {
                    task::yield_now().await;
                    counter.fetch_add(1, SeqCst);
                });
            }
            // An output that borrows, never awaited; a future that borrows mutably.
            drop(s.spawn(async { Borrows(&counter) }));
            s.spawn(async {
                task::yield_now().await;
                text.push('!');
            });
            round
        });
        assert_eq!(dropped, round);
        assert_eq!(counter.load(SeqCst), 4);
        assert_eq!(text, "on the heap!");
        drop(counter);
        drop(text);
    }
}

#[test]
fn scoped_join_handles_yield_outputs_and_errors() {
    let rt = rt(2);
    let words = [String::from("borrowed"), String::from("words")];
    let lens = rt.handle().scope(|s| {
        let handles: Vec<_> = words.iter().map(|w| s.spawn(async { w.len() })).collect();
        let failed = s.spawn(async { panic!("received by the handle") });
        rt.block_on(async {
            // A panic received through its handle is not re-raised by the scope.
            assert!(failed.await.unwrap_err().is_panic());
            let mut lens = Vec::new();
            for h in handles {
                lens.push(h.await.unwrap());
            }
            lens
        })
    });
    assert_eq!(lens, [8, 5]);
}

/// A task whose output borrows, and is never awaited: dropped before `scope` returns.
#[test]
fn unawaited_outputs_that_borrow_are_dropped_in_the_scope() {
    struct Borrows<'a>(&'a AtomicUsize);
    impl Drop for Borrows<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = rt(2);
    let dropped = AtomicUsize::new(0);
    rt.handle().scope(|s| {
        for _ in 0..N {
            drop(s.spawn(async { Borrows(&dropped) }));
        }
    });
    assert_eq!(dropped.load(SeqCst), N);
}

/// The scope returns only once every task has finished, including tasks still running
/// when the closure returned and tasks spawned by scoped tasks.
#[test]
fn scope_waits_for_every_task() {
    let rt = rt(2);
    let done = AtomicUsize::new(0);
    let (release_tx, release_rx) = oneshot::channel::<()>();
    rt.handle().scope(|s| {
        let done = &done;
        s.spawn(async move {
            release_rx.await.unwrap();
            s.spawn(async move {
                for _ in 0..10 {
                    task::yield_now().await;
                }
                done.fetch_add(1, SeqCst);
            });
            done.fetch_add(1, SeqCst);
        });
        // Released by a task the scope does not know about: the closure has returned
        // by the time the scoped task can go on.
        drop(rt.spawn(async move {
            task::yield_now().await;
            release_tx.send(()).unwrap();
        }));
    });
    assert_eq!(done.load(SeqCst), 2);
}

/// Marks a flag when dropped (during unwinding, too).
struct SetOnDrop<'a>(&'a AtomicBool);
impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// A task that finishes only some time after `flag` is set.
async fn finish_after(flag: &AtomicBool, done: &AtomicBool) {
    while !flag.load(SeqCst) {
        task::yield_now().await;
    }
    for _ in 0..100 {
        task::yield_now().await;
    }
    done.store(true, SeqCst);
}

#[test]
fn a_task_panic_is_re_raised_after_the_rest_finished() {
    let rt = rt(2);
    let panicked = AtomicBool::new(false);
    let other_done = AtomicBool::new(false);
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.handle().scope(|s| {
            s.spawn(finish_after(&panicked, &other_done));
            s.spawn(async {
                let _flag = SetOnDrop(&panicked);
                panic!("scoped boom");
            });
        })
    }))
    .unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "scoped boom");
    assert!(
        other_done.load(SeqCst),
        "re-raised before the other task finished"
    );
    // The runtime is unharmed.
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn a_closure_panic_waits_for_the_tasks() {
    let rt = rt(2);
    let closure_panicking = AtomicBool::new(false);
    let task_done = AtomicBool::new(false);
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.handle().scope(|s| {
            s.spawn(finish_after(&closure_panicking, &task_done));
            let _flag = SetOnDrop(&closure_panicking);
            panic!("closure boom");
        })
    }))
    .unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "closure boom");
    assert!(task_done.load(SeqCst), "unwound before the task finished");
}

#[test]
fn scope_on_a_worker_panics_before_spawning() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(rt.spawn(async move {
            handle.scope(|_| unreachable!("the closure must not run on a worker"));
        }))
        .unwrap_err();
    let msg = *err.into_panic().downcast::<&str>().unwrap();
    assert!(
        msg.contains("`Handle::scope` called on a heist worker thread"),
        "{msg}"
    );
}

#[test]
fn scope_from_spawn_blocking_and_block_on() {
    let rt = rt(2);
    let data = [1, 2, 3];
    let from_block_on = rt.block_on(async {
        // Inside `block_on`, but not on a worker: the scope may block this thread.
        Handle::current()
            .scope(|s| futures::executor::block_on(s.spawn(async { data.len() })).unwrap())
    });
    assert_eq!(from_block_on, 3);
    let handle = rt.handle().clone();
    let from_pool = rt
        .block_on(rt.spawn_blocking(move || {
            let local = [4, 5];
            let sum = Mutex::new(0);
            handle.scope(|s| {
                for x in &local {
                    let sum = &sum;
                    s.spawn(async move { *sum.lock().unwrap() += x });
                }
            });
            sum.into_inner().unwrap()
        }))
        .unwrap();
    assert_eq!(from_pool, 9);
}

#[test]
fn abort_a_scoped_task() {
    let rt = rt(1);
    let dropped = DropCounter::new();
    rt.handle().scope(|s| {
        let h = s.spawn(tracked(&dropped, Pending));
        h.abort();
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    });
    assert_eq!(dropped.count(), 1);
}

/// The runtime shuts down (dropped on another thread) while the scope waits for a task
/// that never ends: shutdown drops the future, and then the scope returns.
#[test]
fn runtime_shut_down_mid_scope() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let scoper = std::thread::spawn(move || {
        let dropped = DropCounter::new();
        let borrowed = String::from("on the scoper's stack");
        handle.scope(|s| {
            let started_tx = started_tx.clone();
            s.spawn(tracked(&dropped, async move {
                assert_eq!(borrowed.len(), 21);
                started_tx.send(()).unwrap();
                Pending.await
            }));
        });
        dropped.count()
    });
    started_rx.recv().unwrap();
    drop(rt);
    assert_eq!(scoper.join().unwrap(), 1);
}

/// Tasks spawned into a runtime that is already shut down are dropped at once.
#[test]
fn scope_on_a_shut_down_runtime() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let ran = AtomicBool::new(false);
    handle.scope(|s| {
        let h = s.spawn(async { ran.store(true, SeqCst) });
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    });
    assert!(!ran.load(SeqCst));
}
