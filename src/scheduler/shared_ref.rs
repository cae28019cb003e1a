//! `SharedRef`: a task's counted reference to its scheduler, and the stock of counts a
//! worker keeps so that a task spawned and freed on a worker's thread touches no
//! shared counter.
//!
//! Every task holds one strong count of the scheduler's `Arc<Shared>`: a wake must reach
//! the injector, and a task can outlive its runtime (a waker or a handle kept
//! elsewhere). Cloning the `Arc` at the spawn and dropping it at the free are two locked
//! read-modify-writes of one cache line that every worker shares. So a worker keeps a
//! stock of counts it owns (`Worker::stock`): a task freed on its thread gives its count
//! to the stock (up to [`STOCK_MAX`]), and a task spawned there takes one from it. Each
//! count in the stock is a real one, released when the worker is dropped, so `Shared`
//! lives as long as every task that names it, as with plain clones.

use super::worker::{with_current, Worker};
use super::Shared;
use crate::sync::Arc;
use std::mem::ManuallyDrop;
use std::ops::Deref;

/// How many counts a worker's stock holds at most: beyond it, a freed task's count is
/// released at once (tasks spawned from outside and freed on a worker would otherwise
/// pile up counts that only the worker's end gives back).
pub(crate) const STOCK_MAX: u32 = 1024;

/// One strong count of a scheduler's `Arc<Shared>`, held by a task (its `S`).
pub(crate) struct SharedRef(ManuallyDrop<Arc<Shared>>);

impl SharedRef {
    /// A count for a task spawned on `worker`'s own thread: from its stock if it has
    /// one, else a clone.
    #[inline]
    pub(super) fn from_worker(worker: &Worker) -> SharedRef {
        if worker.take_stock() {
            // SAFETY: the stock owned one strong count of `worker.shared`, which
            // `take_stock` handed to us; `from_raw` adopts it without a new increment.
            let shared = unsafe { Arc::from_raw(Arc::as_ptr(&worker.shared)) };
            return SharedRef(ManuallyDrop::new(shared));
        }
        SharedRef::clone_of(&worker.shared)
    }

    /// A count made by cloning: for a spawn from off this scheduler's workers.
    #[inline]
    pub(crate) fn clone_of(shared: &Arc<Shared>) -> SharedRef {
        SharedRef(ManuallyDrop::new(shared.clone()))
    }
}

impl Deref for SharedRef {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Drop for SharedRef {
    /// On a worker of this scheduler with room in its stock, the count goes there;
    /// anywhere else it is released.
    fn drop(&mut self) {
        let shared: &Shared = &self.0;
        let kept = with_current(|worker| {
            worker.is_some_and(|w| std::ptr::eq(&*w.shared, shared) && w.give_stock())
        });
        if !kept {
            // SAFETY: taken once, here; the `ManuallyDrop` is not used again.
            drop(unsafe { ManuallyDrop::take(&mut self.0) });
        }
        // Kept: the stock owns the count now, so the `Arc` is not dropped.
    }
}
