//! Panics in poll, in a future's destructor and in an output's destructor.

mod common;
use common::*;
use std::sync::mpsc;

#[test]
fn a_panicking_task_yields_a_join_error_with_its_payload() {
    let rt = rt(2);
    let h = rt.spawn(async { panic!("boom") });
    let id = h.id();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_panic() && !err.is_cancelled());
    assert_eq!(err.id(), id);
    assert_eq!(
        err.to_string(),
        format!("task {id} panicked with message \"boom\"")
    );
    let payload = err.into_panic();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
}

#[test]
fn a_panic_does_not_kill_the_worker() {
    let rt = rt(1);
    for i in 0..100 {
        let h = rt.spawn(async move {
            if i % 2 == 0 {
                panic!("even {i}");
            }
            i
        });
        match rt.block_on(h) {
            Ok(v) => assert_eq!(v, i),
            Err(e) => assert!(e.is_panic() && i % 2 == 0),
        }
    }
    // The only worker still serves.
    let thread = rt.block_on(rt.spawn(async { std::thread::current().name().map(String::from) }));
    assert!(thread.unwrap().unwrap().starts_with("heist-worker"));
}

#[test]
fn try_into_panic_returns_a_cancellation_back() {
    let rt = rt(1);
    let h = rt.spawn(Pending);
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    let err = err.try_into_panic().unwrap_err();
    assert!(err.is_cancelled());
    assert!(err.to_string().ends_with("was cancelled"));
    let _: &dyn std::error::Error = &err;
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop bomb");
    }
}

#[test]
fn a_future_whose_destructor_panics_on_cancel() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel();
    let h = rt.spawn(async move {
        let _bomb = PanicOnDrop;
        // The bomb exists only once the body has started: say so from inside it,
        // not from a second task whose order against this one is not promised.
        tx.send(()).unwrap();
        Pending.await
    });
    rx.recv().unwrap();
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_panic(), "the destructor's panic is reported: {err}");
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn a_future_whose_destructor_panics_after_completing() {
    let rt = rt(1);
    let h = rt.spawn(async {
        let _bomb = PanicOnDrop;
        3
    });
    // The future's locals drop as it returns Ready, inside the poll.
    assert!(rt.block_on(h).unwrap_err().is_panic());
    assert_eq!(rt.block_on(rt.spawn(async { 4 })).unwrap(), 4);
}

#[test]
fn an_output_whose_destructor_panics() {
    let rt = rt(1);
    // Detached: the runtime drops the output.
    drop(rt.spawn(async { PanicOnDrop }));
    // Joined, then dropped by the user: the panic is the user's.
    let out = rt.block_on(rt.spawn(async { PanicOnDrop })).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(out)));
    assert!(caught.is_err());
    // Joined handle dropped after completion without reading: the handle drops it.
    let h = rt.spawn(async { PanicOnDrop });
    while !h.is_finished() {
        std::thread::yield_now();
    }
    drop(h);
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

#[test]
fn block_on_inside_a_worker_panics_clearly() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn(async { heist::Handle::current().block_on(async {}) }))
        .unwrap_err();
    let msg = err.into_panic();
    let msg = msg
        .downcast_ref::<String>()
        .map(String::as_str)
        .or(msg.downcast_ref::<&str>().copied());
    assert!(msg.unwrap().contains("worker thread"), "{msg:?}");
}

#[test]
#[should_panic(expected = "inside `block_on`")]
fn nested_block_on_panics_clearly() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    rt.block_on(async move { handle.block_on(async {}) });
}

#[test]
fn panicking_thread_hooks_kill_no_thread() {
    // On another thread, so that a hang (a worker killed by its hook, tasks never run,
    // shutdown waiting) fails the test instead of stalling it.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = heist::Runtime::builder()
            .worker_threads(2)
            .on_thread_start(|| panic!("start hook"))
            .on_thread_stop(|| panic!("stop hook"))
            .build()
            .unwrap();
        // Both workers run tasks: each of these blocks its worker until both started.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                rt.spawn(async move {
                    barrier.wait();
                })
            })
            .collect();
        for h in handles {
            rt.block_on(h).unwrap();
        }
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
        // Shutdown returns only once every thread got past its (panicking) stop hook.
        drop(rt);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(PATIENCE)
        .expect("a panicking hook stopped the runtime");
}

