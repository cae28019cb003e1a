//! Task ids.

use crate::sync::next_id_block;
use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;

/// A task's id: unique among all tasks of the process while it runs.
///
/// Ids are handed out in blocks to each spawning thread, so spawning does not contend on
/// one shared counter; they are therefore unique but not ordered by spawn time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

const BLOCK: u64 = 1024;

crate::sync::thread_local! {
    /// The rest of this thread's block: `(next, end)`. (No `const` initialiser: loom's
    /// `thread_local!` does not take one.)
    #[allow(clippy::missing_const_for_thread_local)]
    static LOCAL: Cell<(u64, u64)> = Cell::new((0, 0));
}

impl Id {
    pub(crate) fn next() -> Id {
        let raw = LOCAL
            .try_with(|local| {
                let (mut next, mut end) = local.get();
                if next == end {
                    next = next_id_block(BLOCK);
                    end = next + BLOCK;
                }
                local.set((next + 1, end));
                next
            })
            // A thread being torn down has no thread-locals left: take a one-id block.
            .unwrap_or_else(|_| next_id_block(1));
        Id(NonZeroU64::new(raw).expect("task id counter wrapped"))
    }

    /// The id whose number is `raw` (0 is no id).
    pub(crate) fn from_u64(raw: u64) -> Option<Id> {
        NonZeroU64::new(raw).map(Id)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}
