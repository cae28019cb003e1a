//! TCP on heist's reactor: echo round trips (many connections at once), split halves,
//! half-close, reset and refused peers, address in use, and use outside a runtime.
//! Loopback only; every wait is bounded by the peer's own progress, never by a sleep.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::rt;

/// Accepts forever, echoing each connection in its own task until end of stream.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    heist::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            heist::spawn(async move {
                let mut buf = vec![0; 4096];
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if socket.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Raises the descriptor limit to `want` if it can: the soft limit up to the hard one,
/// and the hard one too where the process may (root, `CAP_SYS_RESOURCE`). Returns the
/// soft limit in force afterwards.
fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit/setrlimit to read and write.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max.max(want),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                // Not allowed past the hard limit: as far as it goes.
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// Runs `f` on its own thread and fails the test if it takes longer than `limit` (a
/// bound on a hang, not a synchronisation: the result is waited for).
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    match rx.recv_timeout(limit) {
        Ok(t) => t,
        Err(e) => panic!("did not finish within {limit:?}: {e}"),
    }
}

const CONNECTIONS: usize = 10_000;
/// Where the client process connects (`echo_clients`).
const ADDR_VAR: &str = "HEIST_TEST_ECHO_ADDR";

/// 10,000 connections open at once, each echoing two messages. The client ends live in
/// a child process (this test binary again, running `echo_clients`), so each process
/// needs only 10,000 descriptors: a common hard limit is 20,000, which one process
/// holding both ends of 10,000 connections would exceed.
#[test]
fn echo_round_trips_with_many_concurrent_connections() {
    let limit = raise_fd_limit((CONNECTIONS + 512) as u64);
    if limit < (CONNECTIONS + 512) as u64 {
        eprintln!(
            "SKIPPED: the descriptor limit is {limit} and could not be raised to {} for \
             {CONNECTIONS} connections (raise `ulimit -Hn`, or run as root)",
            CONNECTIONS + 512
        );
        return;
    }
    let (accepted, peak) = bounded(Duration::from_secs(300), || {
        rt(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let open = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let (a, o, p) = (accepted.clone(), open.clone(), peak.clone());
            heist::spawn(async move {
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    a.fetch_add(1, SeqCst);
                    p.fetch_max(o.fetch_add(1, SeqCst) + 1, SeqCst);
                    let o = o.clone();
                    heist::spawn(async move {
                        let mut buf = [0; 64];
                        loop {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => socket.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                        o.fetch_sub(1, SeqCst);
                    });
                }
            });
            let exe = std::env::current_exe().unwrap();
            let child = heist::task::spawn_blocking(move || {
                std::process::Command::new(exe)
                    .args(["--exact", "echo_clients", "--ignored", "--nocapture"])
                    .env(ADDR_VAR, addr.to_string())
                    .output()
            });
            let out = child.await.unwrap().unwrap();
            assert!(
                out.status.success(),
                "the client process failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (accepted.load(SeqCst), peak.load(SeqCst))
        })
    });
    assert_eq!(accepted, CONNECTIONS);
    // The clients hold every connection until all are served: all open at once.
    assert_eq!(peak, CONNECTIONS);
}

/// The client half of `echo_round_trips_with_many_concurrent_connections`, which runs
/// it in a child process with the server's address.
#[test]
#[ignore = "run by echo_round_trips_with_many_concurrent_connections in a child process"]
fn echo_clients() {
    let addr: SocketAddr = std::env::var(ADDR_VAR)
        .expect("run by echo_round_trips_with_many_concurrent_connections")
        .parse()
        .unwrap();
    let limit = raise_fd_limit((CONNECTIONS + 512) as u64);
    assert!(
        limit >= (CONNECTIONS + 512) as u64,
        "descriptor limit {limit}"
    );
    let open = rt(1).block_on(async move {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                heist::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let msg = (i as u64).to_le_bytes();
                    for _ in 0..2 {
                        stream.write_all(&msg).await.unwrap();
                        let mut back = [0; 8];
                        stream.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg);
                    }
                    // Kept open until every connection is served (the output drops
                    // only after the last join below).
                    stream
                })
            })
            .collect();
        let mut open = Vec::with_capacity(CONNECTIONS);
        for c in clients {
            open.push(c.await.unwrap());
        }
        open.len()
    });
    assert_eq!(open, CONNECTIONS);
}

#[test]
fn split_halves_used_from_two_tasks() {
    rt(2).block_on(async {
        let addr = echo_server().await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        const N: usize = 256 * 1024;
        let writer = heist::spawn(async move {
            let chunk = vec![7u8; 1024];
            for _ in 0..N / 1024 {
                write.write_all(&chunk).await.unwrap();
            }
            write
        });
        let reader = heist::spawn(async move {
            let mut total = 0;
            let mut buf = vec![0; 8192];
            while total < N {
                let n = read.read(&mut buf).await.unwrap();
                assert!(buf[..n].iter().all(|&b| b == 7));
                total += n;
            }
            read
        });
        let write = writer.await.unwrap();
        let read = reader.await.unwrap();
        let stream = read.reunite(write).unwrap();
        assert!(stream.peer_addr().is_ok());
    });
}

