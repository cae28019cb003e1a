//! Runs one scheduler workload of `benches/scheduler.rs` a given number of times on one
//! runtime, with no harness around it: for counting what it costs with `perf stat`,
//! `strace -c -f` or `valgrind --tool=callgrind` (`docs/benchmarks.md`, "Worker counts,
//! foreign wakes and one worker"). Subtract a run with 0 iterations to remove the cost
//! of starting and stopping the runtime.
//!
//! ```text
//! cargo run --release --example workload -- <runtime> <workload> <iterations>
//!     runtime:  heist | tokio | async-executor | futures-pool
//!     workload: foreign_wake_storm | token_ring | yield_many | spawn_many_remote_idle
//!               | yield_switches (yield_many's shape, counting task switches per yield)
//!               | storm_phases (foreign_wake_storm's shape, timed in phases on the
//!                 sending thread, with its CPU time and run-queue wait, and the
//!                 receivers' polls; any runtime)
//! HEIST_BENCH_WORKERS=1 cargo run --release --example workload -- heist yield_many 5
//! ```
//!
//! `HEIST_WORKLOAD_SIZE=a,b` overrides the sizes: receivers and messages, ring length
//! and laps, tasks and yields, spawns, or rounds. `HEIST_WORKLOAD_CHUNK=k` (with
//! `HEIST_WORKLOAD_METRICS=1`) also prints, every `k` iterations, the chunk's time per
//! iteration and heist's counters per worker over the chunk (whether a run's mode holds
//! for the whole process).

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::workloads as body;
use common::{workers, AsyncExecutor, FuturesPool, Heist, Rt, Tokio};
use std::time::Instant;

/// The `i`th number of `HEIST_WORKLOAD_SIZE`, or `default`.
fn size(i: usize, default: usize) -> usize {
    std::env::var("HEIST_WORKLOAD_SIZE")
        .ok()
        .and_then(|v| {
            v.split(',')
                .nth(i)
                .map(|n| n.trim().parse().expect("a number"))
        })
        .unwrap_or(default)
}

fn run<R: Rt>(workload: &str, iterations: usize, report: impl Fn(&R::Spawner, Option<usize>)) {
    let rt = R::build(workers());
    let sp = rt.spawner();
    let chunk = std::env::var("HEIST_WORKLOAD_CHUNK")
        .ok()
        .map(|v| v.trim().parse::<usize>().expect("a number").max(1));
    let start = Instant::now();
    let mut chunk_start = Instant::now();
    if chunk.is_some() {
        report(&sp, Some(0));
    }
    for it in 0..iterations {
        match workload {
            "foreign_wake_storm" => body::foreign_wake_storm::<R>(
                &sp,
                size(0, body::NUM_RECEIVERS),
                size(1, body::NUM_MESSAGES),
            ),
            "token_ring" => {
                body::token_ring::<R>(&sp, size(0, body::RING_LEN), size(1, body::RING_LAPS))
            }
            "yield_many" => body::yield_many::<R>(
                &sp,
                size(0, body::NUM_YIELD_TASKS),
                size(1, body::NUM_YIELDS),
            ),
            "spawn_many_remote_idle" => body::spawn_remote_and_await(&rt, &sp, size(0, 10_000)),
            "ping_pong" => body::ping_pong::<R>(&sp, size(0, 1_000)),
            "yield_switches" => yield_switches::<R>(&sp, size(0, 200), size(1, 1_000)),
            "storm_phases" => storm_phases::<R>(
                &sp,
                size(0, body::NUM_RECEIVERS),
                size(1, body::NUM_MESSAGES),
            ),
            other => panic!("unknown workload {other}"),
        }
        if let Some(k) = chunk {
            if (it + 1) % k == 0 {
                eprint!(
                    "chunk {:>5}: {:>9.1?} per iteration; ",
                    it + 1,
                    chunk_start.elapsed() / k as u32
                );
                report(&sp, Some(k));
                chunk_start = Instant::now();
            }
        }
    }
    eprintln!(
        "{} {workload}, {} workers, {iterations} iterations: {:?} per iteration",
        R::NAME,
        workers(),
        start.elapsed() / iterations.max(1) as u32
    );
    report(&sp, None);
    if workload == "storm_phases" {
        phases_report(iterations);
    }
}

/// `yield_many`'s shape (`tasks` tasks, `yields` yields each, the runtime's own
/// `yield_now`), counting how often the task that resumes after a yield is another task
/// than the one that yielded: a yield that lets the other tasks run switches every time
/// with one worker; a pool that re-polls a self-woken task in place almost never does.
fn yield_switches<R: Rt>(sp: &R::Spawner, tasks: usize, yields: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let last = Arc::new(AtomicUsize::new(usize::MAX));
    let switches = Arc::new(AtomicUsize::new(0));
    let (count, rx) = common::workloads::Countdown::new(tasks);
    for id in 0..tasks {
        let (last, switches, count) = (last.clone(), switches.clone(), count.clone());
        R::spawn_detached(sp, async move {
            for _ in 0..yields {
                R::yield_now().await;
                if last.swap(id, Relaxed) != id {
                    switches.fetch_add(1, Relaxed);
                }
            }
            count.tick();
        });
    }
    rx.recv().unwrap();
    let switches = switches.load(Relaxed);
    eprintln!(
        "{}: {switches} switches in {} resumes after a yield ({:.3} per yield)",
        R::NAME,
        tasks * yields,
        switches as f64 / (tasks * yields) as f64
    );
}

