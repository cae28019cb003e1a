//! The pool's threads and queue.
//!
//! One lock guards the queue and the thread counts; idle threads wait on one condition
//! variable. A spawn queues the task, then either claims an idle thread (`idle -= 1`,
//! `notified += 1`, notify one) or, below `max_threads`, starts a new thread; at the
//! limit the task waits in the queue for the next thread to finish. A woken thread
//! that finds `notified > 0` consumes one claim and runs the queue (any idle thread may
//! consume it: the spawner already counted one idle thread out). A thread idle for
//! `keep_alive` without a claim exits.
//!
//! Pool threads run the runtime's `on_thread_start` / `on_thread_stop` hooks, like the
//! workers: the start hook before the first task, the stop hook after the last.
//!
//! Shutdown: the flag is set (under the lock, so every spawn is decided on one side of
//! it) and every idle thread woken. A task queued before the flag runs to the end,
//! started or not: every queued task has a thread that will take it (one just started
//! for it, one claimed for it, or a busy one that drains the queue before it looks at
//! the flag), and threads leave only once the queue is empty. A task queued after the
//! flag is cancelled by its spawner (its `JoinHandle` resolves to a cancelled
//! `JoinError`). Shutdown waits for the threads (stop hooks included) up to the
//! runtime's shutdown deadline, then joins them if they all finished; past the
//! deadline, threads still running finish the queue on their own. This is tokio's rule
//! (a call handed to the pool before shutdown runs, and shutdown waits for it), made
//! deterministic: tokio may cancel a call that no thread has started yet. A blocking
//! task completes in its first poll, so it is never in an owned-tasks registry.
//!
//! Two thread counts, because a thread leaves in two steps: `threads` counts the threads
//! in the work loop (what a spawn may still hand work to, so at most `max_threads`), and
//! `live` those not yet past their stop hook (what shutdown waits for). A thread that
//! leaves the loop stops counting in `threads` under the same lock hold in which it
//! stops looking at the queue, so a spawn never counts on a thread that is leaving.
//! Each thread's `JoinHandle` is kept while it may still be joined: a thread leaving on
//! its keep-alive drops (detaches) its own, a thread leaving for shutdown leaves it for
//! shutdown to join. The handle is stored under the lock held while the thread is
//! started, so the thread cannot look for it before it is there.

use crate::sync::{thread, wait_timeout, Arc, Condvar, Mutex, MutexGuard};
use crate::task::{self, Id, JoinHandle, Schedule};
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What the pool needs from the runtime that owns it, so that `blocking/` names nothing
/// above it (`runtime::Handle` implements it; `docs/design.md`, "Layers").
pub(crate) trait Host: Clone + Send + 'static {
    /// What keeps the runtime current on a pool thread while it lives.
    type Entered;

    /// Makes the runtime current on this (pool) thread, so a closure may spawn and use
    /// timers.
    fn enter(&self) -> Self::Entered;

    /// A blocking call was queued: the paused clock must not auto-advance until it has
    /// run ([`Host::allow_auto_advance`]).
    fn inhibit_auto_advance(&self);

    /// A blocking call has run and woken its `JoinHandle`.
    fn allow_auto_advance(&self);
}

/// Callback run on each worker and blocking-pool thread as it starts or stops.
pub(crate) type Hook = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

/// Runs a thread hook (`Builder::on_thread_start` / `on_thread_stop`). A panic in it is
/// caught, after the panic hook reported it as usual, and the thread carries on: a bug
/// in a hook must not take a worker (or a pool thread the runtime counts on) with it,
/// which would leave its tasks unrun and shutdown waiting.
pub(crate) fn run_hook(hook: Option<&Hook>) {
    if let Some(hook) = hook {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook()));
    }
}

type Notified = task::Notified<Arc<PoolInner>>;
type Task = task::Task<Arc<PoolInner>>;

/// The runtime's blocking pool.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<PoolInner>,
}

pub(crate) struct PoolInner {
    state: Mutex<PoolState>,
    /// Idle threads wait here for work (or shutdown).
    work: Condvar,
    /// Shutdown waits here for the threads to exit.
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    stack_size: Option<usize>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
}

