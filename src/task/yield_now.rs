//! `yield_now`: give the worker to other tasks once.

use super::id::Id;
use crate::sync::OnceLock;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Yields to the scheduler once: the task goes to the *back* of its worker's queue (never
/// into the next-task slot), so every task queued before it runs first.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     heist::task::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

/// A wake during its own poll makes a heist task requeue at the back of the queue
/// (`TransitionToIdle::OkNotified` goes through `Schedule::yield_now`); that is all a
/// yield needs. On a worker, polled with its own task's waker, it asks the worker
/// instead ([`request_yield`]): the same requeue, without the wake's read-modify-write
/// of the task's state.
struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if !request_yield(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// The scheduler's `request_yield` for this thread's worker (registered when a worker
/// starts, as `register_worker_source` is): marks the poll of the task `id` if this
/// thread's worker is polling it, else returns false.
static WORKER_YIELD: OnceLock<fn(Id) -> bool> = OnceLock::new();

/// Registers the scheduler's [`WORKER_YIELD`]. The first registration stands.
pub(crate) fn register_worker_yield(request: fn(Id) -> bool) {
    let _ = WORKER_YIELD.set(request);
}

/// True if `waker` is the waker of the task this thread's worker is polling now and the
/// worker took the request; false anywhere else (off the workers, a local task, a
/// combinator's own waker, another task's waker), where the caller wakes instead.
fn request_yield(waker: &Waker) -> bool {
    let Some(id) = super::raw::waker_task_id(waker) else {
        return false;
    };
    WORKER_YIELD.get().is_some_and(|request| request(id))
}