/// `storm_phases`'s totals over the run (`phases_report` divides by the iterations).
mod phases {
    use std::sync::atomic::AtomicU64;
    pub static SPAWN_NS: AtomicU64 = AtomicU64::new(0);
    pub static SEND_NS: AtomicU64 = AtomicU64::new(0);
    pub static TAIL_NS: AtomicU64 = AtomicU64::new(0);
    pub static SEND_CPU_NS: AtomicU64 = AtomicU64::new(0);
    pub static SEND_RUNQ_NS: AtomicU64 = AtomicU64::new(0);
    pub static SPAWN_RUNQ_NS: AtomicU64 = AtomicU64::new(0);
    pub static SEND_NIVCSW: AtomicU64 = AtomicU64::new(0);
    pub static POLLS: AtomicU64 = AtomicU64::new(0);
    pub static PENDINGS: AtomicU64 = AtomicU64::new(0);
    pub static DRAINED_AT_SEND_END: AtomicU64 = AtomicU64::new(0);
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
fn thread_cpu_ns() -> u64 {
    // SAFETY: `ts` is a plain struct owned by this frame, which the call fills.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

/// This thread's time waiting on a run queue (`/proc/thread-self/schedstat`, second
/// field), in nanoseconds, and its involuntary context switches (`getrusage`).
fn thread_runq_ns_and_nivcsw() -> (u64, u64) {
    let runq = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).map(|w| w.parse().unwrap_or(0)))
        .unwrap_or(0);
    // SAFETY: `ru` is a plain struct owned by this frame, which the call fills.
    let nivcsw = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru.ru_nivcsw as u64
    };
    (runq, nivcsw)
}

/// One receiver of `storm_phases`: drains its channel in each poll, as
/// `foreign_wake_storm`'s `while inbox.next().await` does, counting its polls and the
/// polls that ended waiting (each a registration that the next send wakes), and
/// publishing how many messages it has received so far in its own line.
struct CountedReceiver {
    inbox: futures::channel::mpsc::UnboundedReceiver<u32>,
    received: usize,
    messages: usize,
    polls: u64,
    pendings: u64,
    seen: std::sync::Arc<[crossbeam_utils::CachePadded<std::sync::atomic::AtomicUsize>]>,
    index: usize,
}

impl std::future::Future for CountedReceiver {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        use futures::StreamExt;
        use std::sync::atomic::Ordering::Relaxed;
        use std::task::Poll;
        let this = &mut *self;
        this.polls += 1;
        loop {
            match this.inbox.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => {
                    this.received += 1;
                    if this.received == this.messages {
                        break;
                    }
                }
                Poll::Ready(None) => break,
                Poll::Pending => {
                    this.pendings += 1;
                    this.seen[this.index].store(this.received, Relaxed);
                    return Poll::Pending;
                }
            }
        }
        this.seen[this.index].store(this.received, Relaxed);
        phases::POLLS.fetch_add(this.polls, Relaxed);
        phases::PENDINGS.fetch_add(this.pendings, Relaxed);
        Poll::Ready(())
    }
}

/// `foreign_wake_storm`'s shape (same channels, same order of sends), timed in phases
/// on the sending thread: spawning the receivers, sending, and the tail from the last
/// send to the last receiver done; with the sender's CPU time, run-queue wait and
/// involuntary switches during the sends, the receivers' polls and waits, and how many
/// messages were drained when the last send returned.
fn storm_phases<R: Rt>(sp: &R::Spawner, receivers: usize, messages: usize) {
    use crossbeam_utils::CachePadded;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let seen: std::sync::Arc<[CachePadded<AtomicUsize>]> = (0..receivers)
        .map(|_| CachePadded::new(AtomicUsize::new(0)))
        .collect();
    let (count, rx) = common::workloads::Countdown::new(receivers);
    let (runq_spawn, _) = thread_runq_ns_and_nivcsw();
    let t0 = Instant::now();
    let senders: Vec<_> = (0..receivers)
        .map(|index| {
            let (tx, inbox) = futures::channel::mpsc::unbounded::<u32>();
            let count = count.clone();
            let recv = CountedReceiver {
                inbox,
                received: 0,
                messages,
                polls: 0,
                pendings: 0,
                seen: seen.clone(),
                index,
            };
            R::spawn_detached(sp, async move {
                recv.await;
                count.tick();
            });
            tx
        })
        .collect();
    let (runq0, niv0) = thread_runq_ns_and_nivcsw();
    let cpu0 = thread_cpu_ns();
    let t1 = Instant::now();
    for i in 0..messages as u32 {
        for tx in &senders {
            tx.unbounded_send(i).expect("receiver waits");
        }
    }
    let t2 = Instant::now();
    let cpu1 = thread_cpu_ns();
    let drained: usize = seen.iter().map(|s| s.load(Relaxed)).sum();
    let (runq1, niv1) = thread_runq_ns_and_nivcsw();
    rx.recv().unwrap();
    let t3 = Instant::now();
    let add = |a: &std::sync::atomic::AtomicU64, v: u64| {
        a.fetch_add(v, Relaxed);
    };
    add(&phases::SPAWN_NS, (t1 - t0).as_nanos() as u64);
    add(&phases::SEND_NS, (t2 - t1).as_nanos() as u64);
    add(&phases::TAIL_NS, (t3 - t2).as_nanos() as u64);
    add(&phases::SEND_CPU_NS, cpu1 - cpu0);
    add(&phases::SEND_RUNQ_NS, runq1.saturating_sub(runq0));
    add(&phases::SPAWN_RUNQ_NS, runq0.saturating_sub(runq_spawn));
    add(&phases::SEND_NIVCSW, niv1.saturating_sub(niv0));
    add(&phases::DRAINED_AT_SEND_END, drained as u64);
}

