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
//!
//! Where heist still differs from tokio 1.x: no `bytes::BufMut` methods
//! (`try_read_buf`, on the streams and [`unix::pipe::Receiver`] alike, `recv_buf`,
//! `recv_buf_from` and their `try_` forms: heist does not depend on `bytes`);
//! `unix::SocketAddr` is std's (the same `is_unnamed` and `as_pathname`; on Linux
//! `as_abstract_name` needs `std::os::linux::net::SocketAddrExt` in scope); and the
//! `poll_*` receives take heist's [`ReadBuf`](crate::io::ReadBuf), not tokio's, even
//! with the `tokio-io` feature.

mod addr;
mod common;
mod connect;
mod split;
mod stream_io;
pub mod tcp;
mod udp;
pub mod unix;

pub(crate) use addr::each_addr;
pub use addr::lookup_host;
pub(crate) use connect::connect_done;
pub use std::net::ToSocketAddrs;
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixSocket, UnixStream};
