//! `UnixStream` and its owned halves.

use super::SocketAddr;
use crate::io::registration::PollEvented;
use crate::net::stream_io::{impl_read, impl_write, ReadSide, WriteSide};
use crate::sync::Arc;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix-domain stream connection. Closing it (`close`) shuts the write side down.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (mut a, mut b) = heist::net::UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct UnixStream {
    io: PollEvented<mio::net::UnixStream>,
}

impl UnixStream {
    crate::net::stream_io::readiness_methods!();

    /// Connects to the socket at `path`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        stream
            .io
            .wait_connected(|s| crate::net::connect_done(s.take_error(), s.peer_addr()))
            .await?;
        Ok(stream)
    }

    /// A connected pair.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    #[track_caller]
    pub(crate) fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Wraps a std stream (made non-blocking here).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// The std stream (still non-blocking), out of the driver.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let mio = self.io.into_inner()?;
        // SAFETY: the fd comes from `into_raw_fd` of a stream we owned.
        Ok(unsafe { std::os::unix::net::UnixStream::from_raw_fd(mio.into_raw_fd()) })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Reads what is there now, or `WouldBlock`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes what fits now, or `WouldBlock`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Shuts down the read side, the write side or both.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Owned halves for two tasks; dropping the write half shuts the write side down.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let inner = Arc::new(self);
        (
            OwnedReadHalf {
                inner: inner.clone(),
            },
            OwnedWriteHalf { inner },
        )
    }
}

crate::net::stream_io::stream_sides!(UnixStream);

/// The read half of [`UnixStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<UnixStream>,
}

/// The write half of [`UnixStream::into_split`]; dropping it shuts the write side down.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<UnixStream>,
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        let _ = self.inner.shutdown_std(Shutdown::Write);
    }
}

impl ReadSide for OwnedReadHalf {
    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_read_bytes(cx, buf)
    }
}

impl WriteSide for OwnedWriteHalf {
    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_write_bytes(cx, buf)
    }
    fn poll_write_vectored_bytes(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_bytes(cx, bufs)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.inner.shutdown_write()
    }
}

impl_read!([] UnixStream);
impl_write!([] UnixStream);
impl_read!([] OwnedReadHalf);
impl_write!([] OwnedWriteHalf);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}
