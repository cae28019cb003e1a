//! The runtime's clock: the one place the timers read the time. It runs (std's
//! monotonic clock) or, for tests, is *paused*: then it moves only by
//! [`advance`](super::advance) or by *auto-advance*, a jump to the next timer's deadline once the whole
//! runtime is idle (`docs/design.md`, "Paused time"; the rule and its proof in
//! `docs/sleep-protocol.md`, "Auto-advance").
//!
//! As tokio's: `now = base` while paused, `base + (time since unfrozen)` while running;
//! `pause` folds the time run into `base`, `advance` adds to it, `resume` starts it
//! running again from there. A count of *inhibitors* (a `block_on` thread that is not
//! parked, a blocking call queued or running, a `block_in_place` section) holds
//! auto-advance off, as tokio's blocking pool does.

use super::instant::Instant;
use crate::sync::Mutex;
// std's atomics, on purpose, for the flags and the inhibitor count: every decision of
// the auto-advance protocol is made under the facade's `frozen` lock (`auto_advance_to`)
// or the sleepers' lock (`Idle::claim_idle`), which loom sees and orders
// (`docs/sleep-protocol.md`, "Auto-advance"); the lock-free reads are hints re-checked
// there. Loom atomics would add a scheduling point to every park-loop round and every
// `block_on` poll of every model, paused or not (2.5x the interleavings of
// `spawn_from_worker_with_two_workers`), for nothing the models could find.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// True once any runtime's clock was paused: until then `Instant::now` is one clock read, with
/// no look-up of the current runtime. A std atomic: loom has no static atomics, and this
/// is an optimisation, not part of a protocol (tokio's `DID_PAUSE_CLOCK`).
pub(super) static EVER_PAUSED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

struct Frozen {
    /// The clock's time when it was last paused, plus every advance since.
    base: std::time::Instant,
    /// When the clock last started running (`None`: paused).
    unfrozen: Option<std::time::Instant>,
}

/// One runtime's clock, owned by its timer driver.
pub(crate) struct Clock {
    /// Tick 0 of the timing wheel: the clock's time when the runtime started.
    origin: std::time::Instant,
    /// Set once this clock was paused: until then it is std's and `now` takes no lock.
    pausable: AtomicBool,
    frozen: Mutex<Frozen>,
    /// Mirrors `frozen.unfrozen.is_none()`, for lock-free reads on the park path.
    paused: AtomicBool,
    /// Parties that hold auto-advance off (module doc). Changed under the `frozen` lock,
    /// so that a jump of the clock (also under it) comes wholly before or after each.
    inhibitors: AtomicUsize,
}

impl Clock {
    pub(crate) fn new(start_paused: bool) -> Clock {
        let origin = crate::sync::time::now();
        let clock = Clock {
            origin,
            pausable: AtomicBool::new(false),
            frozen: Mutex::new(Frozen {
                base: origin,
                unfrozen: Some(origin),
            }),
            paused: AtomicBool::new(false),
            inhibitors: AtomicUsize::new(0),
        };
        if start_paused {
            // Paused at the origin exactly, so that ticks fall on whole milliseconds of
            // the paused clock (a sleep of 10 ms takes 10 ms, not 10 ms and change).
            EVER_PAUSED.store(true, std::sync::atomic::Ordering::Release);
            clock.pausable.store(true, SeqCst);
            clock.frozen.lock().unfrozen = None;
            clock.paused.store(true, SeqCst);
        }
        clock
    }

