//! `ReadBuf`: tokio's "double cursor" over a byte buffer, with tokio's name and methods,
//! so that `poll_recv_from(cx, &mut ReadBuf)` ports from tokio by changing the path.
//!
//! heist keeps its own copy instead of re-exporting `tokio::io::ReadBuf` because tokio is
//! an optional dependency (feature `tokio-io`), and a type that changed identity when
//! some crate in the graph turned a feature on would make the feature non-additive. A
//! `tokio::io::ReadBuf` (for example the one a `tokio::io::AsyncRead::poll_read` is
//! handed) is not a `heist::io::ReadBuf`: wrap its unfilled part with
//! [`ReadBuf::uninit`] and advance it by what was filled.
//!
//! The invariant, kept by every method: `filled <= initialized <= buf.len()`, and the
//! first `initialized` bytes of `buf` are initialised.

use std::fmt;
use std::mem::MaybeUninit;

/// A byte buffer filled incrementally, that may start uninitialised (tokio's `ReadBuf`).
///
/// It tracks three regions: the *filled* bytes at the front (what reads put there), the
/// *initialized* bytes (the filled ones and any initialised since), and the rest, which
/// may be uninitialised:
///
/// ```text
/// [             capacity              ]
/// [ filled |         unfilled         ]
/// [    initialized    | uninitialized ]
/// ```
///
/// ```
/// use heist::io::ReadBuf;
///
/// let mut storage = [0u8; 8];
/// let mut buf = ReadBuf::new(&mut storage);
/// buf.put_slice(b"abc");
/// assert_eq!(buf.filled(), b"abc");
/// assert_eq!(buf.remaining(), 5);
/// buf.initialize_unfilled_to(2).copy_from_slice(b"de");
/// buf.advance(2);
/// assert_eq!(buf.filled(), b"abcde");
/// ```
pub struct ReadBuf<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    filled: usize,
    initialized: usize,
}

