//! `Sleep`: a future that completes at a deadline, and `sleep` / `sleep_until`.

use super::current::current;
use super::driver::{Driver, Polled};
use super::entry::{Entry, FIRED};
use super::instant::Instant;
use crate::sync::Arc;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until `duration` has elapsed.
///
/// The returned [`Sleep`] never completes before `duration` has passed, and the timer
/// has millisecond resolution: it completes on the first millisecond tick at or after
/// the deadline. A zero duration completes at the first poll. Dropping the `Sleep`
/// cancels the timer.
///
/// ```
/// use std::time::Duration;
/// use heist::time::Instant;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     heist::time::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
///
/// # Panics
/// Outside a runtime (not in a task, `block_on`, or after `Runtime::enter`): timers are
/// driven by a runtime's workers. Polling it after its runtime shut down also panics.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let driver = current("sleep");
    let deadline = deadline_after(driver.clock().now(), duration);
    Sleep::new(driver, deadline)
}

/// Waits until `deadline`; see [`sleep`]. A deadline in the past completes at the first
/// poll.
///
/// ```
/// use std::time::Duration;
/// use heist::time::Instant;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     heist::time::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
///
/// # Panics
/// As [`sleep`].
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(current("sleep_until"), deadline)
}

/// About 30 years after `now`: the deadline of a sleep too long for `Instant`.
pub(crate) fn far_future(now: Instant) -> Instant {
    // Every platform's `Instant` holds 30 years past now; saturate anyway, to the
    // farthest instant within that which it holds.
    let mut ahead = Duration::from_secs(86_400 * 365 * 30);
    loop {
        match now.checked_add(ahead) {
            Some(t) => return t,
            None if ahead.is_zero() => return now,
            None => ahead /= 2,
        }
    }
}

/// `t + d`, or the far future if that does not fit an `Instant`: how every deadline the
/// crate computes from a user's `Duration` is made (a huge duration means "never").
pub(crate) fn deadline_after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(|| far_future(t))
}

/// A future that completes at a deadline; made by [`sleep`] and [`sleep_until`].
///
/// The timer registers at the first poll (which is why a `Sleep` must be pinned, e.g.
/// with [`std::pin::pin!`] or `Box::pin`) and is cancelled, its place in the runtime's
/// timing wheel freed, when the `Sleep` is dropped. Its waker is woken exactly once per
/// registration. A `Sleep` is about 72 bytes and allocates nothing: the wheel links
/// through it (`docs/design.md`, "Timers").
///
/// ```
/// use std::time::Duration;
/// use heist::time::Instant;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut sleep = std::pin::pin!(heist::time::sleep(Duration::from_secs(3600)));
///     // Move it to a nearer deadline.
///     sleep.as_mut().reset(Instant::now() + Duration::from_millis(1));
///     sleep.as_mut().await;
///     assert!(sleep.is_elapsed());
/// });
/// ```
pub struct Sleep {
    driver: Arc<Driver>,
    deadline: Instant,
    /// Where it was created (`#[track_caller]`), for the task dump's wait sites.
    created_at: &'static std::panic::Location<'static>,
    /// Structurally pinned: the wheel points to it while it is registered.
    entry: Entry,
}

impl Sleep {
    #[track_caller]
    pub(crate) fn new(driver: Arc<Driver>, deadline: Instant) -> Sleep {
        Sleep {
            driver,
            deadline,
            created_at: std::panic::Location::caller(),
            entry: Entry::new(),
        }
    }

    /// The instant at which the sleep completes, on the runtime's clock.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the timer fired (the sleep completed, or will at its next poll).
    pub fn is_elapsed(&self) -> bool {
        self.entry.load() == FIRED
    }

    /// Moves the deadline. A task already waiting on this sleep keeps waiting, for the
    /// new deadline (and is woken at once if it has passed).
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        // SAFETY: `deadline` is not structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        this.deadline = deadline;
        // SAFETY: `entry` is structurally pinned, and `this` came from a `Pin`.
        let entry = unsafe { Pin::new_unchecked(&this.entry) };
        if this.driver.reset(entry, deadline) == Polled::PendingEarlier {
            this.driver.timer_moved_earlier();
        }
    }

    /// The time now on this sleep's runtime clock.
    pub(crate) fn now(&self) -> Instant {
        self.driver.clock().now()
    }

    /// Unregisters the timer now rather than at drop (a finished `Timeout`).
    pub(crate) fn cancel(self: Pin<&mut Self>) {
        let this = self.into_ref();
        this.driver.cancel(this.entry());
    }

    fn entry(self: Pin<&Self>) -> Pin<&Entry> {
        // SAFETY: `entry` is structurally pinned: never moved out, and `Drop` uses it in
        // place.
        unsafe { self.map_unchecked(|s| &s.entry) }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.into_ref();
        match this
            .driver
            .poll_entry(this.entry(), this.deadline, cx.waker())
        {
            Polled::Ready => return Poll::Ready(()),
            Polled::Pending => {}
            Polled::PendingEarlier => this.driver.timer_moved_earlier(),
        }
        crate::task::meta::waiting_at(crate::task::meta::WAIT_SLEEP, this.created_at);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // SAFETY: the pinning contract: a `Sleep` that was ever pinned is dropped in
        // place, so its entry is still where the wheel points.
        let entry = unsafe { Pin::new_unchecked(&self.entry) };
        self.driver.cancel(entry);
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("entry", &self.entry)
            .finish()
    }
}
