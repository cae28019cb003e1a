//! Spawning and joining, from outside and inside the runtime.

mod common;
use common::*;
use futures::task::SpawnExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

fn scale(n: usize) -> usize {
    if cfg!(miri) {
        n / 1000 + 1
    } else {
        n
    }
}

#[test]
fn spawn_from_outside_and_join_from_block_on() {
    let rt = rt(2);
    let h = rt.spawn(async { 40 + 2 });
    assert_eq!(rt.block_on(h).unwrap(), 42);
}

#[test]
fn join_handle_is_runtime_agnostic() {
    let rt = rt(2);
    let h = rt.spawn(async { "done" });
    assert_eq!(futures::executor::block_on(h).unwrap(), "done");
}

#[test]
fn spawn_from_inside_a_task() {
    let rt = rt(2);
    let out = rt.block_on(rt.spawn(async {
        let inner = heist::spawn(async { heist::spawn(async { 7 }).await.unwrap() * 6 });
        inner.await.unwrap()
    }));
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn hundred_thousand_tasks_from_outside() {
    let rt = rt(2);
    let n = scale(100_000);
    let counter = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let counter = counter.clone();
            rt.spawn(async move {
                counter.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    let sum = rt.block_on(async {
        let mut sum = 0usize;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(counter.load(SeqCst), n);
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn hundred_thousand_tasks_from_inside() {
    let rt = rt(2);
    let n = scale(100_000);
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let remaining = Arc::new(AtomicUsize::new(n));
        for _ in 0..n {
            let remaining = remaining.clone();
            let tx = tx.clone();
            heist::spawn(async move {
                if remaining.fetch_sub(1, SeqCst) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
    });
    rx.recv_timeout(PATIENCE).expect("all tasks ran");
}

fn chain(depth: usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            0
        } else {
            heist::spawn(chain(depth - 1)).await.unwrap() + 1
        }
    })
}

#[test]
fn deep_recursive_spawning() {
    let rt = rt(2);
    let depth = scale(10_000);
    assert_eq!(rt.block_on(chain(depth)), depth);
}

#[test]
fn handle_current_inside_tasks_and_block_on() {
    let rt = rt(1);
    rt.block_on(async {
        let h = heist::Handle::current();
        let inner = h.spawn(async { heist::Handle::try_current().is_ok() });
        assert!(inner.await.unwrap());
    });
    let _guard = rt.enter();
    let h = heist::spawn(async { 5 });
    assert_eq!(futures::executor::block_on(h).unwrap(), 5);
}

#[test]
fn outside_a_runtime_current_is_an_error() {
    let err = heist::Handle::try_current().unwrap_err();
    assert!(err.to_string().contains("no heist runtime"), "{err}");
}

#[test]
#[should_panic(expected = "heist::spawn: there is no heist runtime")]
fn spawn_outside_a_runtime_panics_clearly() {
    drop(heist::spawn(async {}));
}

#[test]
fn handle_spawns_from_a_foreign_thread() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let h = std::thread::spawn(move || handle.spawn(async { 9 }))
        .join()
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 9);
}

#[test]
fn futures_spawn_trait() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let (tx, rx) = futures::channel::oneshot::channel();
    SpawnExt::spawn(&handle, async move { tx.send(3).unwrap() }).unwrap();
    assert_eq!(rt.block_on(rx).unwrap(), 3);
    let h = (&rt).spawn_with_handle(async { 4 }).unwrap();
    assert_eq!(rt.block_on(h), 4);
}

#[test]
fn join_handle_reports_id_and_finished() {
    let rt = rt(1);
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let h = rt.spawn(async move { rx.await.unwrap() });
    let id = h.id();
    assert!(!h.is_finished());
    assert_eq!(h.abort_handle().id(), id);
    tx.send(()).unwrap();
    let h2 = rt.spawn(async {});
    assert_ne!(h2.id(), id);
    rt.block_on(h).unwrap();
}

#[test]
fn yield_now_lets_others_run() {
    let rt = rt(1);
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = order.clone();
    rt.block_on(rt.spawn(async move {
        let o2 = o.clone();
        heist::spawn(async move { o2.lock().unwrap().push("other") });
        heist::task::yield_now().await;
        o.lock().unwrap().push("yielder");
    }))
    .unwrap();
    assert_eq!(*order.lock().unwrap(), ["other", "yielder"]);
}

#[test]
fn thread_hooks_and_names() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = heist::Runtime::builder()
        .worker_threads(3)
        .thread_name("hooked")
        .thread_stack_size(1 << 20)
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let name = rt
        .block_on(rt.spawn(async { std::thread::current().name().unwrap().to_string() }))
        .unwrap();
    assert!(name.starts_with("hooked-"), "{name}");
    drop(rt);
    assert_eq!(started.load(SeqCst), 3);
    assert_eq!(stopped.load(SeqCst), 3);
}

#[test]
#[should_panic(expected = "at least 1 worker thread")]
fn zero_workers_is_refused() {
    heist::Runtime::builder().worker_threads(0);
}

