//! `spawn_blocking`: results, panics, growth up to the limit, thread reuse and exit,
//! async tasks staying on time while blocking calls are in flight, and shutdown.

mod common;
use common::{rt, PATIENCE};
use heist::Runtime;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

#[test]
fn returns_the_closure_result_from_everywhere() {
    let rt = rt(2);
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
    assert_eq!(rt.block_on(rt.handle().spawn_blocking(|| 2)).unwrap(), 2);
    let from_task =
        rt.block_on(rt.spawn(async { heist::task::spawn_blocking(|| 3).await.unwrap() }));
    assert_eq!(from_task.unwrap(), 3);
}

#[test]
fn a_panic_becomes_a_join_error() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn_blocking(|| panic!("blocking boom")))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("blocking boom"));
    // The pool keeps working.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
}

#[test]
fn the_closure_runs_inside_the_runtime() {
    let rt = rt(1);
    let v = rt.block_on(rt.spawn_blocking(|| {
        let h = heist::spawn(async { 40 });
        let t = heist::Handle::current().block_on(async {
            heist::time::sleep(Duration::from_millis(1)).await;
            2
        });
        heist::Handle::current().block_on(h).unwrap() + t
    }));
    assert_eq!(v.unwrap(), 42);
}

#[test]
#[should_panic(expected = "heist::task::spawn_blocking: there is no heist runtime")]
fn outside_a_runtime_panics() {
    drop(heist::task::spawn_blocking(|| ()));
}

#[test]
fn the_pool_grows_past_the_worker_count() {
    // 8 calls that can only finish together: the pool must run them all at once.
    let rt = rt(1);
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn_blocking(move || {
                b.wait();
            })
        })
        .collect();
    for h in handles {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn at_most_max_blocking_threads_run_at_once() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                // Hold the thread a while so overlap would show.
                std::thread::sleep(Duration::from_millis(10));
                running.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    for h in handles {
        rt.block_on(h).unwrap();
    }
    assert!(peak.load(SeqCst) <= 2, "peak {}", peak.load(SeqCst));
}

#[test]
fn idle_threads_are_reused_then_exit_after_keep_alive() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(30))
        .build()
        .unwrap();
    let id = || {
        rt.block_on(rt.spawn_blocking(|| std::thread::current().id()))
            .unwrap()
    };
    // Sequential calls: an idle thread takes the next one (a call may still start a new
    // thread if it comes before the last one has gone idle, so look at many).
    let ids: std::collections::HashSet<_> = (0..20).map(|_| id()).collect();
    assert!(ids.len() < 20, "no thread was reused");
    // Time is what this checks: wait well past the keep-alive. Thread ids are never
    // reused, so a new one means the idle threads exited.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!ids.contains(&id()), "the idle threads should have exited");
}

#[test]
fn async_tasks_keep_time_while_blocking_calls_fill_more_threads_than_workers() {
    let rt = rt(2);
    let n = 8;
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let started = Arc::new(Barrier::new(n + 1));
    let blocking: Vec<_> = (0..n)
        .map(|_| {
            let (rx, started) = (release_rx.clone(), started.clone());
            rt.spawn_blocking(move || {
                started.wait();
                rx.lock().unwrap().recv().unwrap();
            })
        })
        .collect();
    started.wait();
    // All 8 calls are in flight on pool threads. Async work runs, and on time.
    let (sum, late) = rt.block_on(async {
        let tasks: Vec<_> = (0..100u64)
            .map(|i| {
                heist::spawn(async move {
                    heist::task::yield_now().await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        let start = Instant::now();
        heist::time::sleep(Duration::from_millis(20)).await;
        (sum, start.elapsed())
    });
    assert_eq!(sum, 4950);
    assert!(
        late >= Duration::from_millis(20) && late < Duration::from_millis(500),
        "{late:?}"
    );
    for _ in 0..n {
        release_tx.send(()).unwrap();
    }
    for h in blocking {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn under_load_every_call_completes() {
    let rt = rt(2);
    let total = rt.block_on(async {
        let n = if cfg!(miri) { 20 } else { 500u64 };
        let calls: Vec<_> = (0..n)
            .map(|i| {
                heist::spawn(async move {
                    let a = heist::task::spawn_blocking(move || i * 2).await.unwrap();
                    heist::task::yield_now().await;
                    a
                })
            })
            .collect();
        let mut total = 0;
        for c in calls {
            total += c.await.unwrap();
        }
        total
    });
    let n = if cfg!(miri) { 20 } else { 500u64 };
    assert_eq!(total, n * (n - 1));
}

#[test]
fn shutdown_waits_for_running_and_queued_calls_up_to_the_timeout() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let running = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        f.fetch_add(1, SeqCst);
        "done"
    });
    started_rx.recv().unwrap();
    // The only thread is busy: this one waits in the queue.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = rt.spawn_blocking(move || r.fetch_add(1, SeqCst) + 1);
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(100),
        "did not wait for the running call: {waited:?}"
    );
    assert!(
        waited < PATIENCE,
        "waited past the timeout for the running call: {waited:?}"
    );
    assert_eq!(finished.load(SeqCst), 0);
    assert_eq!(ran.load(SeqCst), 0);
    release_tx.send(()).unwrap();
    // Past the timeout, the pool finishes on its own: the running call, then the one
    // queued before shutdown, each delivering its result.
    assert_eq!(futures::executor::block_on(running).unwrap(), "done");
    assert_eq!(futures::executor::block_on(queued).unwrap(), 1);
}

#[test]
fn dropping_the_runtime_waits_for_running_calls() {
    let rt = rt(1);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let h = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        f.fetch_add(1, SeqCst);
    });
    started_rx.recv().unwrap();
    let releaser = std::thread::spawn(move || release_tx.send(()).unwrap());
    drop(rt);
    assert_eq!(
        finished.load(SeqCst),
        1,
        "drop returned before the call finished"
    );
    releaser.join().unwrap();
    futures::executor::block_on(h).unwrap();
}

