//! `TcpStream`'s halves: borrowed (`split`) and owned (`into_split`, `reunite`), from
//! `net/split.rs`, plus TCP's `peek` and `poll_peek` on the read halves.

use super::TcpStream;
use crate::io::ReadBuf;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

crate::net::split::stream_halves!(TcpStream, SocketAddr);

impl ReadHalf<'_> {
    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.peek(buf).await
    }

    /// Polls a peek; see [`TcpStream::poll_peek`].
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.0.poll_peek(cx, buf)
    }
}

impl OwnedReadHalf {
    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }

    /// Polls a peek; see [`TcpStream::poll_peek`].
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_peek(cx, buf)
    }
}
