//! `JoinSet`: tokio's `task_join_set` tests, adapted to heist (tokio's paused-time
//! sleeps replaced by channels that decide when each task finishes), plus heist's own.

use futures::future::{pending, FutureExt};
use heist::task::{self, JoinSet};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

mod common;
use common::rt;

/// Spawns `n` tasks that each wait for their own signal, then return their index.
fn spawn_gated(set: &mut JoinSet<usize>, n: usize) -> Vec<oneshot::Sender<()>> {
    (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
            tx
        })
        .collect()
}

#[test]
fn detach_all_then_spawn_again() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        for i in 0..10 {
            set.spawn(async move { i });
            assert_eq!(set.len(), 1 + i);
        }
        set.detach_all();
        assert_eq!(set.len(), 0);
        assert!(set.join_next().await.is_none());

        for _round in 0..2 {
            let gates = spawn_gated(&mut set, 10);
            assert_eq!(set.len(), 10);
            // Release them in reverse: join_next returns them as they finish.
            for (i, gate) in gates.into_iter().enumerate().rev() {
                gate.send(()).unwrap();
                assert_eq!(set.join_next().await.unwrap().unwrap(), i);
            }
            assert!(set.join_next().await.is_none());
        }
    });
}

#[test]
fn dropping_the_set_aborts_its_tasks() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        let mut recvs = Vec::new();
        for _ in 0..16 {
            let (send, recv) = oneshot::channel::<()>();
            recvs.push(recv);
            set.spawn(async move {
                pending::<()>().await;
                drop(send);
            });
        }
        drop(set);
        for recv in recvs {
            // The task is aborted, which drops the sender.
            assert!(recv.await.is_err());
        }
    });
}

#[test]
fn alternating_spawn_and_join() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async {});
        set.spawn(async {});
        assert_eq!(set.len(), 2);
        for _ in 0..16 {
            let () = set.join_next().await.unwrap().unwrap();
            assert_eq!(set.len(), 1);
            set.spawn(async {});
            assert_eq!(set.len(), 2);
        }
    });
}

#[test]
fn abort_handles_cancel_their_task() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        for i in 0..16usize {
            let abort = set.spawn(async move {
                if i % 2 != 0 {
                    pending::<()>().await;
                }
                i
            });
            if i % 2 != 0 {
                abort.abort();
            }
        }
        let (mut cancelled, mut completed) = (0, 0);
        while let Some(res) = set.join_next().await {
            match res {
                Ok(i) => {
                    assert_eq!(i % 2, 0);
                    completed += 1;
                }
                Err(e) => {
                    assert!(e.is_cancelled());
                    cancelled += 1;
                }
            }
        }
        assert_eq!((cancelled, completed), (8, 8));
    });
}

#[test]
fn runtime_gone() {
    let mut set = JoinSet::new();
    {
        let rt = rt(2);
        set.spawn_on(pending::<i32>(), rt.handle());
        drop(rt);
    }
    let err = rt(2).block_on(set.join_next()).unwrap().unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn join_all_returns_every_output() {
    let res = rt(2).block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..5 {
            set.spawn(async { 1 });
        }
        set.join_all().await
    });
    assert_eq!(res, [1; 5]);
}

#[test]
fn join_all_resumes_a_panic_and_aborts_the_rest() {
    let rt = rt(2);
    let (tx, mut rx) = oneshot::channel::<()>();
    let res = rt.block_on(async move {
        let mut set: JoinSet<()> = JoinSet::new();
        set.spawn(async move {
            pending::<()>().await;
            tx.send(()).unwrap();
        });
        set.spawn(async { panic!("boom") });
        heist::spawn(set.join_all()).await
    });
    let err = res.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    // The pending task was aborted: its sender is gone without a send.
    assert!(rt.block_on(async { (&mut rx).await.is_err() }));
}

#[test]
fn abort_all_cancels_pending_tasks_and_keeps_finished_ones() {
    rt(2).block_on(async {
        let mut set: JoinSet<()> = JoinSet::new();
        let finished = Arc::new(AtomicUsize::new(0));
        let (all_done_tx, all_done_rx) = tokio::sync::mpsc::channel::<()>(5);
        for _ in 0..5 {
            set.spawn(pending());
        }
        for _ in 0..5 {
            let done = all_done_tx.clone();
            let finished = finished.clone();
            set.spawn(async move {
                finished.fetch_add(1, SeqCst);
                drop(done);
            });
        }
        drop(all_done_tx);
        // Wait until the five finishing tasks dropped their senders.
        let mut all_done_rx = all_done_rx;
        assert!(all_done_rx.recv().await.is_none());

        set.abort_all();
        assert_eq!(set.len(), 10);
        let mut count = 0;
        while let Some(res) = set.join_next().await {
            if let Err(err) = res {
                assert!(err.is_cancelled());
            }
            count += 1;
        }
        assert_eq!(count, 10);
        assert!(set.is_empty());
        assert_eq!(finished.load(SeqCst), 5);
    });
}

