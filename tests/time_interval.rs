//! `interval`: the schedule, each missed-tick behaviour, and drift over 1,000 ticks.
//!
//! Time is what these tests measure, so they block a worker on purpose (to miss ticks)
//! and check instants, with generous bounds for a loaded machine.

mod common;
use common::rt;
use heist::time::Instant;
use heist::time::{interval, interval_at, MissedTickBehavior};
use heist::Runtime;
use std::time::Duration;

const P: Duration = Duration::from_millis(20);

#[test]
fn ticks_follow_the_schedule() {
    let rt = rt(1);
    rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(3);
        let mut every = interval_at(start, P);
        assert_eq!(every.period(), P);
        assert_eq!(every.missed_tick_behavior(), MissedTickBehavior::Burst);
        for k in 0..4u32 {
            let t = every.tick().await;
            assert_eq!(t, start + P * k);
            assert!(Instant::now() >= t);
        }
    });
}

/// Ticks at 0, P; then misses the ticks at 2P and 3P by blocking until 3.5P past the
/// first tick; returns (first tick, end of the block, the next three ticks).
fn miss_ticks(behavior: MissedTickBehavior) -> (Instant, Instant, [Instant; 3]) {
    let rt = rt(1);
    rt.block_on(async {
        let mut every = interval(P);
        every.set_missed_tick_behavior(behavior);
        let t0 = every.tick().await;
        every.tick().await;
        std::thread::sleep((t0 + P * 7 / 2).saturating_duration_since(Instant::now()));
        let blocked_until = Instant::now();
        let next = [every.tick().await, every.tick().await, every.tick().await];
        (t0, blocked_until, next)
    })
}

#[test]
fn burst_delivers_missed_ticks_at_once_on_the_schedule() {
    let (t0, blocked, [a, b, c]) = miss_ticks(MissedTickBehavior::Burst);
    assert_eq!([a, b, c], [t0 + 2 * P, t0 + 3 * P, t0 + 4 * P]);
    assert!(b < blocked, "the missed ticks are the scheduled ones");
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    let (t0, blocked, [a, b, c]) = miss_ticks(MissedTickBehavior::Delay);
    assert_eq!(a, t0 + 2 * P, "the late tick itself");
    assert!(
        b >= blocked + P,
        "one period after the late tick was delivered"
    );
    // (`c == b + P` unless the machine is so loaded that `b` itself came a period late.)
    assert!(c >= b + P);
}

#[test]
fn skip_drops_missed_ticks_and_stays_on_the_schedule() {
    let (t0, blocked, [a, b, c]) = miss_ticks(MissedTickBehavior::Skip);
    assert_eq!(a, t0 + 2 * P, "the late tick itself");
    assert!(
        b > blocked && b <= blocked + P,
        "the next scheduled tick after now"
    );
    assert_eq!(
        (b - t0).as_nanos() % P.as_nanos(),
        0,
        "on the original schedule"
    );
    assert!(c >= b + P);
    assert_eq!(
        (c - t0).as_nanos() % P.as_nanos(),
        0,
        "on the original schedule"
    );
}

#[test]
fn reset_restarts_one_period_from_now() {
    let rt = rt(1);
    rt.block_on(async {
        let mut every = interval(P);
        every.tick().await;
        let before = Instant::now();
        every.reset();
        let t = every.tick().await;
        assert!(t >= before + P);
    });
}

#[test]
fn no_drift_over_1000_ticks() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let period = Duration::from_millis(1);
    let n: u32 = if cfg!(miri) { 20 } else { 1000 };
    let (start, ticks, end) = rt.block_on(async move {
        let mut every = interval(period);
        let start = every.tick().await;
        let mut ticks = Vec::with_capacity(n as usize);
        for _ in 0..n {
            ticks.push(every.tick().await);
        }
        (start, ticks, Instant::now())
    });
    for (k, t) in ticks.iter().enumerate() {
        assert_eq!(*t, start + period * (k as u32 + 1), "tick {k} drifted");
    }
    let total = end - start;
    assert!(total >= period * n, "ticked early: {total:?}");
    // Generous: a loaded machine delays ticks, but Burst catches up rather than drifts.
    if !cfg!(miri) {
        assert!(total < period * n * 3 / 2, "drifted: {total:?}");
    }
}

#[test]
#[should_panic(expected = "period must be non-zero")]
fn a_zero_period_panics() {
    let rt = rt(1);
    let _enter = rt.enter();
    let _ = interval(Duration::ZERO);
}

#[test]
fn a_huge_period_never_panics() {
    // tokio's `interval_doesnt_panic_max_duration_*`: the next tick is past what an
    // `Instant` can hold, so it saturates to the far future instead of overflowing.
    let rt = rt(1);
    rt.block_on(async {
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let mut every = interval(Duration::MAX);
            every.set_missed_tick_behavior(behavior);
            // The first tick completes at once; the second is far away.
            every.tick().await;
            assert!(futures::poll!(std::pin::pin!(every.tick())).is_pending());
            every.reset();
            assert!(futures::poll!(std::pin::pin!(every.tick())).is_pending());
        }
        // A huge period that does fit: still ticks at once first.
        let mut every = interval(Duration::from_secs(u64::MAX / 4));
        every.tick().await;
        every.reset();
    });
}
