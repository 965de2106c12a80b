//! A seat's recent temperatures in two robust summaries: the median of the last few samples
//! (the *level*, immune to a single-sample glitch) and the medians of fixed 10-second buckets
//! over the last ten minutes (the points the trend is fitted to: a first-order curve with a
//! time constant of several minutes shows its bend only over several minutes). Bounded, no heap.

use heapless::{Deque, Vec};

/// Samples in the level's median: one glitch among five cannot move it.
const LEVEL_SAMPLES: usize = 5;
/// Bucket length: 20 samples at 2 Hz, so a bucket median shrugs off noise and glitches.
pub const BUCKET_MS: u64 = 10_000;
/// Buckets kept: ten minutes of history for the trend.
pub const BUCKETS: usize = 60;
/// Samples one bucket holds (a 160 ms period fills it; faster seats are decimated).
const BUCKET_CAP: usize = 64;

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Window {
    recent: Deque<f64, LEVEL_SAMPLES>,
    bucket_start: Option<u64>,
    bucket: Vec<f64, BUCKET_CAP>,
    /// Closed buckets: (centre in ms, median °C), oldest first.
    closed: Deque<(u64, f64), BUCKETS>,
}

impl Window {
    /// Adds a trusted temperature. Returns true when this sample closed a bucket (the trend is
    /// worth recomputing).
    pub fn push(&mut self, t_ms: u64, temp_c: f64) -> bool {
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(temp_c);
        let start = *self.bucket_start.get_or_insert(t_ms - t_ms % BUCKET_MS);
        let mut closed = false;
        if t_ms >= start + BUCKET_MS {
            if !self.bucket.is_empty() {
                let m = median(&mut self.bucket);
                if self.closed.is_full() {
                    self.closed.pop_front();
                }
                let _ = self.closed.push_back((start + BUCKET_MS / 2, m));
                closed = true;
            }
            self.bucket.clear();
            // A gap longer than a bucket leaves a hole, not stale points at the wrong time.
            self.bucket_start = Some(t_ms - t_ms % BUCKET_MS);
            if let Some(&(last, _)) = self.closed.back() {
                if t_ms.saturating_sub(last) > BUCKET_MS * BUCKETS as u64 {
                    self.closed.clear();
                }
            }
        }
        let _ = self.bucket.push(temp_c);
        closed
    }

    /// The median of the last five samples, °C.
    pub fn level(&self) -> Option<f64> {
        let mut v: Vec<f64, LEVEL_SAMPLES> = self.recent.iter().copied().collect();
        (!v.is_empty()).then(|| median(&mut v))
    }

    /// How many samples the level rests on.
    pub fn level_samples(&self) -> usize {
        self.recent.len()
    }

    /// Closed bucket medians, oldest first: (centre ms, °C).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.closed.iter().copied()
    }

    /// Number of closed buckets.
    pub fn bucket_count(&self) -> usize {
        self.closed.len()
    }

    /// Forgets everything (a new boot: the old curve says nothing about the new one).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Median of a small slice (reorders it). Empty → NaN, which no comparison accepts.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    v.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = v[mid];
    if v.len() % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn a_single_glitch_does_not_move_the_level() {
        let mut w = Window::default();
        for (i, t) in [40.0, 40.1, 65.0, 40.0, 40.1].into_iter().enumerate() {
            w.push(i as u64 * 500, t);
        }
        assert!((w.level().unwrap() - 40.1).abs() < 1e-9);
    }

    #[test]
    fn buckets_close_every_ten_seconds_and_keep_two_minutes() {
        let mut w = Window::default();
        let mut closed = 0;
        for i in 0..(700 * 2) {
            closed += usize::from(w.push(i * 500, 40.0));
        }
        assert_eq!(closed, 69);
        assert_eq!(w.bucket_count(), BUCKETS);
    }
}
