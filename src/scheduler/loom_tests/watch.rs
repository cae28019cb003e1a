//! Models of the watcher rule (`scheduler/park.rs`, "The park loop", step 3): a
//! watcher whose peer is awake stays out of the reactor's seat and polls the reactor
//! without blocking when its period ends; the last worker to park may take the seat.
//! The real park loop, idle accounting and parker, over a model of the runtime's driver
//! (`ModelDriver`: a reactor seat that waits for an edge, a timer keeper's seat that
//! waits for nothing, and a turn that polls or dispatches as `runtime/driver.rs`'s
//! does). Planted bugs in `docs/testing.md`.

use super::super::park::{Driver, Seat, Unpark};
use super::super::worker::Worker;
use super::super::{Config, LocalQueue, Shared};
use crate::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::sync::{model, thread, Arc, Mutex, Parker};
use std::time::Duration;

/// Runs of each model on real threads (without loom).
const ITERATIONS: usize = if cfg!(miri) { 3 } else { 100 };

/// The reactor's seat and the keeper's, as in `runtime/driver.rs` (keepers first).
const KEEPER: Seat = 0;
const REACTOR: Seat = 1;

/// The driver's state, shared by the workers' `ModelDriver` and the scheduler's
/// `Unpark`.
struct Reactor {
    /// The edge and the batch, under a lock as the real poll state is (the poll lock):
    /// loom may let a read-modify-write read a value older than one that
    /// happens-before it (`io::loom_tests`), so a `swap` would lose the edge.
    kernel: Mutex<Kernel>,
    /// A turn dispatched the edge (the connection's task ran).
    served: AtomicBool,
    reactor_held: AtomicBool,
    keeper_held: AtomicBool,
    /// `epoll_wait` of the reactor's holder: woken by an edge or by `Unpark`.
    poll: Parker,
    keeper: Parker,
    /// The model's thread waits here for `served`.
    client: Parker,
    /// Worker 0 is stuck awake in a task throughout (model 1): any timed wait in the
    /// reactor's seat is then a watcher's whose peer is awake.
    peer_stuck: bool,
    /// The edge had arrived when the watcher tried the seats (it was about to sleep).
    edge_before_sleep: AtomicBool,
}

impl Reactor {
    fn new(peer_stuck: bool) -> Arc<Reactor> {
        Arc::new(Reactor {
            kernel: Mutex::new(Kernel::default()),
            served: AtomicBool::new(false),
            reactor_held: AtomicBool::new(false),
            keeper_held: AtomicBool::new(false),
            poll: Parker::new(),
            keeper: Parker::new(),
            client: Parker::new(),
            peer_stuck,
            edge_before_sleep: AtomicBool::new(false),
        })
    }

    /// The client sends: an edge, which wakes a poller in `epoll_wait` (a token if it is
    /// not there yet: the edge is level for its next wait, as epoll's ready list is).
    fn send(&self) {
        self.kernel.lock().edge = true;
        self.poll.unpark();
    }

    fn wait_until_served(&self) {
        while !self.served.load(SeqCst) {
            self.client.park(None);
        }
    }

    fn take_edge(&self) -> bool {
        std::mem::take(&mut self.kernel.lock().edge)
    }
}

#[derive(Default)]
struct Kernel {
    /// The client's data arrived: an edge the kernel holds for the next poll.
    edge: bool,
    /// A seated wait took the edge: the next `turn` dispatches it.
    collected: bool,
}

struct ModelDriver(Arc<Reactor>);

impl Driver for ModelDriver {
    fn turn(&self, wait: bool) -> usize {
        let r = &*self.0;
        // As `io::driver::Inner::turn`: a parking worker (`wait`) dispatches what a
        // seated wait left; a busy worker's turn also polls without blocking.
        let got = {
            let mut kernel = r.kernel.lock();
            std::mem::take(&mut kernel.collected) || (!wait && std::mem::take(&mut kernel.edge))
        };
        if !got {
            return 0;
        }
        r.served.store(true, SeqCst);
        r.client.unpark();
        1
    }

    fn try_enter(&self, _worker: usize, events: bool) -> Option<Seat> {
        let r = &*self.0;
        let edge = r.kernel.lock().edge;
        r.edge_before_sleep.store(edge, SeqCst);
        if events
            && r.reactor_held
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_ok()
        {
            return Some(REACTOR);
        }
        if r.keeper_held
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
        {
            return Some(KEEPER);
        }
        None
    }

