//! `Registration`: a resource's tie to its driver (readiness, token), the I/O loop that
//! spends the poll's cooperative budget, and `PollEvented`, a mio source with one, which
//! the `net` types wrap.
//!
//! # The I/O loop
//!
//! Every operation is "wait until the direction is ready, try the syscall; on
//! `WouldBlock` clear the readiness seen (only if unchanged, `scheduled.rs`) and wait
//! again". An operation that completes spends one unit of the poll's cooperative
//! *budget* (`task/coop.rs`, tokio's coop budget): after `BUDGET` (128) operations in
//! one poll of the task, on whatever resources, the next one returns `Pending` and
//! wakes its own task, which heist queues at the back of its worker's queue (a wake
//! during a task's own poll is a yield), and so does every later one in that poll. So
//! a connection whose socket is always ready (a client flooding it) cannot keep its
//! worker from the other tasks queued there. The budget is full again when the task is
//! polled again: a connection that waits for its reads between writes (one request per
//! poll) never reaches it and stays on its worker. Each forced yield is counted in
//! `RuntimeMetrics::budget_forced_yield_count`.
//!
//! (heist used to count per resource and direction instead: 128 operations in a row
//! without a `WouldBlock`. An echo server's write direction never says `WouldBlock`, so
//! every 128th request was forced to yield and the other worker stole the connection:
//! `docs/benchmarks/echo.md`, "p99 against tokio".)
//!
//! # Short reads and writes
//!
//! On a stream, a read that returns fewer bytes than the buffer holds emptied the
//! socket's receive queue, and a write that takes fewer bytes than offered filled its
//! send buffer: the next attempt would say `WouldBlock`. With an edge-triggered
//! selector the kernel reports the next arrival (or freed space) as a new edge, so
//! `PollEvented::poll_read`/`poll_write` clear the readiness they saw right away,
//! under the same tick rule as after a `WouldBlock` (`scheduled.rs`: a newer edge is
//! kept), and save the syscall that would only have said `WouldBlock`: one `read` per
//! request of an echo server (tokio does the same). Not for datagrams (a short
//! `recv` is a short datagram) nor `peek`, which use `poll_io`.

use super::driver::{shut_down_error, Inner};
use super::interest::{Interest, Ready};
use super::scheduled::{Direction, ReadyEvent, ScheduledIo, READER, WRITER};
use crate::runtime::context::with_poll_budget;
use crate::sync::Arc;
use crate::task::coop::{Check, PollBudget};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// mio's selector here is edge-triggered (epoll, kqueue): a short read or write on a
/// stream proves the direction drained (module doc, "Short reads and writes"). Not so
/// with a level-triggered emulation (Windows, the `poll(2)` fallback).
const EDGE_TRIGGERED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
));

/// A stream read or write of `n` bytes out of `len` that proves the direction drained:
/// some bytes moved, but fewer than asked (an empty read is end of stream, not a
/// drain; its closed bit is final anyway).
fn short(n: usize, len: usize) -> bool {
    0 < n && n < len
}

/// A registered resource's readiness and its driver.
pub(crate) struct Registration {
    driver: Arc<Inner>,
    shared: Arc<ScheduledIo>,
    token: mio::Token,
}

/// The driver of the runtime this thread runs in.
///
/// # Panics
/// Outside a heist runtime, as tokio does, with a message saying where to call from.
#[track_caller]
pub(crate) fn current_driver() -> io::Result<Arc<Inner>> {
    match crate::runtime::context::with_current(|handle| handle.driver.io.handle()) {
        Ok(driver) => driver,
        Err(e) => panic!("heist::net: {e}"),
    }
}

