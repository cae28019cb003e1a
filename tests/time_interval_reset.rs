//! `Interval::reset_immediately`, `reset_after` and `reset_at`, as tokio's: each moves
//! the next tick, and the schedule goes on one period at a time from there. Periods are
//! long (a minute), so a tick that completes shows the reset worked; the instants a tick
//! yields are its scheduled ones, so they are compared exactly.

use heist::time::interval;
use heist::time::Instant;
use std::time::Duration;

mod common;
use common::rt;

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(5);

#[test]
fn reset_immediately_ticks_at_once_and_restarts_the_schedule() {
    rt(1).block_on(async {
        let mut every = interval(LONG);
        every.tick().await;
        let before = Instant::now();
        every.reset_immediately();
        let after = Instant::now();
        let t = every.tick().await;
        assert!(before <= t && t <= after, "tick scheduled at the reset");
    });
    rt(1).block_on(async {
        // The schedule restarts at the reset: the tick after it is one period later.
        let mut every = interval(SHORT);
        every.tick().await;
        every.reset_immediately();
        let t = every.tick().await;
        assert_eq!(every.tick().await, t + SHORT);
    });
}

#[test]
fn reset_after_delays_the_next_tick() {
    rt(1).block_on(async {
        let mut every = interval(LONG);
        every.tick().await;
        let before = Instant::now();
        every.reset_after(SHORT);
        let after = Instant::now();
        let t = every.tick().await;
        assert!(before + SHORT <= t && t <= after + SHORT);
        assert!(Instant::now() >= t);
    });
}

#[test]
fn reset_at_sets_the_next_tick_and_the_schedule_follows() {
    rt(1).block_on(async {
        let mut every = interval(SHORT);
        every.tick().await;
        let at = Instant::now() + 2 * SHORT;
        every.reset_at(at);
        assert_eq!(every.tick().await, at);
        assert_eq!(every.tick().await, at + SHORT);
        // A deadline in the past ticks at once, with that deadline.
        let past = Instant::now() - LONG;
        every.reset_at(past);
        assert_eq!(every.tick().await, past);
    });
}

#[test]
fn reset_after_an_unrepresentable_delay_does_not_panic() {
    rt(1).block_on(async {
        let mut every = interval(SHORT);
        every.tick().await;
        every.reset_after(Duration::MAX);
        // The tick is (practically) never due; go back to a near one.
        let at = Instant::now() + SHORT;
        every.reset_at(at);
        assert_eq!(every.tick().await, at);
    });
}
