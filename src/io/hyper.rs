//! hyper's runtime traits on heist (feature `hyper`): [`Executor`] (also implemented
//! for [`Handle`](crate::Handle)), [`Timer`] over heist's timers, and, in `net`,
//! `hyper::rt::{Read, Write}` for every stream. With these hyper serves connections on
//! heist with no tokio runtime:
//!
//! ```no_run
//! # use std::convert::Infallible;
//! use heist::io::hyper::Timer;
//! use heist::net::TcpListener;
//!
//! # async fn serve() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     heist::spawn(async move {
//!         let service = hyper::service::service_fn(|_req| async {
//!             Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
//!         });
//!         let _ = hyper::server::conn::http1::Builder::new()
//!             .timer(Timer)
//!             .serve_connection(stream, service)
//!             .await;
//!     });
//! }
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Spawns hyper's background futures (HTTP/2 streams, connection pools) onto the
/// current runtime, like hyper-util's `TokioExecutor`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(crate::spawn(future));
    }
}

/// Spawns onto this runtime.
impl<F> hyper::rt::Executor<F> for crate::Handle
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(self.spawn(future));
    }
}

/// hyper's timer (header-read timeouts, keep-alive) on heist's timers, like
/// hyper-util's `TokioTimer`. Its sleeps must be created inside a heist runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

/// A heist [`Sleep`](crate::time::Sleep) as hyper's.
struct HyperSleep(Pin<Box<crate::time::Sleep>>);

impl Future for HyperSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Box::pin(crate::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Box::pin(crate::time::sleep_until(
            deadline.into(),
        ))))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.0.as_mut().reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
