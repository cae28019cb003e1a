//! The hierarchical timing wheel: where registered timers wait, O(1) to insert and to
//! cancel, and cheap to advance.
//!
//! Time is counted in *ticks* of one millisecond since the runtime started. The wheel
//! has 6 levels of 64 slots. A slot of level `l` spans `64^l` ticks, so a level spans
//! `64^(l+1)` ticks: level 0 holds the next 64 ms one tick per slot, level 1 the next
//! 4 s in 64 ms slots, and so on up to level 5 (slots of 12.4 days, 2.2 years in all).
//!
//! An entry due at tick `when` sits at the level of the highest 6-bit digit in which
//! `when` differs from `elapsed` (the wheel's current tick), in the slot named by that
//! digit of `when`. So every entry of level `l` is due within the current level-`(l+1)`
//! span, after everything at lower levels: the earliest occupied slot of the lowest
//! occupied level is the next thing to do. When `elapsed` reaches the start of a slot
//! of level `l > 0`, that slot's entries are *cascaded*: re-inserted, they land at lower
//! levels (each entry moves at most 5 times in its life). A level-0 slot is one tick:
//! its entries are due.
//!
//! Each slot is an intrusive doubly linked list (links in the entries, see `entry.rs`),
//! plus one `occupied` bit per slot, so finding the next expiration is a rotate and a
//! count of trailing zeros per level. Due entries move to the *pending* list, from which
//! the driver pops them one at a time, releasing the lock between batches; an entry in
//! the pending list can still be cancelled like any other.
//!
//! Deadlines past the top level's span sit in the top level at the slot their digit
//! names, which may be at or behind the current position: such a slot is read as
//! belonging to the *next* top-level span, and its entries are re-inserted when it comes
//! due (still not due, they go back to the top level).
//!
//! The wheel is a plain data structure: the driver holds it under its lock and passes in
//! the current tick, so tests (and loom models) can drive time by hand.

use super::entry::{Entry, NO_LIST};
use std::ptr::NonNull;

/// Bits of a tick consumed by one level.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
const SLOTS: u64 = 1 << LEVEL_BITS;
/// Levels in the wheel.
const NUM_LEVELS: usize = 6;
/// The largest distance `elapsed ^ when` that selects a level (all 36 bits set).
const MAX_SPAN: u64 = (1 << (LEVEL_BITS * NUM_LEVELS as u32)) - 1;
/// The pending list (due entries not yet popped) comes after the 6 x 64 slot lists.
const PENDING: usize = NUM_LEVELS * SLOTS as usize;
const NUM_LISTS: usize = PENDING + 1;

/// The next slot to process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiration {
    level: usize,
    slot: u64,
    /// The tick at which the slot starts.
    pub(crate) deadline: u64,
}

/// All registered timers of one runtime. Always used under the driver's lock.
pub(crate) struct Wheel {
    /// Every tick up to and including this one has been processed.
    elapsed: u64,
    occupied: [u64; NUM_LEVELS],
    heads: [Option<NonNull<Entry>>; NUM_LISTS],
    len: usize,
}

// SAFETY: the wheel holds pointers to entries that are alive while linked (a `Sleep`
// unlinks its entry before it is freed) and are only followed by the thread holding the
// driver's lock, which owns the `Wheel`; the wakers inside are `Send`.
unsafe impl Send for Wheel {}

/// The level at which an entry due at `when` waits while the wheel is at `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    // At least the low digit, so level 0 for `when` in the current slot span; at most
    // MAX_SPAN, so anything further away lands in the top level.
    let masked = ((elapsed ^ when) | (SLOTS - 1)).min(MAX_SPAN);
    let significant = 63 - masked.leading_zeros();
    (significant / LEVEL_BITS) as usize
}

fn slot_for(when: u64, level: usize) -> u64 {
    (when >> (level as u32 * LEVEL_BITS)) & (SLOTS - 1)
}

