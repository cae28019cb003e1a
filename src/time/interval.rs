//! `Interval`: ticks at a fixed period, with a choice of what to do about missed ticks.

use super::current::current;
use super::instant::Instant;
use super::sleep::{deadline_after, far_future, Sleep};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Ticks every `period`, the first tick completing at once.
///
/// ```
/// use std::time::Duration;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut every = heist::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero, and outside a runtime (as [`sleep`](super::sleep)).
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick completing at `start`.
///
/// # Panics
/// If `period` is zero, and outside a runtime (as [`sleep`](super::sleep)).
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "heist::time::interval: the period must be non-zero"
    );
    Interval {
        delay: Box::pin(Sleep::new(current("interval"), start)),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when a tick is delivered more than one period late (the
/// task did not poll it in time), i.e. at least one tick was missed.
///
/// With a period `P`, ticks scheduled at `0, P, 2P, ...`, and the tick due at `P`
/// delivered late, at `3.5P`:
///
/// | behaviour | following ticks                         |
/// |-----------|-----------------------------------------|
/// | `Burst`   | `2P`, `3P` at once, then `4P, 5P, ...`  |
/// | `Delay`   | `4.5P, 5.5P, ...` (restarts from now)   |
/// | `Skip`    | `4P, 5P, ...` (drops the missed ones)   |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Deliver the missed ticks as fast as they are polled until caught up, keeping the
    /// original schedule. The default.
    #[default]
    Burst,
    /// Restart the schedule one period after the late tick.
    Delay,
    /// Drop the missed ticks and resume on the original schedule.
    Skip,
}

impl MissedTickBehavior {
    /// The tick after one that was due at `due` and delivered at `now`. A tick past what
    /// an `Instant` holds saturates to the far future (as `sleep` does).
    fn next_tick(self, due: Instant, now: Instant, period: Duration) -> Instant {
        let Some(on_schedule) = due.checked_add(period) else {
            // Past the end of time, so not a missed tick.
            return far_future(now);
        };
        if now < on_schedule {
            // Not a missed tick.
            return on_schedule;
        }
        match self {
            MissedTickBehavior::Burst => on_schedule,
            MissedTickBehavior::Delay => deadline_after(now, period),
            MissedTickBehavior::Skip => {
                // `period <= now - due` (a tick was missed), so `behind`, smaller, fits
                // a `Duration` and `period - behind` is positive.
                let behind = (now - due).as_nanos() % period.as_nanos();
                deadline_after(now, period - Duration::from_nanos(behind as u64))
            }
        }
    }
}

/// A stream of ticks at a fixed period; made by [`interval`] and [`interval_at`].
///
/// Each tick yields the instant it was *scheduled* for, so ticks do not drift: the
/// `k`-th tick is scheduled at `start + k * period` however late the previous one was
/// delivered (unless [`MissedTickBehavior::Delay`] restarts the schedule).
pub struct Interval {
    /// The next tick; its deadline is the tick's scheduled instant.
    delay: Pin<Box<Sleep>>,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick, yielding its scheduled instant. Cancel-safe: a
    /// dropped `tick()` future loses no tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (the poll form of [`tick`](Interval::tick)).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.delay.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let due = self.delay.deadline();
        let now = self.delay.now();
        let next = self.missed.next_tick(due, now, self.period);
        self.delay.as_mut().reset(next);
        Poll::Ready(due)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let next = deadline_after(self.delay.now(), self.period);
        self.delay.as_mut().reset(next);
    }

    /// Restarts the schedule at now: the next tick completes at once, the ones after
    /// it follow every period from now.
    pub fn reset_immediately(&mut self) {
        self.reset_at(self.delay.now());
    }

    /// Restarts the schedule: the next tick is `after` from now (a delay too long for an
    /// `Instant` saturates: practically never), then every period.
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(deadline_after(self.delay.now(), after));
    }

    /// Restarts the schedule: the next tick is at `deadline` (at once if it has
    /// passed), then every period after it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use heist::time::Instant;
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut every = heist::time::interval(Duration::from_secs(60));
    ///     every.tick().await; // the first tick completes at once
    ///     let soon = Instant::now() + Duration::from_millis(2);
    ///     every.reset_at(soon);
    ///     assert_eq!(every.tick().await, soon);
    /// });
    /// ```
    pub fn reset_at(&mut self, deadline: Instant) {
        self.delay.as_mut().reset(deadline);
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does about missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what the interval does about missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.delay.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Instant;
    use super::MissedTickBehavior::*;
    use std::time::Duration;

    #[test]
    fn next_tick_per_behavior() {
        let p = Duration::from_millis(10);
        let t0 = Instant::from_std(std::time::Instant::now());
        let due = t0 + p;
        // On time (or late by less than a period): always the schedule.
        for b in [Burst, Delay, Skip] {
            assert_eq!(b.next_tick(due, due + p / 2, p), due + p);
        }
        // Delivered at 3.5 periods: the table in the type's docs.
        let late = t0 + p * 7 / 2;
        assert_eq!(Burst.next_tick(due, late, p), t0 + 2 * p);
        assert_eq!(Delay.next_tick(due, late, p), late + p);
        assert_eq!(Skip.next_tick(due, late, p), t0 + 4 * p);
    }

    #[test]
    fn next_tick_saturates() {
        let t0 = Instant::from_std(std::time::Instant::now());
        for b in [Burst, Delay, Skip] {
            // Not missed (the next tick is past the end of time): the far future.
            assert!(b.next_tick(t0, t0, Duration::MAX) > t0 + Duration::from_secs(86_400));
        }
    }
}
