//! `Timeout`: a future with a deadline, and `timeout` / `timeout_at`.

use super::current::current;
use super::instant::Instant;
use super::sleep::{deadline_after, Sleep};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `future` for at most `duration`: yields `Ok(output)` if it completes in time,
/// `Err(Elapsed)` otherwise (the future is then dropped with the `Timeout`).
///
/// The future is polled before the timer, so one that is ready at once completes even
/// with a zero duration, and registers no timer at all; once it completes, the timer
/// is cancelled at once, so a finished `Timeout` holds no place in the wheel.
///
/// ```
/// use std::time::Duration;
/// use heist::time::{sleep, timeout};
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
///     let slow = sleep(Duration::from_secs(3600));
///     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
/// });
/// ```
///
/// # Panics
/// Outside a runtime, as [`sleep`](super::sleep).
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    let driver = current("timeout");
    let deadline = deadline_after(driver.clock().now(), duration);
    Timeout {
        value: future.into_future(),
        delay: Sleep::new(driver, deadline),
    }
}

/// Runs `future` until `deadline` at most; see [`timeout`].
///
/// # Panics
/// Outside a runtime, as [`sleep`](super::sleep).
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        value: future.into_future(),
        delay: Sleep::new(current("timeout_at"), deadline),
    }
}

/// The error of a [`Timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}

/// A future with a deadline; made by [`timeout`] and [`timeout_at`].
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    /// Structurally pinned.
    value: F,
    /// Structurally pinned.
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.value
    }

    /// The inner future.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.value
    }

    /// Gives up the deadline and returns the inner future.
    pub fn into_inner(self) -> F {
        self.value
    }

    /// The instant at which the timeout elapses.
    pub fn deadline(&self) -> Instant {
        self.delay.deadline()
    }

    fn project(self: Pin<&mut Self>) -> (Pin<&mut F>, Pin<&mut Sleep>) {
        // SAFETY: both fields are structurally pinned: `Timeout` never moves them out
        // while pinned (only `into_inner`, which takes an unpinned `self`), has no
        // `Drop`, and is `Unpin` only if both are.
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.value),
                Pin::new_unchecked(&mut this.delay),
            )
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (value, delay) = self.project();
        if let Poll::Ready(output) = value.poll(cx) {
            delay.cancel();
            return Poll::Ready(Ok(output));
        }
        match delay.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("value", &self.value)
            .field("delay", &self.delay)
            .finish()
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;
    use crate::Runtime;

    #[test]
    fn a_finished_timeout_leaves_no_timer_behind() {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let time = rt.handle().time().clone();
        rt.block_on(async {
            // Ready at once: never registers.
            let mut t = std::pin::pin!(timeout(Duration::from_secs(60), async { 1 }));
            assert_eq!(t.as_mut().await, Ok(1));
            assert_eq!(time.len(), 0);
            // Ready later: registered, then cancelled as soon as the value is ready.
            let (tx, rx) = futures::channel::oneshot::channel();
            let mut t = std::pin::pin!(timeout(Duration::from_secs(60), rx));
            assert!(futures::poll!(t.as_mut()).is_pending());
            assert_eq!(time.len(), 1);
            tx.send(2).unwrap();
            assert_eq!(t.as_mut().await, Ok(Ok(2)));
            assert_eq!(time.len(), 0);
            // Dropping a pending sleep unlinks it.
            let mut s = Box::pin(super::super::sleep(Duration::from_secs(60)));
            assert!(futures::poll!(s.as_mut()).is_pending());
            assert_eq!(time.len(), 1);
            drop(s);
            assert_eq!(time.len(), 0);
        });
    }
}
