//! Paused time with I/O (`Builder::start_paused(true)`): auto-advance moves the clock
//! only when the runtime has no work *after polling the reactor without blocking*
//! (tokio's rule), so a timeout around a read whose peer answers never fires, and one
//! whose peer never answers fires at once, on the paused clock.

mod common;
use common::paused;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::time::{timeout, Instant};
use std::time::Duration;

/// One round trip through an echo task, under a 30 s timeout on the paused clock, all in
/// spawned tasks (so `block_on` is parked and never holds the clock): the read
/// completes, and the clock has not moved.
async fn answered_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = heist::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0; 4];
        socket.read_exact(&mut buf).await.unwrap();
        socket.write_all(&buf).await.unwrap();
    });
    let client = heist::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        let read = timeout(Duration::from_secs(30), stream.read_exact(&mut buf)).await;
        assert!(
            read.is_ok(),
            "the timeout fired after {:?} on the paused clock, though the peer answered",
            start.elapsed()
        );
        assert_eq!(&buf, b"ping");
        assert_eq!(start.elapsed(), Duration::ZERO, "the clock moved");
    });
    client.await.unwrap();
    server.await.unwrap();
}

#[test]
fn paused_timeout_does_not_fire_while_the_peer_answers() {
    // The race is between a worker that finds the runtime idle and the reactor's
    // holder, which has the answer's readiness but has not dispatched it yet: many
    // rounds, on one and on two workers.
    for workers in [1, 2] {
        let rt = paused(workers);
        for _ in 0..300 {
            rt.block_on(answered_round_trip());
        }
    }
}

#[test]
fn paused_timeout_fires_at_once_when_the_peer_never_answers() {
    for workers in [1, 2] {
        let rt = paused(workers);
        let wall = std::time::Instant::now();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            // Accepts, then holds the connection open without a word until told.
            let server = heist::spawn(async move {
                let (_socket, _) = listener.accept().await.unwrap();
                let _ = rx.await;
            });
            let client = heist::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let start = Instant::now();
                let mut buf = [0; 4];
                let read = timeout(Duration::from_secs(30), stream.read_exact(&mut buf)).await;
                assert!(read.is_err(), "the read completed: {read:?}");
                let elapsed = start.elapsed();
                assert!(
                    elapsed >= Duration::from_secs(30)
                        && elapsed < Duration::from_secs(30) + Duration::from_millis(1),
                    "{elapsed:?}"
                );
            });
            client.await.unwrap();
            tx.send(()).unwrap();
            server.await.unwrap();
        });
        // Auto-advance, not a real 30 s wait (a generous bound for a loaded machine).
        assert!(
            wall.elapsed() < Duration::from_secs(20),
            "{:?}",
            wall.elapsed()
        );
    }
}