struct PoolState {
    queue: VecDeque<Notified>,
    /// Threads in the work loop: started and not yet leaving (at most `max_threads`).
    threads: usize,
    /// Threads started and not yet past their stop hook: what shutdown waits for.
    live: usize,
    /// The threads that may still be joined, by their pool id.
    handles: Vec<(usize, thread::JoinHandle<()>)>,
    /// The id of the next thread started.
    next_id: usize,
    /// Threads waiting for work and not yet claimed by a spawn.
    idle: usize,
    /// Claims on idle threads not yet consumed.
    notified: usize,
    shutdown: bool,
}

crate::sync::thread_local! {
    /// The pool whose thread this is (null elsewhere) and the thread's id in it: shutdown
    /// must not wait for, or join, itself.
    // loom's `thread_local!` does not accept a `const { .. }` initialiser.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Cell<(*const PoolInner, usize)> = Cell::new((std::ptr::null(), 0));
}

/// The pool's settings (from `Builder`).
#[derive(Clone)]
pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    live: 0,
                    handles: Vec::new(),
                    next_id: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads: config.max_threads,
                keep_alive: config.keep_alive,
                thread_name: config.thread_name,
                stack_size: config.stack_size,
                on_thread_start: config.on_thread_start,
                on_thread_stop: config.on_thread_stop,
            }),
        }
    }

    /// Runs `func` on a pool thread. After shutdown the task is cancelled at once.
    /// `handle` is made current on the thread, so the closure may spawn and use timers.
    pub(crate) fn spawn<F, R, H: Host>(
        &self,
        func: F,
        handle: &H,
        meta: task::Meta,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (notified, join) = task::new_task(
            BlockingTask::new(func),
            self.inner.clone(),
            Id::next(),
            meta,
        );
        // A blocking call holds a paused clock from now until it has run and woken its
        // `JoinHandle` (`work`), as tokio's: time does not jump while it waits or runs.
        // (A call cancelled by shutdown keeps it held: moot for a runtime shut down.)
        handle.inhibit_auto_advance();
        if let Some(state) = push(&self.inner, notified) {
            start_thread(&self.inner, state, handle);
        }
        join
    }

    /// `(threads, idle threads, queued calls)`, for `RuntimeMetrics`.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let state = self.inner.state.lock();
        (state.threads, state.idle, state.queue.len())
    }

    /// Refuses new tasks, then waits until `deadline` (`None`: without limit) for the
    /// queued and running ones to finish and every thread to run its stop hook; if they
    /// all did, joins the threads.
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let inner = &*self.inner;
        {
            let mut state = inner.state.lock();
            if state.shutdown {
                return;
            }
            state.shutdown = true;
            inner.work.notify_all();
        }
        // On one of our own threads (the runtime dropped inside `spawn_blocking`), do
        // not wait for, or join, that thread.
        let own = CURRENT.with(|c| {
            let (pool, id) = c.get();
            std::ptr::eq(pool, inner).then_some(id)
        });
        let mut state = inner.state.lock();
        while state.live > usize::from(own.is_some()) {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(t) if !t.is_zero() => Some(t),
                    // Threads still running are left to finish on their own.
                    _ => return,
                },
            };
            wait_timeout(&inner.exited, &mut state, timeout);
        }
        // Every other thread is past its stop hook: joining waits only for its exit.
        let handles = std::mem::take(&mut state.handles);
        drop(state);
        for (id, handle) in handles {
            if Some(id) != own {
                // A panic on a pool thread was caught by the task harness or came from
                // a hook; either way the thread is gone.
                let _ = handle.join();
            }
        }
    }
}

/// Queues a task and claims an idle thread for it. Returns the lock if no thread was
/// claimed, for a spawn to start one (`start_thread`); a reschedule, which never happens
/// for a closure that runs once, drops it and relies on the thread that is running it.
fn push(inner: &Arc<PoolInner>, task: Notified) -> Option<MutexGuard<'_, PoolState>> {
    let mut state = inner.state.lock();
    if state.shutdown {
        // Too late to count on a thread: cancel it here, outside the lock.
        drop(state);
        task.shutdown();
        return None;
    }
    state.queue.push_back(task);
    if state.idle > 0 {
        state.idle -= 1;
        state.notified += 1;
        inner.work.notify_one();
        return None;
    }
    Some(state)
}