#[test]
fn borrowed_split_reads_and_writes_concurrently() {
    rt(1).block_on(async {
        let addr = echo_server().await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.split();
        let w = async {
            write.write_all(&[1; 10_000]).await.unwrap();
        };
        let r = async {
            let mut buf = vec![0; 10_000];
            read.read_exact(&mut buf).await.unwrap();
            buf
        };
        let ((), buf) = futures::join!(w, r);
        assert!(buf.iter().all(|&b| b == 1));
    });
}

#[test]
fn read_pending_while_the_write_half_drops() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (mut read, write) = client.into_split();
        let (started_tx, started_rx) = futures::channel::oneshot::channel();
        let reader = heist::spawn(async move {
            let mut buf = [0; 16];
            let pending = read.read(&mut buf);
            futures::pin_mut!(pending);
            // Poll once (it is pending: nothing sent yet), then tell the test.
            assert!(futures::poll!(&mut pending).is_pending());
            started_tx.send(()).unwrap();
            let n = pending.await.unwrap();
            buf[..n].to_vec()
        });
        started_rx.await.unwrap();
        drop(write); // shuts the client's write side down
                     // The server sees end of stream from the dropped half...
        let mut buf = [0; 16];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        // ...while the read half's pending read still completes.
        server.write_all(b"still here").await.unwrap();
        assert_eq!(reader.await.unwrap(), b"still here");
    });
}

#[test]
fn half_close_delivers_end_of_stream_and_keeps_the_other_direction() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"request").await.unwrap();
        client.close().await.unwrap(); // futures-io close: shutdown(Write)
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        server.write_all(b"response").await.unwrap();
        drop(server);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"response");
        // Writing after close fails with an error, not a panic.
        assert!(client.write_all(b"more").await.is_err());
    });
}

#[test]
fn reset_peer_gives_errors() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        // SO_LINGER with a zero timeout: closing sends RST instead of FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        use std::os::unix::io::AsRawFd;
        // SAFETY: a valid socket fd and a `linger` of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(client);
        let mut buf = [0; 8];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        // Writes after the reset fail too (EPIPE or ECONNRESET), they do not hang.
        let mut failed = false;
        for _ in 0..4 {
            if server.write_all(&[0; 1024]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    });
}

#[test]
fn connection_refused_is_an_error() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn address_in_use_is_an_error() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let err = TcpListener::bind("not an address").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn socket_options_and_std_conversions() {
    rt(1).block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        listener.set_ttl(42).unwrap();
        assert_eq!(listener.ttl().unwrap(), 42);
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // try_write, then readable + try_read, peek.
        client.writable().await.unwrap();
        assert_eq!(client.try_write(b"abc").unwrap(), 3);
        let mut buf = [0; 3];
        assert_eq!(server.peek(&mut buf).await.unwrap(), 3);
        loop {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(n) => {
                    assert_eq!(&buf[..n], b"abc");
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let std_stream = client.into_std().unwrap();
        assert_eq!(std_stream.peer_addr().unwrap(), addr);
        let _listener = listener.into_std().unwrap();
    });
}

#[test]
#[should_panic(expected = "there is no heist runtime")]
fn socket_outside_a_runtime_panics() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _ = TcpListener::from_std(listener);
}

#[test]
fn tcp_socket_options_then_listen_and_connect() {
    use heist::net::TcpSocket;
    rt(2).block_on(async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_recv_buffer_size(128 * 1024).unwrap();
        // Linux doubles the value for its bookkeeping; never less than asked.
        assert!(socket.recv_buffer_size().unwrap() >= 128 * 1024);
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let listener = socket.listen(16).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        // A client bound to its own source port first.
        let client = TcpSocket::new_v4().unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        assert!(client.send_buffer_size().unwrap() >= 64 * 1024);
        client.set_nodelay(true).unwrap();
        client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let source = client.local_addr().unwrap();
        let server = heist::spawn(async move {
            let (mut s, peer) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            peer
        });
        let mut stream = client.connect(addr).await.unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.local_addr().unwrap(), source);
        stream.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(server.await.unwrap(), source);
    });
}

#[test]
fn tcp_socket_reuseport_and_bad_input() {
    use heist::net::TcpSocket;
    rt(1).block_on(async {
        // Two listeners on one address with SO_REUSEPORT; a third without it fails.
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        assert!(first.reuseport().unwrap());
        first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let _a = first.listen(8).unwrap();
        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second.bind(addr).unwrap();
        let _b = second.listen(8).unwrap();
        let third = TcpSocket::new_v4().unwrap();
        assert_eq!(
            third.bind(addr).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );

        // Refused: an error, not a hang.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(closed)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // An IPv4 socket cannot connect to an IPv6 address.
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect("[::1]:9".parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
    });
}

#[test]
fn lookup_host_resolves_on_the_blocking_pool() {
    rt(1).block_on(async {
        let addrs: Vec<SocketAddr> = heist::net::lookup_host("localhost:8080")
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080),
            "{addrs:?}"
        );
        let addrs: Vec<SocketAddr> = heist::net::lookup_host(("127.0.0.1".to_string(), 7))
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, ["127.0.0.1:7".parse::<SocketAddr>().unwrap()]);
        let err = heist::net::lookup_host("no port here").await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn linger_zero_resets_the_peer_and_errors_are_taken() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
        assert!(client.take_error().unwrap().is_none());
        drop(client); // RST, not FIN
        let mut buf = [0; 4];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    });
}
