//! `Interest` (what a caller waits for) and `Ready` (what the driver saw), with tokio's
//! names and meanings.

use std::fmt;
use std::ops;

/// The readiness a caller is interested in: readable, writable, or both.
///
/// ```
/// use heist::io::Interest;
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

const READ: u8 = 0b01;
const WRITE: u8 = 0b10;

impl Interest {
    /// Interest in reading (or accepting, or receiving).
    pub const READABLE: Interest = Interest(READ);
    /// Interest in writing (or sending, or a connect completing).
    pub const WRITABLE: Interest = Interest(WRITE);

    /// True if this includes readable interest.
    pub const fn is_readable(self) -> bool {
        self.0 & READ != 0
    }

    /// True if this includes writable interest.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITE != 0
    }

    /// Both interests: `self` and `other`.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// `self` without `other`, or `None` if nothing is left.
    #[must_use]
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match self.0 & !other.0 {
            0 => None,
            bits => Some(Interest(bits)),
        }
    }

    /// True if `self` and `other` share a direction.
    pub(crate) const fn intersects(self, other: Interest) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        }
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            _ => f.write_str("WRITABLE"),
        }
    }
}

/// Readiness the driver reported for a resource.
///
/// ```
/// use heist::io::Ready;
/// let r = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed() && !r.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(u8);

impl Ready {
    /// No readiness.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(0b0001);
    /// Writable.
    pub const WRITABLE: Ready = Ready(0b0010);
    /// The read side is closed (end of stream): final, never cleared.
    pub const READ_CLOSED: Ready = Ready(0b0100);
    /// The write side is closed: final, never cleared.
    pub const WRITE_CLOSED: Ready = Ready(0b1000);
    /// An error is pending on the resource.
    pub const ERROR: Ready = Ready(0b1_0000);
    /// Every readiness.
    pub const ALL: Ready = Ready(0b1_1111);

    /// The finality bits: once seen, a direction stays ready.
    pub(crate) const CLOSED: Ready = Ready(0b0_1100);

    /// True if nothing is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// True if readable.
    pub const fn is_readable(self) -> bool {
        self.0 & (Ready::READABLE.0 | Ready::READ_CLOSED.0) != 0
    }
    /// True if writable.
    pub const fn is_writable(self) -> bool {
        self.0 & (Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0) != 0
    }
    /// True if the read side is closed.
    pub const fn is_read_closed(self) -> bool {
        self.0 & Ready::READ_CLOSED.0 != 0
    }
    /// True if the write side is closed.
    pub const fn is_write_closed(self) -> bool {
        self.0 & Ready::WRITE_CLOSED.0 != 0
    }
    /// True if an error is pending.
    pub const fn is_error(self) -> bool {
        self.0 & Ready::ERROR.0 != 0
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }
    pub(crate) const fn from_bits(bits: u8) -> Ready {
        Ready(bits & Ready::ALL.0)
    }
    pub(crate) const fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
    pub(crate) const fn difference(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }

    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut bits = 0;
        if event.is_readable() {
            bits |= Ready::READABLE.0;
        }
        if event.is_writable() {
            bits |= Ready::WRITABLE.0;
        }
        if event.is_read_closed() {
            bits |= Ready::READ_CLOSED.0;
        }
        if event.is_write_closed() {
            bits |= Ready::WRITE_CLOSED.0;
        }
        if event.is_error() {
            bits |= Ready::ERROR.0;
        }
        Ready(bits)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut list = f.debug_set();
        for (flag, name) in names {
            if self.0 & flag.0 != 0 {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}
