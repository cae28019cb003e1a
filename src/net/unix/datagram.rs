//! `UnixDatagram`.

use super::SocketAddr;
use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::Interest;
use std::fmt;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;

/// A Unix-domain datagram socket.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (a, b) = heist::net::UnixDatagram::pair().unwrap();
///     a.send(b"hi").await.unwrap();
///     let mut buf = [0; 2];
///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
/// });
/// ```
pub struct UnixDatagram {
    io: PollEvented<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    crate::net::stream_io::readiness_methods!();

    #[track_caller]
    fn new(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: PollEvented::new(socket)?,
        })
    }

    /// Binds to `path`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::new(a)?, UnixDatagram::new(b)?))
    }

    /// Wraps a std socket (made non-blocking here).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::new(mio::net::UnixDatagram::from_std(socket))
    }

    /// Sets the default destination.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
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

    /// Sends to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, path))
            .await
    }

    /// Receives a datagram and its source.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
            .await
    }

    /// Sends now, or `WouldBlock`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, || self.io.get_ref().send(buf))
    }

    /// Receives now, or `WouldBlock`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::READABLE, || self.io.get_ref().recv(buf))
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").finish_non_exhaustive()
    }
}
