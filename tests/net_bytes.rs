//! The `bytes::BufMut` receives (tokio's): `try_read_buf` on the streams, their halves
//! and the pipe's `Receiver`; `recv_buf`, `recv_buf_from` and their `try_` forms on the
//! datagram sockets. Each reads into a buffer's spare capacity after what it holds and
//! advances it by exactly the count read; an empty chunk reads nothing (`Ok(0)`, and a
//! datagram is consumed, as tokio, which hands the syscall the same empty slice); a
//! `BytesMut` with no spare capacity grows (its `chunk_mut` reserves); the `try_` forms
//! say `WouldBlock` when nothing is there. Loopback, socket pairs and pipes only; every
//! wait is on data already sent, and the whole test is bounded by `PATIENCE`.

use bytes::{BufMut, BytesMut};
use futures::io::AsyncWriteExt;
use heist::net::unix::pipe;
use heist::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use heist::time::timeout;
use std::io;

mod common;
use common::{rt, PATIENCE};

/// Runs `body` on a two-worker runtime, failing (not hanging) if it stalls.
fn run(body: impl std::future::Future<Output = ()> + Send + 'static) {
    rt(2).block_on(async {
        timeout(PATIENCE, body)
            .await
            .expect("stalled: data never arrived");
    });
}

/// `$try` (a `try_*` receive) after `$ready` until it stops saying `WouldBlock`.
macro_rules! when_ready {
    ($ready:expr, $try:expr) => {
        loop {
            $ready.await.unwrap();
            match $try {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other.unwrap(),
            }
        }
    };
}

fn assert_would_block<T: std::fmt::Debug>(result: io::Result<T>) {
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
}

/// The stream checks, for a connected pair `(a, b)` of any stream type: `b` writes,
/// `a` (or a half of it) reads with `try_read_buf`.
macro_rules! stream_checks {
    ($a:expr, $b:expr) => {{
        let (a, mut b) = ($a, $b);
        // Nothing sent yet.
        let mut buf = BytesMut::with_capacity(16);
        buf.put_u8(b'>');
        assert_would_block(a.try_read_buf(&mut buf));
        assert_eq!(&buf[..], b">");

        // Appends after what the buffer holds, advancing by the count read, in place.
        b.write_all(b"hello").await.unwrap();
        while buf.len() < 6 {
            let before = buf.len();
            let n = when_ready!(a.readable(), a.try_read_buf(&mut buf));
            assert!(n > 0);
            assert_eq!(buf.len(), before + n);
        }
        assert_eq!(&buf[..], b">hello");
        assert_eq!(buf.capacity(), 16, "read in place, no reallocation");
        // Drained: the syscall itself now says `WouldBlock`.
        assert_would_block(a.try_read_buf(&mut buf));

        // An empty chunk reads nothing, and leaves the bytes for the next read.
        b.write_all(b"abc").await.unwrap();
        let mut storage = [0u8; 0];
        let mut empty = &mut storage[..];
        assert_eq!(when_ready!(a.readable(), a.try_read_buf(&mut empty)), 0);
        // A `BytesMut` with no capacity grows (`chunk_mut` reserves) and reads them.
        let mut grown = BytesMut::new();
        while grown.len() < 3 {
            when_ready!(a.readable(), a.try_read_buf(&mut grown));
        }
        assert_eq!(&grown[..], b"abc");

        // Through both kinds of read half.
        b.write_all(b"xy").await.unwrap();
        let mut a = a;
        {
            let (read, _write) = a.split();
            let mut buf = BytesMut::with_capacity(8);
            buf.put_u8(b'1');
            when_ready!(read.readable(), read.try_read_buf(&mut buf));
            assert_eq!(&buf[1..], &b"xy"[..buf.len() - 1]);
            b.write_all(b"z").await.unwrap();
            while buf.len() < 4 {
                when_ready!(read.readable(), read.try_read_buf(&mut buf));
            }
            assert_eq!(&buf[..], b"1xyz");
        }
        let (read, _write) = a.into_split();
        b.write_all(b"owned").await.unwrap();
        let mut buf = BytesMut::with_capacity(8);
        while buf.len() < 5 {
            when_ready!(read.readable(), read.try_read_buf(&mut buf));
        }
        assert_eq!(&buf[..], b"owned");

        // The peer's close: `Ok(0)` with spare capacity, the buffer untouched.
        drop(b);
        assert_eq!(when_ready!(read.readable(), read.try_read_buf(&mut buf)), 0);
        assert_eq!(&buf[..], b"owned");
    }};
}

