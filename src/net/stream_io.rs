//! The stream traits, implemented once for every stream type and half: futures-io's
//! (always), tokio's (feature `tokio-io`), hyper's (feature `hyper`). Each type
//! provides its bytes through `ReadSide` / `WriteSide`; the macros adapt the buffers.

use std::io;
use std::task::{Context, Poll};

/// A type that reads bytes through the I/O loop: it names its registered source, and
/// the reads, into initialised bytes or into hyper's and tokio's possibly uninitialised
/// buffers, are the source's `PollEvented` reads.
pub(crate) trait ReadSide {
    /// The mio source the bytes come from.
    type Source: mio::event::Source + std::os::fd::AsRawFd;

    /// The registered source.
    fn read_source(&self) -> &crate::io::registration::PollEvented<Self::Source>;

    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
    where
        for<'a> &'a Self::Source: io::Read,
    {
        self.read_source().poll_read(cx, buf)
    }

    /// Reads into possibly uninitialised memory (`PollEvented::poll_read_uninit`):
    /// returns `n`, and the first `n` bytes of `buf` are then initialised.
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.read_source().poll_read_uninit(cx, buf)
    }
}

/// A type that writes bytes through the I/O loop and can shut its write side down.
pub(crate) trait WriteSide {
    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    fn poll_write_vectored_bytes(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
    /// `shutdown(SHUT_WR)`: the peer reads end of stream.
    fn shutdown_write(&self) -> io::Result<()>;
}

macro_rules! impl_read {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> futures::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream_io::ReadSide::poll_read_bytes(&*self, cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($g)*> tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // SAFETY: `poll_read_uninit` only writes bytes of the slice, never
                // de-initialises any (tokio's rule for `unfilled_mut`).
                let unfilled = unsafe { buf.unfilled_mut() };
                let n = std::task::ready!($crate::net::stream_io::ReadSide::poll_read_uninit(
                    &*self, cx, unfilled
                ))?;
                // SAFETY: the read initialised the first `n` unfilled bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        #[cfg(feature = "hyper")]
        impl<$($g)*> hyper::rt::Read for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                mut buf: hyper::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // SAFETY: `poll_read_uninit` only writes bytes of the slice, never
                // de-initialises any (hyper's rule for `as_mut`).
                let unfilled = unsafe { buf.as_mut() };
                let n = std::task::ready!($crate::net::stream_io::ReadSide::poll_read_uninit(
                    &*self, cx, unfilled
                ))?;
                // SAFETY: the read initialised the first `n` bytes.
                unsafe { buf.advance(n) };
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

/// The methods all three write traits share, name for name: `poll_write`,
/// `poll_write_vectored`, `poll_flush` (a no-op: writes go straight to the socket).
macro_rules! write_core_methods {
    () => {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            $crate::net::stream_io::WriteSide::poll_write_bytes(&*self, cx, buf)
        }

        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            $crate::net::stream_io::WriteSide::poll_write_vectored_bytes(&*self, cx, bufs)
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    };
}

/// The rest of tokio's `AsyncWrite` and hyper's `Write`, which share it name for name.
#[cfg(any(feature = "tokio-io", feature = "hyper"))]
macro_rules! write_methods {
    () => {
        $crate::net::stream_io::write_core_methods!();

        fn is_write_vectored(&self) -> bool {
            true
        }

        /// Shuts the write side down: the peer reads end of stream.
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready($crate::net::stream_io::WriteSide::shutdown_write(&*self))
        }
    };
}

pub(crate) use write_core_methods;
#[cfg(any(feature = "tokio-io", feature = "hyper"))]
pub(crate) use write_methods;

macro_rules! impl_write {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> futures::io::AsyncWrite for $ty {
            $crate::net::stream_io::write_core_methods!();

            /// Shuts the write side down: the peer reads end of stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::stream_io::WriteSide::shutdown_write(&*self))
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($g)*> tokio::io::AsyncWrite for $ty {
            $crate::net::stream_io::write_methods!();
        }

        #[cfg(feature = "hyper")]
        impl<$($g)*> hyper::rt::Write for $ty {
            $crate::net::stream_io::write_methods!();
        }
    };
}

/// tokio's readiness methods, for a type whose `io` field is a `PollEvented`.
macro_rules! readiness_methods {
    () => {
        /// Waits for any of `interest`; returns what is ready. Several tasks may wait.
        pub async fn ready(
            &self,
            interest: $crate::io::Interest,
        ) -> std::io::Result<$crate::io::Ready> {
            self.io.ready(interest).await
        }

        /// Waits until readable (then try the `try_*` reads).
        pub async fn readable(&self) -> std::io::Result<()> {
            self.ready($crate::io::Interest::READABLE).await.map(drop)
        }

        /// Waits until writable (then try the `try_*` writes).
        pub async fn writable(&self) -> std::io::Result<()> {
            self.ready($crate::io::Interest::WRITABLE).await.map(drop)
        }

        /// Runs `f` if the socket is ready for `interest`, clearing the readiness if it
        /// says `WouldBlock` (`WouldBlock` without calling `f` if not ready).
        pub fn try_io<R>(
            &self,
            interest: $crate::io::Interest,
            f: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.io.try_io(interest, f)
        }

        /// Runs `f` each time the socket is ready for `interest`, until it returns
        /// something other than `WouldBlock` (the readiness it saw is cleared after each
        /// `WouldBlock`). `f` does the I/O itself, on the socket's fd or through
        /// `std`/`socket2` (tokio's `async_io`).
        pub async fn async_io<R>(
            &self,
            interest: $crate::io::Interest,
            mut f: impl FnMut() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            loop {
                let event = self.io.registration().readiness(interest).await?;
                match f() {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        self.io.registration().clear_readiness(event);
                    }
                    result => return result,
                }
            }
        }
    };
}

