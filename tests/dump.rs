//! `Handle::dump()`: every live task once (running, queued and never polled, waiting),
//! never a completed one, while tasks spawn, wait and complete around it.

mod common;

use common::{occupy_worker, PATIENCE};
use heist::debug::TaskState;
use heist::Runtime;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[test]
fn queued_never_polled_running_and_waiting_tasks_are_all_listed() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .stalled_slot_check(None)
        .build()
        .unwrap();
    let _enter = rt.enter();
    // Waiting: polled once, now waiting on a channel.
    let (wake_tx, wake_rx) = futures::channel::oneshot::channel::<()>();
    let waiter = heist::task::Builder::new()
        .name("waiter")
        .spawn(wake_rx)
        .unwrap();
    // Wait until it waits: it shows up in the dump as waiting.
    let deadline = Instant::now() + PATIENCE;
    while !rt
        .handle()
        .dump()
        .tasks_in(TaskState::Waiting)
        .any(|t| t.id == waiter.id())
    {
        assert!(Instant::now() < deadline, "the waiter never waited");
        std::thread::yield_now();
    }
    // Running: the only worker is blocked inside this task's first poll.
    let release = occupy_worker(&rt);
    // Queued and never polled: stuck behind it in the global queue.
    let queued: Vec<_> = (0..3)
        .map(|i| {
            heist::task::Builder::new()
                .name(["q0", "q1", "q2"][i])
                .spawn(async {})
                .unwrap()
        })
        .collect();

    let dump = rt.handle().dump();
    println!("{dump}");
    let ids: Vec<_> = dump.tasks.iter().map(|t| t.id).collect();
    assert_eq!(dump.tasks.len(), 5, "{dump}");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        5,
        "a task listed twice"
    );

    let running: Vec<_> = dump.tasks_in(TaskState::Running).collect();
    assert_eq!(running.len(), 1, "{dump}");
    assert_eq!(running[0].worker, Some(0));
    assert_eq!(dump.workers[0].running, Some(running[0].id));
    assert!(running[0].spawned_at.file().ends_with("common/mod.rs"));

    for q in &queued {
        let row = dump
            .tasks
            .iter()
            .find(|t| t.id == q.id())
            .expect("queued task missing");
        assert_eq!(row.state, TaskState::Ready);
        assert_eq!(row.name.as_deref(), q.name());
        assert_eq!(row.polls, 0);
        assert_eq!(row.spawned_at, q.spawned_at());
    }
    let w = dump.tasks.iter().find(|t| t.id == waiter.id()).unwrap();
    assert_eq!(w.state, TaskState::Waiting);
    assert_eq!(w.name.as_deref(), Some("waiter"));
    assert_eq!(w.polls, 1);

    let text = dump.to_string();
    assert!(
        text.starts_with("heist dump: 1 workers, 5 live tasks (1 running, 3 ready, 1 waiting)"),
        "{text}"
    );
    assert!(text.contains("waiter") && text.contains("q2"), "{text}");

    // The dump put the queued tasks back: they all run.
    release.send(()).unwrap();
    for q in queued {
        rt.block_on(q).unwrap();
    }
    wake_tx.send(()).unwrap();
    rt.block_on(waiter).unwrap().unwrap();
    assert!(rt.handle().dump().tasks.is_empty());
}

