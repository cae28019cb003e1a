//! `Builder`: configure and start a runtime. This is where its parts are put together:
//! the scheduler, the driver its workers park in, and the blocking pool.

use super::driver::Driver;
use super::{context, Handle, Runtime};
use crate::blocking::{run_hook, Hook, Pool, PoolConfig};
use crate::scheduler::worker::{CountOut, Worker};
use crate::scheduler::LocalQueue;
use crate::scheduler::{Config, Shared};
use crate::sync::{thread, Arc};
use std::fmt;
use std::io;
use std::time::Duration;

/// `Builder::spin_before_park`'s default (`docs/sleep-protocol.md`, rule 4a).
const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// Configures a [`Runtime`].
///
/// ```
/// let rt = heist::Runtime::builder()
///     .worker_threads(2)
///     .thread_name("my-app-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(rt.spawn(async { 1 + 1 })).unwrap(), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    thread_stack_size: Option<usize>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    global_queue_interval: u32,
    lifo_slot_limit: u32,
    stalled_slot_check: Option<Duration>,
    spin_before_park: Duration,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    start_paused: bool,
    /// Slow polls, debug mode, histograms: `src/debug/` holds their setters.
    pub(crate) observe: crate::debug::Observe,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per available core, threads named
    /// `heist-worker-N`, the injector checked every 61 tasks, 3 next-task-slot polls in a
    /// row.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "heist-worker".to_string(),
            thread_stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            global_queue_interval: 61,
            lifo_slot_limit: 3,
            stalled_slot_check: Some(Duration::from_millis(1)),
            spin_before_park: SPIN_BEFORE_PARK,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            start_paused: false,
            observe: crate::debug::Observe::default(),
        }
    }

    /// The number of worker threads (default: `std::thread::available_parallelism`).
    ///
    /// # Panics
    /// If `n` is 0: a runtime without workers could never run a task.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "Builder::worker_threads: a runtime needs at least 1 worker thread, got 0"
        );
        self.worker_threads = Some(n);
        self
    }

    /// The threads' name prefix (default `heist-worker`): each worker is named
    /// `{name}-{index}`, each blocking-pool thread `{name}-blocking`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// The worker threads' stack size in bytes (default: std's).
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Runs `f` on each worker thread and each blocking-pool thread
    /// ([`spawn_blocking`](crate::task::spawn_blocking)) as it starts, before it runs any
    /// task. It runs outside the runtime context. A panic in it is caught (the panic
    /// hook still prints it) and the thread carries on.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f` on each worker thread and each blocking-pool thread as it stops, after its
    /// last task (a pool thread also stops when idle for
    /// [`thread_keep_alive`](Builder::thread_keep_alive)). Dropping the runtime returns
    /// after every thread's stop hook ran; so does `shutdown_timeout` if the threads
    /// finish in time. A panic in it is caught, as for
    /// [`on_thread_start`](Builder::on_thread_start).
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// How many tasks a worker runs between two looks at the global queue (default 61).
    /// Lower is fairer to work spawned from outside; higher favours locality.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn global_queue_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "Builder::global_queue_interval must be at least 1");
        self.global_queue_interval = n;
        self
    }

    /// How many times in a row a worker may run the task in its next-task (LIFO) slot
    /// before that task goes to the back of the queue (default 3). 0 disables the slot:
    /// every spawn and wake goes to the back of the queue.
    pub fn lifo_slot_limit(&mut self, n: u32) -> &mut Self {
        self.lifo_slot_limit = n;
        self
    }

    /// The most threads the blocking pool ([`spawn_blocking`](crate::task::spawn_blocking))
    /// runs at once (default 512). Threads start on demand; blocking calls beyond the
    /// limit wait in a queue for a thread to finish.
    ///
    /// ```
    /// let rt = heist::Runtime::builder().max_blocking_threads(4).build().unwrap();
    /// assert_eq!(rt.block_on(rt.spawn_blocking(|| 1 + 1)).unwrap(), 2);
    /// ```
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "Builder::max_blocking_threads must be at least 1");
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread waits for more work before it exits
    /// (default 10 s). Any duration works: zero lets a thread go as soon as the queue is
    /// empty, and one too long for an `Instant` (`Duration::MAX`) keeps idle threads for
    /// the runtime's life.
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.thread_keep_alive = duration;
        self
    }

    /// How long an idle worker sleeps, while some other worker is busy, before it looks
    /// again at the other workers' next-task slots (default 1 ms). A task woken on a
    /// worker waits in that worker's slot; if the worker then stays in one long poll, an
    /// idle worker takes the task after about two such periods. `None` turns this off:
    /// idle workers then sleep until new work is queued, and a task in the slot of a
    /// worker stuck in a long poll waits for that poll to end. (Model checking with loom
    /// sets `None` except where a model explores the check: there every timed wait ends
    /// at once, in virtual time.)
    pub fn stalled_slot_check(&mut self, period: Option<Duration>) -> &mut Self {
        self.stalled_slot_check = period;
        self
    }

    /// How long an idle worker that was looking for work to steal keeps looking before
    /// it goes to sleep (default 50 us). Work queued meanwhile (a task woken from a thread
    /// outside the runtime, a peer's spill) is then taken without a wake-up: the thread
    /// that queued it makes no system call, and the worker none either. The price is up
    /// to this much CPU time each time a worker runs out of work, spent only by the
    /// workers counted as searching (at most half of them) and only while no timer
    /// needs a worker to wait in the driver. While I/O sources are registered and no
    /// worker waits in the reactor, a spinning worker polls the reactor without blocking
    /// about every microsecond, so I/O never waits for the spin. `Duration::ZERO` turns
    /// it off.
    pub fn spin_before_park(&mut self, period: Duration) -> &mut Self {
        self.spin_before_park = period;
        self
    }

    /// Starts the runtime with its clock paused (default `false`), as if
    /// [`time::pause`](crate::time::pause) were its first call: for tests, where timers
    /// then take no real time and fire in deadline order every run, whatever the number
    /// of workers (the clock jumps to the next deadline whenever the whole runtime is
    /// idle; see [`time::pause`](crate::time::pause)). As tokio's, which allows it on its
    /// single-threaded runtime only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use heist::time::{timeout, Instant};
    ///
    /// let rt = heist::Runtime::builder()
    ///     .worker_threads(2)
    ///     .start_paused(true)
    ///     .build()
    ///     .unwrap();
    /// let real = std::time::Instant::now();
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     assert!(timeout(Duration::from_secs(30), std::future::pending::<()>()).await.is_err());
    ///     assert_eq!(start.elapsed(), Duration::from_secs(30));
    /// });
    /// assert!(real.elapsed() < Duration::from_secs(30));
    /// ```
    pub fn start_paused(&mut self, start_paused: bool) -> &mut Self {
        self.start_paused = start_paused;
        self
    }

    /// Starts the runtime's worker threads.
    ///
    /// # Errors
    /// If the OS refuses to start a thread; workers already started are shut down.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.worker_threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let config = Config {
            global_queue_interval: self.global_queue_interval,
            lifo_slot_limit: self.lifo_slot_limit,
            stalled_slot_check: self.stalled_slot_check,
            spin_before_park: self.spin_before_park,
            observe: self.observe.resolved(),
        };
        let blocking = Pool::new(PoolConfig {
            max_threads: self.max_blocking_threads,
            keep_alive: self.thread_keep_alive,
            thread_name: format!("{}-blocking", self.thread_name),
            stack_size: self.thread_stack_size,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
        });
        let queues: Vec<_> = (0..workers).map(|_| LocalQueue::new_fifo()).collect();
        let stealers = queues.iter().map(|q| q.stealer()).collect();
        let driver = Arc::new(Driver::new(self.start_paused));
        driver.set_rescued(self.stalled_slot_check.is_some());
        let scheduler = Arc::new(Shared::new(stealers, config, driver.unpark()));
        // A timer registered while nobody keeps time, or an I/O source while nobody waits in
        // the reactor, sends a sleeper to (the hand-off).
        // The driver holds the scheduler this way, the scheduler only the `Unpark`.
        let summoned = scheduler.clone();
        driver.set_summon(std::sync::Arc::new(move || summoned.summon(None)));
        let handle = Handle {
            scheduler,
            driver,
            blocking,
        };
        let mut threads = Vec::with_capacity(workers);
        for (index, queue) in queues.into_iter().enumerate() {
            let mut builder = thread::Builder::new().name(format!("{}-{index}", self.thread_name));
            if let Some(size) = self.thread_stack_size {
                builder = builder.stack_size(size);
            }
            let thread_handle = handle.clone();
            let (on_start, on_stop) = (self.on_thread_start.clone(), self.on_thread_stop.clone());
            let spawned = builder.spawn(move || {
                let handle = thread_handle;
                let scheduler = handle.scheduler.clone();
                // Counts the thread out however it ends, so shutdown never waits for a
                // thread that is gone.
                let mut count_out = CountOut::new(&scheduler);
                // The hooks run outside the runtime context, panics caught.
                run_hook(on_start.as_ref());
                let worker = Worker::new(scheduler.clone(), index, queue);
                {
                    let driver = handle.driver.clone();
                    let _enter = context::enter(handle);
                    worker.run(&*driver);
                }
                worker.exit(&mut count_out);
                run_hook(on_stop.as_ref());
            });
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    // Workers never started count as exited.
                    for _ in index..workers {
                        handle.scheduler.worker_exited();
                        handle.scheduler.worker_stopped();
                    }
                    drop(Runtime::from_parts(handle, threads));
                    return Err(e);
                }
            }
        }
        let observe = &handle.scheduler.config.observe;
        if let Err(e) = crate::debug::watchdog::start(&handle.scheduler, observe, &self.thread_name)
        {
            drop(Runtime::from_parts(handle, threads));
            return Err(e);
        }
        Ok(Runtime::from_parts(handle, threads))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.thread_stack_size)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("lifo_slot_limit", &self.lifo_slot_limit)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.thread_keep_alive)
            .field("start_paused", &self.start_paused)
            .finish_non_exhaustive()
    }
}

