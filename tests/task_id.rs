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
