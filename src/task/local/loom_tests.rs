//! Models of a local task woken from another thread (`shared.rs`, "The cross-thread
//! wake"): under `--cfg heist_loom` loom explores every interleaving; without it the
//! bodies run on real threads (for miri and ThreadSanitizer).
//!
//! The set is driven by the facade's `block_on` (loom's under loom): a lost wake-up of
//! the driver leaves it parked for good, which loom reports as a deadlock. Every poll
//! and every drop of a local future asserts that it runs on the owning thread (a
//! thread-local flag that only the model's main thread sets). Tasks hold the set's
//! `Shared` in a loom `Arc`, so a task that is never freed fails with "Arc leaked".

use super::LocalSet;
use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::sync::{block_on, model, thread, Arc, Mutex};
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

const ITERATIONS: usize = if cfg!(miri) { 3 } else { 300 };

crate::sync::thread_local! {
    #[allow(clippy::missing_const_for_thread_local)]
    static OWNER: Cell<bool> = Cell::new(false);
}

fn assert_on_owner(what: &str) {
    assert!(
        OWNER.with(Cell::get),
        "a local future was {what} off the thread that owns its set"
    );
}

/// A one-shot signal fired from another thread: `wait` stores the waker, `fire` wakes it.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn fire(&self) {
        let waker = {
            let mut state = self.state.lock();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Counts its drop and checks it happens on the owning thread.
struct DropOnOwner(Arc<AtomicUsize>);

impl Drop for DropOnOwner {
    fn drop(&mut self) {
        assert_on_owner("dropped");
        self.0.fetch_add(1, SeqCst);
    }
}

/// A local task (holding an `Rc` across its `.await`) waits for a signal fired on
/// another thread while the set, awaited by `block_on`, runs out of work and parks: the
/// task is queued back to the set and run there, and the set completes.
#[test]
fn local_task_woken_from_another_thread() {
    model(ITERATIONS, || {
        OWNER.with(|o| o.set(true));
        let signal = Arc::new(Signal::default());
        let drops = Arc::new(AtomicUsize::new(0));
        let set = LocalSet::new();
        let join = set.spawn_local({
            let signal = signal.clone();
            let guard = DropOnOwner(drops.clone());
            async move {
                let not_send = Rc::new(5);
                poll_fn(|cx| {
                    assert_on_owner("polled");
                    signal.poll_wait(cx)
                })
                .await;
                drop(guard);
                *not_send
            }
        });
        let firer = thread::spawn(move || signal.fire());
        block_on(set);
        firer.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(block_on(join).unwrap(), 5);
    });
}

/// A waiting local task is woken from another thread while the set is dropped: its
/// future is dropped once, on the owning thread, whichever comes first, and its handle
/// says cancelled. A wake that comes after the set is gone only releases its reference.
#[test]
fn set_dropped_while_a_task_is_woken_from_another_thread() {
    model(ITERATIONS, || {
        OWNER.with(|o| o.set(true));
        let signal = Arc::new(Signal::default());
        let drops = Arc::new(AtomicUsize::new(0));
        let mut set = LocalSet::new();
        let join = set.spawn_local({
            let signal = signal.clone();
            let guard = DropOnOwner(drops.clone());
            async move {
                poll_fn(|cx| signal.poll_wait(cx)).await;
                drop(guard);
            }
        });
        // One poll: the task runs, registers and waits.
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(&mut set).poll(&mut cx).is_pending());
        let firer = thread::spawn(move || signal.fire());
        drop(set);
        assert_eq!(drops.load(SeqCst), 1);
        firer.join().unwrap();
        assert!(block_on(join).unwrap_err().is_cancelled());
    });
}

/// A local task is aborted from another thread, before or after it starts waiting: its
/// future is dropped once, on the set's thread, and the set (awaited) completes.
#[test]
fn local_task_aborted_from_another_thread() {
    model(ITERATIONS, || {
        OWNER.with(|o| o.set(true));
        let drops = Arc::new(AtomicUsize::new(0));
        let set = LocalSet::new();
        let join = set.spawn_local({
            let guard = DropOnOwner(drops.clone());
            async move {
                let _guard = guard;
                poll_fn(|_| {
                    assert_on_owner("polled");
                    Poll::<()>::Pending
                })
                .await;
            }
        });
        let abort = join.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        block_on(set);
        aborter.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(block_on(join).unwrap_err().is_cancelled());
    });
}
