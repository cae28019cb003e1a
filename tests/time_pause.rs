//! Paused time (`Builder::start_paused`, `heist::time::{pause, resume, advance}`) and
//! `heist::time::Instant`: tokio's `time_pause` tests adapted to heist, run on 1, 2 and
//! 4 workers (tokio allows paused time on its single-threaded runtime only), plus what
//! auto-advance must not do: jump while a task, `block_on`, a blocking call or
//! `block_in_place` is still running.

mod common;
use common::{paused, Pending, PATIENCE};
use heist::time::{self, advance, pause, resume, sleep, sleep_until, timeout, Instant};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

const WORKERS: [usize; 3] = [1, 2, 4];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Asserts that `start.elapsed()` is `dur`, or up to 1 ms more (timers have millisecond
/// ticks): tokio_test's `assert_elapsed!`.
#[track_caller]
fn assert_elapsed(start: Instant, dur: Duration) {
    let elapsed = start.elapsed();
    assert!(
        elapsed >= dur && elapsed <= dur + ms(1),
        "elapsed {elapsed:?}, expected {dur:?} (+ at most 1 ms)"
    );
}

/// A waker that records whether it was woken: tokio_test's mock task.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// Polls a future by hand with a waker that remembers a wake (tokio_test's
/// `task::spawn`).
struct Mock<F> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
}

