//! The task dump: every live task of a runtime, taken without stopping it.
//!
//! A live task is in one of three places, and the dump reads each where it is safe to
//! read a task that other threads may complete and free at any moment:
//!
//! - **registered** (it has waited at least once): the owned-tasks registry. The dump
//!   walks each shard under its lock; a task leaves the registry only under that lock
//!   (completion) and the registry holds a reference to it, so every header seen there
//!   is alive while the lock is held. Its state (ready, running, waiting) comes from its
//!   state word.
//! - **queued and never polled**: in a run queue (a worker's deque or next-task slot,
//!   or the injector) and nowhere else: a task enters the registry only when it first
//!   waits, which keeps spawn free of the registry's lock (registering every task at
//!   spawn would put a lock and two list updates on the spawn + await path). The dump
//!   takes these tasks out of the queues, as a thief would, holding their queue
//!   references while it reads them, and then puts every one back in the injector. So
//!   a dump moves queued tasks from the workers' local queues to the global queue (they
//!   lose their place, not their turn), and a task of a worker stuck in a long poll gets
//!   a chance to run elsewhere.
//! - **running its first poll**: neither queued nor registered. Each worker publishes
//!   the id and spawn location of the task it polls (`metrics/worker.rs`); the dump
//!   copies those, never touching the task.
//!
//! The order of the reads matters: queues, then the workers' published polls, then the
//! registry. A task ending its first poll in `Pending` goes from "published" to
//! "registered": it registers first and withdraws its id after (`task/harness.rs`), so
//! whichever of the two reads comes at whatever instant, the dump finds it in at least
//! one (loom model `dump_racing_with_a_first_poll_that_waits`; with the old order,
//! withdraw then register, a dump could walk the registry before the registration and
//! read the published id after the withdrawal).
//!
//! Still open: a task that has never been polled and is moving at the instant of the
//! dump can be missed: popped by a worker and not yet published (a few instructions),
//! or moved by a worker from a queue the dump has not drained yet into one it already
//! drained (a steal into the thief's deque, an injector batch into a worker's deque).
//! Closing those needs the workers to announce a task in hand before they take it (and
//! a `SeqCst` handshake with the dump's steals), on the hot path of every pop; see
//! `docs/observability.md`. A task is never listed twice (rows are keyed by id) and
//! never read after it was freed.

use crate::scheduler::{Notified, Shared};
use crate::sync::Arc;
use crate::task::{Header, Id};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// A snapshot of every live task of a runtime; see
/// [`Handle::dump`](crate::Handle::dump).
///
/// The fields are plain data for programs; `Display` prints a table for people:
///
/// ```text
/// heist dump: 1 workers, 5 live tasks (1 running, 3 ready, 1 waiting), uptime 156.3µs
/// worker 0: running task 3074, 2 polls, 0 queued
///     task  state    worker   polls       age  name    spawned at
///     3074  running  0            1         -  -       tests/common/mod.rs:58:13
///     3075  ready    -            0         -  q0      tests/dump.rs:45:18
///     3076  ready    -            0         -  q1      tests/dump.rs:45:18
///     3077  ready    -            0         -  q2      tests/dump.rs:45:18
///     3073  waiting  -            1         -  waiter  tests/dump.rs:25:10
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Dump {
    /// One entry per worker.
    pub workers: Vec<WorkerDump>,
    /// Every live task found, each once: running first, then ready, then waiting.
    pub tasks: Vec<TaskDump>,
    /// Time since the runtime started.
    pub uptime: Duration,
}

/// One worker in a [`Dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerDump {
    /// The worker's index.
    pub index: usize,
    /// The task it was polling, if any.
    pub running: Option<Id>,
    /// Polls it has started since the runtime started.
    pub polls: u64,
    /// True if it was parked (asleep for lack of work).
    pub parked: bool,
    /// Tasks found in its local queue and next-task slot.
    pub queued: usize,
}

