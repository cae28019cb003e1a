//! `JoinSet`: a group of tasks, collected as they finish.
//!
//! The set owns its tasks' `JoinHandle`s in a slab (`slots`, with a free list), and
//! finds the finished ones through the ready list (`ready.rs`): each handle is polled
//! with a waker of its own entry, which the task's completion pushes onto the list. So
//! `join_next` costs O(1) per finished task, never a scan of the set
//! (`docs/benchmarks.md`, "JoinSet").

mod ready;
// Real runtimes with 100,000 tasks: not under loom, nor miri (crossbeam-deque's epoch GC
// needs miri flags the `task::` runs do not pass; docs/testing.md). The set's protocol is
// modelled in `task/loom_tests.rs`, which miri does run.
#[cfg(all(test, not(heist_loom), not(miri)))]
mod tests;

use self::ready::{EntryWaker, ReadyList};
use super::{AbortHandle, Id, JoinError, JoinHandle};
use crate::runtime::Handle;
use crate::sync::WakeArc;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A collection of tasks spawned on a heist runtime, awaited in the order they finish.
///
/// As tokio's `JoinSet`: [`spawn`](JoinSet::spawn) tasks into it, then
/// [`join_next`](JoinSet::join_next) returns each one's result as it completes, and
/// `None` once the set is empty. Dropping the set aborts every task still in it.
///
/// ```
/// use heist::task::JoinSet;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut total = 0;
///     while let Some(res) = set.join_next().await {
///         total += res.unwrap();
///     }
///     assert_eq!(total, 285);
/// });
/// ```
///
/// Each finished task costs `join_next` O(1) work, whatever the size of the set: the
/// set does not scan its tasks, their completions queue them for it.
pub struct JoinSet<T> {
    slots: Vec<Option<Entry<T>>>,
    /// Free slots, reused before the slab grows.
    free: Vec<usize>,
    len: usize,
    ready: WakeArc<ReadyList>,
    /// `JoinHandle` polls made by this set: the work `join_next` does, which the
    /// linearity test bounds.
    polls: u64,
}

/// Unfinished handles one `poll_join_next` polls before it yields (tokio's coop budget
/// is the same size).
const POLL_BUDGET: u32 = 128;

