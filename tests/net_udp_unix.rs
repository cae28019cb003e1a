//! UDP and Unix-domain round trips, `AsyncFd` on a pipe, and sockets whose runtime shut
//! down. Loopback and temporary paths only.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use heist::io::unix::AsyncFd;
use heist::io::Interest;
use heist::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

mod common;
use common::{rt, DropCounter};

/// A fresh path for a Unix socket, removed when dropped.
struct TempPath(std::path::PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let path = std::env::temp_dir().join(format!("heist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn udp_round_trips() {
    rt(2).block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = heist::spawn(async move {
            let mut buf = [0; 64];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(server_addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), server_addr);
        for i in 0..100u32 {
            client.send(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0; 8];
            let mut peeked = [0; 8];
            let (n, from) = client.peek_from(&mut peeked).await.unwrap();
            assert_eq!((n, from), (4, server_addr));
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
        }
        echo.await.unwrap();
        // Nothing queued: try_recv says WouldBlock rather than waiting.
        let mut buf = [0; 8];
        assert_eq!(
            client.try_recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn unix_stream_round_trips_and_halves() {
    let path = TempPath::new("stream.sock");
    let path2 = path.0.clone();
    rt(2).block_on(async move {
        let listener = UnixListener::bind(&path2).unwrap();
        let server = heist::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut read, mut write) = stream.into_split();
            let mut buf = vec![0; 1024];
            loop {
                let n = read.read(&mut buf).await.unwrap();
                if n == 0 {
                    return; // the client closed; dropping `write` closes ours
                }
                write.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut client = UnixStream::connect(&path2).await.unwrap();
        for i in 0..50u8 {
            client.write_all(&[i; 100]).await.unwrap();
            let mut back = [0; 100];
            client.read_exact(&mut back).await.unwrap();
            assert_eq!(back, [i; 100]);
        }
        client.close().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        server.await.unwrap();
        // Connecting to a path nobody listens on is an error.
        let missing = TempPath::new("missing.sock");
        assert!(UnixStream::connect(&missing.0).await.is_err());
    });
}

#[test]
fn unix_pair_and_datagrams() {
    rt(2).block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        a.writable().await.unwrap();
        assert_eq!(a.try_write(b"x").unwrap(), 1);
        b.readable().await.unwrap();
        let mut buf = [0; 1];
        assert_eq!(b.try_read(&mut buf).unwrap(), 1);

        let (a, b) = UnixDatagram::pair().unwrap();
        for i in 0..20u8 {
            a.send(&[i; 3]).await.unwrap();
            let mut buf = [0; 8];
            assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
            assert_eq!(buf[..3], [i; 3]);
        }
        let path = TempPath::new("dgram.sock");
        let server = UnixDatagram::bind(&path.0).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"hello", &path.0).await.unwrap();
        let mut buf = [0; 8];
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
    });
}

#[test]
fn unix_stream_halves_split_reunite_and_forget() {
    rt(2).block_on(async {
        // Borrowed halves: a read and a write in flight together, in one task.
        let (mut a, mut b) = UnixStream::pair().unwrap();
        // Named: `a.split()` would pick futures' by-value `AsyncReadExt::split`.
        let (mut read, mut write) = UnixStream::split(&mut a);
        let (got, sent, echoed) = futures::join!(
            async {
                let mut buf = [0; 4];
                read.read_exact(&mut buf).await.unwrap();
                buf
            },
            async { write.write_all(b"ping").await },
            async {
                let mut buf = [0; 4];
                b.read_exact(&mut buf).await.unwrap();
                b.write_all(b"pong").await.unwrap();
                buf
            }
        );
        sent.unwrap();
        assert_eq!((&got, &echoed), (b"pong", b"ping"));

        // Halves of two different streams are handed back, not joined.
        let (c, mut d) = UnixStream::pair().unwrap();
        let (a_read, a_write) = a.into_split();
        let (c_read, c_write) = c.into_split();
        let err = a_read.reunite(c_write).unwrap_err();
        let heist::net::unix::ReuniteError(a_read, c_write) = err;
        // The right halves make the stream again, which still works both ways.
        let mut a = a_write.reunite(a_read).unwrap();
        a.write_all(b"again").await.unwrap();
        let mut buf = [0; 5];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");

        // `forget`: the write side stays open (the peer reads no end of stream) until
        // the read half, the last owner, drops.
        c_write.forget();
        // A peek on the descriptor itself: EAGAIN while open, 0 at end of stream.
        let peek = |fd| {
            let mut byte = 0u8;
            // SAFETY: a valid socket fd and a one-byte buffer.
            unsafe {
                libc::recv(
                    fd,
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            }
        };
        use std::os::unix::io::AsRawFd;
        assert_eq!(
            peek(d.as_raw_fd()),
            -1,
            "the forgotten write half shut down"
        );
        drop(c_read);
        let mut rest = Vec::new();
        d.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

/// A non-blocking pipe, as (read end, write end).
fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) };
    assert_eq!(rc, 0);
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(fds[0])),
            std::fs::File::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

#[test]
fn async_fd_on_a_pipe() {
    rt(2).block_on(async {
        let (read, write) = pipe();
        let read = AsyncFd::with_interest(read, Interest::READABLE).unwrap();
        let write = AsyncFd::with_interest(write, Interest::WRITABLE).unwrap();
        let reader = heist::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0; 4096];
            loop {
                let n = read
                    .async_io(Interest::READABLE, |mut f| f.read(&mut buf))
                    .await
                    .unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        // More than a pipe buffer (64 KiB), so the writer must wait for writability.
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut sent = 0;
        while sent < data.len() {
            let mut guard = write.writable().await.unwrap();
            match guard.try_io(|fd| fd.get_ref().write(&data[sent..])) {
                Ok(n) => sent += n.unwrap(),
                Err(_would_block) => continue,
            }
        }
        drop(write); // end of stream for the reader
        assert_eq!(reader.await.unwrap(), data);
    });
}

#[test]
fn pending_read_fails_when_its_runtime_shuts_down() {
    let owner = rt(2);
    let (listener, client, server) = owner.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (listener, client, server)
    });
    // Another runtime waits on a socket of `owner` while `owner` shuts down.
    let other = rt(2);
    let (tx, rx) = futures::channel::oneshot::channel();
    let pending = other.spawn(async move {
        let mut server = server;
        let mut buf = [0; 8];
        let read = server.read(&mut buf);
        futures::pin_mut!(read);
        assert!(futures::poll!(&mut read).is_pending());
        tx.send(()).unwrap();
        read.await
    });
    other.block_on(rx).unwrap();
    drop(owner);
    let err = other.block_on(pending).unwrap().unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    // Later operations fail the same way, without hanging.
    other.block_on(async move {
        let mut client = client;
        assert!(client.write_all(b"x").await.is_err());
        assert!(listener.accept().await.is_err());
    });
}

#[test]
fn tasks_waiting_on_io_are_cancelled_by_shutdown() {
    // Counts the tasks' drops: their futures were dropped, not leaked.
    let dropped = DropCounter::new();
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        for mut s in [a, b] {
            let tx = tx.clone();
            let guard = dropped.token();
            heist::spawn(async move {
                let _guard = guard;
                let mut buf = [0; 1];
                tx.send(()).unwrap();
                let _ = s.read(&mut buf).await; // never completes
            });
        }
    });
    rx.recv().unwrap();
    rx.recv().unwrap();
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    assert_eq!(dropped.count(), 2);
}

