//! Debug mode: slow-poll and stuck-task reports, exact poll timing, latency histograms,
//! and the task dump (`dump.rs`).
//!
//! Everything here is off by default and costs one predictable branch per poll when
//! off (`Observe::instrumented`). Turned on, the worker runs each poll through
//! `poll_instrumented` instead of polling directly:
//!
//! - with a slow-poll threshold, a watchdog thread (`watchdog.rs`, started only then)
//!   samples what each worker is polling and reports a poll still running past the
//!   threshold, then once more when it ends;
//! - in debug mode (`Builder::debug`, `HEIST_DEBUG=1`), each poll is timed exactly (two
//!   clock reads), recorded in the poll-time histogram, and reported by the worker when
//!   it reached the threshold;
//! - with the histograms on, each queued task carries a timestamp and each poll records
//!   how long its task waited in a queue.

pub(crate) mod dump;
mod watchdog;

pub use dump::{Dump, TaskDump, TaskState, WorkerDump};

use crate::scheduler::{Notified, Shared};
use crate::sync::Mutex;
use crate::task::Id;
use crate::Builder;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

pub(crate) use watchdog::Watchdog;

/// The slow-poll callback (`Builder::on_slow_poll`).
pub(crate) type SlowPollHook = StdArc<dyn Fn(&SlowPoll) + Send + Sync + 'static>;

/// The default slow-poll threshold in debug mode (asyncio's `slow_callback_duration`).
const DEBUG_THRESHOLD: Duration = Duration::from_millis(100);

/// The observability settings of one runtime (from `Builder`).
#[derive(Clone, Default)]
pub(crate) struct Observe {
    pub(crate) slow_poll_threshold: Option<Duration>,
    pub(crate) on_slow_poll: Option<SlowPollHook>,
    /// Exact timing of every poll (`Builder::debug`).
    pub(crate) debug: bool,
    /// The poll-time histogram.
    pub(crate) poll_histogram: bool,
    /// The scheduling-delay histogram (a timestamp per queued task).
    pub(crate) delay_histogram: bool,
    /// Any of the above: polls go through `poll_instrumented` (set by `resolved`).
    instrumented: bool,
}

impl Observe {
    /// The settings as the runtime will use them: `HEIST_DEBUG=1` or `debug(true)` turn
    /// on exact timing, both histograms, and a 100 ms threshold unless one was set.
    pub(crate) fn resolved(&self) -> Observe {
        let mut o = self.clone();
        if std::env::var_os("HEIST_DEBUG").is_some_and(|v| v == "1") {
            o.debug = true;
        }
        if o.debug {
            o.slow_poll_threshold.get_or_insert(DEBUG_THRESHOLD);
            o.poll_histogram = true;
            o.delay_histogram = true;
        }
        o.instrumented = o.slow_poll_threshold.is_some() || o.debug || o.histograms();
        o
    }

    /// True if polls go through `poll_instrumented`.
    #[inline]
    pub(crate) fn instrumented(&self) -> bool {
        self.instrumented
    }

    pub(crate) fn histograms(&self) -> bool {
        self.poll_histogram || self.delay_histogram
    }

    /// Each poll is timed by the worker.
    fn timed(&self) -> bool {
        self.debug || self.poll_histogram
    }

    fn report(&self, report: &SlowPoll) {
        // A panicking hook is reported by the panic hook as usual and otherwise
        // ignored: it must not take a worker or the watchdog down.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| match &self.on_slow_poll {
            Some(hook) => hook(report),
            None => eprintln!("{report}"),
        }));
    }
}

/// The debug machinery's per-runtime state (in `Shared`).
pub(crate) struct DebugState {
    /// One name slot per worker.
    pub(crate) names: Box<[NameSlot]>,
    pub(crate) watchdog: Watchdog,
}

impl DebugState {
    pub(crate) fn new(num_workers: usize) -> DebugState {
        DebugState {
            names: (0..num_workers).map(|_| NameSlot::default()).collect(),
            watchdog: Watchdog::default(),
        }
    }
}

/// Per worker: the name of the task being polled, copied by the worker for named tasks
/// while the watchdog runs (the watchdog cannot read a task that may be freed).
#[derive(Default)]
pub(crate) struct NameSlot {
    inner: Mutex<(u64, String)>,
}

impl NameSlot {
    /// The name of the task in poll `seq`, if it was named.
    fn get(&self, seq: u64) -> Option<String> {
        let inner = self.inner.lock();
        (inner.0 == seq).then(|| inner.1.clone())
    }
}

/// A slow poll, as passed to [`Builder::on_slow_poll`].
///
/// Reported twice for a poll that runs past the threshold: while it is still running
/// ([`is_still_running`](SlowPoll::is_still_running), found by the watchdog), and when it
/// ends. Its `Display` is the default one-line report:
///
/// ```text
/// heist: slow poll: task 812 "conn-handler" (spawned at src/server.rs:42:13) on worker 1: still running after 103 ms (threshold 100 ms)
/// heist: slow poll: task 812 "conn-handler" (spawned at src/server.rs:42:13) on worker 1: ran 153 ms (threshold 100 ms)
/// ```
#[derive(Clone, Debug)]
pub struct SlowPoll {
    id: Id,
    name: Option<String>,
    spawned_at: &'static Location<'static>,
    worker: usize,
    elapsed: Duration,
    threshold: Duration,
    still_running: bool,
    exact: bool,
}

