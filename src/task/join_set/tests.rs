//! The cost of `join_next`, counted rather than timed (so it cannot be flaky): the set's
//! `JoinHandle` polls over many finished tasks stay linear in their number.

use super::JoinSet;
use crate::Runtime;
use std::sync::mpsc;

/// Tasks in the linearity tests.
const TASKS: usize = 100_000;

/// Every task has finished before the first `join_next`: each entry is polled once (its
/// initial queueing), and found complete.
#[test]
fn join_next_over_finished_tasks_polls_each_once() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let mut set = JoinSet::new();
    for i in 0..TASKS {
        let done = done_tx.clone();
        set.spawn_on(
            async move { done.send(()).map(|_| i).unwrap() },
            rt.handle(),
        );
    }
    for _ in 0..TASKS {
        done_rx.recv().unwrap();
    }
    let sum = rt.block_on(async {
        let mut sum = 0;
        while let Some(res) = set.join_next().await {
            sum += res.unwrap();
        }
        sum
    });
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
    // One poll per task, plus one more for each task that had sent but not yet
    // completed when first polled (it is then woken once, and polled once more).
    let polls = set.handle_polls();
    assert!(
        polls >= TASKS as u64 && polls <= 2 * TASKS as u64,
        "{polls} JoinHandle polls for {TASKS} tasks"
    );
}

/// Tasks finishing while `join_next` waits: still at most two polls per task (the
/// first, which registers the entry's waker, and one after the wake).
#[test]
fn join_next_while_tasks_finish_is_linear() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let n = TASKS / 10;
    let polls = rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..n {
            set.spawn(async move {
                crate::task::yield_now().await;
                i
            });
        }
        let mut count = 0;
        while let Some(res) = set.join_next().await {
            res.unwrap();
            count += 1;
        }
        assert_eq!(count, n);
        set.handle_polls()
    });
    assert!(
        polls <= 2 * n as u64,
        "{polls} JoinHandle polls for {n} tasks"
    );
}

/// A `join_next` right after spawning many tasks that are still running polls at most a
/// budget of them and yields, instead of polling every new entry in one go.
#[test]
fn join_next_yields_after_a_budget_of_unfinished_tasks() {
    use futures::FutureExt;
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let mut set = JoinSet::new();
        for _ in 0..1000 {
            let mut release = release_rx.clone();
            set.spawn(async move { release.wait_for(|go| *go).await.map(|_| ()).unwrap() });
        }
        // Nothing has finished: each call polls a budget's worth and yields.
        assert!(set.join_next().now_or_never().is_none());
        assert_eq!(set.handle_polls(), u64::from(super::POLL_BUDGET));
        release_tx.send(true).unwrap();
        let mut joined = 0;
        while let Some(res) = set.join_next().await {
            res.unwrap();
            joined += 1;
        }
        assert_eq!(joined, 1000);
        assert!(set.handle_polls() <= 2000);
    });
}