impl Registration {
    /// Registers `source` with the current runtime's driver.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub(crate) fn new(
        source: &mut impl mio::event::Source,
        interest: Interest,
    ) -> io::Result<Self> {
        let driver = current_driver()?;
        let (shared, token) = driver.register(source, interest)?;
        Ok(Registration {
            driver,
            shared,
            token,
        })
    }

    /// Takes `source` out of the driver's poll set (call before closing its fd).
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.driver.deregister(source)
    }

    /// Waits for `dir` as its single `poll_*` waiter.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let (interest, key) = match dir {
            Direction::Read => (Interest::READABLE, READER),
            Direction::Write => (Interest::WRITABLE, WRITER),
        };
        let event = ready!(self.shared.poll_ready(interest, key, cx));
        Poll::Ready(checked(event))
    }

    /// Runs `op` once `dir` is ready, retrying after each `WouldBlock`, within the
    /// poll's budget (module doc).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_drain(cx, dir, op, |_| false)
    }

    /// `poll_io`, where a result for which `drained` is true proves the direction
    /// drained, as a `WouldBlock` would (module doc, "Short reads and writes"): the
    /// readiness seen is cleared at once (if unchanged) and the next call waits for a
    /// new edge instead of paying a syscall to learn there is none.
    pub(crate) fn poll_io_drain<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        // `with_poll_budget` calls the closure once, so the loop is inlined into each
        // caller (`poll_read`, ...): out of line it cost about 50 instructions per
        // operation more (callgrind, echo, `docs/benchmarks/echo.md`).
        with_poll_budget(|budget| self.poll_io_budgeted(budget, cx, dir, op, drained))
    }

    /// `poll_io_drain` within `budget`, the poll's (none outside a worker or
    /// `block_on`).
    #[inline(always)]
    fn poll_io_budgeted<R>(
        &self,
        budget: Option<PollBudget<'_>>,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        if let Some(budget) = budget {
            match budget.check() {
                Check::Proceed => {}
                check => {
                    if check == Check::Yield {
                        self.driver.stats.budget_forced_yield();
                    }
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
        let result = loop {
            let event = ready!(self.poll_ready(cx, dir))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.shared.clear_readiness(event);
                }
                Ok(r) if EDGE_TRIGGERED && drained(&r) => {
                    self.shared.clear_readiness(event);
                    break Ok(r);
                }
                result => break result,
            }
        };
        if let Some(budget) = budget {
            budget.spend();
        }
        Poll::Ready(result)
    }

    /// tokio's `try_io`: runs `op` if the resource is ready for `interest`, clearing the
    /// readiness if it says `WouldBlock`; `WouldBlock` without a syscall otherwise.
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = checked(self.shared.ready_now(interest))?;
        if event.ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op();
        if let Err(e) = &result {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.shared.clear_readiness(event);
            }
        }
        result
    }

    /// Waits until the resource is ready for any of `interest` (any number of tasks may
    /// wait at once).
    pub(crate) async fn readiness(&self, interest: Interest) -> io::Result<ReadyEvent> {
        Readiness {
            shared: &self.shared,
            interest,
            key: None,
        }
        .await
    }

    /// Clears readiness seen in `event`, if nothing newer arrived.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.shared.clear_readiness(event);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.driver.release(self.token);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .finish()
    }
}

/// An event, or the error for a resource whose runtime shut down.
fn checked(event: ReadyEvent) -> io::Result<ReadyEvent> {
    if event.is_shutdown {
        Err(shut_down_error())
    } else {
        Ok(event)
    }
}

/// The future of `Registration::readiness`: holds a waiter key while it waits.
struct Readiness<'a> {
    shared: &'a ScheduledIo,
    interest: Interest,
    key: Option<usize>,
}

impl Future for Readiness<'_> {
    type Output = io::Result<ReadyEvent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let key = *this
            .key
            .get_or_insert_with(|| this.shared.add_waiter(this.interest));
        let event = ready!(this.shared.poll_ready(this.interest, key, cx));
        Poll::Ready(checked(event))
    }
}

impl Drop for Readiness<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.shared.remove_waiter(key);
        }
    }
}

/// A mio source registered with the current runtime's driver.
pub(crate) struct PollEvented<E: mio::event::Source> {
    /// `None` only after `into_inner`.
    io: Option<E>,
    registration: Registration,
}