#[test]
fn tcp_try_read_buf_on_the_stream_and_its_halves() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        stream_checks!(server, client);
    });
}

#[test]
fn unix_stream_try_read_buf_on_the_stream_and_its_halves() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        stream_checks!(a, b);
    });
}

#[test]
fn pipe_try_read_buf_reads_then_would_block_then_ends() {
    run(async {
        let (tx, rx) = pipe::pipe().unwrap();
        let mut buf = BytesMut::with_capacity(16);
        buf.put_u8(b'>');
        assert_would_block(rx.try_read_buf(&mut buf));

        tx.writable().await.unwrap();
        assert_eq!(tx.try_write(b"ping").unwrap(), 4);
        while buf.len() < 5 {
            let before = buf.len();
            let n = when_ready!(rx.readable(), rx.try_read_buf(&mut buf));
            assert_eq!(buf.len(), before + n);
        }
        assert_eq!(&buf[..], b">ping");
        assert_would_block(rx.try_read_buf(&mut buf));

        assert_eq!(tx.try_write(b"!").unwrap(), 1);
        let mut storage = [0u8; 0];
        let mut empty = &mut storage[..];
        assert_eq!(when_ready!(rx.readable(), rx.try_read_buf(&mut empty)), 0);
        let mut grown = BytesMut::new();
        assert_eq!(when_ready!(rx.readable(), rx.try_read_buf(&mut grown)), 1);
        assert_eq!(&grown[..], b"!");

        drop(tx);
        assert_eq!(when_ready!(rx.readable(), rx.try_read_buf(&mut buf)), 0);
        assert_eq!(&buf[..], b">ping");
    });
}

/// The datagram checks, for sockets `a` and `b` where `b` sends to `a` and `a` is
/// connected to `b`; `$from` checks a reported source.
macro_rules! datagram_checks {
    ($a:expr, $b:expr, $from:expr) => {{
        let (a, b) = ($a, $b);
        let from = $from;
        let mut buf = BytesMut::with_capacity(32);
        buf.put_u8(b'>');
        assert_would_block(a.try_recv_buf(&mut buf));
        assert_would_block(a.try_recv_buf_from(&mut buf));

        // Each form appends one datagram, advancing by its length, in place.
        b.send(b"one").await.unwrap();
        assert_eq!(a.recv_buf(&mut buf).await.unwrap(), 3);
        b.send(b"two").await.unwrap();
        let (n, source) = a.recv_buf_from(&mut buf).await.unwrap();
        assert_eq!(n, 3);
        from(&source);
        b.send(b"three").await.unwrap();
        assert_eq!(when_ready!(a.readable(), a.try_recv_buf(&mut buf)), 5);
        b.send(b"four").await.unwrap();
        let (n, source) = when_ready!(a.readable(), a.try_recv_buf_from(&mut buf));
        assert_eq!(n, 4);
        from(&source);
        assert_eq!(&buf[..], b">onetwothreefour");
        assert_eq!(buf.capacity(), 32, "received in place, no reallocation");
        // Drained: the syscall itself now says `WouldBlock`.
        assert_would_block(a.try_recv_buf(&mut buf));
        assert_would_block(a.try_recv_buf_from(&mut buf));

        // A datagram longer than the chunk is cut short; an empty chunk consumes one
        // and reads nothing.
        b.send(b"truncated").await.unwrap();
        b.send(b"lost").await.unwrap();
        b.send(b"kept").await.unwrap();
        let mut storage = [0u8; 5];
        let mut short = &mut storage[..];
        assert_eq!(a.recv_buf(&mut short).await.unwrap(), 5);
        assert_eq!(&storage, b"trunc");
        let mut storage = [0u8; 0];
        let mut empty = &mut storage[..];
        assert_eq!(a.recv_buf_from(&mut empty).await.unwrap().0, 0);
        // A `BytesMut` with no capacity grows (`chunk_mut` reserves) and receives.
        let mut grown = BytesMut::new();
        assert_eq!(a.recv_buf(&mut grown).await.unwrap(), 4);
        assert_eq!(&grown[..], b"kept");
    }};
}

#[test]
fn udp_recv_buf_and_its_forms() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let b_addr = b.local_addr().unwrap();
        datagram_checks!(a, b, move |source: &std::net::SocketAddr| assert_eq!(
            *source,
            b_addr
        ));
    });
}

#[test]
fn unix_datagram_recv_buf_and_its_forms() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        datagram_checks!(a, b, |source: &std::os::unix::net::SocketAddr| assert!(
            source.is_unnamed()
        ));
    });
}
