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
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        stream.io.wait_connected(crate::net::connect_done).await?;
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

    /// Shuts down the read side, the write side or both.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

crate::net::stream_io::stream_sides!(UnixStream, SocketAddr);

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
