//! A stream's halves, written once for `TcpStream` and `UnixStream` (tokio gives both
//! the same five types): `stream_halves!` declares, in the module that invokes it,
//! `ReadHalf`/`WriteHalf` (borrowed, `split`), `OwnedReadHalf`/`OwnedWriteHalf`
//! (`into_split`, `reunite`) and `ReuniteError`, with the stream's `split` and
//! `into_split`. A macro rather than a generic so that each module's types keep their
//! own names and docs, as tokio's (`heist::net::tcp::OwnedReadHalf` is a plain struct,
//! not an alias of a generic one).
//!
//! The read side and the write side are separate directions of the stream's
//! registration, with one waiter each, so one task may read while another writes.
//!
//! The stream type must have `peer_addr`/`local_addr` returning `$addr`, `ready`,
//! `readable`, `writable`, `try_read`, `try_write`, their `_vectored` forms, and implement `ReadSide` and
//! `WriteSide` (`stream_io.rs`).

macro_rules! stream_halves {
    ($stream:ident, $addr:ty) => {
        impl AsRef<$stream> for $stream {
            fn as_ref(&self) -> &$stream {
                self
            }
        }

        impl $stream {
            /// Borrowed halves, usable from two futures of one task (or with scoped
            /// tasks).
            pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf(self), WriteHalf(self))
            }

            /// Owned halves, usable from two tasks; `reunite` puts them back together.
            /// Dropping the write half shuts the write side down (the peer reads end of
            /// stream).
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let inner = $crate::sync::Arc::new(self);
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
        }

        #[doc = concat!("The read half of a borrowed [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        #[doc = concat!(
            "The write half of a borrowed [`", stringify!($stream), "::split`]. Closing ",
            "it shuts the write side down."
        )]
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        #[doc = concat!("The read half of [`", stringify!($stream), "::into_split`].")]
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            inner: $crate::sync::Arc<$stream>,
        }

        #[doc = concat!(
            "The write half of [`", stringify!($stream), "::into_split`]. Dropping it ",
            "shuts the write side down (as `close` does), as tokio's does."
        )]
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            inner: $crate::sync::Arc<$stream>,
            shutdown_on_drop: bool,
        }

        /// `reunite` was given halves of two different streams; they are handed back.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        fn reunite(
            read: OwnedReadHalf,
            mut write: OwnedWriteHalf,
        ) -> Result<$stream, ReuniteError> {
            if !$crate::sync::Arc::ptr_eq(&read.inner, &write.inner) {
                return Err(ReuniteError(read, write));
            }
            write.shutdown_on_drop = false;
            let inner = write.inner.clone();
            drop(write);
            drop(read);
            Ok($crate::sync::Arc::try_unwrap(inner)
                .expect(concat!(stringify!($stream), ": both halves were given back")))
        }

        impl OwnedReadHalf {
            /// The stream again, from both halves.
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                reunite(self, other)
            }
        }

        impl OwnedWriteHalf {
            /// The stream again, from both halves.
            pub fn reunite(self, other: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                reunite(other, self)
            }

            /// Drops the half without shutting the write side down.
            pub fn forget(mut self) {
                self.shutdown_on_drop = false;
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    let _ = $crate::net::stream_io::WriteSide::shutdown_write(&*self.inner);
                }
            }
        }

        $crate::net::split::read_half!($stream, $addr; ['a] ReadHalf<'a>, 0);
        $crate::net::split::read_half!($stream, $addr; [] OwnedReadHalf, inner);
        $crate::net::split::write_half!($stream, $addr; ['a] WriteHalf<'a>, 0);
        $crate::net::split::write_half!($stream, $addr; [] OwnedWriteHalf, inner);
    };
}

/// What every half has, through its stream (`field`: `0` or `inner`).
macro_rules! half_common {
    ($stream:ident, $addr:ty; [$($g:tt)*] $half:ty, $field:tt) => {
        impl<$($g)*> AsRef<$stream> for $half {
            fn as_ref(&self) -> &$stream {
                &self.$field
            }
        }

        impl<$($g)*> $half {
            /// The remote address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.$field.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.$field.local_addr()
            }

            #[doc = concat!("Waits for any of `interest`; see [`", stringify!($stream), "::ready`].")]
            pub async fn ready(
                &self,
                interest: $crate::io::Interest,
            ) -> std::io::Result<$crate::io::Ready> {
                self.$field.ready(interest).await
            }
        }
    };
}

/// A read half: the common methods, `readable`/`try_read`/`try_read_buf`, `ReadSide` and the read
/// traits, all through its stream.
macro_rules! read_half {
    ($stream:ident, $addr:ty; [$($g:tt)*] $half:ty, $field:tt) => {
        $crate::net::split::half_common!($stream, $addr; [$($g)*] $half, $field);

        impl<$($g)*> $half {
            /// Waits until readable.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.$field.readable().await
            }

            #[doc = concat!("Reads what is there now; see [`", stringify!($stream), "::try_read`].")]
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.$field.try_read(buf)
            }

            #[doc = concat!("Reads what is there now into `buf`'s next chunk; see [`", stringify!($stream), "::try_read_buf`].")]
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
                self.$field.try_read_buf(buf)
            }

            #[doc = concat!("Reads what is there now into several buffers; see [`", stringify!($stream), "::try_read_vectored`].")]
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.$field.try_read_vectored(bufs)
            }
        }

        impl<$($g)*> $crate::net::stream_io::ReadSide for $half {
            type Source = <$stream as $crate::net::stream_io::ReadSide>::Source;

            fn read_source(&self) -> &$crate::io::registration::PollEvented<Self::Source> {
                $crate::net::stream_io::ReadSide::read_source(&*self.$field)
            }
        }

        $crate::net::stream_io::impl_read!([$($g)*] $half);
    };
}

/// A write half: the common methods, `writable`/`try_write`, `WriteSide` and the write
/// traits, all through its stream.
macro_rules! write_half {
    ($stream:ident, $addr:ty; [$($g:tt)*] $half:ty, $field:tt) => {
        $crate::net::split::half_common!($stream, $addr; [$($g)*] $half, $field);

        impl<$($g)*> $half {
            /// Waits until writable.
            pub async fn writable(&self) -> std::io::Result<()> {
                self.$field.writable().await
            }

            #[doc = concat!("Writes what fits now; see [`", stringify!($stream), "::try_write`].")]
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.$field.try_write(buf)
            }

            #[doc = concat!("Writes what fits now from several buffers; see [`", stringify!($stream), "::try_write_vectored`].")]
            pub fn try_write_vectored(
                &self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                self.$field.try_write_vectored(bufs)
            }
        }

        impl<$($g)*> $crate::net::stream_io::WriteSide for $half {
            fn poll_write_bytes(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream_io::WriteSide::poll_write_bytes(&*self.$field, cx, buf)
            }

            fn poll_write_vectored_bytes(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream_io::WriteSide::poll_write_vectored_bytes(
                    &*self.$field,
                    cx,
                    bufs,
                )
            }

            fn shutdown_write(&self) -> std::io::Result<()> {
                $crate::net::stream_io::WriteSide::shutdown_write(&*self.$field)
            }
        }

        $crate::net::stream_io::impl_write!([$($g)*] $half);
    };
}

pub(crate) use half_common;
pub(crate) use read_half;
pub(crate) use stream_halves;
pub(crate) use write_half;
