//! The end of a non-blocking connect, for TCP and Unix streams alike.

use std::io;

/// A mio stream whose non-blocking connect may still be in progress.
pub(crate) trait Connecting {
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    /// Ok once connected (the peer's address is known).
    fn peer(&self) -> io::Result<()>;
}

impl Connecting for mio::net::TcpStream {
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.take_error()
    }
    fn peer(&self) -> io::Result<()> {
        self.peer_addr().map(drop)
    }
}

impl Connecting for mio::net::UnixStream {
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.take_error()
    }
    fn peer(&self) -> io::Result<()> {
        self.peer_addr().map(drop)
    }
}

/// How a non-blocking connect went, from the socket's pending error and its peer
/// address: `Ok(false)` while it is still in progress (mio's recipe).
pub(crate) fn connect_done(stream: &impl Connecting) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer() {
        Ok(()) => Ok(true),
        Err(e)
            if e.kind() == io::ErrorKind::NotConnected
                || e.raw_os_error() == Some(libc::EINPROGRESS) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
