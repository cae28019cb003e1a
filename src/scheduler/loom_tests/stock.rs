//! Model of a worker's stock of scheduler counts (`scheduler/shared_ref.rs`): tasks
//! spawned on a worker's thread take their count of `Shared` from the stock, tasks freed
//! there give it back, tasks freed elsewhere (or belonging to another scheduler) release
//! theirs, and the worker gives back what its stock holds when dropped. Planted bugs in
//! `docs/testing.md`.

use super::super::worker::{CurrentGuard, Worker};
use super::{shared, Runs};
use crate::sync::{model, thread, Arc};
use crate::task::Meta;

/// Runs of the model on real threads (without loom).
const ITERATIONS: usize = if cfg!(miri) { 3 } else { 100 };

/// This thread plays worker 0 of scheduler `a`: it spawns three tasks, runs them and
/// frees two of them here; the third's handle is dropped on another thread, racing with
/// the run, so its count is released there or given to the stock here. A task of
/// another scheduler `b`, freed on this thread, must not give its count to `a`'s stock.
/// A later spawn takes its count from the stock (`a`'s count does not move). Once the
/// worker is dropped, both schedulers' counts are back where they started.
#[test]
fn counts_pass_through_a_workers_stock_and_all_come_back() {
    model(ITERATIONS, || {
        let (a, mut queues) = shared(1);
        let (b, _b_queues) = shared(1);
        let (a_base, b_base) = (Arc::strong_count(&a), Arc::strong_count(&b));
        let worker = Worker::new(a.clone(), 0, queues.pop().unwrap());
        let runs = Runs::new();
        // Made off the worker (a clone of `b`'s count), freed on it.
        let (b_task, b_join) = runs.task(&b, 3);
        {
            let _current = CurrentGuard::set(&worker);
            let joins: Vec<_> = (0..3)
                .map(|_| worker.spawn(async {}, Meta::here()))
                .collect();
            let mut joins = joins.into_iter();
            let raced = joins.next().unwrap();
            let dropper = thread::spawn(move || drop(raced));
            drop(joins);
            // The three tasks: one in the next-task slot, two in the deque.
            while let Some(task) = a.remotes[0].next_slot.take() {
                task.run();
            }
            super::run_stolen(|| a.remotes[0].stealer.steal());
            b_task.run();
            drop(b_join);
            dropper.join().unwrap();
            // Two or three counts in the stock now: a new task takes one of them.
            let before = Arc::strong_count(&a);
            let join = worker.spawn(async {}, Meta::here());
            assert_eq!(Arc::strong_count(&a), before, "the spawn cloned the Arc");
            drop(join);
            while let Some(task) = a.remotes[0].next_slot.take() {
                task.run();
            }
        }
        drop(worker);
        assert_eq!(
            Arc::strong_count(&a),
            a_base,
            "counts of `a` not given back"
        );
        assert_eq!(
            Arc::strong_count(&b),
            b_base,
            "counts of `b` not given back"
        );
    });
}