/// 10,000 tasks spawn, wait and complete while dumps are taken: each dump lists each
/// task at most once, never one whose handle had already returned when the dump began,
/// and always the tasks known to be waiting throughout. (Ready tasks on the move between
/// queues: `dumps_racing_with_batch_moves_miss_no_task`.)
#[test]
fn dumps_while_tasks_spawn_wait_and_complete() {
    let n: usize = if cfg!(miri) { 50 } else { 10_000 };
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let handle = rt.handle().clone();

    // Pinned: wait for the whole test.
    let (pin_tx, pin_rx) = futures::channel::oneshot::channel::<()>();
    let pin_rx = futures::future::FutureExt::shared(pin_rx);
    let pinned: Vec<_> = (0..10)
        .map(|_| {
            let rx = pin_rx.clone();
            rt.spawn(async move {
                let _ = rx.await;
            })
        })
        .collect();
    let pinned_ids: HashSet<_> = pinned.iter().map(|h| h.id()).collect();
    // Once waiting, they are in the registry, listed as waiting, for good.
    let deadline = Instant::now() + PATIENCE;
    while handle.dump().tasks_in(TaskState::Waiting).count() < pinned_ids.len() {
        assert!(Instant::now() < deadline, "the pinned tasks never waited");
        std::thread::yield_now();
    }

    // Churn: a driver task spawns tasks that each wait for a wake-up from the driver's
    // next round, then complete; the test thread records each finished id.
    let finished = Arc::new(Mutex::new(HashSet::new()));
    let churn = {
        let finished = finished.clone();
        rt.spawn(async move {
            let mut waiting = Vec::new();
            for i in 0..n {
                let (tx, rx) = futures::channel::oneshot::channel::<()>();
                let h = heist::spawn(async move {
                    let _ = rx.await;
                    heist::task::yield_now().await;
                });
                waiting.push((tx, h));
                if i % 16 == 15 {
                    for (tx, h) in waiting.drain(..) {
                        let _ = tx.send(());
                        let id = h.id();
                        h.await.unwrap();
                        finished.lock().unwrap().insert(id);
                    }
                }
            }
            for (tx, h) in waiting {
                let _ = tx.send(());
                let id = h.id();
                h.await.unwrap();
                finished.lock().unwrap().insert(id);
            }
        })
    };

    let mut dumps = 0;
    let churn_id = churn.id();
    while !churn.is_finished() {
        let done_before: HashSet<_> = finished.lock().unwrap().clone();
        let dump = handle.dump();
        dumps += 1;
        let mut seen = HashSet::new();
        for t in &dump.tasks {
            assert!(seen.insert(t.id), "task {} listed twice:\n{dump}", t.id);
            assert!(
                !done_before.contains(&t.id),
                "task {} had completed before the dump:\n{dump}",
                t.id
            );
        }
        for id in &pinned_ids {
            assert!(seen.contains(id), "pinned task {id} missing:\n{dump}");
        }
        let _ = churn_id;
    }
    rt.block_on(churn).unwrap();
    assert_eq!(finished.lock().unwrap().len(), n);
    assert!(dumps > 1, "the churn ended before a second dump");
    pin_tx.send(()).unwrap();
    for p in pinned {
        rt.block_on(p).unwrap();
    }
    let last = handle.dump();
    assert!(last.tasks.is_empty(), "{last}");
}