/// Prints `storm_phases`'s totals per iteration.
fn phases_report(iterations: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let per = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) as f64 / iterations.max(1) as f64;
    eprintln!(
        "phases per iteration: spawn {:.1} us (runq wait {:.1} us), send {:.1} us, tail {:.1} us; sender during sends: \
         cpu {:.1} us, runq wait {:.1} us, involuntary switches {:.2}; receiver polls {:.0}, \
         waits {:.0}; messages drained when the sends ended {:.0}",
        per(&phases::SPAWN_NS) / 1e3,
        per(&phases::SPAWN_RUNQ_NS) / 1e3,
        per(&phases::SEND_NS) / 1e3,
        per(&phases::TAIL_NS) / 1e3,
        per(&phases::SEND_CPU_NS) / 1e3,
        per(&phases::SEND_RUNQ_NS) / 1e3,
        per(&phases::SEND_NIVCSW),
        per(&phases::POLLS),
        per(&phases::PENDINGS),
        per(&phases::DRAINED_AT_SEND_END),
    );
}

/// With `HEIST_WORKLOAD_METRICS=1`, heist's scheduler counters after the run, per worker
/// (exact, unlike times: `docs/benchmarks.md`, issue 13). `chunk: Some(k)`: one line,
/// each worker's counters since the last chunk divided by `k` iterations (`Some(0)`
/// only records the starting point).
fn heist_counters(handle: &heist::Handle, chunk: Option<usize>) {
    if std::env::var_os("HEIST_WORKLOAD_METRICS").is_none() {
        return;
    }
    let m = handle.metrics();
    if let Some(k) = chunk {
        use std::sync::Mutex;
        static LAST: Mutex<Vec<[u64; 4]>> = Mutex::new(Vec::new());
        let now: Vec<[u64; 4]> = (0..m.num_workers())
            .map(|w| {
                [
                    m.worker_poll_count(w),
                    m.worker_park_count(w),
                    m.worker_steal_count(w),
                    m.worker_local_schedule_count(w),
                ]
            })
            .collect();
        let mut last = LAST.lock().unwrap();
        if k > 0 {
            let per = |n: u64, l: u64| (n - l) as f64 / k as f64;
            let line: Vec<String> = now
                .iter()
                .zip(last.iter())
                .enumerate()
                .map(|(w, (n, l))| {
                    format!(
                        "w{w} polls {:.0} parks {:.1} steals {:.1} local {:.0}",
                        per(n[0], l[0]),
                        per(n[1], l[1]),
                        per(n[2], l[2]),
                        per(n[3], l[3])
                    )
                })
                .collect();
            eprintln!("{}", line.join(" | "));
        }
        *last = now;
        return;
    }
    for w in 0..m.num_workers() {
        eprintln!(
            "worker {w}: polls {} parks {} noops {} steals {} steal_ops {} local_schedules {} overflows {}",
            m.worker_poll_count(w),
            m.worker_park_count(w),
            m.worker_noop_count(w),
            m.worker_steal_count(w),
            m.worker_steal_operations(w),
            m.worker_local_schedule_count(w),
            m.worker_overflow_count(w),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, runtime, workload, iterations] = &args[..] else {
        panic!("usage: workload <runtime> <workload> <iterations>");
    };
    let iterations = iterations.parse().expect("iterations: a number");
    match runtime.as_str() {
        "heist" => run::<Heist>(workload, iterations, heist_counters),
        "tokio" => run::<Tokio>(workload, iterations, |_, _| {}),
        "async-executor" => run::<AsyncExecutor>(workload, iterations, |_, _| {}),
        "futures-pool" => run::<FuturesPool>(workload, iterations, |_, _| {}),
        other => panic!("unknown runtime {other}"),
    }
}
