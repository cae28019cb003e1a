//! `UnixDatagram`.

use super::SocketAddr;
use crate::io::registration::PollEvented;
use crate::io::scheduled::Direction;
use std::fmt;
use std::io;
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
    crate::net::common::datagram_methods!(SocketAddr);

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

    /// Sets the default destination.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, path))
            .await
    }

    /// Polls a [`send_to`](Self::send_to) (one task at a time).
    pub fn poll_send_to(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
        target: impl AsRef<Path>,
    ) -> std::task::Poll<io::Result<usize>> {
        let target = target.as_ref();
        self.io.registration().poll_io(cx, Direction::Write, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Sends now to the socket at `target`, or `WouldBlock`.
    pub fn try_send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        self.io.try_io(crate::io::Interest::WRITABLE, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Shuts down the read side, the write side or both (`shutdown(2)`): a shut-down
    /// side fails or reads end of data from then on.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

crate::net::common::std_conversions!(
    UnixDatagram,
    mio::net::UnixDatagram,
    std::os::unix::net::UnixDatagram,
    "socket"
);

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").finish_non_exhaustive()
    }
}