// The observability settings (`debug/`, `docs/observability.md`) are `Builder` methods
// like the rest; `debug/` holds what they configure and names no runtime type.
/// Observability settings of [`Builder`]: slow polls, debug mode, histograms.
impl Builder {
    /// Reports polls that run longer than `threshold` (off by default; debug mode sets
    /// 100 ms, asyncio's default). A poll still running past it is reported while it
    /// runs, by a watchdog thread that exists only when this is set, and once more when
    /// it ends; see [`SlowPoll`](crate::SlowPoll) and [`on_slow_poll`](Builder::on_slow_poll).
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
    /// stderr). Runs on the watchdog thread, or on the worker for the end of a poll
    /// timed exactly (with the poll-time histogram on); keep it short. A panic in it is
    /// caught and ignored.
    pub fn on_slow_poll(
        &mut self,
        f: impl Fn(&crate::SlowPoll) + Send + Sync + 'static,
    ) -> &mut Self {
        self.observe.on_slow_poll = Some(std::sync::Arc::new(f));
        self
    }

    /// Debug mode (also turned on by the environment variable `HEIST_DEBUG=1`): reports
    /// slow polls and stuck tasks (threshold 100 ms unless set; a watchdog thread) and
    /// records the poll-time and scheduling-delay histograms, sampled: one poll in 256 is
    /// timed and one wake-up in 256 per task stamped, each task's first included (a
    /// clock read costs about as much as a small task's whole poll). Turn a histogram on
    /// explicitly as well to record every poll. Costs one small allocation per task (the
    /// stamp).
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
