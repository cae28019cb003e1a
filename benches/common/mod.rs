//! One face for the runtimes the benchmarks compare: heist, tokio's multi-thread
//! runtime, async-executor (N threads each running `Executor::run` until a shutdown
//! signal) and, in the scheduler suite, the futures crate's `ThreadPool`.
//!
//! Every workload is written once, generic over [`Rt`], so the only thing that changes
//! between the three measurements is the scheduler. Spawning goes through a cloneable
//! [`Rt::Spawner`] (heist's and tokio's `Handle`, async-executor's `Arc<Executor>`):
//! heist's and tokio's handles put a task spawned on one of their own workers into that
//! worker's local queue / next-task slot, exactly like `heist::spawn` and `tokio::spawn`,
//! and anywhere else into the global queue; async-executor always uses its global queue,
//! and so does the futures pool (one channel all its threads take from; a task woken
//! during its own poll is polled again at once, in place).
//!
//! Shared by `benches/*.rs`, `examples/memory.rs` and `examples/workload.rs` through
//! `#[path]`; `workloads.rs` holds the bodies of the scheduler workloads that the
//! example runs too; `placement.rs` the probe of how far apart the two CPUs are.

pub mod placement;
pub mod workloads;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// Worker count for every runtime: `HEIST_BENCH_WORKERS`, else the machine's cores.
pub fn workers() -> usize {
    match std::env::var("HEIST_BENCH_WORKERS") {
        Ok(v) => v
            .trim()
            .parse()
            .expect("HEIST_BENCH_WORKERS must be a positive integer"),
        Err(_) => thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

fn env_u32(name: &str) -> Option<u32> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be an integer")),
    )
}

/// Busy-waits for `d` without yielding the thread (the "spin 10 us" of the workloads).
pub fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A runtime under test.
pub trait Rt: Sized + 'static {
    /// The name criterion and the tables use.
    const NAME: &'static str;
    /// Spawns from anywhere, inside or outside the runtime.
    type Spawner: Clone + Send + Sync + 'static;
    /// A handle that resolves to the task's output (a failed task is a bench bug: panics).
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// Starts a runtime with `workers` worker threads.
    fn build(workers: usize) -> Self;
    /// A spawner for this runtime.
    fn spawner(&self) -> Self::Spawner;
    /// Spawns `f`, keeping a handle to its output.
    fn spawn<F>(sp: &Self::Spawner, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Spawns `f` and lets it run on without a handle.
    fn spawn_detached<F>(sp: &Self::Spawner, f: F)
    where
        F: Future<Output = ()> + Send + 'static;
    /// Runs `f` to completion on the calling thread (never one of the workers).
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// The runtime's own `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send + 'static;
}

/// Unwraps a `Result`-returning join handle (heist's and tokio's) into its output.
pub struct Unwrap<J>(J);

impl<J, T, E> Future for Unwrap<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: std::fmt::Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("benchmark task failed"))
    }
}

/// heist's multi-thread runtime.
pub struct Heist(heist::Runtime);

impl Rt for Heist {
    const NAME: &'static str = "heist";
    type Spawner = heist::Handle;
    type Join<T: Send + 'static> = Unwrap<heist::task::JoinHandle<T>>;

    /// Diagnostic knobs for experiments (never set in the recorded runs):
    /// `HEIST_BENCH_GLOBAL_QUEUE_INTERVAL`, `HEIST_BENCH_LIFO_LIMIT`,
    /// `HEIST_BENCH_SPIN_US` (`Builder::spin_before_park`, in microseconds),
    /// `HEIST_BENCH_SLOT_CHECK_US` (`Builder::stalled_slot_check`, in microseconds, 0: off).
    fn build(workers: usize) -> Self {
        let mut b = heist::Runtime::builder();
        b.worker_threads(workers);
        if let Some(n) = env_u32("HEIST_BENCH_GLOBAL_QUEUE_INTERVAL") {
            b.global_queue_interval(n);
        }
        if let Some(n) = env_u32("HEIST_BENCH_LIFO_LIMIT") {
            b.lifo_slot_limit(n);
        }
        if let Some(n) = env_u32("HEIST_BENCH_SLOT_CHECK_US") {
            b.stalled_slot_check((n > 0).then(|| std::time::Duration::from_micros(n.into())));
        }
        if let Some(n) = env_u32("HEIST_BENCH_SPIN_US") {
            b.spin_before_park(std::time::Duration::from_micros(n.into()));
        }
        Heist(b.build().expect("heist runtime"))
    }
    fn spawner(&self) -> heist::Handle {
        self.0.handle().clone()
    }
    fn spawn<F>(sp: &heist::Handle, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(sp.spawn(f))
    }
    fn spawn_detached<F>(sp: &heist::Handle, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(sp.spawn(f));
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send + 'static {
        heist::task::yield_now()
    }
}