/// Tasks never polled, moving between queues while the dump reads them: waves of tasks
/// spawned from outside land in the global queue, and the workers move them in batches
/// into their own deques (and steal them from each other) while dumps are taken. Every
/// dump lists every task spawned before it began and not yet released, and no task
/// already joined; a dump may say it is incomplete only by naming a worker it could not
/// see settle, and most are complete.
///
/// Before the dump re-read the queues after a move (`Remote::moving`), it missed the
/// batch a worker took from the global queue while the dump was draining it: the batch
/// landed in a deque the dump had already drained.
#[test]
fn dumps_racing_with_batch_moves_miss_no_task() {
    use futures::channel::oneshot;
    let (waves, per_wave) = if cfg!(miri) { (3, 20) } else { (100, 100) };
    const DUMPS_PER_WAVE: usize = 10;
    let rt = Runtime::builder()
        .worker_threads(2)
        .stalled_slot_check(None)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    // Each task waits for its own release, then completes.
    let mut waiting: Vec<(oneshot::Sender<()>, heist::task::JoinHandle<()>)> = Vec::new();
    let mut joined = HashSet::new();
    let mut complete = 0;
    for wave in 0..waves {
        for _ in 0..per_wave {
            let (tx, rx) = oneshot::channel::<()>();
            let h = handle.spawn(async move {
                let _ = rx.await;
            });
            waiting.push((tx, h));
        }
        // Dump while the workers move the wave out of the global queue (and, after the
        // first dump, out of it again: a dump puts what it took back there).
        for _ in 0..DUMPS_PER_WAVE {
            let dump = handle.dump();
            let listed: HashSet<_> = dump.tasks.iter().map(|t| t.id).collect();
            assert_eq!(
                listed.len(),
                dump.tasks.len(),
                "a task listed twice:\n{dump}"
            );
            if dump.is_complete() {
                complete += 1;
                for (_, h) in &waiting {
                    assert!(
                        listed.contains(&h.id()),
                        "wave {wave}: task {} missing from a complete dump:\n{dump}",
                        h.id()
                    );
                }
            } else {
                assert!(dump.to_string().contains("incomplete: worker"), "{dump}");
            }
            for id in &joined {
                assert!(!listed.contains(id), "task {id} listed after it was joined");
            }
        }
        // Release the older half, and join it before the next dump.
        let keep = waiting.split_off(waiting.len() / 2);
        for (tx, h) in std::mem::replace(&mut waiting, keep) {
            tx.send(()).unwrap();
            let id = h.id();
            rt.block_on(h).unwrap();
            joined.insert(id);
        }
    }
    let dumps = waves * DUMPS_PER_WAVE;
    println!("{complete} of {dumps} dumps complete");
    assert!(
        complete * 2 > dumps,
        "only {complete} of {dumps} dumps were complete"
    );
    for (tx, h) in waiting {
        tx.send(()).unwrap();
        rt.block_on(h).unwrap();
    }
    let last = handle.dump();
    assert!(last.tasks.is_empty() && last.is_complete(), "{last}");
}

#[test]
fn in_debug_mode_the_dump_gives_ages_and_wait_sites() {
    use heist::debug::WaitKind;
    use std::panic::Location;
    use std::time::Duration;

    let rt = Runtime::builder()
        .worker_threads(1)
        .debug(true)
        .build()
        .unwrap();
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let waiter = rt.spawn(rx);
    let waiter_spawn = waiter.spawned_at();
    let sleep_line = Location::caller().line() + 2;
    let sleeper = rt.spawn(async {
        heist::time::sleep(Duration::from_secs(3600)).await;
    });
    let joiner = rt.spawn(waiter);
    let ids = [sleeper.id(), joiner.id()];
    let deadline = Instant::now() + PATIENCE;
    let dump = loop {
        let dump = rt.handle().dump();
        if ids
            .iter()
            .all(|id| dump.tasks_in(TaskState::Waiting).any(|t| t.id == *id))
        {
            break dump;
        }
        assert!(Instant::now() < deadline, "the tasks never waited");
        std::thread::yield_now();
    };
    println!("{dump}");
    let row = |id| dump.tasks.iter().find(|t| t.id == id).unwrap();
    let sleeping = row(sleeper.id());
    let site = sleeping.waits.expect("a sleep records its wait site");
    assert_eq!(site.kind, WaitKind::Sleep);
    assert_eq!(
        (site.location.file(), site.location.line()),
        (file!(), sleep_line)
    );
    let joining = row(joiner.id());
    let site = joining.waits.expect("a JoinHandle records its wait site");
    assert_eq!(site.kind, WaitKind::Join);
    assert_eq!(site.location, waiter_spawn);
    assert!(sleeping.age.expect("debug mode stamps every task") <= rt.handle().metrics().uptime());
    assert!(
        dump.to_string()
            .contains("(waits on sleep at tests/dump.rs:"),
        "{dump}"
    );

    tx.send(()).unwrap();
    rt.block_on(joiner).unwrap().unwrap().unwrap();
    sleeper.abort();
    assert!(rt.block_on(sleeper).unwrap_err().is_cancelled());
    // Without debug mode neither is known.
    let plain = Runtime::builder().worker_threads(1).build().unwrap();
    let release = occupy_worker(&plain);
    let dump = plain.handle().dump();
    assert!(
        dump.tasks
            .iter()
            .all(|t| t.age.is_none() && t.waits.is_none()),
        "{dump}"
    );
    release.send(()).unwrap();
}