/// One task in a [`Dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskDump {
    /// The task's id.
    pub id: Id,
    /// Its name ([`task::Builder::name`](crate::task::Builder::name)). A task found
    /// running its first poll shows its name only with a slow-poll threshold set.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// What it was doing.
    pub state: TaskState,
    /// How many times it was polled (started polls, this one included if running).
    /// Not known for a task found running its first poll: 1.
    pub polls: u32,
    /// Time since it was spawned: known with the scheduling-delay histogram on (debug
    /// mode turns it on), which stamps every task.
    pub age: Option<Duration>,
    /// For a waiting task, what it waits on and where that was created, when heist's
    /// own futures know (a `Sleep`, a `JoinHandle`) and tasks carry room for it (as for
    /// `age`).
    pub waits: Option<WaitSite>,
    /// The worker polling it (running) or whose queue held it (ready); `None` for a
    /// waiting task or one in the global queue.
    pub worker: Option<usize>,
}

/// Where a waiting task waits (see [`TaskDump::waits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitSite {
    /// On what.
    pub kind: super::WaitKind,
    /// Where that was created: the `sleep` (or `timeout`, `interval`) call, or for a
    /// `JoinHandle` the spawn of the task awaited.
    pub location: &'static Location<'static>,
}

/// What a task was doing when the dump was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Being polled by a worker.
    Running,
    /// Queued to be polled (spawned or woken).
    Ready,
    /// Waiting to be woken.
    Waiting,
}

impl TaskState {
    fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Ready => "ready",
            TaskState::Waiting => "waiting",
        }
    }
}

fn row(header: &Header, state: TaskState, worker: Option<usize>, now: u64) -> TaskDump {
    let waits = (state == TaskState::Waiting)
        .then(|| super::wait_site_of(header))
        .flatten()
        .map(|(kind, location)| WaitSite { kind, location });
    TaskDump {
        waits,
        age: header
            .meta
            .spawned_at()
            .map(|t| Duration::from_nanos(now.saturating_sub(t))),
        id: header.id,
        name: header.meta.name().map(str::to_owned),
        spawned_at: header.meta.location(),
        state,
        polls: header.polls.load(crate::sync::stat::Ordering::Relaxed),
        worker,
    }
}

/// Takes every task out of a queue, up to how many it held when we started (a queue
/// that keeps filling must not keep the dump going).
fn drain(
    held: &mut Vec<(Notified, Option<usize>)>,
    worker: Option<usize>,
    len: usize,
    mut steal: impl FnMut() -> crate::scheduler::queue::Steal<Notified>,
) -> usize {
    use crate::scheduler::queue::Steal;
    let mut taken = 0;
    while taken < len {
        match steal() {
            Steal::Success(task) => {
                held.push((task, worker));
                taken += 1;
            }
            Steal::Retry => crate::sync::spin_loop(),
            Steal::Empty => break,
        }
    }
    taken
}

/// The rows found so far, at most one per task id.
#[derive(Default)]
struct Rows {
    tasks: Vec<TaskDump>,
    by_id: HashMap<Id, usize>,
}

impl Rows {
    fn add(&mut self, task: TaskDump) {
        let tasks = &mut self.tasks;
        self.by_id.entry(task.id).or_insert_with(|| {
            tasks.push(task);
            tasks.len() - 1
        });
    }

    fn get_mut(&mut self, id: Id) -> Option<&mut TaskDump> {
        let i = *self.by_id.get(&id)?;
        Some(&mut self.tasks[i])
    }
}

