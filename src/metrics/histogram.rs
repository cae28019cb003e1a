//! Latency histograms: poll time and scheduling delay, per worker, log-linear buckets.
//!
//! Each power of two of nanoseconds is split into four buckets, so a bucket's bounds are
//! within 25% of each other (tokio's default histogram and HdrHistogram at two
//! significant bits make the same trade). 252 buckets cover every `u64` of nanoseconds.
//! Each worker records into its own buckets with the single-writer `Counter`, so
//! recording is a few plain instructions plus the clock reads that produce the value;
//! a reader sums the workers' buckets.

use super::worker::Counter;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

const SUB_BITS: u32 = 2;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = 252;

/// The bucket of a value of `v` nanoseconds.
fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// The nanoseconds bucket `i` covers.
fn range_of(i: usize) -> Range<u64> {
    let i = i as u64;
    if i < SUB {
        return i..i + 1;
    }
    let e = i / SUB - 1 + u64::from(SUB_BITS);
    let sub = i % SUB;
    let width = 1u64 << (e - u64::from(SUB_BITS));
    let start = (1u64 << e) + sub * width;
    start..start.saturating_add(width)
}

/// One worker's buckets.
struct Buckets(Box<[Counter]>);

impl Buckets {
    fn new() -> Buckets {
        Buckets((0..BUCKETS).map(|_| Counter::default()).collect())
    }
}

/// The two histograms of every worker.
pub(crate) struct Histograms {
    poll: Box<[CachePadded<Buckets>]>,
    delay: Box<[CachePadded<Buckets>]>,
}

impl Histograms {
    pub(crate) fn new(workers: usize) -> Histograms {
        let make = || {
            (0..workers)
                .map(|_| CachePadded::new(Buckets::new()))
                .collect()
        };
        Histograms {
            poll: make(),
            delay: make(),
        }
    }

    /// Records one poll of `nanos` on `worker` (that worker's thread only).
    #[inline]
    pub(crate) fn record_poll(&self, worker: usize, nanos: u64) {
        self.poll[worker].0[bucket_of(nanos)].incr();
    }

    /// Records one scheduling delay of `nanos` on `worker` (that worker's thread only).
    #[inline]
    pub(crate) fn record_delay(&self, worker: usize, nanos: u64) {
        self.delay[worker].0[bucket_of(nanos)].incr();
    }

    pub(crate) fn poll_times(&self) -> Histogram {
        Histogram::sum(&self.poll)
    }

    pub(crate) fn scheduling_delays(&self) -> Histogram {
        Histogram::sum(&self.delay)
    }
}

/// A snapshot of a latency histogram (see
/// [`RuntimeMetrics::poll_time_histogram`](crate::RuntimeMetrics::poll_time_histogram)).
///
/// ```
/// let rt = heist::Runtime::builder()
///     .worker_threads(1)
///     .enable_metrics_poll_time_histogram()
///     .build()
///     .unwrap();
/// rt.block_on(rt.spawn(async {})).unwrap();
/// // A poll is recorded just after it ends: read from the next task on the same worker.
/// let handle = rt.handle().clone();
/// let polls = rt
///     .block_on(rt.spawn(async move { handle.metrics().poll_time_histogram() }))
///     .unwrap();
/// assert_eq!(polls.count(), 1);
/// assert!(polls.percentile(0.99).is_some());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
}

/// One non-empty bucket of a [`Histogram`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramBucket {
    /// The durations this bucket counts (its bounds are within 25% of each other).
    pub range: Range<Duration>,
    /// How many values fell in it.
    pub count: u64,
}

impl Histogram {
    fn sum(workers: &[CachePadded<Buckets>]) -> Histogram {
        let mut counts = vec![0; BUCKETS];
        for w in workers {
            for (c, b) in counts.iter_mut().zip(w.0.iter()) {
                *c += b.get();
            }
        }
        Histogram { counts }
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The non-empty buckets, shortest durations first.
    pub fn buckets(&self) -> impl Iterator<Item = HistogramBucket> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &count)| {
                let r = range_of(i);
                HistogramBucket {
                    range: Duration::from_nanos(r.start)..Duration::from_nanos(r.end),
                    count,
                }
            })
    }

    /// The `p`-quantile (`p` in `0.0..=1.0`, e.g. `0.99`), as the upper bound of the
    /// bucket it falls in (so at most 25% above the true value); `None` if empty.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for b in self.buckets() {
            seen += b.count;
            if seen >= rank {
                return Some(b.range.end);
            }
        }
        None
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.percentile(0.5))
            .field("p99", &self.percentile(0.99))
            .field("max", &self.percentile(1.0))
            .finish()
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range_within_a_quarter() {
        let mut next = 0;
        for i in 0..BUCKETS {
            let r = range_of(i);
            assert_eq!(r.start, next, "bucket {i}");
            assert!(r.end > r.start);
            if r.start >= SUB {
                assert!(
                    (r.end - r.start) * 4 <= r.start,
                    "bucket {i} wider than 25%"
                );
            }
            next = r.end;
            assert_eq!(bucket_of(r.start), i);
            assert_eq!(bucket_of(r.end - 1), i);
            if next == u64::MAX {
                break;
            }
        }
    }

    #[test]
    fn percentiles_come_from_the_right_bucket() {
        let h = Histograms::new(2);
        for _ in 0..99 {
            h.record_poll(0, 1_000);
        }
        h.record_poll(1, 1_000_000);
        let all = h.poll_times();
        assert_eq!(all.count(), 100);
        let p50 = all.percentile(0.5).unwrap();
        assert!(p50 > Duration::from_nanos(1_000) && p50 <= Duration::from_nanos(1_250));
        let max = all.percentile(1.0).unwrap();
        assert!(max > Duration::from_millis(1) && max <= Duration::from_micros(1_250));
    }
}