/// A user waker for a `JoinHandle` it owns: waking it drops the handle (so the waker in
/// the task's cell becomes the last thing keeping the task's user state alive), and its
/// destructor panics after saying so.
struct HandleDroppingWaker {
    handle: std::sync::Mutex<Option<heist::task::JoinHandle<u32>>>,
    dropping: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl std::task::Wake for HandleDroppingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        drop(self.handle.lock().unwrap().take());
    }
}

impl Drop for HandleDroppingWaker {
    fn drop(&mut self) {
        if let Some(tx) = self.dropping.lock().unwrap().take() {
            let _ = tx.send(());
        }
        panic!("join waker destructor");
    }
}

#[test]
fn a_join_waker_whose_destructor_panics_kills_no_worker() {
    use std::future::Future;
    // On another thread, so that a hang (the only worker killed, shutdown waiting for
    // it) fails the test instead of stalling it.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = rt(1);
        let (release_tx, release_rx) = futures::channel::oneshot::channel::<u32>();
        let mut handle = rt.spawn(async move { release_rx.await.unwrap() });
        let (dropping_tx, dropping_rx) = mpsc::channel();
        let user = std::sync::Arc::new(HandleDroppingWaker {
            handle: std::sync::Mutex::new(None),
            dropping: std::sync::Mutex::new(Some(dropping_tx)),
        });
        {
            // Register the user's waker as the join waker, then hand it the handle: from
            // now on the task's cell holds the only reference to the waker.
            let waker = std::task::Waker::from(user.clone());
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
        }
        *user.handle.lock().unwrap() = Some(handle);
        drop(user);
        // Completing wakes the waker, which drops the handle; the worker then releases
        // the task's last reference and frees it, dropping the waker, which panics.
        release_tx.send(7).unwrap();
        dropping_rx.recv().unwrap();
        // The only worker still serves, and shutdown does not hang.
        assert_eq!(rt.block_on(rt.spawn(async { 8 })).unwrap(), 8);
        drop(rt);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(PATIENCE)
        .expect("the join waker's panic killed the worker");
}

/// A waker that counts its wakes; its destructor panics if asked to.
struct CountingWaker {
    wakes: std::sync::atomic::AtomicUsize,
    panic_on_drop: bool,
}

impl CountingWaker {
    fn new(panic_on_drop: bool) -> std::sync::Arc<CountingWaker> {
        std::sync::Arc::new(CountingWaker {
            wakes: std::sync::atomic::AtomicUsize::new(0),
            panic_on_drop,
        })
    }
}

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CountingWaker {
    fn drop(&mut self) {
        if self.panic_on_drop {
            panic!("waker destructor");
        }
    }
}

#[test]
fn a_replaced_join_waker_whose_destructor_panics() {
    use std::future::Future;
    use std::sync::atomic::Ordering::SeqCst;
    let rt = rt(1);
    let (release_tx, release_rx) = futures::channel::oneshot::channel::<u32>();
    let mut handle = rt.spawn(async move { release_rx.await.unwrap() });
    let first = CountingWaker::new(true);
    let second = CountingWaker::new(false);
    {
        let waker = std::task::Waker::from(first.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
    }
    // The handle's slot now holds the last reference to the first waker.
    drop(first);
    // Polling with another waker replaces (drops) the first one, which panics; the poll
    // still registers the new waker.
    let waker = std::task::Waker::from(second.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
    release_tx.send(9).unwrap();
    // The second waker is woken (a failure bound, not a synchronisation: the loop ends
    // on the wake).
    let start = std::time::Instant::now();
    while second.wakes.load(SeqCst) == 0 {
        assert!(
            start.elapsed() < PATIENCE,
            "the new join waker was never woken"
        );
        std::thread::yield_now();
    }
    let out = std::pin::Pin::new(&mut handle).poll(&mut cx);
    assert!(matches!(out, std::task::Poll::Ready(Ok(9))));
}
