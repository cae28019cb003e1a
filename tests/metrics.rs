//! `Handle::metrics()`: every counter moves as specified under a controlled load.
//!
//! Exact counts are read from inside a task on a one-worker runtime: there, every
//! earlier poll has ended and been counted, and nothing else runs.

mod common;

use common::{occupy_worker, PATIENCE};
use heist::task::yield_now;
use heist::{Handle, Runtime};
use std::time::{Duration, Instant};

fn one_worker() -> Runtime {
    Runtime::builder()
        .worker_threads(1)
        .stalled_slot_check(None)
        .build()
        .unwrap()
}

/// Runs `probe` as a task on `rt` and returns what it returns.
fn probe<T: Send + 'static>(rt: &Runtime, probe: impl FnOnce(Handle) -> T + Send + 'static) -> T {
    let handle = rt.handle().clone();
    rt.block_on(rt.spawn(async move { probe(handle) })).unwrap()
}

/// Waits (bounded by `PATIENCE`) until `cond` holds: for states the runtime reaches by
/// itself, like every worker being parked.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::yield_now();
    }
}

#[test]
fn spawns_polls_schedules_and_alive_tasks_are_exact() {
    let rt = one_worker();
    // 10 tasks spawned from outside, each completing in its first poll.
    for _ in 0..10 {
        rt.block_on(rt.spawn(async {})).unwrap();
    }
    // One task spawning 3 children from the worker, and yielding twice.
    rt.block_on(rt.spawn(async {
        let children: Vec<_> = (0..3).map(|_| heist::spawn(async {})).collect();
        yield_now().await;
        yield_now().await;
        for c in children {
            c.await.unwrap();
        }
    }))
    .unwrap();
    let m = probe(&rt, |h| {
        let m = h.metrics();
        (
            m.spawned_tasks_count(),
            m.num_alive_tasks(),
            m.worker_poll_count(0),
            m.worker_local_schedule_count(0),
            m.worker_overflow_count(0),
        )
    });
    // Spawned: 10 + 1 parent + 3 children + the probe.
    assert_eq!(m.0, 15, "spawned_tasks_count");
    // Alive: the probe itself.
    assert_eq!(m.1, 1, "num_alive_tasks");
    // Polls: 10, the parent 3 times (two yields) plus once per child it awaited that had
    // not finished (the children ran in FIFO order after the second yield, so the
    // parent's third poll finds them done): 3, the children 3, the probe 1.
    assert_eq!(m.2, 10 + 3 + 3 + 1, "worker_poll_count");
    // Local schedules: 3 child spawns and 2 yields on the worker (the others came from
    // outside, through the global queue).
    assert_eq!(m.3, 5, "worker_local_schedule_count");
    assert_eq!(m.4, 0, "worker_overflow_count");
    rt.block_on(async {});
    eventually("the probe counted as complete", || {
        rt.handle().metrics().num_alive_tasks() == 0
    });
}

#[test]
fn queue_depths_are_exact() {
    let rt = one_worker();
    let release = occupy_worker(&rt);
    let queued: Vec<_> = (0..3).map(|_| rt.spawn(async {})).collect();
    let m = rt.handle().metrics();
    assert_eq!(m.global_queue_depth(), 3);
    release.send(()).unwrap();
    for q in queued {
        rt.block_on(q).unwrap();
    }
    assert_eq!(m.global_queue_depth(), 0);
    // Five spawns on the worker: the next-task slot keeps the last, four wait in the
    // local queue.
    let depth = probe(&rt, |h| {
        for _ in 0..5 {
            drop(heist::spawn(async {}));
        }
        h.metrics().worker_local_queue_depth(0)
    });
    assert_eq!(depth, 4);
}