/// Takes a dump of `shared` (see the module doc for how and why).
pub(crate) fn take(shared: &Arc<Shared>) -> Dump {
    let mut held: Vec<(Notified, Option<usize>)> = Vec::new();
    let mut queued = vec![0; shared.num_workers()];
    for (i, remote) in shared.remotes.iter().enumerate() {
        if let Some(task) = remote.next_slot.take() {
            held.push((task, Some(i)));
            queued[i] += 1;
        }
        queued[i] += drain(&mut held, Some(i), remote.stealer.len(), || {
            remote.stealer.steal()
        });
    }
    drain(&mut held, None, shared.injector.len(), || {
        shared.injector.steal()
    });

    // The running tasks before the registry: a task ending its first poll in `Pending`
    // registers *before* it withdraws its published id (`task/harness.rs`), so a task
    // this read finds withdrawn is already in the registry the walk below locks (the
    // withdrawal is a `Release` store, read here with an `Acquire` fence; the walk
    // takes the shard lock after that). Read the other way round, a task could
    // withdraw and register between the two reads and be missed.
    let current: Vec<_> = shared
        .stats
        .workers
        .iter()
        .map(|stats| stats.current())
        .collect();
    let now = u64::try_from(shared.stats.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let mut rows = Rows::default();
    shared.owned.for_each(|header| {
        let snapshot = header.state.load();
        let state = if snapshot.is_complete() {
            return;
        } else if snapshot.is_running() {
            TaskState::Running
        } else if snapshot.is_notified() {
            TaskState::Ready
        } else {
            TaskState::Waiting
        };
        rows.add(row(header, state, None, now));
    });
    for (task, worker) in &held {
        let header = task.header();
        match rows.get_mut(header.id) {
            Some(row) => row.worker = *worker,
            None => rows.add(row(header, TaskState::Ready, *worker, now)),
        }
    }
    let mut workers = Vec::with_capacity(shared.num_workers());
    for (index, (stats, current)) in shared.stats.workers.iter().zip(current).enumerate() {
        if let Some(poll) = current {
            match rows.get_mut(poll.id) {
                Some(row) => {
                    row.state = TaskState::Running;
                    row.worker = Some(index);
                }
                None => rows.add(TaskDump {
                    id: poll.id,
                    name: shared.debug.name_for(index, poll.seq),
                    spawned_at: poll.location,
                    state: TaskState::Running,
                    polls: 1,
                    age: None,
                    waits: None,
                    worker: Some(index),
                }),
            }
        }
        workers.push(WorkerDump {
            index,
            running: current.map(|p| p.id),
            polls: stats.poll_count(),
            parked: stats.park_unpark_count.get() % 2 == 1,
            queued: queued[index],
        });
    }
    // Every task taken out goes back, to the global queue (only the owner may push to a
    // worker's deque); `schedule_remote` wakes a worker for it.
    for (task, _) in held {
        shared.schedule_remote(task);
    }
    let mut tasks = rows.tasks;
    tasks.sort_by_key(|t| (t.state, t.id));
    Dump {
        workers,
        tasks,
        uptime: shared.stats.started.elapsed(),
    }
}

impl Dump {
    /// The tasks in `state`.
    pub fn tasks_in(&self, state: TaskState) -> impl Iterator<Item = &TaskDump> + '_ {
        self.tasks.iter().filter(move |t| t.state == state)
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |s| self.tasks_in(s).count();
        writeln!(
            f,
            "heist dump: {} workers, {} live tasks ({} running, {} ready, {} waiting), uptime {:.1?}",
            self.workers.len(),
            self.tasks.len(),
            count(TaskState::Running),
            count(TaskState::Ready),
            count(TaskState::Waiting),
            self.uptime
        )?;
        for w in &self.workers {
            write!(f, "worker {}: ", w.index)?;
            match (w.running, w.parked) {
                (Some(id), _) => write!(f, "running task {id}")?,
                (None, true) => f.write_str("parked")?,
                (None, false) => f.write_str("looking for work")?,
            }
            writeln!(f, ", {} polls, {} queued", w.polls, w.queued)?;
        }
        let name_width = self
            .tasks
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.len()))
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            f,
            "  {:>6}  {:<7}  {:<6}  {:>6}  {:>8}  {:<name_width$}  spawned at",
            "task", "state", "worker", "polls", "age", "name"
        )?;
        for t in &self.tasks {
            let worker = t.worker.map_or("-".to_string(), |w| w.to_string());
            write!(
                f,
                "  {:>6}  {:<7}  {:<6}  {:>6}  {:>8}  {:<name_width$}  {}",
                t.id,
                t.state.as_str(),
                worker,
                t.polls,
                t.age.map_or("-".to_string(), |a| format!("{a:.1?}")),
                t.name.as_deref().unwrap_or("-"),
                t.spawned_at
            )?;
            if let Some(w) = t.waits {
                write!(f, "  (waits on {} at {})", w.kind.as_str(), w.location)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
