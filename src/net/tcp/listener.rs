//! `TcpListener`.

use super::TcpStream;
use crate::io::registration::PollEvented;
use crate::io::Interest;
use crate::sync::Mutex;
use crate::time::Sleep;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// The listen backlog of `bind` (tokio's).
const BACKLOG: libc::c_int = 1024;

/// How long `accept` waits after running out of file descriptors (or memory) before
/// trying again: the error is returned, but the next call does not spin on it.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(10);

/// A TCP socket listening for connections.
///
/// ```
/// use heist::net::{TcpListener, TcpStream};
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = heist::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (_server_side, peer) = listener.accept().await.unwrap();
///     let client = client.await.unwrap();
///     assert_eq!(peer, client.local_addr().unwrap());
/// });
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
    /// Set after `accept` ran out of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM).
    backoff: Mutex<Option<Pin<Box<Sleep>>>>,
}

impl TcpListener {
    /// Binds to `addr` (backlog 1024, `SO_REUSEADDR`), trying each address it resolves to.
    ///
    /// # Panics
    /// Outside a heist runtime.
    pub async fn bind<A: super::super::ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        super::super::each_addr(addr, |addr| async move {
            let listener = mio::net::TcpListener::bind(addr)?;
            // mio listens with std's backlog (128); a server that takes a burst of
            // connections wants tokio's 1024 (capped by `net.core.somaxconn`), or the
            // kernel drops SYNs and clients wait seconds for their retries. Listening
            // again on a listening socket only updates its backlog.
            // SAFETY: `listen` on a descriptor the listener owns and keeps open.
            if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
                return Err(io::Error::last_os_error());
            }
            TcpListener::new(listener)
        })
        .await
    }

    #[track_caller]
    pub(crate) fn new(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
            backoff: Mutex::new(None),
        })
    }

    /// Accepts a connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection.
    ///
    /// Running out of file descriptors (or kernel memory) is returned as the error it
    /// is; the listener keeps working, and the next poll first waits
    /// `RESOURCE_BACKOFF` (10 ms), so a loop that logs the error and accepts again
    /// does not spin.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        {
            let mut backoff = self.backoff.lock();
            if let Some(sleep) = backoff.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                *backoff = None;
            }
        }
        let result = ready!(self.io.registration().poll_io(
            cx,
            crate::io::scheduled::Direction::Read,
            || { self.io.get_ref().accept() }
        ));
        match result {
            Ok((stream, addr)) => Poll::Ready(TcpStream::new(stream).map(|s| (s, addr))),
            Err(e) => {
                if is_resource_exhaustion(&e) {
                    *self.backoff.lock() = Some(Box::pin(crate::time::sleep(RESOURCE_BACKOFF)));
                }
                Poll::Ready(Err(e))
            }
        }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

/// Errors that mean "out of a resource, try later" rather than "this connection failed".
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

crate::net::common::std_conversions!(
    TcpListener,
    mio::net::TcpListener,
    std::net::TcpListener,
    "listener"
);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
