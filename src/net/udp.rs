//! `UdpSocket`.

use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::Interest;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// A UDP socket.
///
/// ```
/// use heist::net::UdpSocket;
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    crate::net::stream_io::readiness_methods!();
    crate::net::common::datagram_methods!(SocketAddr);

    /// Binds to `addr`, trying each address it resolves to.
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn bind<A: crate::net::ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        crate::net::each_addr(addr, |addr| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(addr)?)
        })
        .await
    }

    #[track_caller]
    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    /// Sets the default destination (and the only source `recv` accepts).
    pub async fn connect<A: crate::net::ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        crate::net::each_addr(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends to `target`.
    pub async fn send_to<A: crate::net::ToSocketAddrs>(
        &self,
        buf: &[u8],
        target: A,
    ) -> io::Result<usize> {
        crate::net::each_addr(target, |addr| async move {
            self.io
                .async_io(Direction::Write, |s| s.send_to(buf, addr))
                .await
        })
        .await
    }

    /// Receives a datagram without removing it from the queue.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.peek_from(buf))
            .await
    }

    /// Polls a `recv_from` (one task at a time).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.get_ref().recv_from(buf))
    }

    /// Polls a `send_to` (one task at a time).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.registration().poll_io(cx, Direction::Write, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Sends now to `target`, or `WouldBlock`.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Takes the pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

crate::net::common::std_conversions!(
    UdpSocket,
    mio::net::UdpSocket,
    std::net::UdpSocket,
    "socket"
);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
