//! `timeout` and `timeout_at`, both ways.

mod common;
use common::rt;
use heist::time::Instant;
use heist::time::{sleep, timeout, timeout_at, Elapsed};
use heist::Runtime;
use std::time::Duration;

#[test]
fn a_future_that_finishes_in_time_returns_its_value() {
    let rt = rt(2);
    rt.block_on(async {
        assert_eq!(timeout(Duration::from_secs(10), async { 1 }).await, Ok(1));
        // Polled before the timer: ready at once wins even a zero timeout.
        assert_eq!(timeout(Duration::ZERO, async { 2 }).await, Ok(2));
        // Finishes later, but before the deadline.
        let (tx, rx) = futures::channel::oneshot::channel();
        heist::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            tx.send(3).unwrap();
        });
        let start = Instant::now();
        assert_eq!(timeout(Duration::from_secs(10), rx).await, Ok(Ok(3)));
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn a_future_that_does_not_finish_in_time_is_dropped_with_elapsed() {
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        let never = std::future::pending::<()>();
        assert!(timeout(Duration::from_millis(15), never).await.is_err());
        assert!(start.elapsed() >= Duration::from_millis(15));

        let deadline = Instant::now() + Duration::from_millis(5);
        let slow = sleep(Duration::from_secs(3600));
        assert!(timeout_at(deadline, slow).await.is_err());
        assert!(Instant::now() >= deadline);
    });
}

/// An `Elapsed`, obtained the only way there is.
fn elapsed() -> Elapsed {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async { timeout(Duration::ZERO, std::future::pending::<()>()).await })
        .unwrap_err()
}

#[test]
fn elapsed_is_an_error() {
    let e = elapsed();
    assert_eq!(e.to_string(), "deadline has elapsed");
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn the_inner_future_is_reachable() {
    let rt = rt(2);
    let _enter = rt.enter();
    let mut t = timeout(Duration::from_secs(1), async { 5 });
    let _ = t.get_ref();
    let _ = t.get_mut();
    assert!(t.deadline() > Instant::now());
    assert_eq!(rt.block_on(t.into_inner()), 5);
}