impl<F: Future> Mock<F> {
    fn new(fut: F) -> Self {
        Mock {
            fut: Box::pin(fut),
            flag: Arc::default(),
        }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        self.flag.0.store(false, SeqCst);
        let waker = Waker::from(self.flag.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    fn is_woken(&self) -> bool {
        self.flag.0.load(SeqCst)
    }
}

#[test]
fn pause_in_block_on_and_in_a_task() {
    for n in WORKERS {
        let rt = common::rt(n);
        rt.block_on(async { pause() });
        let rt = common::rt(n);
        rt.block_on(rt.spawn(async { pause() })).unwrap();
    }
}

#[test]
#[should_panic(expected = "already paused")]
fn pause_twice_panics() {
    paused(1).block_on(async { pause() });
}

#[test]
#[should_panic(expected = "not paused")]
fn resume_a_running_clock_panics() {
    common::rt(1).block_on(async { resume() });
}

#[test]
#[should_panic(expected = "not paused")]
fn advance_a_running_clock_panics() {
    common::rt(1).block_on(advance(ms(1)));
}

#[test]
#[should_panic(expected = "there is no heist runtime")]
fn pause_outside_a_runtime_panics() {
    pause();
}

/// tokio's `paused_time_is_deterministic`: a seeded sequence of sleeps gives the same
/// elapsed times every run, on any number of workers, and each sleep takes exactly its
/// duration rounded up to the millisecond tick.
#[test]
fn paused_time_is_deterministic() {
    fn run(workers: usize) -> Vec<Duration> {
        paused(workers).block_on(async {
            let mut rng = 1u64;
            let mut times = vec![];
            let start = Instant::now();
            let mut expected = Duration::ZERO;
            for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let d = Duration::from_micros(rng % 1_000_000);
                sleep(d).await;
                expected += d;
                // Rounded up to a whole tick since the clock started.
                expected = ms(expected.as_nanos().div_ceil(1_000_000) as u64);
                times.push(start.elapsed());
                assert_eq!(start.elapsed(), expected);
            }
            times
        })
    }
    for n in WORKERS {
        assert_eq!(run(n), run(n), "{n} workers");
    }
}

/// The issue's own test: a 30 s timeout of a future that never completes finishes at
/// once in real time, and in exactly 30 s of paused time.
#[test]
fn a_30s_timeout_takes_no_real_time() {
    for n in WORKERS {
        let rt = paused(n);
        let real = std::time::Instant::now();
        let elapsed = rt.block_on(async {
            let start = Instant::now();
            assert!(timeout(Duration::from_secs(30), Pending).await.is_err());
            start.elapsed()
        });
        assert_eq!(elapsed, Duration::from_secs(30));
        // Also inside a task, where the worker that parks last advances.
        let inner = rt
            .block_on(rt.spawn(async {
                let start = Instant::now();
                assert!(timeout(Duration::from_secs(30), Pending).await.is_err());
                start.elapsed()
            }))
            .unwrap();
        assert_eq!(inner, Duration::from_secs(30));
        // Microseconds in practice; a loose bound so a loaded machine does not fail it.
        assert!(
            real.elapsed() < Duration::from_secs(5),
            "{:?}",
            real.elapsed()
        );
    }
}

/// Timers of several tasks fire in deadline order, one deadline at a time: the clock
/// jumps to the next deadline only once every worker is idle, so the tasks woken at one
/// deadline have all run before the next one. The same on every run.
#[test]
fn tasks_wake_in_deadline_order() {
    for n in WORKERS {
        for _ in 0..if cfg!(miri) { 1 } else { 20 } {
            let rt = paused(n);
            let log = Arc::new(Mutex::new(Vec::new()));
            rt.block_on(async {
                let start = Instant::now();
                // Spawned in a shuffled order.
                let handles: Vec<_> = [7u64, 3, 9, 1, 5, 8, 2, 6, 4, 10]
                    .into_iter()
                    .map(|i| {
                        let log = log.clone();
                        heist::spawn(async move {
                            sleep(ms(i * 10)).await;
                            log.lock().unwrap().push((i, start.elapsed()));
                            // Runs on after its own deadline: the next deadline must wait.
                            heist::task::yield_now().await;
                            sleep(ms(1000)).await;
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
                assert_elapsed(start, ms(1100));
            });
            let log = log.lock().unwrap();
            let expected: Vec<_> = (1..=10).map(|i| (i, ms(i * 10))).collect();
            assert_eq!(*log, expected, "{n} workers");
        }
    }
}

#[test]
fn advance_after_poll() {
    for n in WORKERS {
        paused(n).block_on(async {
            sleep(ms(1)).await;
            let start = Instant::now();
            let mut sleep = Mock::new(sleep_until(start + ms(300)));
            assert!(sleep.poll().is_pending());
            let before = Instant::now();
            advance(ms(100)).await;
            assert_elapsed(before, ms(100));
            assert!(sleep.poll().is_pending());
            advance(ms(200)).await;
            assert!(sleep.is_woken());
            assert!(sleep.poll().is_ready());
        });
    }
}

#[test]
fn sleep_no_poll() {
    for n in WORKERS {
        paused(n).block_on(async {
            let start = Instant::now();
            advance(ms(1)).await;
            let mut sleep = Mock::new(sleep_until(start + ms(300)));
            let before = Instant::now();
            advance(ms(100)).await;
            assert_elapsed(before, ms(100));
            assert!(sleep.poll().is_pending());
        });
    }
}

/// tokio's `sleep_same_task`: a task polls its sleep, then advances the clock (the
/// `advance` future polled inside the same task), and the sleep is still pending.
#[test]
fn sleep_same_task() {
    for poll_first in [true, false] {
        paused(2).block_on(async move {
            let start = Instant::now();
            advance(ms(1)).await;
            let mut sleep = Box::pin(sleep_until(start + ms(300)));
            let mut adv = None::<Pin<Box<dyn Future<Output = ()> + Send>>>;
            let mut before = None;
            std::future::poll_fn(|cx| {
                if adv.is_none() {
                    if poll_first {
                        assert!(sleep.as_mut().poll(cx).is_pending());
                    }
                    before = Some(Instant::now());
                    adv = Some(Box::pin(advance(ms(100))));
                }
                if adv.as_mut().unwrap().as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                assert_elapsed(before.unwrap(), ms(100));
                assert!(sleep.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
        });
    }
}

#[test]
fn interval() {
    for n in WORKERS {
        paused(n).block_on(async {
            let start = Instant::now();
            advance(ms(1)).await;
            let mut i = time::interval_at(start, ms(300));
            let waker = Waker::from(Arc::new(Flag::default()));
            let mut tick = move || i.poll_tick(&mut Context::from_waker(&waker));
            assert_eq!(tick(), Poll::Ready(start));
            assert!(tick().is_pending());
            let before = Instant::now();
            advance(ms(100)).await;
            assert_elapsed(before, ms(100));
            assert!(tick().is_pending());
            advance(ms(200)).await;
            assert_eq!(tick(), Poll::Ready(start + ms(300)));
            assert!(tick().is_pending());
            advance(ms(400)).await;
            assert_eq!(tick(), Poll::Ready(start + ms(600)));
            assert!(tick().is_pending());
            advance(ms(500)).await;
            assert_eq!(tick(), Poll::Ready(start + ms(900)));
            assert_eq!(tick(), Poll::Ready(start + ms(1200)));
            assert!(tick().is_pending());
        });
    }
}

/// `advance` moves the clock by exactly its argument, below a tick too (tokio's
/// `test_time_advance_sub_ms`, `test_time_advance_3ms_and_change`,
/// `exact_1ms_advance`).
#[test]
fn advance_is_exact() {
    paused(2).block_on(async {
        for us in [51_592, 1, 3_141_592, 3_123_456, 1_000, 1_000] {
            let now = Instant::now();
            let dur = Duration::from_micros(us);
            advance(dur).await;
            assert_eq!(now.elapsed(), dur);
        }
    });
}

/// tokio's `regression_3710_with_submillis_advance`.
#[test]
fn a_submillisecond_advance_does_not_fire_a_later_timer() {
    paused(2).block_on(async {
        let start = Instant::now();
        advance(ms(1)).await;
        let mut sleep = Mock::new(sleep_until(start + Duration::from_secs(60)));
        assert!(sleep.poll().is_pending());
        let before = Instant::now();
        let dur = Duration::from_micros(51_592);
        advance(dur).await;
        assert_eq!(before.elapsed(), dur);
        assert!(sleep.poll().is_pending());
    });
}

/// tokio's `advance_once_with_timer` and `advance_multi_with_timer`.
#[test]
fn advancing_past_a_deadline_wakes_its_timer() {
    for steps in [&[250, 1500][..], &[250, 250, 250, 250]] {
        paused(2).block_on(async {
            let mut sleep = Mock::new(sleep(ms(1)));
            assert!(sleep.poll().is_pending());
            let (last, first) = steps.split_last().unwrap();
            for &us in first {
                advance(Duration::from_micros(us)).await;
                assert!(sleep.poll().is_pending());
            }
            advance(Duration::from_micros(*last)).await;
            assert!(sleep.is_woken());
            assert!(sleep.poll().is_ready());
        });
    }
}

/// `resume`: the clock runs again, from where it was paused, at real speed.
#[test]
fn resume_runs_the_clock_again() {
    paused(2).block_on(async {
        let start = Instant::now();
        advance(Duration::from_secs(3600)).await;
        resume();
        let real = std::time::Instant::now();
        sleep(ms(5)).await;
        assert!(
            real.elapsed() >= ms(5),
            "a running clock sleeps in real time"
        );
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(3600) + ms(5));
        assert!(elapsed < Duration::from_secs(3600) + PATIENCE);
        // Paused again, it stands still.
        pause();
        let now = Instant::now();
        std::thread::sleep(ms(2));
        assert_eq!(Instant::now(), now);
    });
}

/// Pausing a running clock (a runtime not started paused) freezes `Instant::now` and
/// then auto-advances, a timer registered before the pause included.
#[test]
fn pause_a_running_clock() {
    for n in WORKERS {
        let rt = common::rt(n);
        rt.block_on(async {
            let early = heist::spawn(sleep(Duration::from_secs(3600)));
            heist::task::yield_now().await;
            pause();
            let now = Instant::now();
            std::thread::sleep(ms(2));
            assert_eq!(Instant::now(), now, "paused");
            let real = std::time::Instant::now();
            sleep(Duration::from_secs(7200)).await;
            early.await.unwrap();
            assert!(real.elapsed() < PATIENCE);
            assert_elapsed(now, Duration::from_secs(7200));
        });
    }
}

/// A blocking call holds the clock: no auto-advance while it runs (tokio's rule), even
/// with a timer pending and every worker idle.
#[test]
fn a_blocking_call_inhibits_auto_advance() {
    for n in WORKERS {
        paused(n).block_on(async {
            let start = Instant::now();
            let timer = heist::spawn(sleep(Duration::from_secs(1)));
            let held = heist::task::spawn_blocking(move || {
                std::thread::sleep(ms(20));
                start.elapsed()
            });
            assert_eq!(held.await.unwrap(), Duration::ZERO);
            timer.await.unwrap();
            assert_elapsed(start, Duration::from_secs(1));
        });
    }
}

/// `block_on` holds the clock while it polls: a timer of a task does not fire under a
/// `block_on` future that is busy (otherwise its own reads of the clock would jump).
#[test]
fn a_busy_block_on_inhibits_auto_advance() {
    for n in WORKERS {
        paused(n).block_on(async {
            let start = Instant::now();
            let timer = heist::spawn(sleep(ms(10)));
            std::thread::sleep(ms(20));
            assert_eq!(start.elapsed(), Duration::ZERO);
            assert!(!timer.is_finished());
            timer.await.unwrap();
            assert_elapsed(start, ms(10));
        });
    }
}

/// A task that runs holds the clock too: its worker is not idle.
#[test]
fn a_running_task_inhibits_auto_advance() {
    for n in WORKERS {
        let rt = paused(n);
        let elapsed = rt
            .block_on(rt.spawn(async {
                let start = Instant::now();
                let timer = heist::spawn(sleep(ms(10)));
                std::thread::sleep(ms(20));
                let elapsed = start.elapsed();
                timer.await.unwrap();
                elapsed
            }))
            .unwrap();
        assert_eq!(elapsed, Duration::ZERO);
    }
}

/// `heist::time::Instant` and std's: conversions and arithmetic, as tokio's.
#[test]
fn instant_conversions_and_arithmetic() {
    let std_now = std::time::Instant::now();
    let t = Instant::from_std(std_now);
    assert_eq!(t.into_std(), std_now);
    assert_eq!(std::time::Instant::from(t), std_now);
    assert_eq!(Instant::from(std_now), t);
    let later = t + ms(5);
    assert_eq!(later - t, ms(5));
    assert_eq!(later - ms(5), t);
    assert_eq!(later.duration_since(t), ms(5));
    assert_eq!(
        t.duration_since(later),
        Duration::ZERO,
        "saturates, as tokio's"
    );
    assert_eq!(t.checked_duration_since(later), None);
    assert_eq!(later.checked_duration_since(t), Some(ms(5)));
    assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
    assert_eq!(t.checked_add(ms(5)), Some(later));
    assert_eq!(later.checked_sub(ms(5)), Some(t));
    let mut m = t;
    m += ms(3);
    m -= ms(1);
    assert_eq!(m, t + ms(2));
    assert!(t < later);
    // Outside a runtime, `now` is std's clock.
    let before = std::time::Instant::now();
    let now = Instant::now().into_std();
    assert!(now >= before && now <= std::time::Instant::now());
    // In a paused runtime, `now` is the runtime's clock; its std form moves with it.
    paused(1).block_on(async {
        let now = Instant::now();
        advance(Duration::from_secs(60)).await;
        assert_eq!(
            Instant::now().into_std() - now.into_std(),
            Duration::from_secs(60)
        );
        assert_eq!(now.elapsed(), Duration::from_secs(60));
    });
}

/// `#[heist::test(start_paused = true)]` starts the runtime paused.
#[heist::test(start_paused = true, worker_threads = 2)]
async fn the_test_attribute_starts_paused() {
    let start = Instant::now();
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}