#[test]
fn parks_busy_time_and_mean_poll_time_move() {
    let rt = one_worker();
    let m = rt.handle().metrics();
    for _ in 0..3 {
        rt.block_on(rt.spawn(async {})).unwrap();
        // The worker parks again after each task (odd: parked).
        eventually("the worker parked", || {
            m.worker_park_unpark_count(0) % 2 == 1
        });
    }
    assert!(
        m.worker_park_count(0) >= 3,
        "parks: {}",
        m.worker_park_count(0)
    );
    assert_eq!(
        m.worker_park_unpark_count(0),
        2 * m.worker_park_count(0) - 1,
        "every park but the current one was followed by an unpark"
    );
    assert!(m.worker_total_busy_duration(0) > Duration::ZERO);
    assert!(m.worker_mean_poll_time(0) > Duration::ZERO);
}

#[test]
fn a_sleeper_that_wakes_to_nothing_counts_a_noop() {
    // With the stalled-slot check on, an idle worker wakes every millisecond while its
    // peer is busy, finds nothing, and parks again.
    let rt = Runtime::builder()
        .worker_threads(2)
        .stalled_slot_check(Some(Duration::from_millis(1)))
        .build()
        .unwrap();
    let m = rt.handle().metrics();
    let noops = |m: &heist::RuntimeMetrics| m.worker_noop_count(0) + m.worker_noop_count(1);
    let m2 = m.clone();
    let seen = rt
        .block_on(rt.spawn(async move {
            // The workload: keep this worker busy until the other reports a no-op.
            let deadline = Instant::now() + PATIENCE;
            while noops(&m2) == 0 && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            noops(&m2)
        }))
        .unwrap();
    assert!(seen > 0, "no worker counted a no-op unpark");
}

#[test]
fn steals_are_counted() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let m = rt.handle().metrics();
    rt.block_on(rt.spawn(async {
        // Fill this worker's queue, then block it until a child has run elsewhere: the
        // other worker must steal.
        let (tx, rx) = std::sync::mpsc::channel();
        let children: Vec<_> = (0..16)
            .map(|_| {
                let tx = tx.clone();
                heist::spawn(async move {
                    let _ = tx.send(());
                })
            })
            .collect();
        rx.recv_timeout(PATIENCE)
            .expect("no child ran on the other worker");
        children
    }))
    .unwrap();
    let ops = m.worker_steal_operations(0) + m.worker_steal_operations(1);
    let stolen = m.worker_steal_count(0) + m.worker_steal_count(1);
    assert!(ops >= 1, "no steal counted");
    assert!(stolen >= ops, "{stolen} tasks in {ops} steals");
}

#[test]
fn blocking_pool_and_timer_gauges() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let m = rt.handle().metrics();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let first = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    let second = rt.spawn_blocking(|| ());
    assert_eq!(m.num_blocking_threads(), 1);
    assert_eq!(m.num_idle_blocking_threads(), 0);
    assert_eq!(m.blocking_queue_depth(), 1);
    release_tx.send(()).unwrap();
    rt.block_on(first).unwrap();
    rt.block_on(second).unwrap();
    assert_eq!(m.blocking_queue_depth(), 0);

    assert_eq!(m.timers_fired_count(), 0);
    rt.block_on(rt.spawn(async {
        heist::time::sleep(Duration::from_millis(1)).await;
    }))
    .unwrap();
    assert_eq!(m.timers_fired_count(), 1);
    assert_eq!(m.num_timers(), 0);
}

#[test]
fn histograms_count_every_poll_when_on() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .enable_metrics_poll_time_histogram()
        .enable_metrics_scheduling_delay_histogram()
        .build()
        .unwrap();
    for _ in 0..20 {
        rt.block_on(rt.spawn(async {})).unwrap();
    }
    let (polls, delays) = probe(&rt, |h| {
        let m = h.metrics();
        (m.poll_time_histogram(), m.scheduling_delay_histogram())
    });
    assert_eq!(polls.count(), 20, "the probe's own poll is not over yet");
    assert_eq!(
        delays.count(),
        21,
        "each poll's delay, the probe's included"
    );
    assert!(polls.percentile(0.5).unwrap() > Duration::ZERO);
    // Debug mode samples: one poll in 256 timed, one wake-up in 256 per task stamped
    // (each task's first queueing, at spawn, is one).
    let debug = Runtime::builder()
        .worker_threads(1)
        .debug(true)
        .build()
        .unwrap();
    for _ in 0..800 {
        debug.block_on(debug.spawn(async {})).unwrap();
    }
    let (polls, delays) = probe(&debug, |h| {
        let m = h.metrics();
        (m.poll_time_histogram(), m.scheduling_delay_histogram())
    });
    // The worker's polls number 1 to 801 (the probe's): 256, 512 and 768 were timed,
    // the probe's not yet recorded.
    assert_eq!(polls.count(), 3, "sampled polls");
    assert_eq!(delays.count(), 801, "every task's first poll");
    // Off by default.
    let plain = one_worker();
    assert!(!plain.handle().metrics().poll_time_histogram_enabled());
    assert_eq!(plain.handle().metrics().poll_time_histogram().count(), 0);
}