impl<'a> ReadBuf<'a> {
    /// A `ReadBuf` over an initialised buffer: nothing filled, all of it initialised.
    pub fn new(buf: &'a mut [u8]) -> ReadBuf<'a> {
        let initialized = buf.len();
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`; the bytes are initialised and
        // `ReadBuf` never writes an uninitialised byte (nothing safe can de-initialise
        // them, and `inner_mut` / `unfilled_mut` forbid it in their contracts).
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        ReadBuf {
            buf,
            filled: 0,
            initialized,
        }
    }

    /// A `ReadBuf` over a buffer that may be uninitialised: nothing filled, nothing
    /// known initialised (see [`assume_init`](Self::assume_init)).
    pub fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> ReadBuf<'a> {
        ReadBuf {
            buf,
            filled: 0,
            initialized: 0,
        }
    }

    /// The buffer's whole length.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The filled part.
    pub fn filled(&self) -> &[u8] {
        // SAFETY: `filled <= initialized`, and the first `initialized` bytes are
        // initialised (the module's invariant).
        unsafe { assume_init(&self.buf[..self.filled]) }
    }

    /// The filled part, mutably.
    pub fn filled_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `filled`.
        unsafe { assume_init_mut(&mut self.buf[..self.filled]) }
    }

    /// A new `ReadBuf` over the first `n` unfilled bytes (fewer if fewer remain). What
    /// is filled in it is not counted here: [`advance`](Self::advance) by its length.
    pub fn take(&mut self, n: usize) -> ReadBuf<'_> {
        let max = self.remaining().min(n);
        ReadBuf::uninit(&mut self.buf[self.filled..self.filled + max])
    }

    /// The initialised part (the filled part included).
    pub fn initialized(&self) -> &[u8] {
        // SAFETY: the first `initialized` bytes are initialised (the module's invariant).
        unsafe { assume_init(&self.buf[..self.initialized]) }
    }

    /// The initialised part (the filled part included), mutably.
    pub fn initialized_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `initialized`.
        unsafe { assume_init_mut(&mut self.buf[..self.initialized]) }
    }

    /// The whole buffer, possibly uninitialised.
    ///
    /// # Safety
    /// The caller must not de-initialise any byte (not even in the part marked
    /// uninitialised: it may be initialised already, and must stay so). If it
    /// initialises some, it reports them with [`assume_init`](Self::assume_init).
    pub unsafe fn inner_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        self.buf
    }

    /// The unfilled part, possibly uninitialised.
    ///
    /// # Safety
    /// As for [`inner_mut`](Self::inner_mut): the caller must not de-initialise any byte.
    pub unsafe fn unfilled_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.filled..]
    }

    /// The unfilled part, zeroing what of it is not yet initialised (so free after the
    /// first call).
    pub fn initialize_unfilled(&mut self) -> &mut [u8] {
        self.initialize_unfilled_to(self.remaining())
    }

    /// The first `n` unfilled bytes, zeroing what of them is not yet initialised.
    ///
    /// # Panics
    /// If fewer than `n` bytes remain.
    #[track_caller]
    pub fn initialize_unfilled_to(&mut self, n: usize) -> &mut [u8] {
        assert!(self.remaining() >= n, "n overflows remaining");
        let end = self.filled + n;
        if self.initialized < end {
            for byte in &mut self.buf[self.initialized..end] {
                byte.write(0);
            }
            self.initialized = end;
        }
        // SAFETY: the bytes up to `end` are initialised: those below the old
        // `initialized` by the invariant, the rest just above.
        unsafe { assume_init_mut(&mut self.buf[self.filled..end]) }
    }

    /// How many bytes are not filled yet.
    pub fn remaining(&self) -> usize {
        self.capacity() - self.filled
    }

    /// Empties the filled part (the bytes stay initialised and unchanged).
    pub fn clear(&mut self) {
        self.filled = 0;
    }

    /// Grows the filled part by `n` bytes.
    ///
    /// # Panics
    /// If the filled part would outgrow the initialised part.
    #[track_caller]
    pub fn advance(&mut self, n: usize) {
        let new = self.filled.checked_add(n).expect("filled overflow");
        self.set_filled(new);
    }

    /// Sets the filled part's length (it may shrink as well as grow).
    ///
    /// # Panics
    /// If the filled part would outgrow the initialised part.
    #[track_caller]
    pub fn set_filled(&mut self, n: usize) {
        assert!(
            n <= self.initialized,
            "filled must not become larger than initialized"
        );
        self.filled = n;
    }

    /// Declares the first `n` unfilled bytes initialised (does nothing if more are known
    /// initialised already).
    ///
    /// # Safety
    /// The first `n` unfilled bytes must be initialised.
    pub unsafe fn assume_init(&mut self, n: usize) {
        let new = self.filled + n;
        if new > self.initialized {
            self.initialized = new;
        }
    }

    /// Appends `buf` to the filled part.
    ///
    /// # Panics
    /// If `buf` is longer than [`remaining`](Self::remaining).
    #[track_caller]
    pub fn put_slice(&mut self, buf: &[u8]) {
        assert!(
            self.remaining() >= buf.len(),
            "buf.len() must fit in remaining(); buf.len() = {}, remaining() = {}",
            buf.len(),
            self.remaining()
        );
        let end = self.filled + buf.len();
        for (dst, src) in self.buf[self.filled..end].iter_mut().zip(buf) {
            dst.write(*src);
        }
        self.initialized = self.initialized.max(end);
        self.filled = end;
    }
}

impl fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBuf")
            .field("filled", &self.filled)
            .field("initialized", &self.initialized)
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// # Safety
/// Every byte of `slice` must be initialised.
unsafe fn assume_init(slice: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the caller promises every
    // byte is initialised.
    unsafe { &*(slice as *const [MaybeUninit<u8>] as *const [u8]) }
}

/// # Safety
/// Every byte of `slice` must be initialised.
unsafe fn assume_init_mut(slice: &mut [MaybeUninit<u8>]) -> &mut [u8] {
    // SAFETY: as in `assume_init`; the `&mut [u8]` cannot write an uninitialised byte.
    unsafe { &mut *(slice as *mut [MaybeUninit<u8>] as *mut [u8]) }
}

#[cfg(test)]
mod tests {
    use super::ReadBuf;
    use std::mem::MaybeUninit;

    #[test]
    fn uninit_buffer_is_zeroed_once_and_tracked() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 6];
        let mut buf = ReadBuf::uninit(&mut storage);
        assert_eq!(buf.initialized().len(), 0);
        buf.initialize_unfilled_to(2).copy_from_slice(b"xy");
        assert_eq!(buf.initialized(), b"xy");
        buf.advance(1);
        assert_eq!(buf.filled(), b"x");
        assert_eq!(buf.initialize_unfilled(), &[b'y', 0, 0, 0, 0][..]);
        buf.put_slice(b"zz");
        assert_eq!(buf.filled(), b"xzz");
        let mut part = buf.take(10);
        assert_eq!(part.capacity(), 3);
        part.put_slice(b"!");
        buf.advance(1);
        assert_eq!(buf.filled(), b"xzz!");
        buf.set_filled(1);
        assert_eq!((buf.filled(), buf.initialized().len()), (&b"x"[..], 6));
        buf.clear();
        assert_eq!(buf.remaining(), 6);
    }

    #[test]
    #[should_panic(expected = "filled must not become larger than initialized")]
    fn advance_past_initialized_panics() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        ReadBuf::uninit(&mut storage).advance(1);
    }

    #[test]
    #[should_panic(expected = "must fit in remaining")]
    fn put_slice_past_capacity_panics() {
        let mut storage = [0u8; 2];
        ReadBuf::new(&mut storage).put_slice(b"abc");
    }
}
