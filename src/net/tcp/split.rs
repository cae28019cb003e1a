//! `TcpStream`'s halves: borrowed (`split`) and owned (`into_split`, `reunite`), from
//! `net/split.rs`, plus TCP's `peek` on the read halves.

use super::TcpStream;
use std::io;
use std::net::SocketAddr;

crate::net::split::stream_halves!(TcpStream, SocketAddr);

impl ReadHalf<'_> {
    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.peek(buf).await
    }
}

impl OwnedReadHalf {
    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }
}