#[test]
fn shutdown_aborts_and_empties() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        let mut recvs = Vec::new();
        for _ in 0..8 {
            let (tx, rx) = oneshot::channel::<()>();
            recvs.push(rx);
            set.spawn(async move {
                pending::<()>().await;
                drop(tx);
            });
        }
        assert!(set.try_join_next().is_none());
        set.shutdown().await;
        assert!(set.is_empty());
        for rx in recvs {
            assert!(rx.await.is_err());
        }
    });
}

#[test]
fn try_join_next_returns_only_finished_tasks() {
    const TASKS: usize = 1000;
    rt(2).block_on(async {
        let (send, recv) = watch::channel(());
        let mut set = JoinSet::new();
        let mut spawned = HashSet::new();
        for _ in 0..TASKS {
            let mut recv = recv.clone();
            let abort = set.spawn(async move { recv.changed().await.unwrap() });
            spawned.insert(abort.id());
        }
        drop(recv);
        assert!(set.try_join_next().is_none());

        send.send_replace(());
        // Every receiver is dropped when its task ends; the task then still has to
        // publish its completion, so poll until all are in.
        send.closed().await;
        let mut joined = HashSet::new();
        while joined.len() < TASKS {
            match set.try_join_next_with_id() {
                Some(Ok((id, ()))) => assert!(joined.insert(id)),
                Some(Err(err)) => panic!("failed: {err}"),
                None => task::yield_now().await,
            }
        }
        assert_eq!(joined, spawned);
        assert!(set.try_join_next().is_none());
        assert!(set.is_empty());
    });
}

#[test]
fn join_next_with_id_matches_the_task() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        let ok = set.spawn(async { task::id() });
        let failed = set.spawn(async { panic!("boom") }).id();
        let mut seen = 0;
        while let Some(res) = set.join_next_with_id().await {
            match res {
                Ok((id, inner)) => {
                    assert_eq!(id, ok.id());
                    assert_eq!(inner, id);
                }
                Err(err) => {
                    assert!(err.is_panic());
                    assert_eq!(err.id(), failed);
                }
            }
            seen += 1;
        }
        assert_eq!(seen, 2);
    });
}

#[test]
fn extend_and_collect() {
    rt(2).block_on(async {
        let mut set: JoinSet<_> = (0..5).map(|i| async move { i }).collect();
        set.extend((5..10).map(|i| async move { i }));
        let mut seen = [false; 10];
        while let Some(res) = set.join_next().await {
            seen[res.unwrap()] = true;
        }
        assert!(seen.iter().all(|s| *s));
    });
}

#[test]
fn spawn_blocking_into_the_set() {
    let rt = rt(2);
    let mut set = JoinSet::default();
    set.spawn_blocking_on(|| 1, rt.handle());
    let total = rt.block_on(async move {
        set.spawn_blocking(|| 2);
        set.spawn_blocking(|| panic!("blocking boom"));
        let mut total = 0;
        let mut panics = 0;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(v) => total += v,
                Err(e) => {
                    assert!(e.is_panic());
                    panics += 1;
                }
            }
        }
        assert_eq!(panics, 1);
        total
    });
    assert_eq!(total, 3);
}

#[test]
fn join_next_is_cancel_safe() {
    rt(2).block_on(async {
        let mut set = JoinSet::new();
        let mut gates = spawn_gated(&mut set, 3);
        // A `join_next` dropped while it waits loses nothing.
        assert!(set.join_next().now_or_never().is_none());
        gates.remove(1).send(()).unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
        for gate in gates {
            gate.send(()).unwrap();
        }
        let mut rest: Vec<_> = Vec::new();
        while let Some(res) = set.join_next().await {
            rest.push(res.unwrap());
        }
        rest.sort();
        assert_eq!(rest, [0, 2]);
    });
}

#[test]
fn empty_set() {
    let mut set: JoinSet<()> = JoinSet::new();
    assert!(set.is_empty());
    assert!(set.try_join_next().is_none());
    assert!(futures::executor::block_on(set.join_next()).is_none());
    assert!(futures::executor::block_on(set.join_next_with_id()).is_none());
    set.abort_all();
    assert_eq!(format!("{set:?}"), "JoinSet { len: 0 }");
}

#[test]
#[should_panic(expected = "heist::spawn")]
fn spawn_outside_a_runtime_panics() {
    let mut set = JoinSet::new();
    set.spawn(async {});
}

#[test]
fn auto_traits_as_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn unpin<T: Unpin>() {}
    send_sync::<JoinSet<u32>>();
    send_sync::<JoinSet<std::cell::Cell<u32>>>(); // T: Send is enough, as for JoinHandle
    unpin::<JoinSet<std::marker::PhantomPinned>>();
}
