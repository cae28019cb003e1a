//! What the workers call and write when debug mode or a slow-poll threshold is on: the
//! settings (`Observe`), the reports (`SlowPoll`, `WaitKind`), the per-runtime state the
//! readers look at (`DebugState`: name slots, the watchdog's stop signal), and the hooks
//! on every queueing (`queued`) and instrumented poll (`poll_instrumented`). The module
//! doc of `debug/mod.rs` says what each costs.
//!
//! Below the scheduler (`docs/design.md`, "Layers"): the hooks read the runtime through
//! the `Observed` trait (which the scheduler's `Shared` implements) and take a task of
//! any scheduler, never naming the scheduler itself, so the scheduler can call them
//! while the readers above it (`dump.rs`, `watchdog.rs`) read its `Shared`.

use crate::metrics::worker::WorkerStats;
use crate::metrics::RuntimeStats;
use crate::sync::stat::Ordering::Relaxed;
use crate::sync::{wait_timeout, Condvar, Mutex};
use crate::task::{self, meta, Header, Id};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

/// The slow-poll callback (`Builder::on_slow_poll`).
pub(crate) type SlowPollHook = StdArc<dyn Fn(&SlowPoll) + Send + Sync + 'static>;

/// The default slow-poll threshold in debug mode (asyncio's `slow_callback_duration`).
const DEBUG_THRESHOLD: Duration = Duration::from_millis(100);

/// The observability settings of one runtime (from `Builder`).
#[derive(Clone, Default)]
pub(crate) struct Observe {
    pub(crate) slow_poll_threshold: Option<Duration>,
    pub(crate) on_slow_poll: Option<SlowPollHook>,
    /// Debug mode (`Builder::debug`).
    pub(crate) debug: bool,
    /// The poll-time histogram, every poll.
    pub(crate) poll_histogram: bool,
    /// The scheduling-delay histogram, every wake (a timestamp per queued task).
    pub(crate) delay_histogram: bool,
    /// Set by `resolved`: which polls are timed (`poll number & mask == 0`), `None` for
    /// none.
    poll_mask: Option<u64>,
    /// Set by `resolved`: which queueings of a task are stamped (`its polls so far &
    /// mask == 0`), `None` for none.
    delay_mask: Option<u64>,
    /// Any of the above: polls go through `poll_instrumented` (set by `resolved`).
    instrumented: bool,
}

/// Debug mode times one poll (and stamps one wake-up per task) in this many. 256, not
/// 64: at 64 the clock reads (two per timed poll, two per stamped wake-up, 35 ns each
/// on the loaded 2-core VM) were about 8 of debug mode's 20% on `yield_many`
/// (`docs/observability.md`, Costs); a busy worker still times thousands of polls a
/// second.
const DEBUG_SAMPLE_MASK: u64 = 255;

impl Observe {
    /// The settings as the runtime will use them: `HEIST_DEBUG=1` or `debug(true)` turn
    /// on both histograms (sampled, unless turned on explicitly) and a 100 ms threshold
    /// unless one was set.
    pub(crate) fn resolved(&self) -> Observe {
        let mut o = self.clone();
        if std::env::var_os("HEIST_DEBUG").is_some_and(|v| v == "1") {
            o.debug = true;
        }
        let sampled = o.debug.then_some(DEBUG_SAMPLE_MASK);
        if o.debug {
            o.slow_poll_threshold.get_or_insert(DEBUG_THRESHOLD);
        }
        o.poll_mask = if o.poll_histogram { Some(0) } else { sampled };
        o.delay_mask = if o.delay_histogram { Some(0) } else { sampled };
        o.instrumented = o.slow_poll_threshold.is_some() || o.histograms();
        o
    }

    /// True if every poll is timed and a threshold is set: the worker reports the end of
    /// a slow poll itself, exactly (the watchdog then reports only stuck polls).
    pub(crate) fn exact_ends(&self) -> bool {
        self.poll_mask == Some(0) && self.slow_poll_threshold.is_some()
    }

    /// True if tasks get room for a queueing timestamp (`Meta::timed`).
    pub(crate) fn stamps_tasks(&self) -> bool {
        self.delay_mask.is_some()
    }

    /// True if polls go through `poll_instrumented`.
    #[inline]
    pub(crate) fn instrumented(&self) -> bool {
        self.instrumented
    }

    /// True if the histograms are recorded (explicitly, or sampled in debug mode).
    pub(crate) fn histograms(&self) -> bool {
        self.poll_mask.is_some() || self.delay_mask.is_some()
    }

    /// Hands `report` to the hook, or prints it to stderr.
    pub(super) fn report(&self, report: &SlowPoll) {
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
    names: Box<[NameSlot]>,
    pub(crate) watchdog: WatchdogStop,
}

impl DebugState {
    pub(crate) fn new(num_workers: usize, observe: &Observe) -> DebugState {
        if observe.stamps_tasks() {
            record_wait_sites();
        }
        DebugState {
            names: (0..num_workers).map(|_| NameSlot::default()).collect(),
            watchdog: WatchdogStop::default(),
        }
    }

