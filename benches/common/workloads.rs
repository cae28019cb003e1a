//! Workload bodies shared by the scheduler suite (`benches/scheduler.rs`, which times
//! them with criterion) and `examples/workload.rs` (which runs one of them a given
//! number of times, for `perf stat`, `strace` and `callgrind`). Each function is one
//! iteration, called from a thread outside the runtime.

use super::Rt;
use futures::channel::{mpsc as fmpsc, oneshot};
use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

/// Tasks in `yield_many`, and the yields each makes.
pub const NUM_YIELD_TASKS: usize = 200;
pub const NUM_YIELDS: usize = 1_000;
/// Receiving tasks in `foreign_wake_storm`, and the messages each receives.
pub const NUM_RECEIVERS: usize = 100;
pub const NUM_MESSAGES: usize = 200;
/// Tasks in the `token_ring`, and the laps the token makes.
pub const RING_LEN: usize = 64;
pub const RING_LAPS: usize = 100;

/// Counts finished tasks down; the last one sends on a std channel, which the bench
/// thread waits on (so the waiting thread is outside every runtime).
pub struct Countdown {
    left: AtomicUsize,
    done: mpsc::Sender<()>,
}

impl Countdown {
    pub fn new(n: usize) -> (Arc<Countdown>, mpsc::Receiver<()>) {
        let (done, rx) = mpsc::channel();
        (
            Arc::new(Countdown {
                left: AtomicUsize::new(n),
                done,
            }),
            rx,
        )
    }

    pub fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.send(()).expect("bench thread waits");
        }
    }
}

/// Spawns `n` empty tasks from the calling thread (outside the runtime), then awaits all.
pub fn spawn_remote_and_await<R: Rt>(rt: &R, sp: &R::Spawner, n: usize) {
    let handles: Vec<_> = (0..n).map(|_| R::spawn(sp, async {})).collect();
    rt.block_on(async move {
        for h in handles {
            h.await;
        }
    });
}

/// `yield_many`: `tasks` tasks spawned from outside, each yielding `yields` times with
/// the runtime's own `yield_now`.
pub fn yield_many<R: Rt>(sp: &R::Spawner, tasks: usize, yields: usize) {
    let (count, rx) = Countdown::new(tasks);
    for _ in 0..tasks {
        let count = count.clone();
        R::spawn_detached(sp, async move {
            for _ in 0..yields {
                R::yield_now().await;
            }
            count.tick();
        });
    }
    rx.recv().unwrap();
}

/// `ping_pong`: a task spawned from outside spawns `rounds` rounds; each round spawns a
/// partner, sends it a ping over a oneshot and awaits the pong on a second one.
/// `futures::channel::oneshot` for every runtime.
pub fn ping_pong<R: Rt>(sp: &R::Spawner, rounds: usize) {
    let (count, rx) = Countdown::new(rounds);
    let outer = sp.clone();
    R::spawn_detached(sp, async move {
        for _ in 0..rounds {
            let count = count.clone();
            let inner = outer.clone();
            R::spawn_detached(&outer, async move {
                let (ping_tx, ping_rx) = oneshot::channel::<()>();
                let (pong_tx, pong_rx) = oneshot::channel::<()>();
                R::spawn_detached(&inner, async move {
                    ping_rx.await.unwrap();
                    pong_tx.send(()).unwrap();
                });
                ping_tx.send(()).unwrap();
                pong_rx.await.unwrap();
                count.tick();
            });
        }
    });
    rx.recv().unwrap();
}

/// `foreign_wake_storm`: `receivers` tasks each loop on an unbounded channel's `next()`;
/// the calling thread (outside the runtime) sends `messages` to each, one receiver after
/// the other in turn, so the sends wake tasks from a thread the runtime does not own (a
/// database driver's or a logger's thread feeding tasks). Done when every task has
/// drained its channel.
pub fn foreign_wake_storm<R: Rt>(sp: &R::Spawner, receivers: usize, messages: usize) {
    let (count, rx) = Countdown::new(receivers);
    let senders: Vec<_> = (0..receivers)
        .map(|_| {
            let (tx, mut inbox) = fmpsc::unbounded::<u32>();
            let count = count.clone();
            R::spawn_detached(sp, async move {
                let mut received = 0;
                while inbox.next().await.is_some() {
                    received += 1;
                    if received == messages {
                        break;
                    }
                }
                count.tick();
            });
            tx
        })
        .collect();
    for i in 0..messages as u32 {
        for tx in &senders {
            tx.unbounded_send(i).expect("receiver waits");
        }
    }
    rx.recv().unwrap();
}

/// The token of `token_ring`: it carries the receiver on which its recipient gets the
/// token next lap (a oneshot carries one message, so each hop makes a new channel).
struct Token {
    next_inbox: oneshot::Receiver<Token>,
}

/// One member of the ring: `laps` times, wait for the token, pass it on. Member 0
/// (`starts`) passes first and waits last.
async fn ring_member(
    mut inbox: oneshot::Receiver<Token>,
    mut out: oneshot::Sender<Token>,
    starts: bool,
    laps: usize,
) {
    for lap in 0..laps {
        if !(starts && lap == 0) {
            inbox = inbox.await.expect("ring intact").next_inbox;
        }
        let (tx, next_inbox) = oneshot::channel();
        if out.send(Token { next_inbox }).is_err() {
            panic!("ring intact");
        }
        out = tx;
    }
    if starts {
        inbox.await.expect("ring intact");
    }
}

/// `token_ring`: `len` tasks (spawned from outside) pass a token `laps` laps round a
/// ring of oneshot channels: one wake per hop, each from a worker, with only one task
/// runnable at a time.
pub fn token_ring<R: Rt>(sp: &R::Spawner, len: usize, laps: usize) {
    let (count, rx) = Countdown::new(1);
    let (senders, inboxes): (Vec<_>, Vec<_>) =
        (0..len).map(|_| oneshot::channel::<Token>()).unzip();
    // Member i receives on inbox i and sends to member i + 1.
    let mut senders: std::collections::VecDeque<_> = senders.into();
    senders.rotate_left(1);
    for (i, (inbox, out)) in inboxes.into_iter().zip(senders).enumerate() {
        let count = count.clone();
        R::spawn_detached(sp, async move {
            ring_member(inbox, out, i == 0, laps).await;
            if i == 0 {
                count.tick();
            }
        });
    }
    rx.recv().unwrap();
}
