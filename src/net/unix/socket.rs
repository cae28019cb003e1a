//! `UnixSocket`: a Unix-domain socket not yet bound, listening or connected (tokio's
//! type), for what must happen before: binding a client to a path, choosing the
//! backlog. Built on socket2, as `TcpSocket`.

use super::{UnixDatagram, UnixListener, UnixStream};
use socket2::{Domain, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

/// A Unix-domain socket, stream or datagram, before it listens, connects or becomes a
/// [`UnixDatagram`] (tokio's `UnixSocket`).
///
/// Creating, binding and configuring one needs no runtime; [`listen`](Self::listen),
/// [`connect`](Self::connect) and [`datagram`](Self::datagram) register it with the
/// current runtime's driver (and panic outside one). Calling a stream method on a
/// datagram socket, or the reverse, is an error.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::UnixSocket;
///
/// let dir = std::env::temp_dir().join(format!("heist-doc-unixsocket-{}", std::process::id()));
/// let _ = std::fs::remove_file(&dir);
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let socket = UnixSocket::new_stream().unwrap();
///     socket.bind(&dir).unwrap();
///     let listener = socket.listen(16).unwrap();
///     let server = heist::spawn(async move {
///         let (mut stream, _) = listener.accept().await.unwrap();
///         stream.write_all(b"hi").await.unwrap();
///     });
///     let mut client = UnixSocket::new_stream().unwrap().connect(&dir).await.unwrap();
///     let mut buf = [0; 2];
///     client.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
///     server.await.unwrap();
/// });
/// std::fs::remove_file(&dir).unwrap();
/// ```
pub struct UnixSocket {
    inner: Socket,
}

impl UnixSocket {
    /// A new datagram socket (`SOCK_DGRAM`).
    pub fn new_datagram() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::DGRAM)
    }

    /// A new stream socket (`SOCK_STREAM`).
    pub fn new_stream() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::STREAM)
    }

    fn new(ty: Type) -> io::Result<UnixSocket> {
        let inner = Socket::new(Domain::UNIX, ty, None)?;
        inner.set_nonblocking(true)?;
        Ok(UnixSocket { inner })
    }

    fn is_datagram(&self) -> io::Result<bool> {
        Ok(self.inner.r#type()? == Type::DGRAM)
    }

    /// Binds to `path` (which must not exist yet).
    pub fn bind(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.bind(&SockAddr::unix(path)?)
    }

    /// Listens, with room for `backlog` connections not yet accepted (a stream socket
    /// only).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<UnixListener> {
        if self.is_datagram()? {
            return Err(io::Error::other(
                "listen cannot be called on a datagram socket",
            ));
        }
        self.inner
            .listen(backlog.try_into().unwrap_or(libc::c_int::MAX))?;
        let std = std::os::unix::net::UnixListener::from(OwnedFd::from(self.inner));
        UnixListener::from_std(std)
    }

    /// Connects to the socket at `path` (a stream socket only).
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn connect(self, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        if self.is_datagram()? {
            return Err(io::Error::other(
                "connect cannot be called on a datagram socket",
            ));
        }
        if let Err(e) = self.inner.connect(&SockAddr::unix(path)?) {
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        let std = std::os::unix::net::UnixStream::from(OwnedFd::from(self.inner));
        UnixStream::connecting(mio::net::UnixStream::from_std(std)).await
    }

    /// The socket as a [`UnixDatagram`] (a datagram socket only).
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn datagram(self) -> io::Result<UnixDatagram> {
        if !self.is_datagram()? {
            return Err(io::Error::other(
                "datagram cannot be called on a stream socket",
            ));
        }
        let std = std::os::unix::net::UnixDatagram::from(OwnedFd::from(self.inner));
        UnixDatagram::from_std(std)
    }
}

impl AsRawFd for UnixSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UnixSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for UnixSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

impl FromRawFd for UnixSocket {
    /// # Safety
    /// `fd` is an open Unix-domain socket that the caller owns and gives up.
    unsafe fn from_raw_fd(fd: RawFd) -> UnixSocket {
        // SAFETY: the caller's contract, above.
        let inner = unsafe { Socket::from_raw_fd(fd) };
        UnixSocket { inner }
    }
}

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSocket")
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}
