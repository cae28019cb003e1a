//! Unix pipes (tokio's `tokio::net::unix::pipe`): an anonymous pipe ([`pipe`]), the ends
//! of a FIFO ([`OpenOptions`]), and any pipe descriptor a user owns ([`Sender::from_file`],
//! [`Receiver::from_owned_fd`], ...), on the runtime's I/O driver.
//!
//! Each end is a `PollEvented` of mio's pipe end (mio's `os-ext` feature, already on for
//! `AsyncFd`), registered for its one direction only: a [`Sender`] for writability, a
//! [`Receiver`] for readability. So they share the sockets' I/O loop (the budget, the
//! short-read and short-write rule of `io/registration.rs`) and their stream traits
//! (`net/stream_io.rs`); what the two ends share beyond that (construction, the checks,
//! `ready`, `try_io`, the descriptor conversions) is written once, in `pipe_end!`.
//!
//! The checks are tokio's: [`OpenOptions::open_receiver`]/[`open_sender`] refuse a file
//! that is not a FIFO (`InvalidInput`) unless [`unchecked`](OpenOptions::unchecked);
//! `from_file`/`from_owned_fd` refuse a descriptor that is not a pipe or lacks the end's
//! access mode, and set it non-blocking; the `_unchecked` constructors trust the caller
//! on all three (a blocking descriptor would block the worker that reads it).
//!
//! [`open_sender`]: OpenOptions::open_sender

use crate::io::registration::PollEvented;
use crate::io::{Interest, Ready};
use mio::unix::pipe as mio_pipe;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::task::{Context, Poll};

/// Creates an anonymous pipe, both ends non-blocking and close-on-exec, registered with
/// the current runtime's I/O driver.
///
/// For a child process's standard streams, hand it an end with
/// [`into_blocking_fd`](Sender::into_blocking_fd) (a `Stdio` is made from an `OwnedFd`):
///
/// ```
/// use futures::io::AsyncReadExt;
/// use heist::net::unix::pipe;
/// use std::process::Command;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = pipe::pipe().unwrap();
///     // The `Command` (and with it our copy of the write end) drops at the `;`, so
///     // the read below ends when the child exits.
///     let mut child = Command::new("echo")
///         .arg("hello")
///         .stdout(tx.into_blocking_fd().unwrap())
///         .spawn()
///         .unwrap();
///     let mut out = String::new();
///     rx.read_to_string(&mut out).await.unwrap();
///     assert_eq!(out, "hello\n");
///     let status = heist::task::spawn_blocking(move || child.wait()).await.unwrap();
///     assert!(status.unwrap().success());
/// });
/// ```
///
/// # Panics
/// Outside a heist runtime.
#[track_caller]
pub fn pipe() -> io::Result<(Sender, Receiver)> {
    let (tx, rx) = mio_pipe::new()?;
    Ok((Sender::from_mio(tx)?, Receiver::from_mio(rx)?))
}

/// How to open an end of a FIFO (a named pipe): [`new`](OpenOptions::new), set options,
/// then [`open_receiver`](OpenOptions::open_receiver) or
/// [`open_sender`](OpenOptions::open_sender). Both open non-blocking, so neither waits
/// for the other end; opening a sender while no one has the FIFO open for reading fails
/// with `ENXIO` (unless [`read_write`](OpenOptions::read_write)).
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::unix::pipe;
///
/// let dir = std::env::temp_dir().join(format!("heist-doc-fifo-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("fifo");
/// let made = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
/// assert!(made.success());
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     // No reader yet: a sender cannot open.
///     let err = pipe::OpenOptions::new().open_sender(&path).unwrap_err();
///     assert_eq!(err.raw_os_error(), Some(libc::ENXIO));
///
///     let mut rx = pipe::OpenOptions::new().open_receiver(&path).unwrap();
///     let mut tx = pipe::OpenOptions::new().open_sender(&path).unwrap();
///     tx.write_all(b"through the fifo").await.unwrap();
///     drop(tx);
///     let mut got = Vec::new();
///     rx.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"through the fifo");
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    read_write: bool,
    unchecked: bool,
}

