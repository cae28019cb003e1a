//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (with its owned halves),
//! [`UnixDatagram`] and [`UnixSocket`] (one not yet bound, listening or connected); a
//! stream peer's credentials ([`UCred`]); and [`pipe`], anonymous pipes and FIFOs.

mod datagram;
mod listener;
pub mod pipe;
mod socket;
mod split;
mod stream;
mod ucred;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use socket::UnixSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;
pub use ucred::{gid_t, pid_t, uid_t, UCred};
