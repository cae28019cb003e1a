//! What the socket types share, written once: the std conversions and descriptor traits
//! (`std_conversions!`) and the datagram sockets' send/receive methods
//! (`datagram_methods!`, for `UdpSocket` and `UnixDatagram`). Each type keeps its own
//! constructor `new(mio) -> io::Result<Self>` (registration, plus any state of its own)
//! and its `io: PollEvented<mio type>` field, which these macros use.

/// `from_std`, `into_std`, `AsRawFd` and `AsFd` for a socket type (`noun` names the std
/// type in the docs: "stream", "listener", "socket").
macro_rules! std_conversions {
    ($ty:ident, $mio:ty, $std:ty, $noun:literal) => {
        impl $ty {
            #[doc = concat!("Wraps a std ", $noun, " (made non-blocking here).")]
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            pub fn from_std(io: $std) -> std::io::Result<$ty> {
                io.set_nonblocking(true)?;
                $ty::new(<$mio>::from_std(io))
            }

            #[doc = concat!("The std ", $noun, " (still non-blocking), out of the driver.")]
            pub fn into_std(self) -> std::io::Result<$std> {
                let fd = std::os::unix::io::IntoRawFd::into_raw_fd(self.io.into_inner()?);
                // SAFETY: `fd` comes from `into_raw_fd` of the mio socket we owned: open,
                // owned by no one else, and of the kind `$std` wraps.
                Ok(unsafe { <$std as std::os::unix::io::FromRawFd>::from_raw_fd(fd) })
            }
        }

        impl std::os::unix::io::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
                std::os::unix::io::AsRawFd::as_raw_fd(self.io.get_ref())
            }
        }

        impl std::os::unix::io::AsFd for $ty {
            fn as_fd(&self) -> std::os::unix::io::BorrowedFd<'_> {
                std::os::unix::io::AsFd::as_fd(self.io.get_ref())
            }
        }
    };
}

/// A datagram socket's methods that do not depend on its address family, in its
/// `impl` block (`addr`: its address type).
macro_rules! datagram_methods {
    ($addr:ty) => {
        /// The local address.
        pub fn local_addr(&self) -> std::io::Result<$addr> {
            self.io.get_ref().local_addr()
        }

        /// The connected peer's address.
        pub fn peer_addr(&self) -> std::io::Result<$addr> {
            self.io.get_ref().peer_addr()
        }

        /// Sends to the connected peer.
        pub async fn send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io
                .async_io($crate::io::scheduled::Direction::Write, |s| s.send(buf))
                .await
        }

        /// Receives from the connected peer.
        pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io
                .async_io($crate::io::scheduled::Direction::Read, |s| s.recv(buf))
                .await
        }

        /// Receives a datagram and its source.
        pub async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.io
                .async_io($crate::io::scheduled::Direction::Read, |s| s.recv_from(buf))
                .await
        }

        /// Sends now to the connected peer, or `WouldBlock`.
        pub fn try_send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io.try_io($crate::io::Interest::WRITABLE, || {
                self.io.get_ref().send(buf)
            })
        }

        /// Receives now from the connected peer, or `WouldBlock`.
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io.try_io($crate::io::Interest::READABLE, || {
                self.io.get_ref().recv(buf)
            })
        }

        /// Receives now a datagram and its source, or `WouldBlock`.
        pub fn try_recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.io.try_io($crate::io::Interest::READABLE, || {
                self.io.get_ref().recv_from(buf)
            })
        }
    };
}

pub(crate) use datagram_methods;
pub(crate) use std_conversions;