impl OpenOptions {
    /// Options with every flag `false`.
    pub fn new() -> OpenOptions {
        OpenOptions {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            read_write: false,
            unchecked: false,
        }
    }

    /// Opens the FIFO for reading and writing (`O_RDWR`; Linux only, as POSIX leaves it
    /// undefined). A sender so opened needs no reader to open (no `ENXIO`), but what it
    /// writes is lost if it closes before a reader opens; a receiver so opened never
    /// reads end of file, since it holds a write end itself.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn read_write(&mut self, value: bool) -> &mut Self {
        self.read_write = value;
        self
    }

    /// Skips the check that the opened file is a FIFO (for a path known to be one).
    pub fn unchecked(&mut self, value: bool) -> &mut Self {
        self.unchecked = value;
        self
    }

    /// Opens the FIFO at `path` for reading and registers it.
    ///
    /// # Errors
    /// `InvalidInput` if the file is not a FIFO (unless [`unchecked`](Self::unchecked)),
    /// or the system's error.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn open_receiver<P: AsRef<Path>>(&self, path: P) -> io::Result<Receiver> {
        Receiver::from_file_unchecked(self.open(path.as_ref(), End::Receiver)?)
    }

    /// Opens the FIFO at `path` for writing and registers it.
    ///
    /// # Errors
    /// `ENXIO` (`raw_os_error`) if no one has the FIFO open for reading (unless
    /// [`read_write`](Self::read_write)): open a receiver first, or retry later;
    /// `InvalidInput` if the file is not a FIFO (unless [`unchecked`](Self::unchecked));
    /// or the system's error.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn open_sender<P: AsRef<Path>>(&self, path: P) -> io::Result<Sender> {
        Sender::from_file_unchecked(self.open(path.as_ref(), End::Sender)?)
    }

    /// Opens `path` non-blocking with the end's access mode, checked unless `unchecked`.
    fn open(&self, path: &Path, end: End) -> io::Result<File> {
        let mut options = std::fs::OpenOptions::new();
        options
            .read(end == End::Receiver)
            .write(end == End::Sender)
            .custom_flags(libc::O_NONBLOCK);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.read_write {
            options.read(true).write(true);
        }
        let file = options.open(path)?;
        if self.unchecked {
            Ok(file)
        } else {
            Ok(check_pipe(file.into())?.into())
        }
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

/// Which end of a pipe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Sender,
    Receiver,
}

/// `fd` back if it is a pipe or a FIFO (`fstat`, through `File::metadata`), else
/// `InvalidInput` (and `fd` is closed).
fn check_pipe(fd: OwnedFd) -> io::Result<OwnedFd> {
    let file = File::from(fd);
    if file.metadata()?.file_type().is_fifo() {
        Ok(file.into())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "not a pipe"))
    }
}

/// `Ok` if `fd` was opened with an access mode that serves `end` (`O_RDWR` serves both),
/// else `InvalidInput`.
fn check_access(fd: BorrowedFd<'_>, end: End) -> io::Result<()> {
    // SAFETY: `F_GETFL` takes no pointer and only reads the flags of `fd`, which the
    // borrow keeps open for the call.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let (wanted, message) = match end {
        End::Sender => (libc::O_WRONLY, "not in O_WRONLY or O_RDWR access mode"),
        End::Receiver => (libc::O_RDONLY, "not in O_RDONLY or O_RDWR access mode"),
    };
    let mode = flags & libc::O_ACCMODE;
    if mode == wanted || mode == libc::O_RDWR {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, message))
    }
}