/// tokio's multi-thread runtime (no I/O or time driver: neither is used here).
pub struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = tokio::runtime::Handle;
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;

    fn build(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .build()
                .expect("tokio runtime"),
        )
    }
    fn spawner(&self) -> tokio::runtime::Handle {
        self.0.handle().clone()
    }
    fn spawn<F>(sp: &tokio::runtime::Handle, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(sp.spawn(f))
    }
    fn spawn_detached<F>(sp: &tokio::runtime::Handle, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(sp.spawn(f));
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send + 'static {
        tokio::task::yield_now()
    }
}

/// async-executor: `workers` threads each run `Executor::run` until told to stop;
/// `block_on` is `futures_lite::future::block_on` on the calling thread.
pub struct AsyncExecutor {
    ex: Arc<async_executor::Executor<'static>>,
    stop: Vec<futures::channel::oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Rt for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    type Spawner = Arc<async_executor::Executor<'static>>;
    type Join<T: Send + 'static> = async_executor::Task<T>;

    fn build(workers: usize) -> Self {
        let ex = Arc::new(async_executor::Executor::new());
        let mut stop = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let ex = ex.clone();
            let t = thread::Builder::new()
                .name(format!("async-executor-{i}"))
                .spawn(move || {
                    futures_lite::future::block_on(ex.run(async move {
                        let _ = rx.await;
                    }))
                })
                .expect("async-executor thread");
            stop.push(tx);
            threads.push(t);
        }
        AsyncExecutor { ex, stop, threads }
    }
    fn spawner(&self) -> Self::Spawner {
        self.ex.clone()
    }
    fn spawn<F>(sp: &Self::Spawner, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        sp.spawn(f)
    }
    fn spawn_detached<F>(sp: &Self::Spawner, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        sp.spawn(f).detach();
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send + 'static {
        futures_lite::future::yield_now()
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        for tx in self.stop.drain(..) {
            let _ = tx.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The futures crate's `ThreadPool`: `workers` threads taking tasks from one shared
/// channel. A task that wakes itself during its poll is polled again at once on the same
/// thread (no queue round trip), so a self-waking task never lets others run on that
/// thread: workloads that need fairness between tasks on one thread (`busy1`) hang on
/// it and skip it. `yield_now` is futures-lite's (the pool has none).
pub struct FuturesPool(futures::executor::ThreadPool);

impl Rt for FuturesPool {
    const NAME: &'static str = "futures-pool";
    type Spawner = futures::executor::ThreadPool;
    type Join<T: Send + 'static> = futures::future::RemoteHandle<T>;

    fn build(workers: usize) -> Self {
        FuturesPool(
            futures::executor::ThreadPool::builder()
                .pool_size(workers)
                .name_prefix("futures-pool-")
                .create()
                .expect("futures thread pool"),
        )
    }
    fn spawner(&self) -> Self::Spawner {
        self.0.clone()
    }
    fn spawn<F>(sp: &Self::Spawner, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        use futures::task::SpawnExt;
        sp.spawn_with_handle(f).expect("futures pool spawn")
    }
    fn spawn_detached<F>(sp: &Self::Spawner, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        sp.spawn_ok(f);
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        futures::executor::block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send + 'static {
        futures_lite::future::yield_now()
    }
}