impl<E: mio::event::Source> PollEvented<E> {
    /// Registers `io` for reading and writing.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::new_with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `io` for `interest`.
    ///
    /// # Panics
    /// Outside a heist runtime.
    #[track_caller]
    pub(crate) fn new_with_interest(mut io: E, interest: Interest) -> io::Result<Self> {
        let registration = Registration::new(&mut io, interest)?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &E {
        self.io.as_ref().expect("PollEvented used after into_inner")
    }

    /// Deregisters and returns the source.
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        let mut io = self.io.take().expect("PollEvented used after into_inner");
        self.registration.deregister(&mut io)?;
        Ok(io)
    }

    /// Reads through `&E`'s `Read`, within the I/O loop.
    pub(crate) fn poll_read<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: io::Read + 'a,
    {
        use io::Read;
        let io = self.get_ref();
        let len = buf.len();
        self.registration.poll_io_drain(
            cx,
            Direction::Read,
            || { io }.read(buf),
            |&n| short(n, len),
        )
    }

    /// Reads into possibly uninitialised memory (hyper's and tokio's read buffers),
    /// within the I/O loop: `read(2)` on the source's descriptor, through a raw pointer,
    /// so no `&mut [u8]` over uninitialised bytes is made and nothing is zeroed first
    /// (zeroing hyper's 8 KiB buffer before every read was 5% of an HTTP server's CPU
    /// at 1,000 connections, `docs/benchmarks/http.md`). On a socket `read(2)`
    /// is `recv(2)` with no flags. Returns how many bytes, from the front of `buf`, the
    /// read initialised.
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>
    where
        E: std::os::fd::AsRawFd,
    {
        let fd = self.get_ref().as_raw_fd();
        // At most what one `read(2)` may be asked for portably (std's limit on macOS).
        let len = buf.len().min(i32::MAX as usize - 1);
        let ptr = buf.as_mut_ptr().cast::<libc::c_void>();
        self.registration.poll_io_drain(
            cx,
            Direction::Read,
            || {
                // SAFETY: `ptr` points to `len` bytes of `buf`, which we borrow mutably
                // for this whole call; `read(2)` writes at most `len` bytes there and
                // reads none of them, so their being uninitialised does not matter.
                let n = unsafe { libc::read(fd, ptr, len) };
                // A negative return is an error, reported in errno.
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            },
            |&n| short(n, len),
        )
    }

    /// Writes through `&E`'s `Write`, within the I/O loop.
    pub(crate) fn poll_write<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: io::Write + 'a,
    {
        use io::Write;
        let io = self.get_ref();
        self.registration.poll_io_drain(
            cx,
            Direction::Write,
            || { io }.write(buf),
            |&n| short(n, buf.len()),
        )
    }

    /// Vectored write through `&E`'s `Write`.
    pub(crate) fn poll_write_vectored<'a>(
        &'a self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: io::Write + 'a,
    {
        use io::Write;
        let io = self.get_ref();
        let len = bufs.iter().map(|b| b.len()).sum();
        self.registration.poll_io_drain(
            cx,
            Direction::Write,
            || { io }.write_vectored(bufs),
            |&n| short(n, len),
        )
    }
}