impl SlowPoll {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The task's name, if it has one ([`task::Builder::name`](crate::task::Builder::name)).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned.
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// The worker that runs the poll.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How long the poll has run (still running) or ran (ended). Exact in debug mode
    /// for an ended poll; otherwise measured by the watchdog, which samples every quarter
    /// threshold, so within about that much.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The configured threshold.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// True while the poll is still running (the stuck-task report); false once it ended.
    pub fn is_still_running(&self) -> bool {
        self.still_running
    }

    /// True if `elapsed` was measured exactly around the poll (debug mode).
    pub fn is_exact(&self) -> bool {
        self.exact
    }
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "heist: slow poll: task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(
            f,
            " (spawned at {}) on worker {}: ",
            self.spawned_at, self.worker
        )?;
        let approx = if self.exact { "" } else { "~" };
        if self.still_running {
            write!(f, "still running after {:.0?}", self.elapsed)?;
        } else {
            write!(f, "ran {approx}{:.0?}", self.elapsed)?;
        }
        write!(f, " (threshold {:.0?})", self.threshold)
    }
}

/// Observability settings of [`Builder`]: slow polls, debug mode, histograms.
impl Builder {
    /// Reports polls that run longer than `threshold` (off by default; debug mode sets
    /// 100 ms, asyncio's default). A poll still running past it is reported while it
    /// runs, by a watchdog thread that exists only when this is set, and once more when
    /// it ends; see [`SlowPoll`] and [`on_slow_poll`](Builder::on_slow_poll).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = heist::Runtime::builder()
    ///     .slow_poll_threshold(Duration::from_millis(100))
    ///     .on_slow_poll(|slow| eprintln!("{slow}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.observe.slow_poll_threshold = Some(threshold);
        self
    }

    /// What to do with a slow-poll report (default: print its one-line `Display` on
    /// stderr). Runs on the watchdog thread (still-running reports, and ends outside
    /// debug mode) or on the worker (ends in debug mode); keep it short. A panic in it
    /// is caught and ignored.
    pub fn on_slow_poll(&mut self, f: impl Fn(&SlowPoll) + Send + Sync + 'static) -> &mut Self {
        self.observe.on_slow_poll = Some(StdArc::new(f));
        self
    }

    /// Debug mode (also turned on by the environment variable `HEIST_DEBUG=1`): times
    /// every poll exactly, records the poll-time and scheduling-delay histograms, and
    /// reports slow polls (threshold 100 ms unless set). Costs two clock reads per poll
    /// and one per wake-up, and one small allocation per task.
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.observe.debug = on;
        self
    }

    /// Records every poll's duration in a histogram
    /// ([`RuntimeMetrics::poll_time_histogram`](crate::RuntimeMetrics::poll_time_histogram)).
    /// Costs two clock reads per poll.
    pub fn enable_metrics_poll_time_histogram(&mut self) -> &mut Self {
        self.observe.poll_histogram = true;
        self
    }

    /// Records how long each task waited in a queue before its poll (spawn or wake to
    /// poll; the "event loop lag")
    /// ([`RuntimeMetrics::scheduling_delay_histogram`](crate::RuntimeMetrics::scheduling_delay_histogram)).
    /// Costs a clock read per wake-up and per poll, and one small allocation per task.
    pub fn enable_metrics_scheduling_delay_histogram(&mut self) -> &mut Self {
        self.observe.delay_histogram = true;
        self
    }
}

/// Nanoseconds since the runtime started.
fn nanos_since(start: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}

/// The scheduling-delay histogram's hook on every queueing of a task (spawn, wake).
#[inline]
pub(crate) fn queued(shared: &Shared, task: &Notified) {
    if shared.config.observe.delay_histogram {
        let now = nanos_since(shared.stats.started, Instant::now()).max(1);
        task.header().meta.set_queued_at(now);
    }
}

/// Polls `task` on worker `index` with the instrumentation turned on; returns whether
/// it completed (as `Notified::run`).
pub(crate) fn poll_instrumented(shared: &Shared, index: usize, task: Notified) -> bool {
    let observe = &shared.config.observe;
    let stats = &shared.stats;
    let header = task.header();
    let id = header.id;
    let location = header.meta.location();
    let seq = stats.workers[index].poll_count();
    let name = header.meta.name();
    if observe.slow_poll_threshold.is_some() {
        if let Some(name) = name {
            let mut slot = shared.debug.names[index].inner.lock();
            slot.0 = seq;
            slot.1.clear();
            slot.1.push_str(name);
        }
    }
    if !observe.timed() {
        if let (Some(h), Some(queued)) = (&stats.histograms, header.meta.queued_at()) {
            let now = nanos_since(stats.started, Instant::now());
            h.record_delay(index, now.saturating_sub(queued));
        }
        return stats.workers[index].run(task);
    }
    let start = Instant::now();
    if let (Some(h), Some(queued)) = (&stats.histograms, header.meta.queued_at()) {
        h.record_delay(
            index,
            nanos_since(stats.started, start).saturating_sub(queued),
        );
    }
    let completed = stats.workers[index].run(task);
    let elapsed = start.elapsed();
    if let Some(h) = &stats.histograms {
        h.record_poll(index, elapsed.as_nanos().try_into().unwrap_or(u64::MAX));
    }
    if let Some(threshold) = observe.slow_poll_threshold {
        if observe.debug && elapsed >= threshold {
            let name = name_for(shared, index, seq);
            observe.report(&SlowPoll {
                id,
                name,
                spawned_at: location,
                worker: index,
                elapsed,
                threshold,
                still_running: false,
                exact: true,
            });
        }
    }
    completed
}

/// The name the worker copied for poll `seq`, if any.
fn name_for(shared: &Shared, index: usize, seq: u64) -> Option<String> {
    shared.debug.names.get(index)?.get(seq)
}
