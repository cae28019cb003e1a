//! `UnixListener`.

use super::{SocketAddr, UnixStream};
use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use crate::io::Interest;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::path::Path;
use std::task::{ready, Context, Poll};

/// A Unix-domain socket listening for connections.
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = mio::net::UnixListener::bind(path)?;
        Ok(UnixListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Wraps a std listener (made non-blocking here).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: PollEvented::new_with_interest(
                mio::net::UnixListener::from_std(listener),
                Interest::READABLE,
            )?,
        })
    }

    /// The std listener (still non-blocking), out of the driver.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let mio = self.io.into_inner()?;
        // SAFETY: the fd comes from `into_raw_fd` of a listener we owned.
        Ok(unsafe { std::os::unix::net::UnixListener::from_raw_fd(mio.into_raw_fd()) })
    }

    /// Accepts a connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.get_ref().accept()))?;
        Poll::Ready(UnixStream::new(stream).map(|s| (s, addr)))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").finish_non_exhaustive()
    }
}