/// The readiness API every socket type shares (tokio's `ready`, `try_read`, ...).
impl<E: mio::event::Source> PollEvented<E> {
    /// Waits for any of `interest`; returns what is ready.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        Ok(self.registration.readiness(interest).await?.ready)
    }

    /// Polls read readiness (the single `poll_*` reader).
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration
            .poll_ready(cx, Direction::Read)
            .map_ok(drop)
    }

    /// Polls write readiness (the single `poll_*` writer).
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration
            .poll_ready(cx, Direction::Write)
            .map_ok(drop)
    }

    /// After a non-blocking `connect`: waits for writability until the socket says how
    /// the connect went (`connected`: `Ok(false)` while still in progress).
    pub(crate) async fn wait_connected(
        &self,
        connected: impl Fn(&E) -> io::Result<bool>,
    ) -> io::Result<()> {
        loop {
            let event = self.registration.readiness(Interest::WRITABLE).await?;
            if connected(self.get_ref())? {
                return Ok(());
            }
            // A spurious wake-up: still connecting.
            self.registration.clear_readiness(event);
        }
    }

    /// Reads what is there now, or `WouldBlock` (tokio's `try_read`).
    pub(crate) fn try_read<'a>(&'a self, buf: &mut [u8]) -> io::Result<usize>
    where
        &'a E: io::Read + 'a,
    {
        use io::Read;
        self.try_io(Interest::READABLE, || self.get_ref().read(buf))
    }

    /// Writes what fits now, or `WouldBlock` (tokio's `try_write`).
    pub(crate) fn try_write<'a>(&'a self, buf: &[u8]) -> io::Result<usize>
    where
        &'a E: io::Write + 'a,
    {
        use io::Write;
        self.try_io(Interest::WRITABLE, || self.get_ref().write(buf))
    }

    /// Runs `op` if ready for `interest` (tokio's `try_io`).
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.registration.try_io(interest, op)
    }

    /// Runs `op` in the I/O loop until it does not say `WouldBlock`.
    pub(crate) async fn async_io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        std::future::poll_fn(|cx| self.registration.poll_io(cx, dir, || op(self.get_ref()))).await
    }
}

impl<E: mio::event::Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Out of the poll set before the fd closes (the drop of `io`, right after);
            // the slab entry goes when `registration` drops.
            let _ = self.registration.deregister(&mut io);
        }
    }
}

impl<E: mio::event::Source + std::fmt::Debug> std::fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollEvented").field("io", &self.io).finish()
    }
}

#[cfg(all(test, not(heist_loom), not(miri), unix))]
mod tests {
    use super::PollEvented;
    use std::future::poll_fn;
    use std::io::{Read, Write};
    use std::task::Poll;

    /// True if `poll` is pending now (it registers the task's waker; nobody wakes it).
    async fn is_pending<T>(mut poll: impl FnMut(&mut std::task::Context<'_>) -> Poll<T>) -> bool {
        poll_fn(|cx| Poll::Ready(poll(cx).is_pending())).await
    }

    /// A short read (3 bytes into 16) drained the socket: the read readiness it saw is
    /// cleared without the `read` that would only say `WouldBlock`, and the next
    /// arrival is a new edge that is not lost.
    #[test]
    fn a_short_read_clears_read_readiness() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let (ours, mut theirs) = mio::net::UnixStream::pair().unwrap();
            let ours = PollEvented::new(ours).unwrap();
            let mut buf = [0; 16];
            theirs.write_all(b"abc").unwrap();
            let n = poll_fn(|cx| ours.poll_read(cx, &mut buf)).await.unwrap();
            assert_eq!(n, 3);
            assert!(
                is_pending(|cx| ours.poll_read_ready(cx)).await,
                "read readiness survived a short read"
            );
            theirs.write_all(b"d").unwrap();
            let n = poll_fn(|cx| ours.poll_read(cx, &mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"d");
        });
    }

    /// A short write filled the peer's queue: write readiness is cleared at once, and
    /// the space the peer frees by reading is a new edge that is not lost.
    #[test]
    fn a_short_write_clears_write_readiness() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let (ours, mut theirs) = mio::net::UnixStream::pair().unwrap();
            let ours = PollEvented::new(ours).unwrap();
            let big = vec![7u8; 16 << 20];
            let n = poll_fn(|cx| ours.poll_write(cx, &big)).await.unwrap();
            assert!(0 < n && n < big.len(), "the queue took {n} bytes of 16 MiB");
            assert!(
                is_pending(|cx| ours.poll_write_ready(cx)).await,
                "write readiness survived a short write"
            );
            // Drain the peer's queue (a blocking read loop would wait forever once it is
            // empty: the peer is non-blocking, so stop at `WouldBlock`).
            let mut sink = vec![0; 1 << 16];
            let mut drained = 0;
            while drained < n {
                match theirs.read(&mut sink) {
                    Ok(k) => drained += k,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(drained > 0);
            let m = poll_fn(|cx| ours.poll_write(cx, &big[..1])).await.unwrap();
            assert_eq!(m, 1);
        });
    }
}
