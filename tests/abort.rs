//! `abort()` at every stage of a task's life.

mod common;
use common::*;
use std::sync::mpsc;

#[test]
fn abort_a_queued_task_before_its_first_poll() {
    let rt = rt(1);
    // Keep the only worker busy so the victim stays queued.
    let release = occupy_worker(&rt);
    let drops = DropCounter::new();
    let polled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p = polled.clone();
    let victim = rt.spawn(tracked(&drops, async move {
        p.store(true, std::sync::atomic::Ordering::SeqCst);
    }));
    victim.abort();
    release.send(()).unwrap();
    let err = rt.block_on(victim).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert!(
        !polled.load(std::sync::atomic::Ordering::SeqCst),
        "an aborted queued task never runs"
    );
    assert_eq!(drops.count(), 1);
}

#[test]
fn abort_a_waiting_task() {
    let rt = rt(2);
    let drops = DropCounter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let h = rt.spawn(tracked(&drops, async move {
        started_tx.send(()).unwrap();
        Pending.await
    }));
    started_rx.recv().unwrap();
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(drops.count(), 1);
}

#[test]
fn abort_a_running_task_cancels_it_after_the_poll() {
    let rt = rt(2);
    let drops = DropCounter::new();
    let (in_poll_tx, in_poll_rx) = mpsc::channel();
    let (aborted_tx, aborted_rx) = mpsc::channel::<()>();
    let (after_tx, after_rx) = mpsc::channel::<&str>();
    let h = rt.spawn(tracked(&drops, async move {
        in_poll_tx.send(()).unwrap();
        aborted_rx.recv().unwrap();
        after_tx.send("finished the poll").unwrap();
        heist::task::yield_now().await;
        after_tx.send("polled again").unwrap();
    }));
    in_poll_rx.recv().unwrap();
    h.abort();
    assert!(!h.is_finished(), "a running task finishes its poll first");
    aborted_tx.send(()).unwrap();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(
        after_rx.try_iter().collect::<Vec<_>>(),
        ["finished the poll"]
    );
    assert_eq!(drops.count(), 1);
}

#[test]
fn abort_a_finished_task_changes_nothing() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel();
    let h = rt.spawn(async move {
        tx.send(()).unwrap();
        5
    });
    rx.recv().unwrap();
    // The send happens inside the poll; wait for completion through the handle's state.
    let abort = h.abort_handle();
    while !h.is_finished() {
        std::thread::yield_now();
    }
    abort.abort();
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), 5);
    assert!(abort.is_finished());
}

#[test]
fn abort_handle_outlives_and_clones() {
    let rt = rt(2);
    let h = rt.spawn(Pending);
    let a = h.abort_handle();
    let b = a.clone();
    drop(a);
    b.abort();
    b.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert!(b.is_finished());
}

#[test]
fn abort_from_inside_another_task() {
    let rt = rt(2);
    let victim = rt.spawn(Pending);
    let abort = victim.abort_handle();
    rt.block_on(rt.spawn(async move { abort.abort() })).unwrap();
    assert!(rt.block_on(victim).unwrap_err().is_cancelled());
}

#[test]
fn a_task_aborting_itself() {
    let rt = rt(1);
    let (tx, rx) = futures::channel::oneshot::channel();
    let h = rt.spawn(async move {
        let me: heist::task::AbortHandle = rx.await.unwrap();
        me.abort();
        heist::task::yield_now().await;
        unreachable!("cancelled at the yield");
    });
    tx.send(h.abort_handle()).unwrap();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
}
