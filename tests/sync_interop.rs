//! Backpressure with the runtime-agnostic primitives heist relies on instead of its own:
//! tokio's `sync` module (`Semaphore`, bounded `mpsc`, `Notify`, `oneshot`) and
//! async-channel, run on heist's workers.

use heist::task::{self, JoinSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

mod common;
use common::rt;

#[test]
fn semaphore_caps_concurrent_work() {
    const PERMITS: usize = 3;
    rt(2).block_on(async {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut set = JoinSet::new();
        for _ in 0..40 {
            let (sem, running, peak) = (sem.clone(), running.clone(), peak.clone());
            set.spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                // Hold the permit across a few scheduling points.
                for _ in 0..3 {
                    task::yield_now().await;
                }
                running.fetch_sub(1, SeqCst);
            });
        }
        while let Some(res) = set.join_next().await {
            res.unwrap();
        }
        let peak = peak.load(SeqCst);
        assert!((1..=PERMITS).contains(&peak), "peak {peak}");
        assert_eq!(sem.available_permits(), PERMITS);
    });
}

#[test]
fn owned_permits_come_back_when_tasks_are_aborted() {
    rt(2).block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let mut set = JoinSet::new();
        let (held_tx, mut held_rx) = mpsc::channel::<()>(2);
        for _ in 0..2 {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let held = held_tx.clone();
            set.spawn(async move {
                let _permit = permit;
                held.send(()).await.unwrap();
                std::future::pending::<()>().await;
            });
        }
        held_rx.recv().await.unwrap();
        held_rx.recv().await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_err());
        set.shutdown().await;
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn bounded_mpsc_applies_backpressure() {
    rt(2).block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        assert!(matches!(
            tx.try_send(2),
            Err(mpsc::error::TrySendError::Full(2))
        ));
        let producer = heist::spawn(async move {
            // Blocks (asynchronously) whenever the consumer is two behind.
            for i in 2..200 {
                tx.send(i).await.unwrap();
            }
        });
        let consumer = heist::spawn(async move {
            let mut expected = 0;
            while let Some(i) = rx.recv().await {
                assert_eq!(i, expected);
                expected += 1;
            }
            expected
        });
        producer.await.unwrap();
        assert_eq!(consumer.await.unwrap(), 200);
    });
}

#[test]
fn notify_wakes_tasks_on_other_workers() {
    rt(2).block_on(async {
        let notify = Arc::new(Notify::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let (ready_tx, mut ready_rx) = mpsc::channel::<()>(4);
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let (notify, woken, ready) = (notify.clone(), woken.clone(), ready_tx.clone());
            set.spawn(async move {
                let notified = notify.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before announcing readiness, so no notification is missed.
                notified.as_mut().enable();
                ready.send(()).await.unwrap();
                notified.await;
                woken.fetch_add(1, SeqCst);
            });
        }
        for _ in 0..4 {
            ready_rx.recv().await.unwrap();
        }
        notify.notify_one();
        set.join_next().await.unwrap().unwrap();
        assert_eq!(woken.load(SeqCst), 1);
        notify.notify_waiters();
        while let Some(res) = set.join_next().await {
            res.unwrap();
        }
        assert_eq!(woken.load(SeqCst), 4);
    });
}

#[test]
fn oneshot_between_tasks() {
    rt(2).block_on(async {
        let (tx, rx) = oneshot::channel();
        let receiver = heist::spawn(rx);
        heist::spawn(async move { tx.send("done").unwrap() })
            .await
            .unwrap();
        assert_eq!(receiver.await.unwrap().unwrap(), "done");

        let (tx, rx) = oneshot::channel::<()>();
        heist::spawn(async move { drop(tx) }).await.unwrap();
        assert!(
            rx.await.is_err(),
            "a dropped sender is seen by the receiver"
        );
    });
}

#[test]
fn async_channel_bounded_mpmc() {
    const ITEMS: u64 = 1000;
    rt(2).block_on(async {
        let (tx, rx) = async_channel::bounded::<u64>(4);
        let mut producers = JoinSet::new();
        for p in 0..4 {
            let tx = tx.clone();
            producers.spawn(async move {
                for i in 0..ITEMS / 4 {
                    tx.send(p * (ITEMS / 4) + i).await.unwrap();
                }
            });
        }
        drop(tx);
        let mut consumers = JoinSet::new();
        for _ in 0..3 {
            let rx = rx.clone();
            consumers.spawn(async move {
                let mut sum = 0;
                while let Ok(v) = rx.recv().await {
                    sum += v;
                }
                sum
            });
        }
        producers.join_all().await;
        let total: u64 = consumers.join_all().await.into_iter().sum();
        assert_eq!(total, ITEMS * (ITEMS - 1) / 2);
        // All senders gone and drained: the channel reports closed.
        assert!(rx.is_closed());
        assert!(rx.recv().await.is_err());
    });
}

#[test]
fn async_channel_try_send_when_full() {
    let (tx, rx) = async_channel::bounded::<u8>(1);
    tx.try_send(1).unwrap();
    assert!(tx.try_send(2).unwrap_err().is_full());
    let got = rt(2).block_on(async move { heist::spawn(async move { rx.recv().await }).await });
    assert_eq!(got.unwrap().unwrap(), 1);
}