    /// The name worker `index` copied for its poll `seq`, if any (the task was named
    /// and a slow-poll threshold is set).
    pub(crate) fn name_for(&self, index: usize, seq: u64) -> Option<String> {
        self.names.get(index)?.get(seq)
    }
}

/// The slow-poll watchdog's stop signal (the thread is `watchdog.rs`): set at shutdown,
/// waited on between the watchdog's samples.
#[derive(Default)]
pub(crate) struct WatchdogStop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl WatchdogStop {
    /// Stops the watchdog (at shutdown); it exits within one period.
    pub(crate) fn stop(&self) {
        *self.stopped.lock() = true;
        self.wake.notify_all();
    }

    /// Waits up to `period` for `stop`; true if the watchdog is stopped.
    pub(crate) fn wait(&self, period: Duration) -> bool {
        let mut stopped = self.stopped.lock();
        if *stopped {
            return true;
        }
        wait_timeout(&self.wake, &mut stopped, Some(period));
        *stopped
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

/// A slow poll, as passed to [`Builder::on_slow_poll`](crate::Builder::on_slow_poll).
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
    // `pub(super)`: the watchdog (`watchdog.rs`) builds its reports too.
    pub(super) id: Id,
    pub(super) name: Option<String>,
    pub(super) spawned_at: &'static Location<'static>,
    pub(super) worker: usize,
    pub(super) elapsed: Duration,
    pub(super) threshold: Duration,
    pub(super) still_running: bool,
    pub(super) exact: bool,
    pub(super) all_workers_stuck: bool,
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

    /// How long the poll has run (still running) or ran (ended). Exact for an ended
    /// poll when every poll is timed (the poll-time histogram is on); otherwise measured
    /// by the watchdog, which samples every quarter threshold, so within about that much.
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

    /// True if, when this still-running poll was reported, every worker of the runtime
    /// was stuck in a poll past the threshold: nothing else can run until one returns.
    pub fn all_workers_stuck(&self) -> bool {
        self.all_workers_stuck
    }

    /// True if `elapsed` was measured exactly around the poll (by the worker, with the
    /// poll-time histogram on).
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
        write!(f, " (threshold {:.0?})", self.threshold)?;
        if self.all_workers_stuck {
            f.write_str("; every worker is stuck")?;
        }
        Ok(())
    }
}

/// What a waiting task waits on, as recorded by heist's own futures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// A timer: `sleep`, `sleep_until`, `timeout`, `interval`.
    Sleep,
    /// Another task's `JoinHandle` (the location is that task's spawn).
    Join,
}

impl WaitKind {
    fn from_u8(v: u8) -> Option<WaitKind> {
        match v {
            meta::WAIT_SLEEP => Some(WaitKind::Sleep),
            meta::WAIT_JOIN => Some(WaitKind::Join),
            _ => None,
        }
    }

    /// A short word for it ("sleep", "join").
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Sleep => "sleep",
            WaitKind::Join => "join",
        }
    }
}

/// Turns wait-site recording on for every leaf future of the process.
pub(crate) fn record_wait_sites() {
    crate::task::meta::record_wait_sites();
}

/// A recorded wait site, decoded.
pub(crate) fn wait_site_of(header: &Header) -> Option<(WaitKind, &'static Location<'static>)> {
    let (kind, location) = header.meta.wait_site(header.polls.load(Relaxed))?;
    Some((WaitKind::from_u8(kind)?, location))
}

/// Nanoseconds since the runtime started.
fn nanos_since(start: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}

/// What the hooks read of the runtime that calls them (the scheduler's `Shared`
/// implements it): the settings, the name slots, the statistics. A trait rather than the
/// three references: the hooks keep taking one pointer, as when they named `Shared`
/// (passing three cost the instrumented poll about 10 instructions per spawn + await in
/// debug mode, callgrind on `examples/per_op.rs`), and this file names no scheduler type.
pub(crate) trait Observed {
    /// The observability settings (`Config::observe`).
    fn observe(&self) -> &Observe;
    /// The name slots and the watchdog's stop signal.
    fn debug(&self) -> &DebugState;
    /// The runtime's counters, start time and histograms.
    fn stats(&self) -> &RuntimeStats;
}

/// The scheduling-delay histogram's hook on every queueing of a task (spawn, wake):
/// stamps the task if this queueing is sampled (its polls so far match the mask; the
/// poll that follows checks the same number).
#[inline]
pub(crate) fn queued<S: 'static>(rt: &impl Observed, task: &task::Notified<S>) {
    if let Some(mask) = rt.observe().delay_mask {
        let header = task.header();
        let polls = header.polls.load(Relaxed);
        if u64::from(polls) & mask == 0 {
            stamp_queued(rt.stats(), header, polls);
        }
    }
}

