//! `UnixStream`.

use super::SocketAddr;
use crate::io::registration::PollEvented;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::path::Path;

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
        UnixStream::connecting(mio::net::UnixStream::connect(path)?).await
    }

    /// Connects to the socket at `addr` (a path or, on Linux, an abstract name).
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connecting(mio::net::UnixStream::connect_addr(addr)?).await
    }

    /// The credentials of the peer process, as recorded when the connection was made.
    ///
    /// ```
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (a, b) = heist::net::UnixStream::pair().unwrap();
    ///     let cred = a.peer_cred().unwrap();
    ///     // Both ends belong to this process.
    ///     assert_eq!(cred, b.peer_cred().unwrap());
    ///     if let Some(pid) = cred.pid() {
    ///         assert_eq!(pid as u32, std::process::id());
    ///     }
    /// });
    /// ```
    pub fn peer_cred(&self) -> io::Result<super::UCred> {
        super::ucred::peer_cred(self.io.get_ref())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
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

    /// Registers a socket whose non-blocking connect was started, and waits for it.
    pub(crate) async fn connecting(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        let stream = UnixStream::new(stream)?;
        stream.io.wait_connected(crate::net::connect_done).await?;
        Ok(stream)
    }

    #[track_caller]
    pub(crate) fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Shuts down the read side, the write side or both.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

crate::net::stream_io::stream_sides!(
    UnixStream,
    mio::net::UnixStream,
    SocketAddr,
    "    let (a, mut b) = heist::net::UnixStream::pair().unwrap();"
);

crate::net::common::std_conversions!(
    UnixStream,
    mio::net::UnixStream,
    std::os::unix::net::UnixStream,
    "stream"
);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}