struct Entry<T> {
    handle: JoinHandle<T>,
    /// This entry's waker, which `handle` is always polled with.
    node: WakeArc<EntryWaker>,
    waker: Waker,
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: ReadyList::new(),
            polls: 0,
        }
    }

    /// The number of tasks in the set (running, or finished and not yet joined).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an already spawned task's handle; returns an `AbortHandle` for it.
    pub(crate) fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let key = self.free.pop().unwrap_or(self.slots.len());
        let node = ReadyList::insert(&self.ready, key);
        let entry = Entry {
            waker: node.waker(),
            node,
            handle,
        };
        if key == self.slots.len() {
            self.slots.push(Some(entry));
        } else {
            self.slots[key] = Some(entry);
        }
        self.len += 1;
        abort
    }

    fn remove(&mut self, key: usize) -> Entry<T> {
        let entry = self.slots[key]
            .take()
            .expect("removing an empty JoinSet slot");
        self.free.push(key);
        self.len -= 1;
        entry
    }

    /// Aborts every task in the set. They stay in it: `join_next` then returns each one
    /// (as a cancelled [`JoinError`], unless it finished first).
    pub fn abort_all(&mut self) {
        for entry in self.slots.iter().flatten() {
            entry.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they run on, detached.
    pub fn detach_all(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        self.free.clear();
        self.len = 0;
        self.ready.clear();
        drop(slots);
    }

    /// Polls for the next finished task: `Ready(Some(result))` for one, `Ready(None)` if
    /// the set is empty, `Pending` otherwise (the task of `cx` is woken when one
    /// finishes). The poll form of [`join_next`](JoinSet::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|res| res.map(|res| res.map(|(_, output)| output)))
    }

    /// As [`poll_join_next`](JoinSet::poll_join_next), with the task's id.
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        match self.next_finished(Some(cx.waker())) {
            Some(res) => Poll::Ready(Some(res)),
            None if self.is_empty() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Pops ready entries until one's task has finished; `None` when the ready list is
    /// empty (after registering `waiter`, if given). Each pop is one handle poll, and an
    /// entry is pushed once per wake, so the work is O(1) per finished task.
    ///
    /// With a `waiter`, at most `POLL_BUDGET` handles that are not finished (new entries
    /// getting their first poll) are polled per call: then the waiter is woken and
    /// `None` returned, so that a `join_next` after spawning many tasks yields to the
    /// worker's other tasks instead of holding it for one long poll.
    fn next_finished(&mut self, waiter: Option<&Waker>) -> Option<Result<(Id, T), JoinError>> {
        if self.is_empty() {
            return None;
        }
        let mut budget = POLL_BUDGET;
        while let Some(node) = self.ready.pop(waiter) {
            let key = node.key;
            let Some(entry) = self.slots.get_mut(key).and_then(Option::as_mut) else {
                continue;
            };
            if !WakeArc::ptr_eq(&entry.node, &node) {
                // A wake of an entry that has left; its slot was reused.
                continue;
            }
            self.polls += 1;
            let mut cx = Context::from_waker(&entry.waker);
            if let Poll::Ready(res) = Pin::new(&mut entry.handle).poll(&mut cx) {
                let id = entry.handle.id();
                drop(self.remove(key));
                return Some(res.map(|output| (id, output)));
            }
            if let Some(waiter) = waiter {
                budget -= 1;
                if budget == 0 {
                    waiter.wake_by_ref();
                    return None;
                }
            }
        }
        None
    }

    /// The `JoinHandle` polls this set has made (for the linearity test).
    #[cfg(all(test, not(heist_loom), not(miri)))]
    pub(crate) fn handle_polls(&self) -> u64 {
        self.polls
    }
}

impl<T: 'static> JoinSet<T> {
    /// Waits for the next task to finish and returns its result; `None` once the set is
    /// empty.
    ///
    /// Cancel-safe: if the returned future is dropped before it completes, no task's
    /// result is lost.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// As [`join_next`](JoinSet::join_next), with the finished task's id (also on a
    /// [`JoinError`], as [`JoinError::id`]).
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// The result of a task that has already finished, without waiting; `None` if no
    /// task has finished (or the set is empty).
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id()
            .map(|res| res.map(|(_, output)| output))
    }

    /// As [`try_join_next`](JoinSet::try_join_next), with the task's id.
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        self.next_finished(None)
    }

    /// Aborts every task and waits for all of them to end, dropping their results. The
    /// set is empty afterwards.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs, in the order they finished.
    ///
    /// # Panics
    /// If a task panicked, its panic is resumed here; if one was cancelled, this panics
    /// with its error. The tasks still in the set are then aborted (the set is dropped).
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(output) => outputs.push(output),
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(err) => panic!("JoinSet::join_all: {err}"),
            }
        }
        outputs
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns the `!Send` `task` on the current [`LocalSet`](super::LocalSet) into the
    /// set (as [`spawn_local`](super::spawn_local)); returns a handle that can abort it.
    ///
    /// ```
    /// use heist::task::{JoinSet, LocalSet};
    /// use std::rc::Rc;
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// let total = LocalSet::new().block_on(&rt, async {
    ///     let mut set = JoinSet::new();
    ///     for i in 0..3 {
    ///         let shared = Rc::new(i); // not `Send`
    ///         set.spawn_local(async move { *shared });
    ///     }
    ///     set.join_all().await.into_iter().sum::<i32>()
    /// });
    /// assert_eq!(total, 3);
    /// ```
    ///
    /// # Panics
    /// Outside a `LocalSet`.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(super::spawn_local(task))
    }

    /// Spawns the `!Send` `task` on `local_set` into the set; it runs when the set is
    /// driven (`run_until`, `block_on`, or awaiting it).
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, task: F, local_set: &super::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local_set.spawn_local(task))
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `task` on the current runtime into the set; returns a handle that can
    /// abort it.
    ///
    /// # Panics
    /// Outside a runtime (as [`heist::spawn`](crate::spawn)).
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawns `task` on the runtime of `handle` into the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(task))
    }

    /// Runs the blocking closure `f` on the current runtime's blocking pool (as
    /// [`spawn_blocking`](crate::task::spawn_blocking)), as a task of the set.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(crate::task::spawn_blocking(f))
    }

    /// Runs the blocking closure `f` on the blocking pool of `handle`'s runtime, as a
    /// task of the set.
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(handle.spawn_blocking(f))
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        self.abort_all();
        self.ready.close();
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

/// Spawns each future on the current runtime into the set.
///
/// # Panics
/// Outside a runtime.
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            self.spawn(task);
        }
    }
}

/// Spawns each future on the current runtime into a new set.
///
/// ```
/// use heist::task::JoinSet;
///
/// let rt = heist::Runtime::new().unwrap();
/// let mut outputs = rt.block_on(async {
///     let set: JoinSet<_> = (0..3).map(|i| async move { i }).collect();
///     set.join_all().await
/// });
/// outputs.sort();
/// assert_eq!(outputs, [0, 1, 2]);
/// ```
///
/// # Panics
/// Outside a runtime.
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}
