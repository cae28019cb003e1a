//! Running a future to completion on the calling thread.

use crate::sync::Parker;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the thread blocked in `block_on`.
struct ThreadWaker {
    parker: Parker,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.parker.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.parker.unpark();
    }
}

/// Polls `future` on this thread, parking between polls until its waker fires.
/// The caller has entered the runtime context and checked it is not on a worker.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let thread = Arc::new(ThreadWaker {
        parker: Parker::new(),
    });
    let waker = Waker::from(thread.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread.parker.park(None);
    }
}
