//! `SharedRef`: a task's counted reference to its scheduler, and the `Stock` of counts
//! a worker keeps so that a task spawned and freed on a worker's thread touches no
//! shared counter.
//!
//! Every task holds one strong count of the scheduler's `Arc<Shared>`: a wake must reach
//! the injector, and a task can outlive its runtime (a waker or a handle kept
//! elsewhere). Cloning the `Arc` at the spawn and dropping it at the free are two locked
//! read-modify-writes of one cache line that every worker shares. So a worker keeps a
//! stock of counts it owns: a task freed on its thread gives its count to the stock (up
//! to [`STOCK_MAX`]), and a task spawned there takes one from it. Each count in the
//! stock is a real one, released when the worker is dropped, so `Shared` lives as long
//! as every task that names it, as with plain clones.
//!
//! This file names nothing of the scheduler: how a scheduler finds the stock of the
//! worker a thread runs is its [`Stocked`] impl (`scheduler/schedule.rs`).

use crate::sync::Arc;
use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ops::Deref;

/// How many counts a stock holds at most: beyond it, a freed task's count is released
/// at once (tasks spawned from outside and freed on a worker would otherwise pile up
/// counts that only the worker's end gives back).
pub(crate) const STOCK_MAX: u32 = 1024;

/// Strong counts of one `Arc` that a worker owns. Touched only on the thread that runs
/// the worker (a stand-in's, while it is lent).
pub(crate) struct Stock(Cell<u32>);

impl Stock {
    pub(crate) fn new() -> Stock {
        Stock(Cell::new(0))
    }

    /// Takes one count; false if the stock is empty.
    #[inline]
    fn take(&self) -> bool {
        let n = self.0.get();
        if n == 0 {
            return false;
        }
        self.0.set(n - 1);
        true
    }

    /// Gives one count; false if the stock is full (the caller then releases it).
    #[inline]
    fn give(&self) -> bool {
        let n = self.0.get();
        if n == STOCK_MAX {
            return false;
        }
        self.0.set(n + 1);
        true
    }

    /// Releases every count in the stock (the worker's drop).
    ///
    /// # Safety
    /// Every count in the stock is a strong count of `of`.
    pub(crate) unsafe fn release_all<T>(&self, of: &Arc<T>) {
        for _ in 0..self.0.replace(0) {
            // SAFETY: the stock owns this count of `of` (the caller's contract), and
            // `of` keeps another until after this loop.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(of)) };
        }
    }
}

/// A scheduler whose tasks hold a [`SharedRef`]: how a task's count finds the stock of
/// the worker this thread runs.
pub(crate) trait Stocked: Sized + 'static {
    /// Runs `f` with the stock of this thread's worker if it is a worker of `this`, else
    /// with `None`.
    fn with_stock<R>(this: &Self, f: impl FnOnce(Option<&Stock>) -> R) -> R;
}

/// One strong count of a scheduler's `Arc`, held by a task (its `S`).
pub(crate) struct SharedRef<T: Stocked>(ManuallyDrop<Arc<T>>);

impl<T: Stocked> SharedRef<T> {
    /// A count for a task spawned on the thread of the worker that owns `stock`, a
    /// stock of counts of `shared`: from the stock if it has one, else a clone.
    #[inline]
    pub(crate) fn from_stock(stock: &Stock, shared: &Arc<T>) -> SharedRef<T> {
        if stock.take() {
            // SAFETY: the stock owned one strong count of `shared` (the caller's
            // pairing), which `take` handed to us; `from_raw` adopts it without a new
            // increment.
            let adopted = unsafe { Arc::from_raw(Arc::as_ptr(shared)) };
            return SharedRef(ManuallyDrop::new(adopted));
        }
        SharedRef::clone_of(shared)
    }

    /// A count made by cloning: for a spawn from off the scheduler's workers.
    #[inline]
    pub(crate) fn clone_of(shared: &Arc<T>) -> SharedRef<T> {
        SharedRef(ManuallyDrop::new(shared.clone()))
    }
}

impl<T: Stocked> Deref for SharedRef<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Stocked> Drop for SharedRef<T> {
    /// On a worker of this scheduler with room in its stock, the count goes there;
    /// anywhere else it is released.
    fn drop(&mut self) {
        let kept = T::with_stock(&self.0, |stock| stock.is_some_and(Stock::give));
        if !kept {
            // SAFETY: taken once, here; the `ManuallyDrop` is not used again.
            drop(unsafe { ManuallyDrop::take(&mut self.0) });
        }
        // Kept: the stock owns the count now, so the `Arc` is not dropped.
    }
}
