//! `TcpSocket`: a TCP socket not yet connected or listening, for the options that must
//! be set before (`SO_REUSEADDR`, `SO_REUSEPORT`, buffer sizes, binding a client to a
//! local address). tokio's API. Built on `socket2`: neither std nor mio can create an
//! unconnected TCP socket.

use super::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A TCP socket that has not connected or listened yet (tokio's `TcpSocket`).
///
/// Creating and configuring one needs no runtime; [`connect`](TcpSocket::connect) and
/// [`listen`](TcpSocket::listen) register it with the current runtime's driver (and
/// panic outside one).
///
/// ```
/// use heist::net::TcpSocket;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseaddr(true).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(1024).unwrap();
///     let addr = listener.local_addr().unwrap();
///
///     let client = TcpSocket::new_v4().unwrap();
///     client.set_send_buffer_size(64 * 1024).unwrap();
///     let accept = heist::spawn(async move { listener.accept().await.unwrap().1 });
///     let stream = client.connect(addr).await.unwrap();
///     assert_eq!(accept.await.unwrap(), stream.local_addr().unwrap());
/// });
/// ```
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, close-on-exec).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket (non-blocking, close-on-exec).
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        // socket2 sets close-on-exec on Unix; the driver needs non-blocking.
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }

    /// `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEADDR` (bind a listening address again while old connections on it
    /// are in `TIME_WAIT`).
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// `SO_REUSEPORT`.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_REUSEPORT` (several sockets bound to one address, the kernel spreading
    /// connections between them).
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// `SO_SNDBUF` (Linux reports twice what was set: its bookkeeping overhead).
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(saturate)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// `SO_RCVBUF` (Linux reports twice what was set).
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(saturate)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `SO_LINGER` (`Some(ZERO)`: closing resets the connection).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(dur)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Sets `SO_LINGER` to zero: closing the socket resets the connection (the peer
    /// sees `ECONNRESET`) and drops unsent data instead of a graceful close.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.inner.set_linger(Some(Duration::ZERO))
    }

    crate::net::common::ip_options!();

    fn sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(&self.inner)
    }

    /// The local address (after `bind`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        as_inet(self.inner.local_addr()?)
    }

    /// Takes the pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds to `addr` (for a listener, or a client that picks its source address).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&SockAddr::from(addr))
    }

    /// Connects to `addr`; a refused connection is an `io::Error`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        if let Err(e) = self.inner.connect(&SockAddr::from(addr)) {
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        let std = std::net::TcpStream::from(OwnedFd::from(self.inner));
        TcpStream::connecting(mio::net::TcpStream::from_std(std)).await
    }

    /// Listens, with room for `backlog` connections not yet accepted.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner
            .listen(backlog.try_into().unwrap_or(libc::c_int::MAX))?;
        let std = std::net::TcpListener::from(OwnedFd::from(self.inner));
        TcpListener::new(mio::net::TcpListener::from_std(std))
    }

    /// Wraps a std stream's socket (made non-blocking here), to read or set its
    /// options; tokio's `from_std_stream`.
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        let inner = Socket::from(OwnedFd::from(stream));
        // Best effort, as `from_raw_fd`: the socket is the caller's.
        let _ = inner.set_nonblocking(true);
        TcpSocket { inner }
    }
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

fn as_inet(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket"))
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl std::os::unix::io::AsFd for TcpSocket {
    fn as_fd(&self) -> std::os::unix::io::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// # Safety
    /// `fd` is an open TCP socket that the caller owns and gives up.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        // SAFETY: the caller's contract, above.
        let inner = unsafe { Socket::from_raw_fd(fd) };
        TcpSocket { inner }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
