//! `UdpSocket`.

use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::Interest;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
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

    /// Wraps a std socket (made non-blocking here).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// The std socket (still non-blocking), out of the driver.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let mio = self.io.into_inner()?;
        // SAFETY: the fd comes from `into_raw_fd` of a socket we owned: open, owned by no
        // one else, a UDP socket.
        Ok(unsafe { std::net::UdpSocket::from_raw_fd(mio.into_raw_fd()) })
    }

    /// Sets the default destination (and the only source `recv` accepts).
    pub async fn connect<A: crate::net::ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        crate::net::each_addr(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sends to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.recv(buf)).await
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

    /// Receives a datagram and its source.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
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

    /// Sends now to the connected peer, or `WouldBlock`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, || self.io.get_ref().send(buf))
    }

    /// Receives now from the connected peer, or `WouldBlock`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::READABLE, || self.io.get_ref().recv(buf))
    }

    /// Sends now to `target`, or `WouldBlock`.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Receives now, or `WouldBlock`.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Interest::READABLE, || self.io.get_ref().recv_from(buf))
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

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