/// What both ends share: construction (checked and not), `ready`, `try_io`, the
/// descriptor conversions and traits. `$end` names the end for the checks, `$interest`
/// its one direction, `$access` its access mode in the docs.
macro_rules! pipe_end {
    ($ty:ident, $mio:ty, $end:expr, $interest:expr, $access:literal) => {
        impl $ty {
            /// Registers a non-blocking mio end for its direction.
            #[track_caller]
            fn from_mio(io: $mio) -> io::Result<$ty> {
                Ok($ty {
                    io: PollEvented::new_with_interest(io, $interest)?,
                })
            }

            #[doc = concat!(
                "Wraps a `File` that is a pipe or FIFO opened for ", $access,
                ": checked, set non-blocking, registered."
            )]
            ///
            /// # Errors
            #[doc = concat!(
                "`InvalidInput` if it is not a pipe or not open for ", $access,
                " (it is then closed)."
            )]
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            pub fn from_file(file: File) -> io::Result<$ty> {
                $ty::from_owned_fd(file.into())
            }

            #[doc = concat!(
                "Wraps a pipe or FIFO descriptor open for ", $access,
                ": checked, set non-blocking, registered."
            )]
            ///
            /// # Errors
            #[doc = concat!(
                "`InvalidInput` if it is not a pipe or not open for ", $access,
                " (it is then closed)."
            )]
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            pub fn from_owned_fd(fd: OwnedFd) -> io::Result<$ty> {
                let fd = check_pipe(fd)?;
                check_access(fd.as_fd(), $end)?;
                let io = <$mio>::from(fd);
                io.set_nonblocking(true)?;
                $ty::from_mio(io)
            }

            /// [`from_owned_fd`](Self::from_owned_fd) without its checks: the caller
            #[doc = concat!(
                "vouches that the file is open for ", $access, " and already non-blocking. Any"
            )]
            /// descriptor the driver can poll is accepted (a socket too).
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            pub fn from_file_unchecked(file: File) -> io::Result<$ty> {
                $ty::from_owned_fd_unchecked(file.into())
            }

            /// [`from_owned_fd`](Self::from_owned_fd) without its checks, as
            /// [`from_file_unchecked`](Self::from_file_unchecked).
            ///
            /// # Panics
            /// Outside a heist runtime.
            #[track_caller]
            pub fn from_owned_fd_unchecked(fd: OwnedFd) -> io::Result<$ty> {
                $ty::from_mio(<$mio>::from(fd))
            }

            /// Waits for any of `interest`; returns what is ready (possibly nothing: check
            /// and wait again). Several tasks may wait. Only this end's direction and its
            /// closed and error bits are ever reported.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                self.io.ready(interest).await
            }

            #[doc = concat!(
                "Runs `f` if the pipe is ready for ", $access,
                ", clearing the readiness if `f` says"
            )]
            /// `WouldBlock` (`WouldBlock` without calling `f` if not ready). `f` does the
            /// I/O itself, on the descriptor ([`AsRawFd`]), not through this end's methods.
            pub fn try_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                self.io.try_io($interest, f)
            }

            /// Out of the driver, as a descriptor in blocking mode (for a child process's
            /// standard stream, or a thread).
            pub fn into_blocking_fd(self) -> io::Result<OwnedFd> {
                let io = self.io.into_inner()?;
                io.set_nonblocking(false)?;
                Ok(io.into())
            }

            /// Out of the driver, as a descriptor still in non-blocking mode.
            pub fn into_nonblocking_fd(self) -> io::Result<OwnedFd> {
                Ok(self.io.into_inner()?.into())
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

/// The writing end of a pipe: from [`pipe`], [`OpenOptions::open_sender`] or a
/// descriptor. It implements futures-io's `AsyncWrite` (and tokio's with `tokio-io`);
/// `close`/`shutdown` do nothing, as tokio's do: the reader sees end of file when the
/// last writing end is dropped.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use heist::net::unix::pipe;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (mut tx, mut rx) = pipe::pipe().unwrap();
///     let writer = heist::spawn(async move {
///         // Far more than the pipe holds: completes as the reader drains it.
///         tx.write_all(&vec![7; 1 << 20]).await.unwrap();
///     });
///     let mut got = Vec::new();
///     rx.read_to_end(&mut got).await.unwrap(); // until the writer drops `tx`
///     assert_eq!(got.len(), 1 << 20);
///     writer.await.unwrap();
/// });
/// ```
pub struct Sender {
    io: PollEvented<mio_pipe::Sender>,
}

pipe_end!(
    Sender,
    mio_pipe::Sender,
    End::Sender,
    Interest::WRITABLE,
    "writing"
);

impl Sender {
    /// Waits until writable (then try [`try_write`](Self::try_write)); also when the
    /// reading end has gone, so that the write can report it (`EPIPE`).
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls write readiness (one task at a time: only the last to poll is woken).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_ready(cx)
    }

    /// Writes what fits now; `WouldBlock` if nothing does (readiness then cleared). A
    /// write of at most `PIPE_BUF` bytes is atomic: all of it or `WouldBlock`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Writes what fits now from `bufs`, in order (`writev`); `WouldBlock` if nothing
    /// does (readiness then cleared).
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, || {
            io::Write::write_vectored(&mut self.io.get_ref(), bufs)
        })
    }
}

