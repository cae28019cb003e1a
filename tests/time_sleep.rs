//! `sleep`, `sleep_until` and `Sleep`: never early, ordered, cancelled by drop, woken
//! across workers, and what happens outside a runtime and at shutdown.

mod common;
use common::{rt, DropCounter};
use heist::time::Instant;
use heist::time::{sleep, sleep_until, Sleep};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

#[test]
fn sleep_is_never_early() {
    let rt = rt(2);
    rt.block_on(async {
        let handles: Vec<_> = (0..if cfg!(miri) { 10 } else { 200u64 })
            .map(|i| {
                heist::spawn(async move {
                    let d = Duration::from_micros(i * 137 % 20_000);
                    let start = Instant::now();
                    sleep(d).await;
                    start.elapsed() >= d
                })
            })
            .collect();
        for h in handles {
            assert!(h.await.unwrap(), "a sleep finished early");
        }
    });
}

#[test]
fn zero_and_past_deadlines_complete_at_once() {
    let rt = rt(1);
    rt.block_on(async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now() - Duration::from_millis(5)).await;
    });
}

/// A waker that records, in firing order, the index of the timer it belongs to.
struct Recorder {
    index: usize,
    log: Arc<Mutex<Vec<usize>>>,
    done: Arc<AtomicUsize>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.index);
        self.done.fetch_add(1, SeqCst);
    }
}