/// For a whole stream whose `io` field is a `PollEvented` of a mio stream: its
/// addresses, `try_read`, `try_read_buf`, `try_write`, `ReadSide` and `WriteSide`, and
/// through them the stream traits (`pair`: doc-test lines that make two connected
/// streams, `a` and `mut b`).
macro_rules! stream_sides {
    ($ty:ty, $source:ty, $addr:ty, $pair:literal) => {
        impl $ty {
            /// The remote address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().local_addr()
            }

            /// Polls read readiness (one task at a time).
            pub fn poll_read_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_read_ready(cx)
            }

            /// Polls write readiness (one task at a time).
            pub fn poll_write_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_write_ready(cx)
            }

            /// Reads what is there now; `WouldBlock` if nothing (readiness then cleared).
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io.try_read(buf)
            }

            /// Writes what fits now; `WouldBlock` if nothing does (readiness then
            /// cleared).
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.io.try_write(buf)
            }

            /// Reads what is there now into `buf`'s next chunk
            /// ([`BufMut::chunk_mut`](bytes::BufMut::chunk_mut)), which it advances by
            /// the count read; `WouldBlock` if nothing (readiness then cleared). `Ok(0)`:
            /// the peer closed its write side, or the chunk is empty (a `BytesMut` with
            /// no spare capacity first reserves 64 bytes, so only a full fixed-size
            /// buffer, such as `&mut [u8]`, reads nothing).
            ///
            /// ```
            /// use bytes::BytesMut;
            /// use futures::io::AsyncWriteExt;
            /// use std::io;
            ///
            /// let rt = heist::Runtime::new().unwrap();
            /// rt.block_on(async {
            #[doc = $pair]
            ///     b.write_all(b"hello").await.unwrap();
            ///     let mut buf = BytesMut::with_capacity(16);
            ///     while buf.len() < 5 {
            ///         a.readable().await.unwrap();
            ///         match a.try_read_buf(&mut buf) {
            ///             Ok(n) => assert!(n > 0),
            ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            ///             Err(e) => panic!("{e}"),
            ///         }
            ///     }
            ///     assert_eq!(&buf[..], b"hello");
            /// });
            /// ```
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
                self.io.try_io($crate::io::Interest::READABLE, || {
                    $crate::net::common::fill_buf_mut(buf, |dst| {
                        std::io::Read::read(&mut self.io.get_ref(), dst).map(|n| (n, ()))
                    })
                    .map(|(n, ())| n)
                })
            }

            /// Reads what is there now into `bufs`, in order (`readv`); `WouldBlock` if
            /// nothing (readiness then cleared).
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.io.try_io($crate::io::Interest::READABLE, || {
                    std::io::Read::read_vectored(&mut self.io.get_ref(), bufs)
                })
            }

            /// Writes what fits now from `bufs`, in order (`writev`); `WouldBlock` if
            /// nothing does (readiness then cleared).
            pub fn try_write_vectored(
                &self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                self.io.try_io($crate::io::Interest::WRITABLE, || {
                    std::io::Write::write_vectored(&mut self.io.get_ref(), bufs)
                })
            }
        }

        $crate::net::stream_io::impl_read!([] $ty);
        $crate::net::stream_io::impl_write!([] $ty);

        impl $crate::net::stream_io::ReadSide for $ty {
            type Source = $source;

            fn read_source(&self) -> &$crate::io::registration::PollEvented<$source> {
                &self.io
            }
        }

        impl $crate::net::stream_io::WriteSide for $ty {
            fn poll_write_bytes(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored_bytes(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn shutdown_write(&self) -> std::io::Result<()> {
                self.io.get_ref().shutdown(std::net::Shutdown::Write)
            }
        }
    };
}

pub(crate) use impl_read;
pub(crate) use impl_write;
pub(crate) use readiness_methods;
pub(crate) use stream_sides;
