//! `TcpStream`.

use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::ReadBuf;
use std::fmt;
use std::io;
use std::net::SocketAddr;
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
        stream.io.wait_connected(crate::net::connect_done).await?;
        Ok(stream)
    }

    #[track_caller]
    pub(crate) fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
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

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        socket2::SockRef::from(self.io.get_ref()).linger()
    }

    /// Sets `SO_LINGER` (`Some(ZERO)`: closing resets the connection instead of a
    /// graceful close).
    pub fn set_linger(&self, dur: Option<std::time::Duration>) -> io::Result<()> {
        socket2::SockRef::from(self.io.get_ref()).set_linger(dur)
    }

    /// Takes the pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Reads without removing the data from the socket.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.peek(buf)).await
    }

    /// Polls a [`peek`](Self::peek) into `buf`'s unfilled part, which it advances;
    /// returns how many bytes it peeked (0: end of stream, or `buf` full). One task at
    /// a time; the first poll with a `ReadBuf` zeroes its uninitialised part.
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        crate::net::common::poll_fill(buf, |unfilled| {
            self.io.registration().poll_io(cx, Direction::Read, || {
                self.io.get_ref().peek(unfilled).map(|n| (n, n))
            })
        })
    }

    /// Sets `SO_LINGER` to zero: dropping the stream resets the connection (the peer
    /// sees `ECONNRESET`) and discards unsent data instead of a graceful close.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(std::time::Duration::ZERO))
    }

    /// `TCP_QUICKACK`: whether acknowledgements are sent at once rather than delayed.
    /// The kernel may turn it off again by itself (see `tcp(7)`).
    #[cfg(any(
        target_os = "android",
        target_os = "fuchsia",
        target_os = "linux",
        target_os = "cygwin"
    ))]
    pub fn quickack(&self) -> io::Result<bool> {
        socket2::SockRef::from(self.io.get_ref()).tcp_quickack()
    }

    /// Sets `TCP_QUICKACK`.
    #[cfg(any(
        target_os = "android",
        target_os = "fuchsia",
        target_os = "linux",
        target_os = "cygwin"
    ))]
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        socket2::SockRef::from(self.io.get_ref()).set_tcp_quickack(quickack)
    }
}

crate::net::stream_io::stream_sides!(
    TcpStream,
    mio::net::TcpStream,
    SocketAddr,
    "    let listener = heist::net::TcpListener::bind(\"127.0.0.1:0\").await.unwrap();
    let mut b = heist::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (a, _) = listener.accept().await.unwrap();"
);

crate::net::common::std_conversions!(
    TcpStream,
    mio::net::TcpStream,
    std::net::TcpStream,
    "stream"
);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
