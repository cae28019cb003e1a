//! Slow polls and stuck tasks: a task spinning in one poll is reported while it spins
//! and again when the poll ends, with its name and spawn location; a panicking hook
//! takes nothing down; the watchdog thread exists only when asked for.

mod common;

use common::PATIENCE;
use heist::{Runtime, SlowPoll};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const THRESHOLD: Duration = Duration::from_millis(50);
const SPIN: Duration = Duration::from_millis(200);

/// A report and whether the spinning task had finished its spin when it was made.
type Seen = (SlowPoll, bool);

/// A runtime reporting slow polls over `THRESHOLD`; with `exact`, in debug mode with
/// every poll timed (the poll-time histogram on), so the worker times the end itself.
fn runtime(exact: bool, spin_done: Arc<AtomicBool>) -> (Runtime, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let mut builder = Runtime::builder();
    builder
        .worker_threads(2)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(move |slow| {
            let _ = tx
                .lock()
                .unwrap()
                .send((slow.clone(), spin_done.load(SeqCst)));
        });
    if exact {
        builder.debug(true).enable_metrics_poll_time_histogram();
    }
    (builder.build().unwrap(), rx)
}

/// Spawns a task named "spinner" that spins for `SPIN` in one poll (the spin is the
/// workload), then sets `done`. Returns its handle and where it was spawned.
fn spawn_spinner(
    rt: &Runtime,
    done: Arc<AtomicBool>,
) -> (heist::task::JoinHandle<()>, &'static Location<'static>) {
    let _enter = rt.enter();
    let here = Location::caller();
    let handle = heist::task::Builder::new()
        .name("spinner")
        .spawn(async move {
            let start = Instant::now();
            while start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
            done.store(true, SeqCst);
        })
        .unwrap();
    (handle, here)
}

fn check_reports(exact: bool) {
    let done = Arc::new(AtomicBool::new(false));
    let (rt, reports) = runtime(exact, done.clone());
    let (handle, here) = spawn_spinner(&rt, done);
    let id = handle.id();
    assert_eq!(handle.spawned_at().file(), here.file());
    assert_eq!(
        handle.spawned_at().line(),
        here.line() + 3,
        "the `.spawn(` line"
    );

    let (stuck, spin_done) = reports.recv_timeout(PATIENCE).expect("no stuck report");
    assert!(!spin_done, "reported only after the spin ended");
    assert!(stuck.is_still_running());
    assert_eq!(stuck.id(), id);
    assert_eq!(stuck.name(), Some("spinner"));
    assert_eq!(stuck.spawned_at(), handle.spawned_at());
    assert!(stuck.elapsed() >= THRESHOLD, "{stuck}");
    assert!(stuck.worker() < 2);
    let line = stuck.to_string();
    assert!(line.starts_with("heist: slow poll: task "), "{line}");
    assert!(
        line.contains("\"spinner\"") && line.contains("still running"),
        "{line}"
    );

    let (ended, spin_done) = reports.recv_timeout(PATIENCE).expect("no end report");
    assert!(spin_done, "the end reported before the spin ended");
    assert!(!ended.is_still_running());
    assert_eq!(ended.id(), id);
    assert_eq!(ended.name(), Some("spinner"));
    assert_eq!(ended.worker(), stuck.worker());
    assert_eq!(ended.is_exact(), exact);
    if exact {
        assert!(ended.elapsed() >= SPIN, "{ended}");
    } else {
        // Measured from the watchdog's first sighting, which a loaded machine can
        // delay by any amount: all that is promised is that the end report covers at
        // least what the stuck report already saw.
        assert!(ended.elapsed() >= stuck.elapsed(), "{ended} after {stuck}");
    }
    rt.block_on(handle).unwrap();
    // Nothing else was slow.
    drop(rt);
    assert!(reports.try_recv().is_err(), "an unexpected report");
}

#[test]
fn a_spinning_task_is_reported_while_stuck_and_when_it_ends() {
    check_reports(false);
}

#[test]
fn with_every_poll_timed_the_end_is_exact() {
    check_reports(true);
}