fn list_index(level: usize, slot: u64) -> usize {
    level * SLOTS as usize + slot as usize
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            occupied: [0; NUM_LEVELS],
            heads: [None; NUM_LISTS],
            len: 0,
        }
    }

    /// Entries in the wheel (including due ones not yet popped).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Links `entry`, due at `when`, and stores `when` as its state. Fails (touching
    /// nothing) if `when` is already due, in which case the caller fires the entry.
    ///
    /// # Safety
    /// `entry` is alive, in no list, and stays alive and pinned until it is unlinked.
    pub(crate) unsafe fn insert(&mut self, entry: NonNull<Entry>, when: u64) -> Result<(), ()> {
        if when <= self.elapsed {
            return Err(());
        }
        // SAFETY: the entry is alive (caller contract); we own the lock (`&mut self`).
        unsafe { entry.as_ref() }
            .state
            .store(when, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded caller contract.
        unsafe { self.place(entry, when) };
        self.len += 1;
        Ok(())
    }

    /// Unlinks `entry` from whichever list holds it.
    ///
    /// # Safety
    /// `entry` is alive and in this wheel.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<Entry>) {
        // SAFETY: forwarded caller contract.
        unsafe { self.unlink(entry) };
        self.len -= 1;
    }

    /// The tick at which the wheel next has work (a due entry to pop, or a slot to
    /// process), or `None` when it is empty.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if self.heads[PENDING].is_some() {
            return Some(self.elapsed);
        }
        self.next_expiration().map(|e| e.deadline)
    }

    /// The earliest occupied slot of the lowest occupied level.
    pub(crate) fn next_expiration(&self) -> Option<Expiration> {
        for level in 0..NUM_LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = level as u32 * LEVEL_BITS;
            let pos = slot_for(self.elapsed, level);
            // Level 0: the current slot is one tick and could hold a due entry. Higher
            // levels: an entry in the current slot is in the *next* span (see above), so
            // the search starts after it and reaches it last.
            let from = if level == 0 { pos } else { (pos + 1) % SLOTS };
            let slot =
                (from + u64::from(occupied.rotate_right(from as u32).trailing_zeros())) % SLOTS;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << LEVEL_BITS;
            let level_start = self.elapsed & !(level_span - 1);
            let mut deadline = level_start + slot * slot_span;
            if slot < pos || (level > 0 && slot == pos) {
                deadline += level_span;
            }
            return Some(Expiration {
                level,
                slot,
                deadline,
            });
        }
        None
    }

    /// Pops one entry due at or before `now`, unlinked (its state still holds its
    /// deadline; the caller stores the next one). Advances `elapsed` towards `now` as
    /// it goes; `None` once nothing more is due, with `elapsed` at `now`.
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<NonNull<Entry>> {
        loop {
            if let Some(entry) = self.heads[PENDING] {
                // SAFETY: entries in the wheel are alive (type invariant).
                unsafe { self.remove(entry) };
                return Some(entry);
            }
            match self.next_expiration() {
                Some(exp) if exp.deadline <= now => {
                    self.elapsed = self.elapsed.max(exp.deadline);
                    self.process_slot(exp.level, exp.slot);
                }
                _ => {
                    self.elapsed = self.elapsed.max(now);
                    return None;
                }
            }
        }
    }

    /// Empties the wheel for shutdown, one entry at a time (unlinked, as `pop_expired`).
    pub(crate) fn pop_any(&mut self) -> Option<NonNull<Entry>> {
        let list = self.heads.iter().position(Option::is_some)?;
        let entry = self.heads[list].expect("found above");
        // SAFETY: entries in the wheel are alive (type invariant).
        unsafe { self.remove(entry) };
        Some(entry)
    }

    /// `elapsed` reached this slot: move its entries to the pending list if due, or
    /// re-insert them lower down.
    fn process_slot(&mut self, level: usize, slot: u64) {
        let list = list_index(level, slot);
        let mut next = self.heads[list].take();
        self.occupied[level] &= !(1 << slot);
        while let Some(entry) = next {
            // SAFETY: the entry was in the wheel, so it is alive; we own the lock. The
            // list head was detached above, so rewriting its links is ours to do.
            next = unsafe {
                Entry::with_links(entry, |l| {
                    let next = l.next;
                    l.prev = None;
                    l.next = None;
                    l.list = NO_LIST;
                    next
                })
            };
            // SAFETY: as above.
            let when = unsafe { entry.as_ref() }
                .state
                .load(std::sync::atomic::Ordering::Relaxed);
            if when <= self.elapsed {
                // SAFETY: alive and now in no list.
                unsafe { self.push_front(PENDING, entry) };
            } else {
                // SAFETY: as above.
                unsafe { self.place(entry, when) };
            }
        }
    }

    /// Links an entry (in no list) into the slot its deadline selects.
    ///
    /// # Safety
    /// `entry` is alive and in no list; `when > elapsed`.
    unsafe fn place(&mut self, entry: NonNull<Entry>, when: u64) {
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        // SAFETY: forwarded caller contract.
        unsafe { self.push_front(list_index(level, slot), entry) };
    }

    /// # Safety
    /// `entry` is alive and in no list.
    unsafe fn push_front(&mut self, list: usize, entry: NonNull<Entry>) {
        let old_head = self.heads[list];
        // SAFETY: alive (caller contract), and we own the lock.
        unsafe {
            Entry::with_links(entry, |l| {
                l.prev = None;
                l.next = old_head;
                l.list = list as u32;
            })
        };
        if let Some(old) = old_head {
            // SAFETY: the old head is in the wheel, so alive.
            unsafe { Entry::with_links(old, |l| l.prev = Some(entry)) };
        }
        self.heads[list] = Some(entry);
        if list < PENDING {
            self.occupied[list / SLOTS as usize] |= 1 << (list as u64 % SLOTS);
        }
    }

    /// # Safety
    /// `entry` is alive and in one of this wheel's lists.
    unsafe fn unlink(&mut self, entry: NonNull<Entry>) {
        // SAFETY: alive (caller contract), and we own the lock.
        let (prev, next, list) = unsafe {
            Entry::with_links(entry, |l| {
                let taken = (l.prev, l.next, l.list as usize);
                l.prev = None;
                l.next = None;
                l.list = NO_LIST;
                taken
            })
        };
        assert!(list < NUM_LISTS, "timer entry unlinked twice");
        match prev {
            // SAFETY: a neighbour in the wheel is alive.
            Some(p) => unsafe { Entry::with_links(p, |l| l.next = next) },
            None => self.heads[list] = next,
        }
        if let Some(n) = next {
            // SAFETY: as above.
            unsafe { Entry::with_links(n, |l| l.prev = prev) };
        }
        if list < PENDING && self.heads[list].is_none() {
            self.occupied[list / SLOTS as usize] &= !(1 << (list as u64 % SLOTS));
        }
    }
}