/// Starts a thread for the task `push` just queued, unless `max_threads` run already.
/// `handle`: what the new thread makes current.
fn start_thread<H: Host>(inner: &Arc<PoolInner>, mut state: MutexGuard<'_, PoolState>, handle: &H) {
    if state.threads >= inner.max_threads {
        // The next thread to finish takes it.
        return;
    }
    state.threads += 1;
    state.live += 1;
    let id = state.next_id;
    state.next_id += 1;
    let mut builder = thread::Builder::new().name(inner.thread_name.clone());
    if let Some(size) = inner.stack_size {
        builder = builder.stack_size(size);
    }
    let (thread_inner, thread_handle) = (inner.clone(), handle.clone());
    // Started under the lock, so the handle is stored before the thread can look for it
    // (the thread takes the lock before it may leave).
    match builder.spawn(move || run(thread_inner, thread_handle, id)) {
        Ok(handle) => state.handles.push((id, handle)),
        Err(e) => {
            state.threads -= 1;
            state.live -= 1;
            let none_left = state.threads == 0;
            drop(state);
            if none_left {
                panic!("heist: cannot start a blocking-pool thread, and none is running: {e}");
            }
            // The task waits for a running thread.
        }
    }
}

/// A pool thread (pool id `id`): runs the start hook, queued tasks, waits up to
/// `keep_alive` for more, runs the stop hook, exits.
fn run<H: Host>(inner: Arc<PoolInner>, handle: H, id: usize) {
    let mut leave = Leave {
        inner: &inner,
        in_threads: true,
    };
    // As on the workers: the hooks run outside the runtime context, panics caught.
    run_hook(inner.on_thread_start.as_ref());
    {
        let _enter = handle.enter();
        CURRENT.with(|c| c.set((&*inner, id)));
        work(&inner, &handle, id);
        leave.in_threads = false;
        CURRENT.with(|c| c.set((std::ptr::null(), 0)));
    }
    run_hook(inner.on_thread_stop.as_ref());
}

/// Counts a pool thread out of `live` (and out of `threads` if it never left the work
/// loop) however it ends: even a thread that unwinds (hooks' panics are caught, but a
/// guard does not depend on that) must not leave shutdown waiting for a thread that is
/// gone.
struct Leave<'a> {
    inner: &'a PoolInner,
    in_threads: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut state = self.inner.state.lock();
        if self.in_threads {
            state.threads -= 1;
        }
        state.live -= 1;
        self.inner.exited.notify_all();
    }
}

/// The work loop of pool thread `id`; returns once it leaves (shutdown, or idle for
/// `keep_alive`), no longer counted in `threads`.
fn work<H: Host>(inner: &PoolInner, handle: &H, id: usize) {
    let mut state = inner.state.lock();
    'work: loop {
        // Shutdown or not: a task queued before shutdown runs (module doc).
        while let Some(task) = state.queue.pop_front() {
            drop(state);
            // Behind the task harness: a panic in the closure becomes a JoinError.
            task.run();
            // Done, its `JoinHandle` woken: let the paused clock go (`Pool::spawn`).
            handle.allow_auto_advance();
            state = inner.state.lock();
        }
        if state.shutdown {
            break;
        }
        // `None`: a keep-alive too long for an `Instant` means "for ever". Computed
        // before counting ourselves idle: from `idle += 1` to leaving the count, nothing
        // may panic, or spawns would claim a thread that is gone (the exit guard cannot
        // tell whether a spawn already claimed us).
        //
        // The facade's clock: under loom a timed wait moves it to the wait's end, so an
        // idle thread's keep-alive ends there (a model with a pool thread terminates).
        let idle_until = crate::sync::time::now().checked_add(inner.keep_alive);
        state.idle += 1;
        loop {
            let left = idle_until.map(|t| t.saturating_duration_since(crate::sync::time::now()));
            wait_timeout(&inner.work, &mut state, left);
            if state.notified > 0 {
                // Claimed by a spawn (which already counted us out of `idle`).
                state.notified -= 1;
                continue 'work;
            }
            if state.shutdown {
                state.idle -= 1;
                break 'work;
            }
            if idle_until.is_some_and(|t| crate::sync::time::now() >= t) {
                state.idle -= 1;
                // Nobody will join this thread: detach it.
                state.handles.retain(|(i, _)| *i != id);
                break 'work;
            }
            // Spurious wake-up: wait on.
        }
    }
    state.threads -= 1;
}

