//! Scheduling behaviour: fairness, stealing, wake-ups.

mod common;
use common::*;
use futures::channel::mpsc as fmpsc;
use futures::StreamExt;
use std::collections::HashSet;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Instant;

/// A pair of tasks that keep waking each other through channels until `flag` is set
/// (or `limit` rounds pass), publishing the round count; returns the round at which the
/// flag was first seen.
async fn ping_pong_pair(
    flag: Arc<AtomicBool>,
    round: Arc<AtomicUsize>,
    limit: usize,
) -> Option<usize> {
    let (a_tx, mut a_rx) = fmpsc::unbounded::<usize>();
    let (b_tx, mut b_rx) = fmpsc::unbounded::<usize>();
    let pong = heist::spawn(async move {
        while let Some(n) = b_rx.next().await {
            if a_tx.unbounded_send(n + 1).is_err() {
                break;
            }
        }
    });
    let mut seen = None;
    b_tx.unbounded_send(0).unwrap();
    while let Some(n) = a_rx.next().await {
        round.store(n, SeqCst);
        if flag.load(SeqCst) {
            seen = Some(n);
            break;
        }
        if n >= limit {
            break;
        }
        b_tx.unbounded_send(n + 1).unwrap();
    }
    drop(b_tx);
    pong.await.unwrap();
    seen
}

const LIMIT: usize = 50_000_000;

#[test]
fn a_ping_pong_pair_does_not_starve_a_local_task() {
    let rt = rt(1);
    let seen = rt
        .block_on(rt.spawn(async {
            let flag = Arc::new(AtomicBool::new(false));
            let pair = heist::spawn(ping_pong_pair(flag.clone(), Arc::default(), LIMIT));
            // Spawned from the same worker: it waits in the local queue behind the pair.
            heist::spawn(async move { flag.store(true, SeqCst) });
            pair.await.unwrap()
        }))
        .unwrap();
    let seen = seen.expect("the third task ran before the pair gave up");
    assert!(seen < 100, "third task waited {seen} ping-pong rounds");
}

#[test]
fn a_ping_pong_pair_does_not_starve_a_remote_task() {
    let rt = rt(1);
    let flag = Arc::new(AtomicBool::new(false));
    let round = Arc::new(AtomicUsize::new(0));
    let pair = rt.spawn(ping_pong_pair(flag.clone(), round.clone(), LIMIT));
    // Let the pair get going, so the injected task really competes with it.
    while round.load(SeqCst) < 100 {
        std::thread::yield_now();
    }
    rt.spawn(async move { flag.store(true, SeqCst) });
    let queued_at = round.load(SeqCst);
    let seen = rt
        .block_on(pair)
        .unwrap()
        .expect("the injected task ran before the pair gave up");
    let waited = seen.saturating_sub(queued_at);
    assert!(
        waited < 1_000,
        "injected task waited {waited} ping-pong rounds"
    );
}