#[test]
fn default_runtime_uses_available_parallelism() {
    let rt = heist::Runtime::new().unwrap();
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn every_output_is_dropped_exactly_once_whoever_owns_it() {
    let rt = rt(2);
    let outputs = DropCounter::new();
    // Taken by the handle: dropped by the user, never again by the task.
    let taken = rt.block_on(rt.spawn({
        let token = outputs.token();
        async move { token }
    }));
    assert_eq!(outputs.count(), 0);
    drop(taken);
    assert_eq!(outputs.count(), 1);
    // Left in the task until the handle is dropped after completion.
    let unread = rt.spawn({
        let token = outputs.token();
        async move { token }
    });
    while !unread.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(outputs.count(), 1);
    drop(unread);
    assert_eq!(outputs.count(), 2);
    // Detached: the runtime drops it when the task completes.
    let (done_tx, done_rx) = mpsc::channel();
    drop(rt.spawn({
        let token = outputs.token();
        async move {
            done_tx.send(()).unwrap();
            token
        }
    }));
    done_rx.recv().unwrap();
    drop(rt);
    assert_eq!(outputs.count(), 3);
}

#[test]
#[should_panic(expected = "JoinHandle polled after it returned the output")]
fn polling_a_join_handle_after_it_returned_panics() {
    let rt = rt(1);
    let mut handle = rt.spawn(async { 5 });
    rt.block_on(async {
        assert_eq!((&mut handle).await.unwrap(), 5);
        let _ = (&mut handle).await;
    });
}

#[test]
fn handles_are_unwind_safe_whatever_the_output() {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>(_: &T) {}
    let rt = rt(1);
    // `Cell` is neither `UnwindSafe` nor `RefUnwindSafe`: the handles do not depend on it.
    let handle = rt.spawn(async { std::cell::Cell::new(3) });
    let abort = handle.abort_handle();
    unwind_safe(&handle);
    unwind_safe(&abort);
    // What the bounds are for: holding a handle across `catch_unwind`.
    let caught = std::panic::catch_unwind(|| {
        abort.abort();
        handle
    });
    let handle = caught.unwrap();
    let _ = rt.block_on(handle);
}

#[test]
fn enter_guards_dropped_out_of_order_panic_clearly() {
    let (rt1, rt2) = (rt(1), rt(1));
    let g1 = rt1.enter();
    let g2 = rt2.enter();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(g1)));
    let payload = caught.expect_err("dropping the outer guard first must panic");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or(payload.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(msg.contains("dropped out of order"), "{msg}");
    drop(g2);
    // In order, the guards nest.
    {
        let _g1 = rt1.enter();
        {
            let _g2 = rt2.enter();
        }
        assert!(heist::Handle::try_current().is_ok());
    }
}

/// Freeing a task drops its join waker, which may release the last reference to the
/// task that waited on it, whose join waker may release the next one... A long chain
/// of such frees must not recurse once per task (it overflowed worker stacks).
#[test]
fn freeing_a_long_chain_of_finished_tasks_does_not_recurse() {
    use futures::channel::oneshot;
    use std::future::Future;
    use std::task::{Context, Poll};

    let rt = rt(1);
    let n = scale(100_000);
    let (waker_tx, waker_rx) = mpsc::channel();
    let mut gates = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let (gate_tx, gate_rx) = oneshot::channel::<()>();
        let waker_tx = waker_tx.clone();
        handles.push(rt.spawn(async move {
            // Hand out this task's own waker, then wait for the gate.
            let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            waker_tx.send(waker).unwrap();
            let _ = gate_rx.await;
        }));
        gates.push(gate_tx);
    }
    let wakers: Vec<_> = (0..n)
        .map(|_| waker_rx.recv_timeout(PATIENCE).unwrap())
        .collect();
    // Task 0's join waker says when it is dropped: when task 0 is freed, the end of
    // the chain.
    struct Bottom(Arc<AtomicBool>);
    impl std::task::Wake for Bottom {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for Bottom {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let bottom_dropped = Arc::new(AtomicBool::new(false));
    let bottom = std::task::Waker::from(Arc::new(Bottom(bottom_dropped.clone())));
    assert!(std::pin::Pin::new(&mut handles[0])
        .poll(&mut Context::from_waker(&bottom))
        .is_pending());
    drop(bottom);
    // Task i's join waker is task i-1's waker: freeing task i releases task i-1.
    for i in 1..n {
        let mut cx = Context::from_waker(&wakers[i - 1]);
        assert!(std::pin::Pin::new(&mut handles[i])
            .poll(&mut cx)
            .is_pending());
    }
    drop(wakers);
    let last = handles.pop().unwrap();
    for gate in gates {
        gate.send(()).unwrap();
    }
    // Once they are complete, dropping the handles leaves the join wakers in place:
    // every task but the last is then held only by its successor's join waker.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !handles.iter().all(|h| h.is_finished()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the tasks never finished"
        );
        std::thread::yield_now();
    }
    for h in handles {
        drop(h);
    }
    assert!(rt.block_on(last).is_ok());
    // Freeing the last task freed the whole chain, down to the first.
    assert!(
        bottom_dropped.load(SeqCst),
        "a task of the chain was never freed"
    );
}
