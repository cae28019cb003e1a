//! What the socket types share, written once: the std conversions and descriptor traits
//! (`std_conversions!`), the datagram sockets' send/receive methods
//! (`datagram_methods!`, for `UdpSocket` and `UnixDatagram`, with `poll_fill`, which
//! fills a `ReadBuf`) and the IP-level options of `UdpSocket` and `TcpSocket`
//! (`ip_options!`). Each type keeps its own constructor `new(mio) -> io::Result<Self>`
//! (registration, plus any state of its own) and its `io: PollEvented<mio type>` field,
//! which these macros use.

/// `from_std`, `into_std`, `TryFrom<std type>`, `AsRawFd` and `AsFd` for a socket type (`noun` names the std
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

        impl TryFrom<$std> for $ty {
            type Error = std::io::Error;

            #[doc = concat!("[`from_std`](", stringify!($ty), "::from_std).")]
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            fn try_from(io: $std) -> std::io::Result<$ty> {
                $ty::from_std(io)
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

        /// Polls a `send` to the connected peer (one task at a time: only the last
        /// task to poll is woken).
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io
                .registration()
                .poll_io(cx, $crate::io::scheduled::Direction::Write, || {
                    self.io.get_ref().send(buf)
                })
        }

        /// Polls a `recv` from the connected peer into `buf`'s unfilled part, which it
        /// advances by the datagram's length (a datagram longer than
        /// [`remaining`]($crate::io::ReadBuf::remaining) is cut short). One task at a
        /// time. The first poll with a `ReadBuf` zeroes its uninitialised part.
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut $crate::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            $crate::net::common::poll_fill(buf, |unfilled| {
                self.io
                    .registration()
                    .poll_io(cx, $crate::io::scheduled::Direction::Read, || {
                        self.io.get_ref().recv(unfilled).map(|n| (n, ()))
                    })
            })
        }

        /// Polls a `recv_from` into `buf`'s unfilled part, which it advances by the
        /// datagram's length; returns the source. As [`poll_recv`](Self::poll_recv)
        /// otherwise.
        pub fn poll_recv_from(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut $crate::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<$addr>> {
            $crate::net::common::poll_fill(buf, |unfilled| {
                self.io
                    .registration()
                    .poll_io(cx, $crate::io::scheduled::Direction::Read, || {
                        self.io.get_ref().recv_from(unfilled)
                    })
            })
        }

        /// Polls send readiness (one task at a time).
        pub fn poll_send_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_write_ready(cx)
        }

        /// Polls receive readiness (one task at a time).
        pub fn poll_recv_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_read_ready(cx)
        }

        /// Takes the pending socket error (`SO_ERROR`), if any.
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            self.io.get_ref().take_error()
        }
    };
}

/// Runs a receive `op` on `buf`'s unfilled part (initialised first: zeroed once per
/// `ReadBuf`, free afterwards) and advances `buf` by the length it reports. Safe code
/// throughout: the syscall only ever sees initialised bytes.
pub(crate) fn poll_fill<R>(
    buf: &mut crate::io::ReadBuf<'_>,
    op: impl FnOnce(&mut [u8]) -> std::task::Poll<std::io::Result<(usize, R)>>,
) -> std::task::Poll<std::io::Result<R>> {
    let (n, r) = std::task::ready!(op(buf.initialize_unfilled()))?;
    buf.advance(n);
    std::task::Poll::Ready(Ok(r))
}

/// The IP-level options tokio gives both `UdpSocket` and `TcpSocket` (`IP_TOS`,
/// `IPV6_TCLASS`, `SO_BINDTODEVICE`), through socket2, in the type's `impl` block; the
/// type has a `fn sock_ref(&self) -> socket2::SockRef<'_>`. The `cfg`s are socket2's
/// (and tokio's): where the system has no such option, there is no method.
macro_rules! ip_options {
    () => {
        /// `IP_TOS`: the type-of-service field of the IPv4 packets this socket sends.
        #[cfg(not(any(
            target_os = "fuchsia",
            target_os = "redox",
            target_os = "solaris",
            target_os = "illumos",
            target_os = "haiku"
        )))]
        pub fn tos_v4(&self) -> std::io::Result<u32> {
            self.sock_ref().tos_v4()
        }

        /// Sets `IP_TOS`.
        #[cfg(not(any(
            target_os = "fuchsia",
            target_os = "redox",
            target_os = "solaris",
            target_os = "illumos",
            target_os = "haiku"
        )))]
        pub fn set_tos_v4(&self, tos: u32) -> std::io::Result<()> {
            self.sock_ref().set_tos_v4(tos)
        }

        /// `IP_TOS` under its deprecated tokio name.
        #[deprecated(note = "use `tos_v4` (as tokio)")]
        #[doc(hidden)]
        #[cfg(not(any(
            target_os = "fuchsia",
            target_os = "redox",
            target_os = "solaris",
            target_os = "illumos",
            target_os = "haiku"
        )))]
        pub fn tos(&self) -> std::io::Result<u32> {
            self.tos_v4()
        }

        /// Sets `IP_TOS`, under its deprecated tokio name.
        #[deprecated(note = "use `set_tos_v4` (as tokio)")]
        #[doc(hidden)]
        #[cfg(not(any(
            target_os = "fuchsia",
            target_os = "redox",
            target_os = "solaris",
            target_os = "illumos",
            target_os = "haiku"
        )))]
        pub fn set_tos(&self, tos: u32) -> std::io::Result<()> {
            self.set_tos_v4(tos)
        }

        /// `IPV6_TCLASS`: the traffic class of the IPv6 packets this socket sends.
        #[cfg(any(
            target_os = "android",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "linux",
            target_os = "macos",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "cygwin"
        ))]
        pub fn tclass_v6(&self) -> std::io::Result<u32> {
            self.sock_ref().tclass_v6()
        }

        /// Sets `IPV6_TCLASS`.
        #[cfg(any(
            target_os = "android",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "linux",
            target_os = "macos",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "cygwin"
        ))]
        pub fn set_tclass_v6(&self, tclass: u32) -> std::io::Result<()> {
            self.sock_ref().set_tclass_v6(tclass)
        }

        /// `SO_BINDTODEVICE`: the interface this socket is bound to, if any.
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        pub fn device(&self) -> std::io::Result<Option<Vec<u8>>> {
            self.sock_ref().device()
        }

        /// Sets `SO_BINDTODEVICE`: only packets from interface `interface` (its name, as
        /// `b"eth0"`) are received, and sent ones leave through it; `None` unbinds. Needs
        /// `CAP_NET_RAW` on most systems.
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        pub fn bind_device(&self, interface: Option<&[u8]>) -> std::io::Result<()> {
            self.sock_ref().bind_device(interface)
        }
    };
}

pub(crate) use datagram_methods;
pub(crate) use ip_options;
pub(crate) use std_conversions;
