//! `task_local!`: tokio's `task_local` tests adapted to heist (a `yield_now` where tokio
//! sleeps), plus the edges of `scope`, `sync_scope`, `with`, `try_with` and `take_value`.

use futures::FutureExt;
use heist::task::{self, LocalKey};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use tokio::sync::oneshot;

mod common;
use common::rt;

heist::task_local! {
    static REQ_ID: u32;
    /// Attributes and `pub` are accepted.
    pub static FOO: bool;
    static NAME: String
}

#[test]
fn local() {
    rt(2).block_on(async {
        let j1 = heist::spawn(REQ_ID.scope(1, async move {
            assert_eq!(REQ_ID.get(), 1);
            assert_eq!(REQ_ID.get(), 1);
        }));
        let j2 = heist::spawn(REQ_ID.scope(2, async move {
            REQ_ID.with(|v| {
                assert_eq!(REQ_ID.get(), 2);
                assert_eq!(*v, 2);
            });
            // The value follows the task across polls (and workers).
            for _ in 0..100 {
                task::yield_now().await;
                assert_eq!(REQ_ID.get(), 2);
            }
        }));
        let j3 = heist::spawn(FOO.scope(true, async move {
            assert!(FOO.get());
        }));
        j1.await.unwrap();
        j2.await.unwrap();
        j3.await.unwrap();
    });
}

#[test]
fn task_local_available_on_abort() {
    struct MyFuture {
        tx_poll: Option<oneshot::Sender<()>>,
        tx_drop: Option<oneshot::Sender<u32>>,
    }
    impl Future for MyFuture {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            if let Some(tx_poll) = self.tx_poll.take() {
                let _ = tx_poll.send(());
            }
            Poll::Pending
        }
    }
    impl Drop for MyFuture {
        fn drop(&mut self) {
            let _ = self.tx_drop.take().unwrap().send(REQ_ID.get());
        }
    }

    rt(2).block_on(async {
        let (tx_drop, rx_drop) = oneshot::channel();
        let (tx_poll, rx_poll) = oneshot::channel();
        let h = heist::spawn(REQ_ID.scope(
            42,
            MyFuture {
                tx_poll: Some(tx_poll),
                tx_drop: Some(tx_drop),
            },
        ));
        rx_poll.await.unwrap();
        h.abort();
        assert_eq!(rx_drop.await.unwrap(), 42);
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    });
}

#[test]
fn task_local_available_on_completion_drop() {
    struct MyFuture {
        tx: Option<oneshot::Sender<u32>>,
    }
    impl Future for MyFuture {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }
    impl Drop for MyFuture {
        fn drop(&mut self) {
            let _ = self.tx.take().unwrap().send(REQ_ID.get());
        }
    }

    rt(2).block_on(async {
        let (tx, rx) = oneshot::channel();
        let h = heist::spawn(REQ_ID.scope(42, MyFuture { tx: Some(tx) }));
        assert_eq!(rx.await.unwrap(), 42);
        h.await.unwrap();
    });
}

#[test]
fn not_set_outside_a_scope() {
    assert!(REQ_ID.try_with(|_| ()).is_err());
    assert_eq!(
        REQ_ID.try_with(|_| ()).unwrap_err().to_string(),
        "task-local value not set"
    );
    let err = panic::catch_unwind(|| REQ_ID.get()).unwrap_err();
    assert_eq!(
        *err.downcast::<&str>().unwrap(),
        "cannot access a task-local storage value without setting it first"
    );
    // A scope's value is gone once the scope ends, also on another task of the thread.
    rt(2).block_on(async {
        REQ_ID.scope(5, async {}).await;
        assert!(REQ_ID.try_with(|_| ()).is_err());
    });
}

#[test]
fn scopes_nest_and_restore() {
    rt(2).block_on(NAME.scope("outer".to_string(), async {
        assert_eq!(NAME.get(), "outer");
        let inner = NAME.scope("inner".to_string(), async {
            task::yield_now().await;
            NAME.with(|n| n.len())
        });
        assert_eq!(inner.await, 5);
        assert_eq!(NAME.get(), "outer");
        let v = NAME.sync_scope("sync".to_string(), || NAME.get());
        assert_eq!(v, "sync");
        assert_eq!(NAME.get(), "outer");
    }));
}

#[test]
fn sync_scope_restores_after_a_panic() {
    let res = panic::catch_unwind(|| REQ_ID.sync_scope(1, || panic!("inside")));
    assert!(res.is_err());
    assert!(REQ_ID.try_with(|_| ()).is_err());
    REQ_ID.sync_scope(2, || {
        let res = panic::catch_unwind(|| REQ_ID.sync_scope(3, || panic!("inner")));
        assert!(res.is_err());
        assert_eq!(REQ_ID.get(), 2);
    });
}

#[test]
fn scope_inside_with_panics_clearly() {
    let err = panic::catch_unwind(|| {
        REQ_ID.sync_scope(1, || REQ_ID.with(|_| REQ_ID.sync_scope(2, || ())));
    })
    .unwrap_err();
    let msg = err.downcast::<&str>().unwrap();
    assert!(
        msg.contains("while the task-local storage is borrowed"),
        "{msg}"
    );
}

#[test]
fn take_value_after_completion() {
    let mut fut = pin!(REQ_ID.scope(9, async { REQ_ID.get() + 1 }));
    assert_eq!(futures::executor::block_on(fut.as_mut()), 10);
    assert_eq!(fut.as_mut().take_value(), Some(9));
    assert_eq!(fut.as_mut().take_value(), None);
}

#[test]
fn polled_after_completion_panics() {
    let mut fut = pin!(REQ_ID.scope(1, async {}));
    assert!(fut.as_mut().now_or_never().is_some());
    let err = panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().now_or_never())).unwrap_err();
    assert_eq!(
        *err.downcast::<&str>().unwrap(),
        "`TaskLocalFuture` polled after completion"
    );
}

#[test]
fn keys_are_independent_and_debug() {
    REQ_ID.sync_scope(1, || {
        assert!(FOO.try_with(|_| ()).is_err());
        FOO.sync_scope(false, || assert_eq!((REQ_ID.get(), FOO.get()), (1, false)));
    });
    let key: &'static LocalKey<u32> = &REQ_ID;
    assert_eq!(format!("{key:?}"), "LocalKey { .. }");
    let fut = REQ_ID.scope(3, async {});
    assert_eq!(format!("{fut:?}"), "TaskLocalFuture { value: Some(3), .. }");
}

#[test]
fn auto_traits_as_tokio() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    sync(&REQ_ID);
    // A scoped future is Send when its value and future are, so it can be spawned.
    send(&NAME.scope(String::new(), async {}));
}
