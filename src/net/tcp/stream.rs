//! `TcpStream`.

use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::net::stream_io::{impl_read, impl_write};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::task::{Context, Poll};

/// A TCP connection.
///
/// Reads and writes go through `futures::io::{AsyncReadExt, AsyncWriteExt}` (or tokio's
/// traits with the `tokio-io` feature), or the `try_*` methods after `readable()` /
/// `writable()`. Closing (`close`, `poll_close`) shuts the write side down.
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    crate::net::stream_io::readiness_methods!();

    /// Connects to `addr`, trying each address it resolves to.
    ///
    /// A refused connection (or any connect error) is returned as an `io::Error`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn connect<A: crate::net::ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        crate::net::each_addr(addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connecting(mio::net::TcpStream::connect(addr)?).await
    }

    /// Registers a socket whose non-blocking connect was started, and waits for it.
    pub(crate) async fn connecting(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::new(stream)?;
        stream
            .io
            .wait_connected(|s| crate::net::connect_done(s.take_error(), s.peer_addr()))
            .await?;
        Ok(stream)
    }

    #[track_caller]
    pub(crate) fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// The std stream (still non-blocking), out of the driver.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let mio = self.io.into_inner()?;
        // SAFETY: the fd comes from `into_raw_fd` of a stream we owned: open, owned by
        // no one else, a TCP stream.
        Ok(unsafe { std::net::TcpStream::from_raw_fd(mio.into_raw_fd()) })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Polls read readiness (one task at a time).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_read_ready(cx)
    }

    /// Polls write readiness (one task at a time).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_ready(cx)
    }

    /// Reads what is there now; `WouldBlock` if nothing (readiness then cleared).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes what fits now; `WouldBlock` if nothing does (readiness then cleared).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Reads without removing the data from the socket.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.peek(buf)).await
    }

    /// Polls a peek.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.get_ref().peek(buf))
    }

    /// Borrowed halves, usable from two futures of one task (or with scoped tasks).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Owned halves, usable from two tasks; `reunite` puts them back together. Dropping
    /// the write half shuts the write side down (the peer reads end of stream).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }

    pub(crate) fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

crate::net::stream_io::stream_sides!(TcpStream);

impl_read!([] TcpStream);
impl_write!([] TcpStream);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