#[test]
#[should_panic(expected = "worker index 2 out of range")]
fn a_worker_index_out_of_range_is_a_clear_panic() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.handle().metrics().worker_poll_count(2);
}

/// `block_in_place` publishes its poll again when it has the worker back (for the dump
/// and `task::id`); that is no new poll, and the poll count says so.
#[test]
fn block_in_place_adds_no_poll() {
    let rt = one_worker();
    rt.block_on(rt.spawn(async {
        heist::task::block_in_place(|| ());
        heist::task::block_in_place(|| ());
    }))
    .unwrap();
    // That task's one poll, and the probe's own (begun when it reads the count).
    assert_eq!(probe(&rt, |h| h.metrics().worker_poll_count(0)), 2);
}

#[test]
fn io_driver_counts_registrations_and_ready_events_exactly() {
    use heist::net::UdpSocket;
    let rt = one_worker();
    let m = rt.handle().metrics();
    let io = |m: &heist::RuntimeMetrics| {
        (
            m.io_driver_fd_registered_count(),
            m.io_driver_fd_deregistered_count(),
        )
    };
    // No I/O yet: no driver, all zero.
    assert_eq!(io(&m), (0, 0));
    assert_eq!(
        (m.io_driver_ready_count(), m.io_driver_poll_count()),
        (0, 0)
    );

    // N sockets registered, then dropped: each counted once each way.
    const N: u64 = 5;
    let sockets = rt.block_on(async {
        let mut sockets = Vec::new();
        for _ in 0..N {
            sockets.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        }
        sockets
    });
    assert_eq!(io(&m), (N, 0));
    drop(sockets);
    assert_eq!(io(&m), (N, N));

    // Ready events on a fresh runtime (the dropped sockets' first events above may or
    // may not have been polled before they went). A receiver's registration brings one
    // edge (writable), which the worker parked in the driver reports.
    let rt = one_worker();
    let m = rt.handle().metrics();
    let receiver = rt
        .block_on(async { UdpSocket::bind("127.0.0.1:0").await })
        .unwrap();
    let addr = receiver.local_addr().unwrap();
    eventually("the registration's writable edge is dispatched", || {
        m.io_driver_ready_count() == 1
    });
    // Then one readable edge per datagram: each is sent only once the receiver waits
    // again (its worker parked: the task returned `Pending`, having drained the
    // socket), so each is one event, dispatched (and counted) before it wakes the
    // receiver. The sender is a plain std socket, unknown to the driver.
    const K: u64 = 20;
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    let task = rt.spawn(async move {
        let mut buf = [0; 8];
        for _ in 0..K {
            receiver.recv(&mut buf).await.unwrap();
            got_tx.send(()).unwrap();
        }
    });
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..K {
        eventually("the receiver waits", || {
            m.worker_park_unpark_count(0) % 2 == 1
        });
        sender.send_to(b"x", addr).unwrap();
        got_rx.recv().unwrap();
        assert_eq!(m.io_driver_ready_count(), 2 + i, "after datagram {i}");
    }
    rt.block_on(task).unwrap();
    assert_eq!(io(&m), (1, 1), "the receiver was dropped with its task");
    // Each dispatched event came from its own poll (each was awaited before the next
    // datagram was sent); busy turns and wake-ups may add more.
    assert!(m.io_driver_poll_count() > K, "{}", m.io_driver_poll_count());
}