#[test]
fn socket_of_a_dropped_runtime_fails_outside_any_runtime() {
    // Used after its runtime is gone, from no runtime at all: an error, not a panic.
    let (client, listener) = rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (client, listener)
    });
    futures::executor::block_on(async move {
        let mut client = client;
        let err = client.write_all(b"x").await.unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
        let mut buf = [0; 1];
        assert!(client.read(&mut buf).await.is_err());
        assert!(listener.accept().await.is_err());
    });
}

#[test]
#[should_panic(expected = "heist::net: there is no heist runtime")]
fn unix_pair_outside_a_runtime_panics() {
    let _ = UnixStream::pair();
}

#[test]
#[should_panic(expected = "heist::net: there is no heist runtime")]
fn connect_polled_by_another_executor_panics() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _ = futures::executor::block_on(TcpStream::connect(listener.local_addr().unwrap()));
}

#[test]
fn udp_and_unix_bad_input_are_errors() {
    let path = TempPath::new("taken.sock");
    rt(2).block_on(async {
        // A UDP port nobody listens on: the ICMP port-unreachable comes back as an error
        // on the connected socket's receive (loopback ICMP is not rate-limited).
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(closed_addr).await.unwrap();
        socket.send(b"anyone?").await.unwrap();
        let mut buf = [0; 8];
        let err = socket.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // A UDP address in use.
        let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = UdpSocket::bind(taken.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // A Unix path in use, and a datagram to a path nobody is bound to.
        let _listener = UnixListener::bind(&path.0).unwrap();
        let err = UnixListener::bind(&path.0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let missing = TempPath::new("nobody.sock");
        let client = UnixDatagram::unbound().unwrap();
        assert!(client.send_to(b"x", &missing.0).await.is_err());
    });
}

/// The `poll_*` receives fill a `ReadBuf` after what it already holds, zero only its
/// uninitialised part, cut a datagram longer than what remains, and (the peeks) leave
/// the datagram queued.
#[test]
fn udp_poll_receives_fill_a_read_buf() {
    use heist::io::ReadBuf;
    use std::future::poll_fn;
    use std::mem::MaybeUninit;
    use std::task::Poll;

    rt(2).block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

        // Nothing queued yet: the poll says Pending (and registers the task).
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.put_slice(b"ab");
        let first = poll_fn(|cx| Poll::Ready(b.poll_recv_from(cx, &mut buf))).await;
        assert!(first.is_pending());
        assert_eq!(buf.filled(), b"ab");

        a.send_to(b"cde", b_addr).await.unwrap();
        let from = poll_fn(|cx| b.poll_peek_from(cx, &mut buf)).await.unwrap();
        assert_eq!((buf.filled(), from), (&b"abcde"[..], a_addr));
        assert_eq!(
            buf.initialized().len(),
            8,
            "the unfilled part was zeroed once"
        );
        // The peek left it queued: the receive finds it again, after the peeked bytes.
        buf.set_filled(2);
        let from = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
        assert_eq!((buf.filled(), from), (&b"abcde"[..], a_addr));

        // A datagram longer than what remains (3 bytes) is cut short.
        a.send_to(b"0123456789", b_addr).await.unwrap();
        poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
        assert_eq!(buf.filled(), b"abcde012");
        let mut rest = [0; 16];
        assert_eq!(
            b.try_recv_from(&mut rest).unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "the cut datagram's tail is gone"
        );

        // Connected: poll_recv / poll_peek / poll_send, and peek_sender reads no payload.
        b.connect(a_addr).await.unwrap();
        a.connect(b_addr).await.unwrap();
        poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
        assert_eq!(poll_fn(|cx| a.poll_send(cx, b"xyz")).await.unwrap(), 3);
        assert_eq!(b.peek_sender().await.unwrap(), a_addr);
        assert_eq!(b.try_peek_sender().unwrap(), a_addr);
        poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
        let mut storage = [0u8; 4];
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_peek(cx, &mut buf)).await.unwrap();
        assert_eq!(buf.filled(), b"xyz");
        buf.clear();
        poll_fn(|cx| b.poll_recv(cx, &mut buf)).await.unwrap();
        assert_eq!(buf.filled(), b"xyz");
        assert_eq!(
            b.try_peek(&mut [0; 4]).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );

        // async_io: the caller's own syscall, retried on WouldBlock until a datagram comes.
        let reader = heist::spawn(async move {
            let got = b
                .async_io(Interest::READABLE, || {
                    let mut byte = [0; 4];
                    let n = Read::read(&mut &*socket2::SockRef::from(&b), &mut byte)?;
                    Ok((byte[0], n))
                })
                .await
                .unwrap();
            assert_eq!(got, (b'q', 1));
        });
        a.send(b"q").await.unwrap();
        reader.await.unwrap();
    });
}

/// `UnixDatagram`'s `poll_recv` / `poll_recv_from` / `poll_send_to` / `try_send_to`, and
/// `shutdown`.
#[test]
fn unix_datagram_poll_receives_and_shutdown() {
    use heist::io::ReadBuf;
    use std::future::poll_fn;

    let path = TempPath::new("poll-dgram.sock");
    let target = path.0.clone();
    rt(2).block_on(async move {
        let server = UnixDatagram::bind(&target).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        assert_eq!(
            poll_fn(|cx| client.poll_send_to(cx, b"one", &target))
                .await
                .unwrap(),
            3
        );
        assert_eq!(client.try_send_to(b"two", &target).unwrap(), 3);
        let mut storage = [0u8; 16];
        let mut buf = ReadBuf::new(&mut storage);
        let from = poll_fn(|cx| server.poll_recv_from(cx, &mut buf))
            .await
            .unwrap();
        assert!(from.is_unnamed());
        poll_fn(|cx| server.poll_recv(cx, &mut buf)).await.unwrap();
        assert_eq!(buf.filled(), b"onetwo");

        let (a, b) = UnixDatagram::pair().unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(a.send(b"late").await.is_err());
        assert!(b.take_error().unwrap().is_none());
    });
}