#[test]
fn many_sleeps_fire_in_deadline_order() {
    // One worker: firing order is then the order in which the wheel hands out timers.
    let rt = rt(1);
    let _enter = rt.enter();
    let n = if cfg!(miri) { 20 } else { 300 };
    let start = Instant::now() + Duration::from_millis(5);
    let log = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    // Registered in a scrambled order; deadline of timer i: start + i ms.
    let mut sleeps: Vec<(usize, Pin<Box<Sleep>>)> = (0..n)
        .map(|k| k * 7919 % n)
        .map(|i| {
            (
                i,
                Box::pin(sleep_until(start + Duration::from_millis(i as u64))),
            )
        })
        .collect();
    for (i, s) in &mut sleeps {
        let waker = Waker::from(Arc::new(Recorder {
            index: *i,
            log: log.clone(),
            done: done.clone(),
        }));
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    rt.block_on(async {
        while done.load(SeqCst) < n {
            sleep(Duration::from_millis(10)).await;
        }
    });
    let log = log.lock().unwrap();
    assert_eq!(log.len(), n, "each waker fires exactly once");
    assert!(
        log.windows(2).all(|w| w[0] < w[1]),
        "fired out of order: {log:?}"
    );
    for (_, s) in &sleeps {
        assert!(s.is_elapsed());
    }
}

#[test]
fn dropping_a_sleep_cancels_it() {
    let rt = rt(2);
    let _enter = rt.enter();
    let log = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let waker = Waker::from(Arc::new(Recorder {
        index: 0,
        log: log.clone(),
        done: done.clone(),
    }));
    let mut s = Box::pin(sleep(Duration::from_millis(5)));
    assert!(s
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(s);
    // Time is what this test measures: well past the cancelled deadline, nothing fired.
    rt.block_on(sleep(Duration::from_millis(50)));
    assert_eq!(done.load(SeqCst), 0);
}

#[test]
fn a_parked_keeper_wakes_for_an_earlier_deadline_while_the_other_worker_is_blocked() {
    let rt = rt(2);
    let elapsed = rt.block_on(async {
        // A far deadline: the parked keeper sleeps towards it.
        let far = heist::spawn(sleep(Duration::from_secs(3600)));
        let t = heist::spawn(async {
            // Hog this task's worker (it runs next, in the next-task slot, once we
            // wait): the timer below must be fired by the other, parked, worker.
            heist::spawn(async { std::thread::sleep(Duration::from_millis(300)) });
            let start = Instant::now();
            sleep(Duration::from_millis(20)).await;
            start.elapsed()
        });
        let elapsed = t.await.unwrap();
        far.abort();
        elapsed
    });
    assert!(elapsed >= Duration::from_millis(20));
    assert!(
        elapsed < Duration::from_millis(250),
        "timer waited for the busy worker: {elapsed:?}"
    );
}

#[test]
fn a_timer_registered_on_one_worker_is_fired_by_another() {
    // The sleeping task's worker is stuck in a long poll; its timer fires elsewhere and
    // the task, stolen or woken there, finishes long before the poll ends.
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let elapsed = rt.block_on(async move {
        let sleeper = heist::spawn(async {
            let start = Instant::now();
            sleep(Duration::from_millis(10)).await;
            start.elapsed()
        });
        let rx2 = rx.clone();
        let blocker = heist::spawn(async move { rx2.lock().unwrap().recv().unwrap() });
        let elapsed = sleeper.await.unwrap();
        tx.send(()).unwrap();
        blocker.await.unwrap();
        elapsed
    });
    assert!(elapsed >= Duration::from_millis(10));
    assert!(elapsed < Duration::from_secs(2));
}

#[test]
fn busy_workers_fire_timers() {
    // Both workers busy with tasks that keep yielding: nobody parks, timers still fire.
    let rt = rt(2);
    let stop = Arc::new(AtomicUsize::new(0));
    let elapsed = rt.block_on(async {
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                heist::spawn(async move {
                    while stop.load(SeqCst) == 0 {
                        heist::task::yield_now().await;
                    }
                })
            })
            .collect();
        let start = Instant::now();
        let t = heist::spawn(async move {
            sleep(Duration::from_millis(15)).await;
            start.elapsed()
        });
        let elapsed = t.await.unwrap();
        stop.store(1, SeqCst);
        for b in busy {
            b.await.unwrap();
        }
        elapsed
    });
    assert!(elapsed >= Duration::from_millis(15));
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

#[test]
#[should_panic(expected = "heist::time::sleep: there is no heist runtime")]
fn sleep_outside_a_runtime_panics() {
    drop(sleep(Duration::from_millis(1)));
}

#[test]
fn pending_timers_are_dropped_with_their_tasks_at_shutdown() {
    let drops = DropCounter::new();
    let rt = rt(2);
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let guard = drops.token();
            let started = started.clone();
            rt.spawn(async move {
                let _guard = guard;
                let s = sleep(Duration::from_secs(3600));
                started.fetch_add(1, SeqCst);
                s.await;
            })
        })
        .collect();
    rt.block_on(async {
        while started.load(SeqCst) < 100 {
            heist::task::yield_now().await;
        }
    });
    drop(rt);
    assert_eq!(drops.count(), 100);
    for h in handles {
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
#[should_panic(expected = "has shut down")]
fn a_timer_polled_after_shutdown_panics() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let s = {
        let _enter = rt.enter();
        sleep(Duration::from_secs(3600))
    };
    drop(rt);
    let _enter = handle.enter();
    futures::executor::block_on(s);
}

#[test]
fn a_sleep_reset_from_a_task_on_another_worker_wakes_its_waiter() {
    let rt = rt(2);
    let elapsed = rt.block_on(async {
        let shared = Arc::new(Mutex::new(Box::pin(sleep(Duration::from_secs(3600)))));
        let (registered_tx, registered_rx) = futures::channel::oneshot::channel::<()>();
        let s = shared.clone();
        let waiter = heist::spawn(async move {
            let mut registered = Some(registered_tx);
            std::future::poll_fn(|cx| {
                let poll = s.lock().unwrap().as_mut().poll(cx);
                if let Some(tx) = registered.take() {
                    let _ = tx.send(());
                }
                poll
            })
            .await;
            Instant::now()
        });
        registered_rx.await.unwrap();
        // Another task moves the deadline much nearer: the waiter must not oversleep.
        let resetter = heist::spawn(async move {
            let at = Instant::now();
            shared
                .lock()
                .unwrap()
                .as_mut()
                .reset(at + Duration::from_millis(10));
            at
        });
        let at = resetter.await.unwrap();
        waiter.await.unwrap() - at
    });
    assert!(elapsed >= Duration::from_millis(10), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "overslept: {elapsed:?}");
}