impl crate::net::stream_io::WriteSide for Sender {
    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    fn poll_write_vectored_bytes(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    /// A pipe has no half-close: nothing to do (tokio's `poll_shutdown` is a no-op too).
    fn shutdown_write(&self) -> io::Result<()> {
        Ok(())
    }
}

crate::net::stream_io::impl_write!([] Sender);

/// The reading end of a pipe: from [`pipe`], [`OpenOptions::open_receiver`] or a
/// descriptor. It implements futures-io's `AsyncRead` (and tokio's with `tokio-io`); a
/// read returns 0 (end of file) once every writing end is closed and the pipe is empty.
///
/// ```
/// use heist::net::unix::pipe;
/// use std::io;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = pipe::pipe().unwrap();
///     // A new end knows no readiness before the driver's first event: wait for it.
///     tx.writable().await.unwrap();
///     tx.try_write(b"ping").unwrap();
///     let mut buf = [0; 16];
///     let n = loop {
///         rx.readable().await.unwrap();
///         match rx.try_read(&mut buf) {
///             Ok(n) => break n,
///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
///             Err(e) => panic!("{e}"),
///         }
///     };
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub struct Receiver {
    io: PollEvented<mio_pipe::Receiver>,
}

pipe_end!(
    Receiver,
    mio_pipe::Receiver,
    End::Receiver,
    Interest::READABLE,
    "reading"
);

impl Receiver {
    /// Waits until readable (then try [`try_read`](Self::try_read)); also when every
    /// writing end has gone, so that the read can report end of file.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Polls read readiness (one task at a time: only the last to poll is woken).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_read_ready(cx)
    }

    /// Reads what is there now (0: end of file); `WouldBlock` if nothing (readiness then
    /// cleared).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Reads what is there now into `buf`'s next chunk
    /// ([`BufMut::chunk_mut`](bytes::BufMut::chunk_mut)), which it advances by the count
    /// read (0: end of file, or an empty chunk); `WouldBlock` if nothing (readiness then
    /// cleared).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use heist::net::unix::pipe;
    /// use std::io;
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = pipe::pipe().unwrap();
    ///     tx.writable().await.unwrap();
    ///     tx.try_write(b"ping").unwrap();
    ///     let mut buf = BytesMut::with_capacity(16);
    ///     while buf.len() < 4 {
    ///         rx.readable().await.unwrap();
    ///         match rx.try_read_buf(&mut buf) {
    ///             Ok(n) => assert!(n > 0),
    ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
    ///             Err(e) => panic!("{e}"),
    ///         }
    ///     }
    ///     assert_eq!(&buf[..], b"ping");
    /// });
    /// ```
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, || {
            crate::net::common::fill_buf_mut(buf, |dst| {
                io::Read::read(&mut self.io.get_ref(), dst).map(|n| (n, ()))
            })
            .map(|(n, ())| n)
        })
    }

    /// Reads what is there now into `bufs`, in order (`readv`); `WouldBlock` if nothing
    /// (readiness then cleared).
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, || {
            io::Read::read_vectored(&mut self.io.get_ref(), bufs)
        })
    }
}

impl crate::net::stream_io::ReadSide for Receiver {
    type Source = mio_pipe::Receiver;

    fn read_source(&self) -> &PollEvented<mio_pipe::Receiver> {
        &self.io
    }
}

crate::net::stream_io::impl_read!([] Receiver);
