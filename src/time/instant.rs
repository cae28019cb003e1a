//! `heist::time::Instant`: std's `Instant`, read from the runtime's clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of a monotonically nondecreasing clock: the runtime's.
///
/// The same as [`std::time::Instant`] (convert with [`from_std`](Instant::from_std) and
/// [`into_std`](Instant::into_std), or `From`), except that [`Instant::now`] reads the
/// current runtime's clock, which a test may pause and move by hand
/// ([`pause`](super::pause), [`advance`](super::advance), or
/// [`Builder::start_paused`](crate::Builder::start_paused)). While the clock runs, it is
/// std's; outside a runtime, `now` is `std::time::Instant::now()`. The timers take this
/// type ([`sleep_until`](super::sleep_until), [`timeout_at`](super::timeout_at),
/// [`interval_at`](super::interval_at)), as tokio's do.
///
/// ```
/// use std::time::Duration;
/// use heist::time::Instant;
///
/// let rt = heist::Runtime::builder().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     heist::time::sleep(Duration::from_secs(3600)).await; // takes no real time
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
///     let std: std::time::Instant = start.into_std();
///     assert_eq!(Instant::from_std(std), start);
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// The `heist` form of a std `Instant`.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The std form of this `Instant`. With a paused clock that was moved by hand it may
    /// lie ahead of `std::time::Instant::now()`.
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later (as tokio's: this never
    /// panics).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time since this instant, on the runtime's clock ([`Instant::now`]).
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` if it cannot be represented.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_add(duration).map(Instant::from_std)
    }

    /// `self - duration`, or `None` if it cannot be represented.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_sub(duration).map(Instant::from_std)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant::from_std(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.into_std()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub for Instant {
    type Output = Duration;

    /// Saturates at zero, as [`duration_since`](Instant::duration_since).
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
