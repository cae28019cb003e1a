//! `heist::task::id()` and `try_id()`: the current task's id, as tokio's.

use futures::future::pending;
use heist::task;
use std::panic;
use tokio::sync::oneshot;

mod common;
use common::rt;

#[test]
fn id_inside_a_task_is_its_handles_id() {
    let rt = rt(2);
    let handles: Vec<_> = (0..20).map(|_| rt.spawn(async { task::id() })).collect();
    for h in handles {
        let id = h.id();
        assert_eq!(rt.block_on(h).unwrap(), id);
    }
}

#[test]
fn id_stays_across_awaits() {
    let rt = rt(2);
    let h = rt.spawn(async {
        let before = task::id();
        for _ in 0..10 {
            task::yield_now().await;
            assert_eq!(task::try_id(), Some(before));
        }
        before
    });
    let id = h.id();
    assert_eq!(rt.block_on(h).unwrap(), id);
}

#[test]
fn no_id_outside_a_task() {
    assert_eq!(task::try_id(), None);
    let err = panic::catch_unwind(task::id).unwrap_err();
    assert_eq!(
        *err.downcast::<&str>().unwrap(),
        "heist::task::id() called outside a task"
    );
    // `block_on` runs its future on the caller's thread, not as a task.
    assert_eq!(rt(2).block_on(async { task::try_id() }), None);
    // A task's id does not leak out of its poll into the thread's other code.
    let rt = rt(2);
    rt.block_on(rt.spawn(async {})).unwrap();
    assert_eq!(task::try_id(), None);
}

#[test]
fn blocking_tasks_have_ids() {
    let rt = rt(2);
    let h = rt.handle().spawn_blocking(task::id);
    let id = h.id();
    assert_eq!(rt.block_on(h).unwrap(), id);
}

#[test]
fn id_is_set_while_an_aborted_future_drops() {
    struct SendIdOnDrop(Option<oneshot::Sender<Option<task::Id>>>);
    impl Drop for SendIdOnDrop {
        fn drop(&mut self) {
            let _ = self.0.take().unwrap().send(task::try_id());
        }
    }
    let rt = rt(2);
    let (tx, rx) = oneshot::channel();
    let (polled_tx, polled_rx) = oneshot::channel();
    let h = rt.spawn(async move {
        let _guard = SendIdOnDrop(Some(tx));
        polled_tx.send(()).unwrap();
        pending::<()>().await;
    });
    rt.block_on(polled_rx).unwrap();
    let id = h.id();
    h.abort();
    assert_eq!(rt.block_on(rx).unwrap(), Some(id));
}

/// A worker publishes its poll's id instead of setting a thread-local; a thread that
/// lends its worker (`block_in_place`) keeps the id, inside the closure and after it,
/// and a task the stand-in polls meanwhile sees its own id, not the stand-in's.
#[test]
fn id_holds_across_block_in_place_and_on_its_stand_in() {
    for workers in [1, 2] {
        let rt = rt(workers);
        let (tx, rx) = std::sync::mpsc::channel();
        let other = rt.spawn(async move {
            tx.send(task::try_id()).unwrap();
        });
        let other_id = other.id();
        let h = rt.spawn(async move {
            let before = task::id();
            // With one worker, `other` can only run on the stand-in.
            let (inside, seen) = task::block_in_place(|| (task::try_id(), rx.recv().unwrap()));
            let after = task::try_id();
            task::yield_now().await;
            (before, inside, seen, after, task::try_id())
        });
        let id = h.id();
        let (before, inside, seen, after, later) = rt.block_on(h).unwrap();
        assert_eq!(before, id);
        assert_eq!((inside, after, later), (Some(id), Some(id), Some(id)));
        assert_eq!(seen, Some(other_id));
        rt.block_on(other).unwrap();
    }
}

/// A task on a worker that enters another runtime (its worker stands aside) is still
/// that task.
#[test]
fn id_holds_while_another_runtime_is_entered() {
    let other = rt(1);
    let rt = rt(2);
    let other_handle = other.handle().clone();
    let h = rt.spawn(async move {
        let _entered = other_handle.enter();
        task::try_id()
    });
    let id = h.id();
    assert_eq!(rt.block_on(h).unwrap(), Some(id));
}

/// A finished future is dropped on the worker right after its last poll, with its id
/// still set (on a worker: still published).
#[test]
fn id_is_set_while_a_finished_future_drops() {
    struct ReadyThenSendId(Option<oneshot::Sender<Option<task::Id>>>);
    impl std::future::Future for ReadyThenSendId {
        type Output = ();
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            std::task::Poll::Ready(())
        }
    }
    impl Drop for ReadyThenSendId {
        fn drop(&mut self) {
            let _ = self.0.take().unwrap().send(task::try_id());
        }
    }
    let rt = rt(2);
    let (tx, rx) = oneshot::channel();
    let h = rt.spawn(ReadyThenSendId(Some(tx)));
    let id = h.id();
    rt.block_on(h).unwrap();
    assert_eq!(rt.block_on(rx).unwrap(), Some(id));
}
