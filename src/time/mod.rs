//! Timers: [`sleep`], [`timeout`] and [`interval`], driven by the runtime's own workers.
//!
//! ```
//! use std::time::Duration;
//! use heist::time::{interval, sleep, timeout};
//!
//! let rt = heist::Runtime::new().unwrap();
//! rt.block_on(async {
//!     sleep(Duration::from_millis(1)).await;
//!     let slow = sleep(Duration::from_secs(60));
//!     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
//!     let mut ticks = interval(Duration::from_millis(1));
//!     ticks.tick().await; // the first tick completes at once
//!     ticks.tick().await;
//! });
//! ```
//!
//! # How timers are driven
//!
//! There is no timer thread. Each runtime has one hierarchical timing wheel (`wheel.rs`:
//! millisecond ticks, 6 levels of 64 slots, O(1) insert and cancel) behind one lock
//! (`driver.rs`). A timer is an intrusive entry inside its pinned [`Sleep`]
//! (`entry.rs`): registering allocates nothing, dropping unlinks it.
//!
//! The workers fire timers: a worker that runs out of work fires what is due before it
//! parks; the first two workers to park keep time for everyone, parking with a timeout
//! to the next deadline (two, so that one late wake-up does not delay every timer), and
//! a registration with an earlier deadline wakes them; busy workers check every 32
//! tasks. `driver.rs` has the protocol and why
//! no deadline is slept through; `docs/design.md` has the design, `docs/benchmarks.md` the measurements.
//!
//! # Paused time, for tests
//!
//! A runtime built with [`Builder::start_paused`](crate::Builder::start_paused), or
//! after [`pause`], has a clock that stands still: [`Instant::now`] returns the same
//! value until [`advance`] moves it, or until the whole runtime is idle with a timer
//! pending, when the clock jumps to that timer's deadline (*auto-advance*). A test of a
//! 30 s timeout then takes microseconds, and timers fire in the same order every run,
//! with any number of workers. `docs/design.md`, "Paused time", has the rule.
//!
//! # Precision
//!
//! A timer never fires before its deadline. It fires on the first millisecond tick at
//! or after it, so typically up to 1 ms late plus the time to wake a parked worker.
//!
//! # Panics
//!
//! Timers belong to a runtime: creating one outside a runtime panics with a message
//! that says so, and so does polling one after its runtime shut down (it could never
//! fire). Timers still pending at shutdown are dropped with their tasks.

mod clock;
mod current;
mod driver;
mod entry;
mod instant;
mod interval;
mod sleep;
mod timeout;
mod wheel;

pub use current::{advance, pause, resume};
pub(crate) use driver::{Driver, Keepers, KEEPERS};
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