    fn park(&self, seat: Seat, timeout: Option<Duration>) {
        let r = &*self.0;
        if seat == KEEPER {
            // No timer: the keeper waits for its timeout or an unpark.
            return r.keeper.park(timeout);
        }
        assert!(
            !(r.peer_stuck && timeout.is_some()),
            "a watcher whose peer is awake waits in the reactor's seat"
        );
        // `epoll_wait`: returns at an edge (kept for the turn after), an unpark or the
        // timeout.
        if !r.take_edge() {
            r.poll.park(timeout);
            if !r.take_edge() {
                return;
            }
        }
        r.kernel.lock().collected = true;
    }

    fn leave(&self, seat: Seat) {
        match seat {
            KEEPER => self.0.keeper_held.store(false, SeqCst),
            _ => self.0.reactor_held.store(false, SeqCst),
        }
    }

    fn needs_waiter(&self) -> bool {
        // The stalled-slot check is on: the reactor asks for no eager hand-off
        // (`runtime/driver.rs`, `set_rescued`), and no timer is registered.
        false
    }

    fn may_auto_advance(&self) -> bool {
        false
    }

    fn settle(&self) -> bool {
        false
    }

    fn auto_advance(&self) -> usize {
        0
    }
}

struct ModelUnpark(Arc<Reactor>);

impl Unpark for ModelUnpark {
    fn unpark(&self, seat: Seat) {
        match seat {
            KEEPER => self.0.keeper.unpark(),
            _ => self.0.poll.unpark(),
        }
    }
}

/// Two workers, the stalled-slot check on, over `reactor`.
fn shared(reactor: &Arc<Reactor>) -> (Arc<Shared>, Vec<LocalQueue>) {
    let queues: Vec<LocalQueue> = (0..2).map(|_| LocalQueue::new_fifo()).collect();
    let stealers = queues.iter().map(|q| q.stealer()).collect();
    let config = Config {
        global_queue_interval: 61,
        lifo_slot_limit: 3,
        stalled_slot_check: Some(Duration::from_millis(1)),
        spin_before_park: Duration::ZERO,
        observe: Default::default(),
    };
    let unpark = Box::new(ModelUnpark(reactor.clone()));
    (Arc::new(Shared::new(stealers, config, unpark)), queues)
}

/// Model 1: worker 0 is stuck in a long poll (counted awake, as `Idle::new` counts
/// every worker; it never turns the driver), while worker 1, out of work, goes through
/// one round of its park loop and the client's data arrives. Worker 1 parks as a
/// watcher (its peer is awake), so it must not wait in the reactor's seat, and an edge
/// that arrived before it went to sleep must be served when its period ends: the poll
/// without blocking on waking is all that serves I/O here.
#[test]
fn a_watcher_beside_a_stuck_peer_stays_out_of_the_reactor_and_polls_on_waking() {
    model(ITERATIONS, || {
        let reactor = Reactor::new(true);
        let (shared, mut queues) = shared(&reactor);
        let watcher = {
            let (driver, queue) = (ModelDriver(reactor.clone()), queues.pop().unwrap());
            thread::spawn(move || {
                Worker::new(shared, 1, queue).park(&driver, &|| false);
            })
        };
        reactor.send();
        watcher.join().unwrap();
        assert!(
            reactor.served.load(SeqCst) || !reactor.edge_before_sleep.load(SeqCst),
            "an edge that arrived before the watcher slept was not served when it woke"
        );
    });
}

/// Model 2: both workers run out of work and park while the client's data arrives.
/// Whichever parks first may watch (its peer is still awake) and stays out of the
/// reactor; the last to park sees nobody awake and may take the reactor's seat. The edge
/// must be served either way (else every thread blocks: a loom deadlock): a watcher
/// polls on waking, the seated worker returns at the edge.
#[test]
fn the_last_worker_to_park_takes_the_reactor() {
    model(ITERATIONS, || {
        let reactor = Reactor::new(false);
        let (shared, mut queues) = shared(&reactor);
        let workers: Vec<_> = (0..2)
            .rev()
            .map(|index| {
                let (shared, queue) = (shared.clone(), queues.pop().unwrap());
                let driver = ModelDriver(reactor.clone());
                thread::spawn(move || {
                    let worker = Worker::new(shared.clone(), index, queue);
                    while !shared.is_shutdown() {
                        worker.park(&driver, &|| false);
                    }
                })
            })
            .collect();
        reactor.send();
        reactor.wait_until_served();
        shared.begin_shutdown();
        for worker in workers {
            worker.join().unwrap();
        }
    });
}