#[test]
fn a_panicking_hook_takes_nothing_down() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let rt = Runtime::builder()
        .worker_threads(1)
        .slow_poll_threshold(Duration::from_millis(20))
        .debug(true)
        .enable_metrics_poll_time_histogram()
        .on_slow_poll(move |_| {
            counted.fetch_add(1, SeqCst);
            panic!("a bug in the hook");
        })
        .build()
        .unwrap();
    let spin = |d: Duration| async move {
        let start = Instant::now();
        while start.elapsed() < d {
            std::hint::spin_loop();
        }
    };
    // Reported while running (watchdog thread) and at the end (worker thread): both
    // calls panic.
    rt.block_on(rt.spawn(spin(Duration::from_millis(100))))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while calls.load(SeqCst) < 2 {
        assert!(Instant::now() < deadline, "hook not called twice");
        std::thread::yield_now();
    }
    // The worker and the watchdog survived: a second slow task is reported again.
    rt.block_on(rt.spawn(spin(Duration::from_millis(100))))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while calls.load(SeqCst) < 4 {
        assert!(Instant::now() < deadline, "the watchdog or worker died");
        std::thread::yield_now();
    }
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
}

#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn the_watchdog_thread_exists_only_when_turned_on() {
    // Linux keeps 15 bytes of a thread's name: "wd-test-watchdog" would be cut.
    let count = || {
        thread_names()
            .iter()
            .filter(|n| n.as_str() == "wdt-watchdog")
            .count()
    };
    let plain = Runtime::builder()
        .worker_threads(1)
        .thread_name("wdt")
        .build()
        .unwrap();
    assert_eq!(count(), 0, "a watchdog started with nothing turned on");
    drop(plain);
    let watched = Runtime::builder()
        .worker_threads(1)
        .thread_name("wdt")
        .slow_poll_threshold(Duration::from_secs(1))
        .build()
        .unwrap();
    // A thread names itself once it runs: wait for that (bounded).
    let deadline = Instant::now() + PATIENCE;
    while count() != 1 {
        assert!(
            Instant::now() < deadline,
            "no watchdog thread with a threshold set"
        );
        std::thread::yield_now();
    }
    drop(watched);
}

#[test]
fn every_worker_stuck_is_said_so() {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(2)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(move |slow| {
            let _ = tx.lock().unwrap().send(slow.clone());
        })
        .build()
        .unwrap();
    // Two tasks block both workers until the test has seen a report that says so.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel();
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let (release, started) = (release_rx.clone(), started_tx.clone());
            rt.spawn(async move {
                started.send(()).unwrap();
                // Both must hold a worker: the first waits for the second to start.
                let _ = release.lock().unwrap().recv();
            })
        })
        .collect();
    started_rx.recv_timeout(PATIENCE).unwrap();
    started_rx
        .recv_timeout(PATIENCE)
        .expect("both workers blocked");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let report = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no report that every worker is stuck");
        if report.all_workers_stuck() {
            assert!(report.is_still_running());
            assert!(report.to_string().ends_with("; every worker is stuck"));
            break;
        }
    }
    release_tx.send(()).unwrap();
    release_tx.send(()).unwrap();
    for b in blockers {
        rt.block_on(b).unwrap();
    }
}

/// The name the worker copies for the watchdog is keyed by the poll's number as the
/// watchdog sees it, which counts a `block_in_place` resumption as a poll: after one,
/// a stuck named task was reported without its name.
#[test]
fn a_name_is_reported_after_a_block_in_place() {
    let done = Arc::new(AtomicBool::new(false));
    let (tx, reports) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(1)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(move |slow| {
            let _ = tx.lock().unwrap().send(slow.clone());
        })
        .build()
        .unwrap();
    rt.block_on(rt.spawn(async { heist::task::block_in_place(|| ()) }))
        .unwrap();
    let (handle, _) = spawn_spinner(&rt, done);
    let stuck = reports.recv_timeout(PATIENCE).expect("no stuck report");
    assert!(stuck.is_still_running());
    assert_eq!(stuck.name(), Some("spinner"), "{stuck}");
    rt.block_on(handle).unwrap();
}
