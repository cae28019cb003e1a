//! `UdpSocket`.

use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::Interest;
use crate::io::ReadBuf;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
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
///
/// The `poll_*` receives fill a [`ReadBuf`] (heist's copy of tokio's), after what it
/// already holds:
///
/// ```
/// use heist::io::ReadBuf;
/// use heist::net::UdpSocket;
/// use std::future::poll_fn;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"there", b.local_addr().unwrap()).await.unwrap();
///     let mut storage = [0; 16];
///     let mut buf = ReadBuf::new(&mut storage);
///     buf.put_slice(b"hi ");
///     let from = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
///     assert_eq!((buf.filled(), from), (&b"hi there"[..], a.local_addr().unwrap()));
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

    /// Receives from the connected peer without removing the datagram from the queue.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.peek(buf)).await
    }

    /// Polls a [`peek`](Self::peek) into `buf`'s unfilled part, which it advances (one
    /// task at a time; the first poll with a `ReadBuf` zeroes its uninitialised part).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        crate::net::common::poll_fill(buf, |unfilled| {
            self.io.registration().poll_io(cx, Direction::Read, || {
                self.io.get_ref().peek(unfilled).map(|n| (n, ()))
            })
        })
    }

    /// Peeks now from the connected peer, or `WouldBlock`.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::READABLE, || self.io.get_ref().peek(buf))
    }

    /// Receives a datagram and its source without removing it from the queue.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.peek_from(buf))
            .await
    }

    /// Polls a [`peek_from`](Self::peek_from) into `buf`'s unfilled part, which it
    /// advances; returns the source. As [`poll_peek`](Self::poll_peek) otherwise.
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        crate::net::common::poll_fill(buf, |unfilled| {
            self.io.registration().poll_io(cx, Direction::Read, || {
                self.io.get_ref().peek_from(unfilled)
            })
        })
    }

    /// Peeks now at a datagram and its source, or `WouldBlock`.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Interest::READABLE, || self.io.get_ref().peek_from(buf))
    }

    /// The source of the next datagram, which stays queued (whatever its length: unlike
    /// `peek_from` with a short buffer, this reads no payload).
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.async_io(Direction::Read, peek_sender).await
    }

    /// Polls a [`peek_sender`](Self::peek_sender) (one task at a time).
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || peek_sender(self.io.get_ref()))
    }

    /// The next datagram's source now, or `WouldBlock`.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.io
            .try_io(Interest::READABLE, || peek_sender(self.io.get_ref()))
    }
}

/// Socket options (tokio's names; the `IP_*` options apply to IPv4 sockets, the
/// `IPV6_*` ones to IPv6 sockets, and the wrong family gives the system's error).
impl UdpSocket {
    /// `SO_BROADCAST`: whether this socket may send to a broadcast address.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// `IP_MULTICAST_LOOP`: whether multicast datagrams this socket sends are looped
    /// back to this host's own members of the group.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_LOOP` (the system's default is on).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// `IP_MULTICAST_TTL`: the time-to-live of the multicast datagrams this socket
    /// sends (1, the default, keeps them on the local network).
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// `IPV6_MULTICAST_LOOP`: as [`multicast_loop_v4`](Self::multicast_loop_v4), for
    /// IPv6.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED`: the system picks one)
    /// (`IP_ADD_MEMBERSHIP`). An address that is not multicast is an error.
    ///
    /// ```
    /// use heist::net::UdpSocket;
    /// use std::net::Ipv4Addr;
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     let group = Ipv4Addr::new(239, 255, 0, 1);
    ///     socket.join_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    ///     socket.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
    ///     // Not a multicast address: the system says no.
    ///     assert!(socket.join_multicast_v4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST).is_err());
    /// });
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index
    /// `interface` (0: the system picks one) (`IPV6_ADD_MEMBERSHIP`).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves a group joined with [`join_multicast_v4`](Self::join_multicast_v4)
    /// (`IP_DROP_MEMBERSHIP`); leaving a group not joined is an error.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves a group joined with [`join_multicast_v6`](Self::join_multicast_v6)
    /// (`IPV6_DROP_MEMBERSHIP`).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// `IP_TTL`: the time-to-live of the unicast datagrams this socket sends.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    crate::net::common::ip_options!();

    fn sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self.io.get_ref())
    }
}

/// `recvfrom(MSG_PEEK)` into an empty buffer, through socket2.
fn peek_sender(socket: &mio::net::UdpSocket) -> io::Result<SocketAddr> {
    socket2::SockRef::from(socket)
        .peek_sender()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the sender's address is not an IP address"))
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
