//! Task-local storage: [`task_local!`](crate::task_local), [`LocalKey`] and
//! [`TaskLocalFuture`], as tokio's.
//!
//! A task-local value lives in the future that [`LocalKey::scope`] returns, not in a
//! thread: each poll of that future moves the value into a thread-local slot for the
//! length of the poll and back out afterwards, so the value follows the task from worker
//! to worker. The thread-local is std's (`sync::StdLocalKey`), also under loom: the
//! macro expands in the user's crate, and the value never crosses threads while set.

use crate::sync::{StdAccessError, StdLocalKey};
use pin_project_lite::pin_project;
use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: values set for the length of a future (or a closure) with
/// [`LocalKey::scope`] (or [`LocalKey::sync_scope`]), and read with [`LocalKey::with`],
/// [`LocalKey::try_with`] or [`LocalKey::get`] from anything that future runs.
///
/// ```
/// heist::task_local! {
///     static REQUEST_ID: u32;
///     pub static USER: String;
/// }
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let task = heist::spawn(REQUEST_ID.scope(7, async {
///         heist::task::yield_now().await;
///         REQUEST_ID.get()
///     }));
///     assert_eq!(task.await.unwrap(), 7);
///     // Outside any scope the key is not set.
///     assert!(REQUEST_ID.try_with(|_| ()).is_err());
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __KEY: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey { inner: __KEY }
        };
    };
}

/// A key for task-local data, declared with [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    /// The thread-local slot that holds the value while a scope runs on this thread.
    #[doc(hidden)]
    pub inner: StdLocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// Sets the key to `value` for every poll of `future` (and for its drop): anything
    /// the returned future runs sees `value`.
    ///
    /// ```
    /// heist::task_local! { static NUMBER: u32; }
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(NUMBER.scope(1, async {
    ///     assert_eq!(NUMBER.get(), 1);
    ///     // Scopes nest: the inner value shadows the outer one.
    ///     NUMBER.scope(2, async { assert_eq!(NUMBER.get(), 2) }).await;
    ///     assert_eq!(NUMBER.get(), 1);
    /// }));
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            local: self,
            slot: Some(value),
            future: Some(future),
            _pinned: PhantomPinned,
        }
    }

    /// Sets the key to `value` while `f` runs.
    ///
    /// ```
    /// heist::task_local! { static NUMBER: u32; }
    ///
    /// let doubled = NUMBER.sync_scope(21, || NUMBER.get() * 2);
    /// assert_eq!(doubled, 42);
    /// ```
    ///
    /// # Panics
    /// If the key is borrowed by a [`with`](LocalKey::with) running around this call, or
    /// if the thread's locals are being destroyed.
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut slot = Some(value);
        match self.scope_inner(&mut slot, f) {
            Ok(res) => res,
            Err(err) => err.panic(),
        }
    }

    /// Swaps `slot` into the key, runs `f`, and swaps it back (also if `f` panics).
    fn scope_inner<F, R>(&'static self, slot: &mut Option<T>, f: F) -> Result<R, ScopeInnerErr>
    where
        F: FnOnce() -> R,
    {
        struct Guard<'a, T: 'static> {
            local: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }

        impl<T: 'static> Drop for Guard<'_, T> {
            fn drop(&mut self) {
                // The swap below borrowed and released the cell, and `f` cannot hold a
                // borrow past its return: this cannot fail.
                self.local.inner.with(|inner| {
                    let mut ref_mut = inner.borrow_mut();
                    mem::swap(self.slot, &mut *ref_mut);
                });
            }
        }

        self.inner.try_with(|inner| {
            inner
                .try_borrow_mut()
                .map(|mut ref_mut| mem::swap(slot, &mut *ref_mut))
        })??;
        let guard = Guard { local: self, slot };
        let res = f();
        drop(guard);
        Ok(res)
    }

    /// Runs `f` with a reference to the key's value.
    ///
    /// # Panics
    /// If the key is not set (outside any [`scope`](LocalKey::scope)).
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(res) => res,
            Err(_) => panic!("cannot access a task-local storage value without setting it first"),
        }
    }

    /// Runs `f` with a reference to the key's value, or returns an [`AccessError`] if the
    /// key is not set (or the thread's locals are being destroyed).
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let mut f = Some(f);
        let res = self.inner.try_with(|inner| {
            let value = inner.borrow();
            value
                .as_ref()
                .map(|value| (f.take().expect("called once"))(value))
        });
        match res {
            Ok(Some(res)) => Ok(res),
            Ok(None) | Err(_) => Err(AccessError { _private: () }),
        }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the key's value.
    ///
    /// # Panics
    /// If the key is not set.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

pin_project! {
    /// A future with a task-local value set while it is polled or dropped; made by
    /// [`LocalKey::scope`].
    pub struct TaskLocalFuture<T, F>
    where
        T: 'static,
    {
        local: &'static LocalKey<T>,
        // The value while the future is not being polled.
        slot: Option<T>,
        // `None` once the future completed (it is dropped inside the scope then).
        #[pin]
        future: Option<F>,
        #[pin]
        _pinned: PhantomPinned,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if mem::needs_drop::<F>() && this.future.is_some() {
                // Drop the future inside the scope, so its destructor sees the value. If
                // the scope cannot be entered, it is dropped outside it.
                let mut future = this.future;
                let _ = this.local.scope_inner(this.slot, || future.set(None));
            }
        }
    }
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the task-local value out of the future: `None` while the future is being
    /// polled or once taken. Useful after the future completed (the value outlives it).
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.project().slot.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        let res = this.local.scope_inner(this.slot, || {
            let fut = future.as_mut().as_pin_mut()?;
            let res = fut.poll(cx);
            if res.is_ready() {
                // Dropped inside the scope, as on cancellation.
                future.set(None);
            }
            Some(res)
        });
        match res {
            Ok(Some(res)) => res,
            Ok(None) => panic!("`TaskLocalFuture` polled after completion"),
            Err(err) => err.panic(),
        }
    }
}

impl<T: 'static + fmt::Debug, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value", &self.slot)
            .finish_non_exhaustive()
    }
}

/// Returned by [`LocalKey::try_with`] when the key is not set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl Error for AccessError {}

/// Why a scope could not be entered.
enum ScopeInnerErr {
    /// The key is borrowed (a scope entered inside `with`).
    Borrowed,
    /// The thread's locals are being destroyed.
    Destroyed,
}

impl ScopeInnerErr {
    #[track_caller]
    fn panic(&self) -> ! {
        match self {
            ScopeInnerErr::Borrowed => {
                panic!("cannot enter a task-local scope while the task-local storage is borrowed")
            }
            ScopeInnerErr::Destroyed => panic!(
                "cannot enter a task-local scope during or after destruction of the \
                 underlying thread-local"
            ),
        }
    }
}

impl From<std::cell::BorrowMutError> for ScopeInnerErr {
    fn from(_: std::cell::BorrowMutError) -> ScopeInnerErr {
        ScopeInnerErr::Borrowed
    }
}

impl From<StdAccessError> for ScopeInnerErr {
    fn from(_: StdAccessError) -> ScopeInnerErr {
        ScopeInnerErr::Destroyed
    }
}