impl Schedule for Arc<PoolInner> {
    fn schedule(&self, task: Notified) {
        drop(push(self, task));
    }

    /// A blocking task runs its closure to the end in its one poll, so it never waits
    /// and is never registered; refusing is the safe answer (the harness cancels).
    fn register(&self, task: Task) -> Result<(), Task> {
        Err(task)
    }

    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

/// The future of a blocking task: runs the closure at its first (and only) poll.
pub(crate) struct BlockingTask<F> {
    func: Option<F>,
}

impl<F> BlockingTask<F> {
    pub(crate) fn new(func: F) -> BlockingTask<F> {
        BlockingTask { func: Some(func) }
    }
}

// The closure is never pinned: it is moved out and called.
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let func = self.func.take().expect("a blocking task runs once");
        Poll::Ready(func())
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use crate::Runtime;
    use std::time::Duration;

    fn threads(rt: &Runtime) -> usize {
        rt.handle().blocking.inner.state.lock().threads
    }

    #[test]
    fn shutdown_leaves_no_blocking_task_registered() {
        let rt = Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let pool = rt.handle().blocking.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let running = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            rx.recv().unwrap()
        });
        started_rx.recv().unwrap();
        let queued: Vec<_> = (0..10usize).map(|i| rt.spawn_blocking(move || i)).collect();
        assert_eq!(pool.inner.state.lock().queue.len(), 10);
        rt.shutdown_timeout(Duration::ZERO);
        tx.send(()).unwrap();
        futures::executor::block_on(running).unwrap();
        for (i, q) in queued.into_iter().enumerate() {
            // Queued before shutdown: runs once the running call lets the thread go.
            assert_eq!(futures::executor::block_on(q).unwrap(), i);
        }
        assert!(pool.inner.state.lock().queue.is_empty());
    }

    #[test]
    fn any_keep_alive_loses_no_call_and_keeps_the_counts_right() {
        const PATIENCE: Duration = Duration::from_secs(30);
        for keep_alive in [
            Duration::ZERO,
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
        ] {
            let rt = Runtime::builder()
                .worker_threads(1)
                .max_blocking_threads(1)
                .thread_keep_alive(keep_alive)
                .build()
                .unwrap();
            let inner = rt.handle().blocking.inner.clone();
            for i in 0..3 {
                let call = rt.spawn_blocking(move || i);
                let out = rt.block_on(async { crate::time::timeout(PATIENCE, call).await });
                assert_eq!(out.expect("a blocking call was lost").unwrap(), i);
                // Let the thread reach rest (idle, or gone) before the next call, so
                // that call meets the idle accounting (a failure bound, not a wait for
                // time to pass: the loop ends as soon as the state is right).
                let start = std::time::Instant::now();
                loop {
                    let state = inner.state.lock();
                    assert!(
                        state.idle <= state.threads,
                        "{keep_alive:?}: {} idle of {} threads",
                        state.idle,
                        state.threads
                    );
                    if state.idle == state.threads {
                        break;
                    }
                    drop(state);
                    assert!(start.elapsed() < PATIENCE, "the thread never came to rest");
                    std::thread::yield_now();
                }
            }
        }
    }

    #[test]
    fn threads_grow_on_demand_and_exit_when_idle() {
        let rt = Runtime::builder()
            .worker_threads(1)
            .thread_keep_alive(Duration::from_millis(20))
            .build()
            .unwrap();
        assert_eq!(threads(&rt), 0);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let b = barrier.clone();
                rt.spawn_blocking(move || {
                    b.wait();
                })
            })
            .collect();
        barrier.wait();
        for h in handles {
            rt.block_on(h).unwrap();
        }
        assert!(threads(&rt) >= 3);
        // Time is what this checks: idle threads leave after the keep-alive.
        let start = std::time::Instant::now();
        while threads(&rt) > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "idle threads did not exit"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
