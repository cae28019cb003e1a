//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll};
use std::time::Duration;

/// A runtime with `n` workers.
pub fn rt(n: usize) -> heist::Runtime {
    heist::Runtime::builder().worker_threads(n).build().unwrap()
}

/// A runtime with `n` workers whose clock starts paused (`Builder::start_paused`).
pub fn paused(n: usize) -> heist::Runtime {
    heist::Runtime::builder()
        .worker_threads(n)
        .start_paused(true)
        .build()
        .unwrap()
}

/// An upper bound for "this should happen": a failure bound, never a synchronisation.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Runs the future `make` returns as a detached task on a runtime with 1 worker, then
/// on one with 2, and fails with `what` if either does not finish within [`PATIENCE`]
/// (for code whose failure is a hang: a lost wake-up).
pub fn finishes_on_one_and_two_workers<F>(make: impl Fn() -> F, what: &str)
where
    F: Future<Output = ()> + Send + 'static,
{
    for workers in [1, 2] {
        let rt = rt(workers);
        let (tx, rx) = std::sync::mpsc::channel();
        let fut = make();
        drop(rt.spawn(async move {
            fut.await;
            tx.send(()).unwrap();
        }));
        if rx.recv_timeout(PATIENCE).is_err() {
            panic!("{what} ({workers} workers)");
        }
    }
}

/// Counts events across threads: drops of the `DropToken`s it makes, and `inc` calls.
/// Under `--cfg heist_loom` (the loom runtime models) its atomics are loom's, so loom
/// sees every count.
#[derive(Clone)]
pub struct DropCounter(CounterArc<CounterUsize>);

#[cfg(heist_loom)]
use loom::sync::{atomic::AtomicUsize as CounterUsize, Arc as CounterArc};
#[cfg(not(heist_loom))]
use std::sync::{atomic::AtomicUsize as CounterUsize, Arc as CounterArc};

impl DropCounter {
    pub fn new() -> Self {
        DropCounter(CounterArc::new(CounterUsize::new(0)))
    }
    /// A value whose drop counts one.
    pub fn token(&self) -> DropToken {
        DropToken(self.clone())
    }
    /// Counts one event.
    pub fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
    pub fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

impl Default for DropCounter {
    fn default() -> Self {
        DropCounter::new()
    }
}

/// Counts its own drop on its `DropCounter`.
pub struct DropToken(DropCounter);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.inc();
    }
}

/// Wraps a future so that dropping it bumps a counter.
pub fn tracked<F: Future>(counter: &DropCounter, fut: F) -> impl Future<Output = F::Output> {
    let token = counter.token();
    async move {
        let _token = token;
        fut.await
    }
}

/// Blocks one worker of `rt` inside a poll until the returned sender is used (or
/// dropped), so that tasks spawned meanwhile stay queued behind it. Returns once the
/// worker is inside that poll.
pub fn occupy_worker(rt: &heist::Runtime) -> std::sync::mpsc::Sender<()> {
    let (busy_tx, busy_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    drop(rt.spawn(async move {
        busy_tx.send(()).unwrap();
        let _ = release_rx.recv();
    }));
    busy_rx.recv().unwrap();
    release_tx
}

/// A future that is never ready, and never wakes itself.
pub struct Pending;

impl Future for Pending {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}
