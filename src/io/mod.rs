//! I/O: readiness types, the reactor that drives heist's sockets, and [`unix::AsyncFd`]
//! for file descriptors a user owns.
//!
//! - `interest.rs`: [`Interest`] and [`Ready`] (tokio's names).
//! - `scheduled.rs`: one resource's readiness (per direction, with a tick) and its
//!   waiters; no system calls, so loom and miri check it (`loom_tests.rs`).
//! - `driver.rs`: the mio `Poll`, the slab of registrations, the turn.
//! - `seat.rs`: which parked worker waits in the poll, and the hand-off (loom-checked).
//! - `registration.rs`: a resource's tie to the driver, the I/O loop (which spends
//!   the poll's cooperative budget, `task/coop.rs`), and `PollEvented` (what
//!   `heist::net` wraps).
//! - `unix.rs`: `AsyncFd`.
//! - `read_buf.rs`: [`ReadBuf`] (tokio's), what the datagram sockets' `poll_recv*` fill.
//! - `hyper.rs` (feature `hyper`): hyper's `Executor` and `Timer` on heist.
//!
//! The streams in [`net`](crate::net) implement `futures::io::{AsyncRead, AsyncWrite}`
//! (re-exported here), and with the `tokio-io` feature tokio's traits too.

pub(crate) mod driver;
#[cfg(feature = "hyper")]
pub mod hyper;
mod interest;
mod read_buf;
pub(crate) mod registration;
pub(crate) mod scheduled;
mod seat;
pub mod unix;

#[cfg(test)]
mod loom_tests;

pub use futures::io::{AsyncRead, AsyncWrite};
pub use interest::{Interest, Ready};
pub use read_buf::ReadBuf;
