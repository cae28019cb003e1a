//! Debug mode: slow-poll and stuck-task reports, poll timing, latency histograms, and
//! the task dump (`dump.rs`).
//!
//! Everything here is off by default and costs one predictable branch per poll when
//! off (`Observe::instrumented`). Turned on, the worker runs each poll through
//! `poll_instrumented` instead of polling directly:
//!
//! - with a slow-poll threshold, a watchdog thread (`watchdog.rs`, started only then)
//!   samples what each worker is polling and reports a poll still running past the
//!   threshold, then once more when it ends. No clock is read per poll for this;
//! - with the poll-time histogram on, each poll is timed exactly (two clock reads) and,
//!   with a threshold, reported by the worker itself at its end, timed exactly;
//! - with the scheduling-delay histogram on, each queued task carries a timestamp and
//!   each poll records how long its task waited in a queue;
//! - debug mode (`Builder::debug`, `HEIST_DEBUG=1`) turns on the watchdog (100 ms) and
//!   both histograms *sampled*: one poll in 256 is timed, one wake-up in 256 per task
//!   is stamped. A clock read costs about as much as a whole poll of a small task
//!   (25-80 ns on the VMs measured), so timing every poll would make debug mode several
//!   times slower on a yield-heavy load. Sampled, it adds about 38 instructions per poll of
//!   `yield_many` (+10.0%, callgrind; `docs/observability.md`, Costs): the unsampled
//!   poll is inlined into the run loop (a few loads and branches, and the wait-site
//!   pointer stored in a thread-local), the sampled one goes out of line, and a
//!   queueing pays one inline sample test. Turning a histogram on explicitly as well makes it exact again.
//!
//! Layers (`docs/design.md`, "Layers"): like `metrics/`, this folder sits on both sides
//! of the scheduler. `observe.rs` is below it: the settings, the report types and the
//! hooks the workers call, which see the scheduler only through the `Observed` trait it
//! implements and take a task of any scheduler. The readers are above it, beside
//! `runtime/`: `dump.rs` and `watchdog.rs` read the scheduler's `Shared`. This file only
//! declares and re-exports, so it ties no layer to another.

pub(crate) mod dump;
mod observe;
pub(crate) mod watchdog;

pub use dump::{Dump, TaskDump, TaskState, WaitSite, WorkerDump};
pub use observe::{SlowPoll, WaitKind};

pub(crate) use observe::{poll_instrumented, queued, wait_site_of, DebugState, Observe, Observed};
