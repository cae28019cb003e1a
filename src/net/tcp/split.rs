//! `TcpStream`'s halves: borrowed (`split`) and owned (`into_split`, `reunite`).
//!
//! The read side and the write side are separate directions of the stream's
//! registration, with one waiter each, so one task may read while another writes.

use super::TcpStream;
use crate::net::stream_io::{impl_read, impl_write, ReadSide, WriteSide};
use crate::sync::Arc;
use std::error::Error;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

/// The read half of a borrowed [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of a borrowed [`TcpStream::split`]. Closing it shuts the write side
/// down.
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

pub(crate) fn split(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

/// The read half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<TcpStream>,
}

/// The write half of [`TcpStream::into_split`]. Dropping it shuts the write side down
/// (as `close` does), as tokio's does.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<TcpStream>,
    shutdown_on_drop: bool,
}

pub(crate) fn into_split(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    (
        OwnedReadHalf {
            inner: inner.clone(),
        },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

/// `reunite` was given halves of two different streams; they are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    let inner = write.inner.clone();
    drop(write);
    drop(read);
    Ok(Arc::try_unwrap(inner).expect("TcpStream: both halves were given back"))
}

impl OwnedReadHalf {
    /// The stream again, from both halves.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits until readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Reads what is there now; see [`TcpStream::try_read`].
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }
}

impl OwnedWriteHalf {
    /// The stream again, from both halves.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// Drops the half without shutting the write side down.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits until writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// Writes what fits now; see [`TcpStream::try_write`].
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.shutdown_std(Shutdown::Write);
        }
    }
}

impl ReadSide for ReadHalf<'_> {
    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.0.poll_read_bytes(cx, buf)
    }
}

impl ReadSide for OwnedReadHalf {
    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_read_bytes(cx, buf)
    }
}

impl WriteSide for WriteHalf<'_> {
    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.poll_write_bytes(cx, buf)
    }
    fn poll_write_vectored_bytes(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_vectored_bytes(cx, bufs)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.0.shutdown_std(Shutdown::Write)
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
        self.inner.shutdown_std(Shutdown::Write)
    }
}

impl_read!(['a] ReadHalf<'a>);
impl_read!([] OwnedReadHalf);
impl_write!(['a] WriteHalf<'a>);
impl_write!([] OwnedWriteHalf);
