//! The watcher rule (`scheduler/park.rs`, "The park loop", step 3), seen from inside: a
//! sleeper that watches while its peer is awake waits on its condvar or a timer
//! keeper's seat, never in the reactor's `epoll_wait`. What it protects is a count
//! (`docs/benchmarks/echo.md`: a seated watcher returned at the first edge and halved
//! the messages per read of a pipelined echo), which a test cannot time; so this test
//! looks at where the watcher waits. The behaviour it must keep (I/O still served
//! within a period while the peer is stuck) is `tests/net_scheduling.rs`,
//! `a_watcher_serves_io_within_its_period_while_its_peer_is_stuck`.

use super::driver::IO_SEAT;
use crate::net::TcpListener;
use crate::Runtime;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spins (yielding) until `f` returns something; a bound only so that a broken runtime
/// fails the test instead of hanging it (not a synchronisation: nothing waits for it).
fn spin_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: not within 60 s"
        );
        std::thread::yield_now();
    }
}

/// One worker spins in a task until released; the other, asleep, watches it (parks on
/// the stalled-slot timeout). Once the watcher has decided a whole park round while its
/// peer was spinning, it must not wait in the reactor's seat. On main before the rule
/// it did: the seat was free (the busy worker does not hold it), so the watcher took it.
#[test]
fn a_watcher_whose_peer_is_busy_is_not_seated_in_the_reactor() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    // A registered source: the reactor exists, and its seat is there to take.
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    assert!(rt.handle().driver.io.get().is_some(), "no reactor");
    let (started, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let blocker = {
        let (started, release) = (started.clone(), release.clone());
        rt.spawn(async move {
            started.store(true, SeqCst);
            while !release.load(SeqCst) {
                std::hint::spin_loop();
            }
        })
    };
    spin_until("the blocker runs", || started.load(SeqCst).then_some(()));
    let shared = rt.handle().scheduler.clone();
    let metrics = rt.handle().metrics();
    let parks = || (0..2).map(|i| metrics.worker_park_count(i)).sum::<u64>();
    // A park round begun after the one in progress now decided after the blocker
    // started (its decision follows the previous round's count): a watcher that sat in
    // the seat from a round decided while the runtime was idle (the watch's
    // hysteresis, `Worker::keeps_watching`) is allowed there.
    let p0 = parks();
    let seat = spin_until("the other worker parks as a watcher", || {
        if parks() < p0 + 2 || shared.idle.watchers() != 1 {
            return None;
        }
        // The spinning worker runs (its parker waits nowhere): the one waiting is the
        // watcher.
        shared.remotes.iter().find_map(|r| r.parker.waiting())
    });
    release.store(true, SeqCst);
    rt.block_on(blocker).unwrap();
    drop(listener);
    assert_ne!(
        seat,
        Some(IO_SEAT),
        "a watcher whose peer is awake waits in the reactor's epoll_wait"
    );
}