#[test]
fn idle_workers_steal_cpu_bound_children() {
    let rt = rt(2);
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let t = threads.clone();
    rt.block_on(rt.spawn(async move {
        let deadline = Instant::now() + PATIENCE;
        let children: Vec<_> = (0..64)
            .map(|_| {
                let t = t.clone();
                heist::spawn(async move {
                    t.lock().unwrap().insert(std::thread::current().id());
                    // CPU-bound: keep this worker busy until a second worker has joined in
                    // (or give up at the deadline, which fails the assertion below).
                    while t.lock().unwrap().len() < 2 && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for c in children {
            c.await.unwrap();
        }
    }))
    .unwrap();
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "both workers ran children"
    );
}

/// A future that counts its polls, asserts it is never polled concurrently, and
/// finishes once `target` wakes were sent.
struct WakeCounter {
    in_poll: AtomicBool,
    polls: AtomicUsize,
    sent: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

#[test]
fn a_storm_of_wakes_from_foreign_threads() {
    let rt = rt(2);
    const TASKS: usize = 8;
    const WAKES: usize = if cfg!(miri) { 20 } else { 5_000 };
    let states: Vec<Arc<WakeCounter>> = (0..TASKS)
        .map(|_| {
            Arc::new(WakeCounter {
                in_poll: AtomicBool::new(false),
                polls: AtomicUsize::new(0),
                sent: AtomicUsize::new(0),
                waker: Mutex::new(None),
            })
        })
        .collect();
    let handles: Vec<_> = states
        .iter()
        .map(|s| {
            let s = s.clone();
            rt.spawn(poll_fn(move |cx| {
                assert!(
                    !s.in_poll.swap(true, SeqCst),
                    "polled by two threads at once"
                );
                s.polls.fetch_add(1, SeqCst);
                *s.waker.lock().unwrap() = Some(cx.waker().clone());
                let done = s.sent.load(SeqCst) >= WAKES * 3;
                s.in_poll.store(false, SeqCst);
                if done {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }))
        })
        .collect();
    let wakers: Vec<_> = (0..3)
        .map(|t| {
            let states = states.clone();
            std::thread::spawn(move || {
                for i in 0..WAKES {
                    for s in &states {
                        s.sent.fetch_add(1, SeqCst);
                        let w = s.waker.lock().unwrap().clone();
                        if let Some(w) = w {
                            if (i + t) % 2 == 0 {
                                w.wake();
                            } else {
                                w.wake_by_ref();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in wakers {
        w.join().unwrap();
    }
    // The last wake of each task came after its last `sent` increment: it must be polled
    // once more and see the full count. A lost wake-up hangs here (and fails below).
    let (tx, rx) = mpsc::channel();
    let all = rt.spawn(async move {
        for h in handles {
            h.await.unwrap();
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(PATIENCE).expect("no wake-up was lost");
    rt.block_on(all).unwrap();
    for s in &states {
        let polls = s.polls.load(SeqCst);
        assert!((2..=WAKES * 3 + 1).contains(&polls), "polls: {polls}");
    }
}

#[test]
// Waking a clone by value is the point: it consumes a reference.
#[allow(clippy::waker_clone_wake)]
fn wakes_during_a_poll_reschedule_once_after_it() {
    let rt = rt(2);
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let h = rt.spawn(poll_fn(move |cx| {
        if p.fetch_add(1, SeqCst) == 0 {
            cx.waker().wake_by_ref();
            cx.waker().clone().wake();
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }));
    rt.block_on(h).unwrap();
    // Any extra poll would have happened on the same queue entry; give the workers a
    // chance by running one more task through each.
    for _ in 0..4 {
        rt.block_on(rt.spawn(heist::task::yield_now())).unwrap();
    }
    assert_eq!(polls.load(SeqCst), 2);
}

/// `yield_now` puts the task at the back of its worker's queue: every task queued
/// before it (here its children, in the deque and the next-task slot) runs first.
#[test]
fn a_yield_lets_every_task_queued_before_it_run_first() {
    const CHILDREN: usize = 50;
    let rt = rt(1);
    let ran = rt
        .block_on(rt.spawn(async {
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..CHILDREN {
                let ran = ran.clone();
                drop(heist::spawn(async move { ran.fetch_add(1, SeqCst) }));
            }
            heist::task::yield_now().await;
            ran.load(SeqCst)
        }))
        .unwrap();
    assert_eq!(ran, CHILDREN);
}

/// A yield goes through the worker only when polled with its own task's waker; two
/// yields in one poll (`join`, which passes the task's waker on), and yields under a
/// combinator with wakers of its own (`FuturesUnordered`, which must learn which of its
/// futures to poll again) all finish.
#[test]
fn yields_in_one_poll_and_under_a_combinators_waker_all_finish() {
    finishes_on_one_and_two_workers(
        || async {
            for _ in 0..100 {
                futures::join!(heist::task::yield_now(), heist::task::yield_now());
                let mut each: futures::stream::FuturesUnordered<_> =
                    (0..3).map(|_| heist::task::yield_now()).collect();
                while each.next().await.is_some() {}
            }
        },
        "a yield was never woken",
    );
}

#[test]
fn waking_a_finished_task_does_nothing() {
    let rt = rt(1);
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let polls = Arc::new(AtomicUsize::new(0));
    let (s, p) = (slot.clone(), polls.clone());
    let h = rt.spawn(poll_fn(move |cx| {
        p.fetch_add(1, SeqCst);
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(())
    }));
    rt.block_on(h).unwrap();
    let waker = slot.lock().unwrap().take().unwrap();
    for _ in 0..10 {
        waker.wake_by_ref();
    }
    waker.wake();
    rt.block_on(rt.spawn(async {})).unwrap();
    assert_eq!(polls.load(SeqCst), 1);
}

#[test]
fn remote_wakes_of_many_waiting_tasks_all_run() {
    // Every worker asleep, then a burst of remote wakes: none may be lost.
    let rt = rt(2);
    for _round in 0..if cfg!(miri) { 2 } else { 200 } {
        let (txs, handles): (Vec<_>, Vec<_>) = (0..16)
            .map(|_| {
                let (tx, rx) = futures::channel::oneshot::channel::<usize>();
                (tx, rt.spawn(async move { rx.await.unwrap() }))
            })
            .unzip();
        for (i, tx) in txs.into_iter().enumerate() {
            tx.send(i).unwrap();
        }
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let sum: usize = handles
                .into_iter()
                .map(|h| futures::executor::block_on(h).unwrap())
                .sum();
            done_tx.send(sum).unwrap();
        });
        assert_eq!(
            done_rx.recv_timeout(PATIENCE).expect("no lost wake-up"),
            120
        );
    }
}

#[test]
fn disabling_the_lifo_slot_still_runs_everything() {
    let rt = heist::Runtime::builder()
        .worker_threads(2)
        .lifo_slot_limit(0)
        .build()
        .unwrap();
    let n = rt.block_on(async {
        let hs: Vec<_> = (0..1000).map(|i| heist::spawn(async move { i })).collect();
        let mut n = 0;
        for h in hs {
            n += h.await.unwrap();
        }
        n
    });
    assert_eq!(n, 499_500);
}

#[test]
fn a_task_in_the_next_task_slot_is_rescued_from_a_long_poll() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        // The child lands in this worker's next-task slot...
        let child = heist::spawn(async move {
            r.store(true, SeqCst);
            std::thread::current().id()
        });
        // ...and this poll does not return until the child ran: only another worker
        // taking it from the slot lets this finish before the deadline.
        let deadline = Instant::now() + PATIENCE;
        while !ran.load(SeqCst) && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        tx.send(ran.load(SeqCst)).unwrap();
        child.await.unwrap()
    });
    assert!(
        rx.recv().unwrap(),
        "the child stayed trapped behind its worker's long poll"
    );
}

/// Issue: the next-task slot stranded after a timer wake. Both workers go idle while a
/// task sleeps, so they park without a stalled-slot timeout; the worker whose timer
/// fires runs the task, which spawns a child (into that worker's next-task slot) and
/// then blocks its worker until the child ran. Only the other worker can run the child,
/// so the worker woken by its timer must make sure a peer watches its slot (the chain
/// wake-up of `docs/sleep-protocol.md`, whatever woke the worker). Without it the child
/// waits for ever (here: until `PATIENCE`).
#[test]
fn a_child_spawned_after_a_timer_wake_is_rescued_from_its_blocked_parent() {
    let rt = rt(2);
    let parent = rt.spawn(async {
        // Long enough for both workers to run out of work and park.
        heist::time::sleep(std::time::Duration::from_millis(200)).await;
        let (tx, rx) = mpsc::channel();
        let child = heist::spawn(async move { tx.send(()).unwrap() });
        // Blocks this worker until the child ran (on the other worker).
        let ran = rx.recv_timeout(PATIENCE).is_ok();
        drop(child);
        ran
    });
    assert!(
        rt.block_on(parent).unwrap(),
        "the child stayed stranded in the next-task slot of its blocked parent's worker"
    );
}

/// Rule 4a of `docs/sleep-protocol.md`: a searcher that runs out of work keeps looking
/// before it parks, so tasks spawned from outside while it looks are taken without a
/// wake-up. With a spin far longer than the test (shutdown ends it), the only worker
/// never parks between 100 spawns from outside, each awaited before the next; without
/// the spin it parks after each task and the spawn that follows wakes it.
#[test]
fn a_spinning_searcher_takes_spawns_from_outside_without_parking() {
    let rt = heist::Runtime::builder()
        .worker_threads(1)
        .stalled_slot_check(None)
        .spin_before_park(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    for i in 0..100 {
        assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
    }
    assert_eq!(rt.handle().metrics().worker_park_count(0), 0);
}
