//! `task::Builder`: spawn a task with a name. It spawns onto a runtime, so it lives in
//! the runtime's room; `heist::task::Builder` is its public path (a re-export).

use super::context;
use crate::task::{JoinHandle, Meta};
use crate::Handle;
use std::future::Future;
use std::io;

/// Configures a task before spawning it: today, its name.
///
/// The name shows in [`Handle::dump`](crate::Handle::dump), in slow-poll reports
/// ([`Builder::on_slow_poll`](crate::Builder::on_slow_poll)) and through
/// [`JoinHandle::name`]. A named task costs one extra allocation for the name; an
/// unnamed one nothing.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = heist::task::Builder::new()
///         .name("conn-handler")
///         .spawn(async { 1 + 1 })
///         .unwrap();
///     assert_eq!(handle.name(), Some("conn-handler"));
///     assert_eq!(handle.await.unwrap(), 2);
/// });
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder for an unnamed task.
    pub fn new() -> Builder<'a> {
        Builder { name: None }
    }

    /// Names the task (the name is copied at spawn).
    pub fn name(&self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    #[track_caller]
    fn meta(&self) -> Meta {
        Meta::new(std::panic::Location::caller(), self.name)
    }

    /// Spawns the task onto the current runtime, as [`spawn`](crate::spawn).
    ///
    /// # Errors
    /// None today; the `Result` is tokio's signature, kept for errors to come.
    ///
    /// # Panics
    /// Outside a runtime (not in a task, `block_on`, or after `Runtime::enter`).
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        match context::with_current(|h| crate::scheduler::Shared::spawn(&h.scheduler, future, meta))
        {
            Ok(join) => Ok(join),
            Err(e) => panic!("heist::task::Builder::spawn: {e}"),
        }
    }

    /// Spawns the task onto the runtime of `handle`.
    ///
    /// # Errors
    /// None today (tokio's signature).
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        Ok(crate::scheduler::Shared::spawn(
            &handle.scheduler,
            future,
            meta,
        ))
    }

    /// Runs a blocking closure on the current runtime's blocking pool, as
    /// [`spawn_blocking`](crate::task::spawn_blocking).
    ///
    /// # Errors
    /// None today (tokio's signature).
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, func: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let meta = self.meta();
        match context::with_current(|h| h.blocking.spawn(func, h, meta)) {
            Ok(join) => Ok(join),
            Err(e) => panic!("heist::task::Builder::spawn_blocking: {e}"),
        }
    }

    /// Runs a blocking closure on the blocking pool of `handle`'s runtime.
    ///
    /// # Errors
    /// None today (tokio's signature).
    #[track_caller]
    pub fn spawn_blocking_on<F, R>(self, func: F, handle: &Handle) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let meta = self.meta();
        Ok(handle.blocking.spawn(func, handle, meta))
    }
}