#[test]
fn spawn_blocking_after_shutdown_is_cancelled() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let h = handle.spawn_blocking(|| 1);
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn dropping_the_runtime_inside_a_blocking_call_does_not_wait_for_itself() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel::<Runtime>();
    let h = rt.handle().spawn_blocking(move || {
        let rt = rx.recv().unwrap();
        drop(rt);
        7
    });
    tx.send(rt).unwrap();
    assert_eq!(futures::executor::block_on(h).unwrap(), 7);
}

#[test]
fn blocking_threads_run_the_start_and_stop_hooks() {
    // The workers run the hooks too: count only the pool's threads, by name.
    fn on_pool_thread() -> bool {
        std::thread::current().name() == Some("hooks-blocking")
    }
    let (starts, stops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s, t) = (starts.clone(), stops.clone());
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_name("hooks")
        // Nothing leaves on its keep-alive during the test.
        .thread_keep_alive(Duration::from_secs(3600))
        .on_thread_start(move || {
            if on_pool_thread() {
                s.fetch_add(1, SeqCst);
            }
        })
        .on_thread_stop(move || {
            if on_pool_thread() {
                t.fetch_add(1, SeqCst);
            }
        })
        .build()
        .unwrap();
    // Calls that meet at a barrier run at once, so each gets a thread of its own.
    const N: usize = 3;
    let barrier = Arc::new(Barrier::new(N + 1));
    let calls: Vec<_> = (0..N)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn_blocking(move || {
                b.wait();
                on_pool_thread()
            })
        })
        .collect();
    barrier.wait();
    for call in calls {
        assert!(rt.block_on(call).unwrap(), "a call ran off the pool");
    }
    // Each thread ran its start hook before its call; none has stopped yet.
    assert_eq!(starts.load(SeqCst), N);
    assert_eq!(stops.load(SeqCst), 0);
    drop(rt);
    // Dropping the runtime returns after every pool thread's stop hook.
    assert_eq!(stops.load(SeqCst), N);
    assert_eq!(starts.load(SeqCst), N);
}

#[test]
fn dropping_the_runtime_waits_for_a_call_still_running_after_shutdown_began() {
    // A worker stops only once shutdown has begun: its stop hook tells us.
    let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_name("waits")
        .on_thread_stop(move || {
            if std::thread::current().name() == Some("waits-0") {
                let _ = stopped_tx.send(());
            }
        })
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let call = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        // True if the runtime's drop has not returned yet.
        !d.load(SeqCst)
    });
    started_rx.recv().unwrap();
    let dropper = std::thread::spawn(move || {
        drop(rt);
        dropped.store(true, SeqCst);
    });
    // The call is running and shutdown has begun: only now let the call finish. A drop
    // that did not wait for it would (most likely) have returned by the time it looks.
    stopped_rx.recv().unwrap();
    release_tx.send(()).unwrap();
    dropper.join().unwrap();
    assert!(
        futures::executor::block_on(call).unwrap(),
        "the runtime's drop returned before the running call finished"
    );
}

#[test]
fn a_panicking_stop_hook_on_a_pool_thread_does_not_hang_shutdown() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_name("panicky")
        .on_thread_stop(|| {
            if std::thread::current().name() == Some("panicky-blocking") {
                panic!("stop hook");
            }
        })
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
    // Drop on another thread, so that a hang fails the test instead of stalling it.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("shutdown waited for a pool thread whose stop hook panicked");
}

#[test]
fn a_call_made_just_before_shutdown_always_runs() {
    // Whether or not a pool thread took the call before shutdown began, it runs, and
    // dropping the runtime waits for it: every time, not just when a thread was quick.
    for _ in 0..if cfg!(miri) { 3 } else { 50 } {
        let rt = rt(1);
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let call = rt.spawn_blocking(move || r.store(true, SeqCst));
        drop(rt);
        assert!(ran.load(SeqCst), "the call was dropped by shutdown");
        futures::executor::block_on(call).unwrap();
    }
}
