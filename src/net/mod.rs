//! Networking: TCP, UDP and Unix-domain sockets on the runtime's I/O driver, with
//! tokio's names and signatures (`heist::net::TcpListener` is `tokio::net::TcpListener`).
//!
//! Every stream implements `futures::io::{AsyncRead, AsyncWrite}` (`close` shuts the
//! write side down); with the `tokio-io` feature also tokio's `AsyncRead`/`AsyncWrite`,
//! and with `hyper` hyper's `rt::{Read, Write}`.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use heist::net::{TcpListener, TcpStream};
//!
//! let rt = heist::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     heist::spawn(async move {
//!         let (mut socket, _) = listener.accept().await.unwrap();
//!         let mut buf = [0; 5];
//!         socket.read_exact(&mut buf).await.unwrap();
//!         socket.write_all(&buf).await.unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello").await.unwrap();
//!     let mut echo = [0; 5];
//!     client.read_exact(&mut echo).await.unwrap();
//!     assert_eq!(&echo, b"hello");
//! });
//! ```
//!
//! Addresses are resolved with `std::net::ToSocketAddrs`, on the calling thread: literal
//! addresses cost nothing, but a host name blocks the worker while the system resolves
//! it (resolve it with [`lookup_host`] first, which does so on the blocking pool, if
//! that matters).
//!
//! Creating a socket outside a runtime panics (as tokio does); a socket whose runtime
//! shut down fails every operation with an error.

mod common;
mod split;
mod stream_io;
pub mod tcp;
mod udp;
pub mod unix;

pub use std::net::ToSocketAddrs;
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::SocketAddr;

/// Resolves `host` (a `"name:port"` string, a `(name, port)` pair, a literal address)
/// on the blocking pool, as tokio's `lookup_host` does, so that a slow resolver does not
/// hold a worker.
///
/// Unlike tokio's, which takes its own sealed trait, `host` must be owned (`String`
/// rather than `&str`): it moves to the blocking thread.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let addrs: Vec<_> = heist::net::lookup_host("127.0.0.1:80").await.unwrap().collect();
///     assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
///     let err = heist::net::lookup_host("no port here").await.err().unwrap();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// });
/// ```
///
/// # Panics
/// Outside a heist runtime.
pub async fn lookup_host<T>(host: T) -> io::Result<impl Iterator<Item = SocketAddr>>
where
    T: ToSocketAddrs + Send + 'static,
{
    let resolve = move || {
        host.to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>())
    };
    match crate::task::spawn_blocking(resolve).await {
        Ok(addrs) => Ok(addrs?.into_iter()),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Tries `f` on each address `addr` resolves to; the first success, or the last error.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

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
