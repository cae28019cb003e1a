//! `AsyncFd`: readiness for any file descriptor a user owns (tokio's
//! `tokio::io::unix::AsyncFd`), so libraries with their own fds can run on heist.

use super::interest::{Interest, Ready};
use super::registration::Registration;
use super::scheduled::{Direction, ReadyEvent};
use std::fmt;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

/// A file descriptor registered with the current runtime's I/O driver. It must be in
/// non-blocking mode, and its readiness is *edge*-triggered: after an operation returns
/// `WouldBlock`, clear the guard's readiness (`clear_ready`, or use `try_io`, which does
/// it for you) before waiting again.
///
/// ```
/// use heist::io::unix::AsyncFd;
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (a, mut b) = UnixStream::pair().unwrap();
///     a.set_nonblocking(true).unwrap();
///     let fd = AsyncFd::new(a).unwrap();
///     b.write_all(b"ping").unwrap();
///     let mut buf = [0; 4];
///     loop {
///         let mut guard = fd.readable().await.unwrap();
///         match guard.try_io(|inner| inner.get_ref().read(&mut buf)) {
///             Ok(n) => { assert_eq!(n.unwrap(), 4); break; }
///             Err(_would_block) => continue,
///         }
///     }
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct AsyncFd<T: AsRawFd> {
    /// `None` only after `into_inner`.
    inner: Option<T>,
    registration: Registration,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner` for reading and writing.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn new(inner: T) -> io::Result<Self> {
        Self::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner` for `interest`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<Self> {
        let fd = inner.as_raw_fd();
        let registration = Registration::new(&mut mio::unix::SourceFd(&fd), interest)?;
        Ok(AsyncFd {
            inner: Some(inner),
            registration,
        })
    }

    /// The file descriptor's owner.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("AsyncFd used after into_inner")
    }

    /// The file descriptor's owner, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("AsyncFd used after into_inner")
    }

    /// Deregisters and returns the owner.
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("AsyncFd used after into_inner");
        let fd = inner.as_raw_fd();
        let _ = self.registration.deregister(&mut mio::unix::SourceFd(&fd));
        inner
    }

    /// Polls for read readiness (one task at a time; `readable` allows several).
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_ready_guard(cx, Direction::Read)
    }

    /// Polls for write readiness (one task at a time; `writable` allows several).
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_ready_guard(cx, Direction::Write)
    }

    /// The guard for one direction's readiness, once the driver reports it.
    fn poll_ready_guard<'a>(
        &'a self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let event = ready!(self.registration.poll_ready(cx, direction))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        }))
    }

    /// Waits for any of `interest`.
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let event = self.registration.readiness(interest).await?;
        Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Waits for any of `interest`, with mutable access to the owner through the guard.
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let event = self.registration.readiness(interest).await?;
        Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Waits until readable.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// Waits until readable, with mutable access.
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Waits until writable.
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// Waits until writable, with mutable access.
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Runs `f` each time the fd is ready for `interest` until it returns something
    /// other than `WouldBlock` (clearing the readiness after each `WouldBlock`).
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready(interest).await?;
            match guard.try_io(|fd| f(fd.get_ref())) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            let fd = inner.as_raw_fd();
            let _ = self.registration.deregister(&mut mio::unix::SourceFd(&fd));
        }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

/// The fd is ready; returned by [`AsyncFd::readable`] and friends. Clear its readiness
/// when an operation says `WouldBlock` (or let [`try_io`](Self::try_io) do it).
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    event: Option<ReadyEvent>,
}

/// Like [`AsyncFdReadyGuard`], with mutable access to the owner.
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    fd: &'a mut AsyncFd<T>,
    event: Option<ReadyEvent>,
}

/// Returned by `try_io` when the operation said `WouldBlock` (the readiness was cleared).
#[derive(Debug)]
pub struct TryIoError(());

macro_rules! guard_methods {
    () => {
        /// Clears the readiness this guard saw (unless a newer event arrived since).
        pub fn clear_ready(&mut self) {
            if let Some(event) = self.event.take() {
                self.fd.registration.clear_readiness(event);
            }
        }

        /// Keeps the readiness: the next wait returns at once.
        pub fn retain_ready(&mut self) {
            self.event = None;
        }

        /// The readiness this guard saw.
        pub fn ready(&self) -> Ready {
            self.event.map_or(Ready::EMPTY, |e| e.ready)
        }
    };
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    guard_methods!();

    /// Runs `f`; if it says `WouldBlock`, clears the readiness and returns `Err`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let result = f(self.fd);
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd`.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.fd
    }

    /// The owner of the fd.
    pub fn get_inner(&self) -> &'a T {
        self.fd.get_ref()
    }
}

impl<T: AsRawFd> AsyncFdReadyMutGuard<'_, T> {
    guard_methods!();

    /// Runs `f`; if it says `WouldBlock`, clears the readiness and returns `Err`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let result = f(self.fd);
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd`.
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.fd
    }

    /// The owner of the fd, mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.fd.get_mut()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("ready", &self.ready())
            .finish()
    }
}