    /// The time now.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_std(self.now_std())
    }

    fn now_std(&self) -> std::time::Instant {
        if !self.pausable.load(SeqCst) {
            return crate::sync::time::now();
        }
        let frozen = self.frozen.lock();
        match frozen.unfrozen {
            None => frozen.base,
            Some(since) => frozen.base + crate::sync::time::now().saturating_duration_since(since),
        }
    }

    /// True while paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(SeqCst)
    }

    pub(crate) fn pause(&self) -> Result<(), &'static str> {
        let mut frozen = self.frozen.lock();
        let Some(since) = frozen.unfrozen else {
            return Err("the clock is already paused");
        };
        EVER_PAUSED.store(true, std::sync::atomic::Ordering::Release);
        self.pausable.store(true, SeqCst);
        frozen.base += crate::sync::time::now().saturating_duration_since(since);
        frozen.unfrozen = None;
        self.paused.store(true, SeqCst);
        Ok(())
    }

    pub(crate) fn resume(&self) -> Result<(), &'static str> {
        let mut frozen = self.frozen.lock();
        if frozen.unfrozen.is_some() {
            return Err("the clock is not paused");
        }
        frozen.unfrozen = Some(crate::sync::time::now());
        self.paused.store(false, SeqCst);
        Ok(())
    }

    /// Moves a paused clock forward by `duration`.
    pub(crate) fn advance(&self, duration: Duration) -> Result<(), &'static str> {
        let mut frozen = self.frozen.lock();
        if frozen.unfrozen.is_some() {
            return Err("the clock is not paused");
        }
        frozen.base = frozen
            .base
            .checked_add(duration)
            .ok_or("the duration is too large to add to the clock")?;
        Ok(())
    }

    /// Auto-advance: moves a paused clock forward to the start of `tick` (never back),
    /// unless an inhibitor holds it or the clock runs. True if the clock may have
    /// moved (the caller then fires what is due).
    pub(crate) fn auto_advance_to(&self, tick: u64) -> bool {
        let mut frozen = self.frozen.lock();
        if frozen.unfrozen.is_some() || self.inhibitors.load(SeqCst) > 0 {
            return false;
        }
        if let Some(at) = self.origin.checked_add(Duration::from_millis(tick)) {
            frozen.base = frozen.base.max(at);
        }
        true
    }

    /// True if nothing holds auto-advance off and the clock is paused (a hint: the
    /// decision is re-checked under the lock by `auto_advance_to`).
    pub(crate) fn may_auto_advance(&self) -> bool {
        self.is_paused() && self.inhibitors.load(SeqCst) == 0
    }

    /// Holds auto-advance off until the matching [`allow_auto_advance`](Self::allow_auto_advance).
    pub(crate) fn inhibit_auto_advance(&self) {
        if !self.pausable.load(SeqCst) {
            // Never paused: no jump to order this against (a `pause` racing with it
            // comes from a party that holds the clock itself).
            self.inhibitors.fetch_add(1, SeqCst);
            return;
        }
        let _frozen = self.frozen.lock();
        self.inhibitors.fetch_add(1, SeqCst);
    }

    /// Releases one [`inhibit_auto_advance`](Self::inhibit_auto_advance). True if that
    /// was the last inhibitor of a paused clock: the caller must then make sure an idle
    /// runtime notices (the timer driver summons a sleeper).
    pub(crate) fn allow_auto_advance(&self) -> bool {
        let prev = if self.pausable.load(SeqCst) {
            let _frozen = self.frozen.lock();
            self.inhibitors.fetch_sub(1, SeqCst)
        } else {
            self.inhibitors.fetch_sub(1, SeqCst)
        };
        assert!(prev > 0, "auto-advance inhibitor count underflow");
        prev == 1 && self.is_paused()
    }

    /// The current tick, rounded down: a timer due at tick `t` fires once this is `>= t`,
    /// never before its deadline (which `deadline_tick` rounds up).
    pub(crate) fn now_tick(&self) -> u64 {
        self.tick_floor(self.now_std())
    }

    pub(crate) fn tick_floor(&self, t: std::time::Instant) -> u64 {
        let ms = t.saturating_duration_since(self.origin).as_millis();
        u64::try_from(ms).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// The first tick at or after `deadline`.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.into_std().saturating_duration_since(self.origin);
        let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// How long from now until `tick` starts (zero if it has), in real time: `None`
    /// while paused, when only auto-advance or `advance` moves the clock there.
    pub(crate) fn until(&self, tick: u64) -> Option<Duration> {
        if self.is_paused() {
            return None;
        }
        let at = self.origin.checked_add(Duration::from_millis(tick));
        Some(at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(self.now_std())
        }))
    }

    #[cfg(all(test, not(heist_loom)))]
    pub(crate) fn origin(&self) -> std::time::Instant {
        self.origin
    }
}

use super::entry::MAX_TICK;
