//! The current runtime's timers: the look-up that every free function of `heist::time`
//! (and `Instant::now`) starts with. It names the runtime's thread-local context, so it
//! lives apart from the clock and the driver, which the runtime names: nothing below the
//! runtime imports this file (`docs/design.md`, "Layers").

use super::driver::Driver;
use super::instant::Instant;
use crate::runtime::context;
use crate::sync::Arc;
use std::time::Duration;

/// The current runtime's timer driver, for a timer created here.
#[track_caller]
pub(crate) fn current(what: &str) -> Arc<Driver> {
    match context::with_current(|handle| handle.time().clone()) {
        Ok(driver) => driver,
        Err(e) => panic!("heist::time::{what}: {e}"),
    }
}

/// The current runtime's time ([`Instant::now`]).
pub(crate) fn now() -> Instant {
    if !super::clock::EVER_PAUSED.load(std::sync::atomic::Ordering::Acquire) {
        return Instant::from_std(crate::sync::time::now());
    }
    context::with_current(|handle| handle.time().clock().now())
        .unwrap_or_else(|_| Instant::from_std(crate::sync::time::now()))
}

impl Instant {
    /// The current time on the current runtime's clock (std's clock outside a runtime,
    /// or while the runtime's clock has never been paused).
    pub fn now() -> Instant {
        now()
    }
}

/// Pauses the current runtime's clock: [`Instant::now`] stands still from here, and
/// moves only by [`advance`] or by *auto-advance*: when every worker is idle, no
/// `block_on` is polling, no blocking call ([`spawn_blocking`](crate::task::spawn_blocking),
/// [`block_in_place`](crate::task::block_in_place)) is running and a timer is pending,
/// the clock jumps to that timer's deadline and fires it. So a test of a 30 s timeout
/// takes microseconds, and timers fire in deadline order every run. As tokio's, but
/// with any number of worker threads (tokio allows its single-threaded runtime only).
///
/// Only heist's own clock pauses: `std::time::Instant` runs on.
///
/// ```
/// use std::time::Duration;
/// use heist::time::{self, Instant};
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     time::pause();
///     let start = Instant::now();
///     let slow = std::future::pending::<()>();
///     assert!(time::timeout(Duration::from_secs(30), slow).await.is_err());
///     // Paused mid-millisecond: the timer's tick rounds its deadline up by < 1 ms.
///     let elapsed = start.elapsed();
///     assert!(elapsed >= Duration::from_secs(30));
///     assert!(elapsed < Duration::from_secs(30) + Duration::from_millis(1));
/// });
/// ```
///
/// # Panics
/// If the clock is already paused, and outside a runtime.
#[track_caller]
pub fn pause() {
    let driver = current("pause");
    if let Err(e) = driver.clock().pause() {
        panic!("heist::time::pause: {e}");
    }
}

/// Starts the current runtime's paused clock running again, from the time it shows.
///
/// # Panics
/// If the clock is not paused, and outside a runtime.
#[track_caller]
pub fn resume() {
    let driver = current("resume");
    if let Err(e) = driver.clock().resume() {
        panic!("heist::time::resume: {e}");
    }
    // Keepers parked without a timeout while paused: wake them to time their parks.
    driver.timer_moved_earlier();
}

/// Moves the current runtime's paused clock forward by `duration` at once, fires every
/// timer due by then, and yields, so that tasks woken by those timers may run.
///
/// Every timer with a deadline up to the new time completes "at the same time", in no
/// particular order; to have timers fire one deadline at a time, in order, `sleep` and
/// let auto-advance move the clock (see [`pause`]).
///
/// ```
/// use std::time::Duration;
/// use heist::time::{self, Instant};
///
/// let rt = heist::Runtime::builder().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     time::advance(Duration::from_millis(1500)).await;
///     assert_eq!(start.elapsed(), Duration::from_millis(1500));
/// });
/// ```
///
/// # Panics
/// If the clock is not paused, outside a runtime, and if `duration` overflows the
/// clock.
pub async fn advance(duration: Duration) {
    let driver = current("advance");
    if let Err(e) = driver.clock().advance(duration) {
        panic!("heist::time::advance: {e}");
    }
    driver.fire_due(true);
    drop(driver);
    crate::task::yield_now().await;
}
