//! Shutdown: every unfinished future is dropped exactly once; late spawns and wakes are
//! harmless; bad uses panic clearly.

mod common;
use common::*;
use std::sync::{mpsc, Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

#[test]
fn drop_cancels_waiting_and_queued_tasks_exactly_once() {
    let rt = rt(1);
    let waiting = DropCounter::new();
    let queued = DropCounter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let waiting_handles: Vec<_> = (0..50)
        .map(|_| {
            let started = started_tx.clone();
            rt.spawn(tracked(&waiting, async move {
                started.send(()).unwrap();
                Pending.await
            }))
        })
        .collect();
    for _ in 0..50 {
        started_rx.recv().unwrap();
    }
    // Occupy the only worker, then queue tasks behind it that never get polled.
    let release = occupy_worker(&rt);
    let queued_handles: Vec<_> = (0..50)
        .map(|_| rt.spawn(tracked(&queued, async {})))
        .collect();
    release.send(()).unwrap();
    drop(rt);
    assert_eq!(waiting.count(), 50, "each waiting future dropped once");
    for h in waiting_handles {
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    }
    // A queued task may have run before the worker saw the shutdown flag; either way its
    // future was dropped exactly once.
    assert_eq!(queued.count(), 50);
    for h in queued_handles {
        let _ = futures::executor::block_on(h);
    }
}

#[test]
fn shutdown_background_cancels_a_running_task_after_its_poll() {
    let rt = rt(2);
    let drops = DropCounter::new();
    let (in_poll_tx, in_poll_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let token = drops.token();
    let h = rt.spawn(async move {
        // Locals drop in reverse: the token first, then the signal.
        let _signal = SendOnDrop(dropped_tx);
        let _token = token;
        in_poll_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        Pending.await
    });
    in_poll_rx.recv().unwrap();
    rt.shutdown_background();
    assert_eq!(
        drops.count(),
        0,
        "the running future belongs to its worker until the poll ends"
    );
    release_tx.send(()).unwrap();
    dropped_rx
        .recv_timeout(PATIENCE)
        .expect("the worker drops the future after the poll");
    assert_eq!(drops.count(), 1);
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

struct SendOnDrop(mpsc::Sender<()>);
impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn shutdown_timeout_returns_while_a_task_is_stuck() {
    let rt = rt(1);
    let (in_poll_tx, in_poll_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let h = rt.spawn(async move {
        in_poll_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    in_poll_rx.recv().unwrap();
    rt.shutdown_timeout(Duration::from_millis(10));
    release_tx.send(()).unwrap();
    // The stuck task finished its poll with Ready: its output stands.
    assert!(futures::executor::block_on(h).is_ok());
}

#[test]
fn spawn_after_shutdown_is_cancelled_at_once() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    drop(rt);
    let drops = DropCounter::new();
    let h = handle.spawn(tracked(&drops, async { 1 }));
    assert_eq!(drops.count(), 1, "the future is dropped, never polled");
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    use futures::task::SpawnExt;
    assert!(
        SpawnExt::spawn(&handle, async {}).is_err(),
        "futures::task::Spawn reports shutdown"
    );
}

#[test]
// Waking a clone by value is the point: it consumes a reference.
#[allow(clippy::waker_clone_wake)]
fn wakes_after_shutdown_are_harmless() {
    let rt = rt(2);
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (tx, rx) = mpsc::channel();
    let s = slot.clone();
    let h = rt.spawn(std::future::poll_fn(move |cx| {
        *s.lock().unwrap() = Some(cx.waker().clone());
        let _ = tx.send(());
        std::task::Poll::<()>::Pending
    }));
    rx.recv().unwrap();
    drop(rt);
    let waker = slot.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    waker.clone().wake();
    waker.wake();
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn dropping_the_runtime_inside_its_own_task_panics_clearly() {
    let rt = rt(2);
    let slot = Arc::new(Mutex::new(None::<heist::Runtime>));
    let s = slot.clone();
    let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
    let h = rt.spawn(async move {
        go_rx.await.unwrap();
        let rt = s.lock().unwrap().take().unwrap();
        drop(rt);
    });
    *slot.lock().unwrap() = Some(rt);
    go_tx.send(()).unwrap();
    let err = futures::executor::block_on(h).unwrap_err();
    assert!(err.is_panic());
    assert!(
        err.to_string().contains("inside one of its own tasks"),
        "{err}"
    );
}

#[test]
fn shutdown_background_from_inside_its_own_task_is_allowed() {
    let rt = rt(2);
    let slot = Arc::new(Mutex::new(None::<heist::Runtime>));
    let s = slot.clone();
    let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
    let waiting = DropCounter::new();
    let other = rt.spawn(tracked(&waiting, Pending));
    let h = rt.spawn(async move {
        go_rx.await.unwrap();
        s.lock().unwrap().take().unwrap().shutdown_background();
    });
    *slot.lock().unwrap() = Some(rt);
    go_tx.send(()).unwrap();
    // The shutting-down task was running and finished in that same poll: its output
    // stands (a running task is only cancelled if its poll returns Pending).
    futures::executor::block_on(h).unwrap();
    assert!(futures::executor::block_on(other)
        .unwrap_err()
        .is_cancelled());
    assert_eq!(waiting.count(), 1);
}

#[test]
fn tasks_spawned_by_destructors_during_shutdown_are_cancelled() {
    let rt = rt(1);
    let inner = DropCounter::new();
    let inner2 = inner.clone();
    struct SpawnOnDrop(DropCounter);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let h = heist::Handle::current();
            drop(h.spawn(tracked(&self.0, Pending)));
        }
    }
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let _guard = SpawnOnDrop(inner2);
        tx.send(()).unwrap();
        Pending.await
    });
    rx.recv().unwrap();
    // Shutdown drops the waiting future on this thread, where the runtime is current.
    let _enter = rt.enter();
    drop(rt);
    assert_eq!(
        inner.count(),
        1,
        "the late spawn was cancelled and its future dropped"
    );
}

#[test]
fn shutdown_timeout_returns_in_time_whatever_the_stop_hooks_do() {
    // Every thread's stop hook blocks until the test lets go (or PATIENCE passes).
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let rt = heist::Runtime::builder()
        .worker_threads(2)
        .on_thread_stop(move || {
            let _ = release_rx.lock().unwrap().recv_timeout(PATIENCE);
        })
        .build()
        .unwrap();
    // A blocking-pool thread too.
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    let start = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_millis(10));
    let took = start.elapsed();
    drop(release_tx);
    assert!(
        took < PATIENCE / 3,
        "shutdown_timeout(10 ms) waited {took:?} for the stop hooks"
    );
}