impl std::fmt::Debug for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::Ordering::Relaxed;

    fn entries(n: usize) -> Vec<Pin<Box<Entry>>> {
        (0..n).map(|_| Box::pin(Entry::new())).collect()
    }

    fn ptr(e: &Pin<Box<Entry>>) -> NonNull<Entry> {
        NonNull::from(&**e)
    }

    fn when(e: NonNull<Entry>) -> u64 {
        // SAFETY: test entries outlive the wheel operations.
        unsafe { e.as_ref() }.state.load(Relaxed)
    }

    /// xorshift, for spread deadlines.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn levels_and_slots() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(60, 70), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, MAX_SPAN), 5);
        assert_eq!(level_for(0, u64::MAX / 2), 5);
        assert_eq!(slot_for(70, 1), 1);
    }

    #[test]
    fn due_entries_are_refused() {
        let es = entries(1);
        let mut wheel = Wheel::new();
        // SAFETY: the entry outlives the wheel use and is in no list.
        unsafe {
            assert!(wheel.insert(ptr(&es[0]), 0).is_err());
            assert!(wheel.insert(ptr(&es[0]), 1).is_ok());
        }
        assert_eq!(wheel.pop_expired(0), None);
        assert_eq!(wheel.pop_expired(1), Some(ptr(&es[0])));
        assert_eq!(wheel.len(), 0);
    }

    /// Inserts spread deadlines (including some past the wheel's span), advances in
    /// uneven steps, and checks every entry pops at the first step at or after its
    /// deadline, in deadline order between steps.
    fn run_schedule(start: u64, spread: u64, steps: &[u64], n: usize, seed: u64) {
        let es = entries(n);
        let mut wheel = Wheel::new();
        wheel.elapsed = start;
        let mut seed = seed;
        for e in &es {
            let when = start + 1 + rng(&mut seed) % spread;
            // SAFETY: entries outlive the wheel use and are in no list.
            unsafe { wheel.insert(ptr(e), when).unwrap() };
        }
        let mut now = start;
        let mut popped = 0;
        let mut last = 0;
        for &step in steps.iter().cycle() {
            let prev_now = now;
            now += step;
            while let Some(e) = wheel.pop_expired(now) {
                let w = when(e);
                assert!(w <= now, "popped early: due {w}, now {now}");
                assert!(
                    w > prev_now,
                    "popped late: due {w}, previous now {prev_now}"
                );
                assert!(w >= last, "popped out of order: {w} after {last}");
                last = w;
                popped += 1;
            }
            if popped == n {
                break;
            }
            let next = wheel.next_deadline().expect("entries left");
            assert!(next > now, "next deadline {next} not after now {now}");
            // Keep long schedules short: skip big gaps (nothing is due in them).
            if next > now + 100_000 {
                now = next - 1;
            }
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn fires_in_order_near() {
        run_schedule(0, 300, &[1, 3, 7], 2000, 0x1234_5678);
    }

    #[test]
    fn fires_in_order_far() {
        run_schedule(5, 10_000_000, &[1, 1000, 64 * 64 + 3], 2000, 0x9abc_def1);
    }

    #[test]
    fn fires_in_order_past_the_span() {
        // Starting just before a top-level boundary, with deadlines beyond the span.
        run_schedule(
            MAX_SPAN - 10,
            4 * MAX_SPAN,
            &[1, 1 << 20, 1 << 33],
            500,
            0x0f0f_1234,
        );
    }

    #[test]
    fn cancel_from_any_list() {
        let es = entries(300);
        let mut wheel = Wheel::new();
        for (i, e) in es.iter().enumerate() {
            // SAFETY: entries outlive the wheel use and are in no list.
            unsafe { wheel.insert(ptr(e), 1 + (i as u64 * 37) % 5000).unwrap() };
        }
        // Make some due (pending) but leave them unpopped.
        let first = wheel.pop_expired(100).unwrap();
        for (i, e) in es.iter().enumerate() {
            if i % 2 == 0 && ptr(e) != first {
                // SAFETY: in the wheel and alive.
                unsafe { wheel.remove(ptr(e)) };
            }
        }
        let mut rest = 0;
        while wheel.pop_expired(u64::MAX / 4).is_some() {
            rest += 1;
        }
        assert_eq!(rest, 150);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }
}
