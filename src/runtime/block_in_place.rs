//! `heist::task::block_in_place`: blocking code on a worker thread, its worker lent to
//! a stand-in meanwhile (`scheduler/lend.rs`).

use super::context;
use crate::scheduler::lend::{self, Lend};
use crate::scheduler::worker;
use crate::sync::Arc;

/// Runs blocking code `f` on this thread, a runtime worker, after handing the worker's
/// work to another thread, so that the tasks queued on it (its next-task slot
/// included) keep running, other workers keep stealing from it, and timers keep
/// firing while `f` blocks. As tokio's `block_in_place`.
///
/// Use it for blocking code that must run on the current thread (it borrows from the
/// task, or holds a thread-bound resource); otherwise prefer
/// [`spawn_blocking`](crate::task::spawn_blocking). The task calling it is not
/// suspended: nothing else runs on this thread until `f` returns, and a `select!` or
/// `join!` around it does not poll its siblings meanwhile.
///
/// ```
/// let rt = heist::Runtime::builder().worker_threads(1).build().unwrap();
/// let out = rt.block_on(rt.spawn(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     // Queued on this worker; runs on the stand-in while this thread blocks.
///     heist::spawn(async move { tx.send(42).unwrap() });
///     heist::task::block_in_place(|| rx.recv().unwrap())
/// }));
/// assert_eq!(out.unwrap(), 42);
/// ```
///
/// # How
///
/// The worker (its queues and accounting) is lent to a *stand-in*, a blocking-pool
/// thread that runs the worker's run loop; when `f` returns, this thread takes the
/// worker back (waiting for the stand-in to finish the poll it is in) and carries on as
/// that worker. Unlike tokio, which leaves the worker with the stand-in, the thread that
/// blocked is always the same worker afterwards (`docs/design.md`, "block_in_place").
/// With paused time, the clock does not auto-advance while `f` runs.
///
/// Inside `f` this thread is not a worker: `heist::spawn` goes to the runtime's global
/// queue, and `Handle::block_on` is allowed (also on this very runtime).
///
/// Outside a worker, `f` just runs: outside any runtime, in `Runtime::block_on`
/// (which blocks no worker), and inside another `block_in_place`. A runtime with one
/// worker allows it too (its stand-in is then the only thread running tasks).
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    let Some((lend, published)) = worker::with_current(|worker| {
        let worker = worker?;
        Some((worker.lend()?, worker.published_poll()))
    }) else {
        return f();
    };
    let lend = Arc::new(lend);
    let handle = context::with_current(|handle| handle.clone())
        .expect("a worker thread has its runtime current");
    let (stand_in, driver) = (lend.clone(), handle.driver.clone());
    // A blocking call: it also holds a paused clock until it gave the worker back.
    drop(handle.spawn_blocking(move || lend::stand_in(&stand_in, &*driver)));
    // Dropped last, with the worker back and current: publishes this poll again, which
    // the stand-in's polls replaced (the dump's running task, `task::try_id`).
    let _resume = Resume(published);
    // Meanwhile this thread is no worker, so `task::try_id` does not find the id its
    // worker published: keep it in the thread-local.
    let _id = published.map(|poll| crate::task::IdGuard::enter(poll.id));
    let _aside = Lend::stand_aside();
    // Dropped before `_aside` (also when `f` panics): the worker is back before this
    // thread runs as it again.
    let _reclaim = Reclaim(&lend);
    f()
}

/// Publishes the poll that lent its worker again, on drop (`Worker::resume_poll`).
struct Resume(Option<crate::metrics::worker::CurrentPoll>);

impl Drop for Resume {
    fn drop(&mut self) {
        if let Some(poll) = self.0 {
            worker::with_current(|worker| {
                if let Some(worker) = worker {
                    worker.resume_poll(poll);
                }
            });
        }
    }
}

/// Takes the lent worker back on drop.
struct Reclaim<'a>(&'a Lend);

impl Drop for Reclaim<'_> {
    fn drop(&mut self) {
        self.0.reclaim();
    }
}
