//! `Handle`: a cloneable reference to a runtime, for spawning from anywhere.

use super::driver::Driver;
use crate::blocking::Pool;
use crate::scheduler::Shared;
use crate::sync::Arc;
use crate::task::JoinHandle;
use futures::task::{FutureObj, Spawn, SpawnError};
use std::fmt;
use std::future::Future;

/// A handle to a runtime: spawns onto it, and can be sent to other threads.
///
/// Handles keep working after the runtime shuts down, but a task spawned then is
/// cancelled at once (its `JoinHandle` resolves to a cancelled [`JoinError`]).
///
/// [`JoinError`]: crate::task::JoinError
#[derive(Clone)]
pub struct Handle {
    /// The scheduler, the driver and the blocking pool side by side: none of the three
    /// owns another (`docs/design.md`, "Layers").
    pub(crate) scheduler: Arc<Shared>,
    pub(crate) driver: Arc<Driver>,
    pub(crate) blocking: Pool,
}

impl Handle {
    /// Spawns a task onto this runtime; see [`Runtime::spawn`](crate::Runtime::spawn).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(&self.scheduler, future, crate::task::Meta::here())
    }

    /// Runs a blocking closure on the runtime's blocking pool; see
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.blocking.spawn(func, self, crate::task::Meta::here())
    }

    /// A dump of every live task: running, queued (including never-polled tasks) and
    /// waiting, each with its id, name, spawn location and state. Safe from any thread
    /// at any time; nothing stops. Queued tasks are moved to the global queue in the
    /// process (see [`Dump`](crate::Dump)).
    ///
    /// ```
    /// let rt = heist::Runtime::new().unwrap();
    /// let (tx, rx) = futures::channel::oneshot::channel::<()>();
    /// let _enter = rt.enter();
    /// let waiter = heist::task::Builder::new().name("waiter").spawn(rx).unwrap();
    /// while !rt.handle().dump().tasks.iter().any(|t| t.name.as_deref() == Some("waiter")) {
    ///     std::thread::yield_now();
    /// }
    /// println!("{}", rt.handle().dump());
    /// tx.send(()).unwrap();
    /// rt.block_on(waiter).unwrap().unwrap();
    /// ```
    pub fn dump(&self) -> crate::Dump {
        crate::debug::dump::take(&self.scheduler)
    }

    /// The timer driver, for a timer created on this runtime.
    pub(crate) fn time(&self) -> &Arc<crate::time::Driver> {
        &self.driver.time
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.scheduler.num_workers())
            .finish()
    }
}

/// Lets code written against `futures::task::{Spawn, SpawnExt}` run on heist. Fails with
/// `SpawnError::shutdown()` once the runtime is shutting down.
impl Spawn for Handle {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.status()?;
        drop(self.spawn(future));
        Ok(())
    }

    fn status(&self) -> Result<(), SpawnError> {
        if self.scheduler.is_shutdown() {
            Err(SpawnError::shutdown())
        } else {
            Ok(())
        }
    }
}