/// `queued` for a sampled queueing: out of line, so that the spawn and wake paths that
/// inline `queued` keep only its tests (the body cost them register spills).
#[cold]
#[inline(never)]
fn stamp_queued(stats: &RuntimeStats, header: &Header, polls: u32) {
    let now = nanos_since(stats.started, Instant::now()).max(1);
    header.meta.set_queued_at(now);
    if polls == 0 && header.meta.spawned_at().is_none() {
        // Queued before its first poll: this is the spawn (the dump's age).
        header.meta.set_spawned_at(now);
    }
}

/// Polls `task` on worker `index` with the instrumentation turned on; returns whether
/// it completed (as `Notified::run`). Inlined into the run loop: the common poll (not
/// sampled) costs a few loads and branches here, and a thread-local store for the wait
/// sites; the sampled one goes out of line to `poll_measured`.
#[inline]
pub(crate) fn poll_instrumented<S: 'static>(
    rt: &impl Observed,
    index: usize,
    worker: &WorkerStats,
    task: task::Notified<S>,
) -> bool {
    let observe = rt.observe();
    let header = task.header();
    // The number the watchdog sees for this poll (`CurrentPoll::seq`).
    let seq = worker.published_seq();
    if observe.slow_poll_threshold.is_some() {
        if let Some(name) = header.meta.name() {
            copy_name(rt.debug(), index, seq, name);
        }
    }
    // This poll's number (`begin_poll` already counted it).
    let poll = header.polls.load(Relaxed);
    // The queueing before this poll was stamped if the task's polls before this one
    // matched the mask.
    let stamped = observe
        .delay_mask
        .is_some_and(|mask| u64::from(poll.wrapping_sub(1)) & mask == 0);
    let timed = observe.poll_mask.is_some_and(|mask| seq & mask == 0);
    // Wait sites (tasks boxed for timestamps have room for one): let this poll's leaf
    // futures record theirs (the last one turns stale by itself).
    if observe.stamps_tasks() {
        meta::polling(header, poll);
    }
    if stamped || timed {
        poll_measured(rt, index, worker, task, seq, stamped, timed)
    } else {
        worker.run(task)
    }
}

/// Copies a named task's name into the worker's slot for the watchdog.
#[cold]
#[inline(never)]
fn copy_name(debug: &DebugState, index: usize, seq: u64, name: &str) {
    let mut slot = debug.names[index].inner.lock();
    slot.0 = seq;
    slot.1.clear();
    slot.1.push_str(name);
}

/// A sampled poll (or every poll, with a histogram turned on explicitly): records the
/// scheduling delay and times the poll.
#[inline(never)]
fn poll_measured<S: 'static>(
    rt: &impl Observed,
    index: usize,
    worker: &WorkerStats,
    task: task::Notified<S>,
    seq: u64,
    stamped: bool,
    timed: bool,
) -> bool {
    let (observe, stats) = (rt.observe(), rt.stats());
    let header = task.header();
    let id = header.id;
    let location = header.meta.location();
    let Some(h) = stats.histograms.as_ref() else {
        return worker.run(task);
    };
    let start = Instant::now();
    if stamped {
        if let Some(queued) = header.meta.queued_at() {
            h.record_delay(
                index,
                nanos_since(stats.started, start).saturating_sub(queued),
            );
        }
    }
    if !timed {
        return worker.run(task);
    }
    let completed = worker.run(task);
    let elapsed = start.elapsed();
    h.record_poll(index, elapsed.as_nanos().try_into().unwrap_or(u64::MAX));
    if let Some(threshold) = observe.slow_poll_threshold {
        if observe.exact_ends() && elapsed >= threshold {
            let name = rt.debug().name_for(index, seq);
            observe.report(&SlowPoll {
                id,
                name,
                spawned_at: location,
                worker: index,
                elapsed,
                threshold,
                still_running: false,
                exact: true,
                all_workers_stuck: false,
            });
        }
    }
    completed
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn heist_debug_turns_debug_mode_on() {
        let plain = Observe::default().resolved();
        assert!(!plain.instrumented() && !plain.histograms());
        // Other tests may build runtimes meanwhile; debug mode only makes them record
        // more.
        std::env::set_var("HEIST_DEBUG", "1");
        let debug = Observe::default().resolved();
        std::env::remove_var("HEIST_DEBUG");
        assert!(debug.debug && debug.instrumented() && debug.histograms());
        assert_eq!(debug.slow_poll_threshold, Some(DEBUG_THRESHOLD));
        assert_eq!(debug.poll_mask, Some(DEBUG_SAMPLE_MASK));
        assert!(!debug.exact_ends());
        let exact = Observe {
            poll_histogram: true,
            debug: true,
            ..Observe::default()
        }
        .resolved();
        assert!(exact.exact_ends());
    }
}
